# steps: patch
# steps: edit test_orders_of_a_customer
#-@pytest.mark.exercise("bound-parameters")
#+@pytest.mark.exercise("select-orders")
# steps: edit test_a_customer_without_orders_has_an_empty_list
#-@pytest.mark.exercise("bound-parameters")
#+@pytest.mark.exercise("select-orders")
# steps: edit test_orders_of_an_unknown_customer_is_404
#-@pytest.mark.exercise("bound-parameters")
#+@pytest.mark.exercise("select-orders")
# steps: edit test_orders_between_dates
#+@pytest.mark.exercise("relationships")
# steps: edit test_a_bare_date_covers_its_whole_day
#+@pytest.mark.exercise("relationships")
# steps: edit test_both_bounds_are_included
#+@pytest.mark.exercise("relationships")
# steps: edit test_a_new_order_with_an_unknown_item_is_404_and_writes_nothing
#-@pytest.mark.exercise("begin-once")
