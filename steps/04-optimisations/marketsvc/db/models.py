# steps: patch

# >>> exercise: hybrid-total
from sqlalchemy import CheckConstraint, ColumnElement, DateTime, ForeignKey, Numeric, String, select
# --- stub
from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Numeric, String
# <<< exercise: hybrid-total
# steps: after from sqlalchemy.dialects
# >>> exercise: hybrid-total
from sqlalchemy.ext.hybrid import hybrid_property
# steps: edit OrderItem
#=    item: Mapped[Item] = relationship()
#+
#+    # A hybrid attribute works at two levels. On a loaded line, line.total is
#+    # plain Python; on the class, OrderItem.total is a SQL expression that
#+    # select(), where() and func.sum() can use.
#+    @hybrid_property
#+    def total(self) -> Decimal:
#+        return self.item.price * self.quantity
#+
#+    @total.inplace.expression
#+    @classmethod
#+    def _total_expression(cls) -> ColumnElement[Decimal]:
#+        # In SQL there is no loaded item to ask: a subquery looks the price
#+        # up by item_id. correlate_except(Item) keeps `item` inside the
#+        # subquery even when the outer query joins that table as well.
#+        price = (
#+            select(Item.price)
#+            .where(Item.id == cls.item_id)
#+            .correlate_except(Item)
#+            .scalar_subquery()
#+        )
#+        return price * cls.quantity
# --- stub
# steps: edit OrderItem
# <<< exercise: hybrid-total
    # >>> exercise: hybrid-total
    # --- stub

    # TODO (exercise hybrid-total): add `total`, price x quantity, as a hybrid:
    # Python on a loaded line (line.total), SQL on the class (OrderItem.total, for
    # select() and func.sum()), where no item is loaded to take the price from.
    # <<< exercise: hybrid-total
