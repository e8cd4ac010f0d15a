-- Marketplace schema and sample data.
--
-- One portable file: it loads as it is into SQLite and PostgreSQL. Money is
-- NUMERIC(10,2) (price in currency units, exact to the cent), times are UTC
-- without a time zone. Ids are plain INTEGER PRIMARY KEYs: SQLite hands out
-- new ones by itself; on PostgreSQL marketsvc adds an identity to each id
-- column after loading this file (see marketsvc/db/schema.py).
--
-- Statements end with a semicolon at the end of a line; the loader splits on
-- that, so keep one statement per semicolon and no semicolons in strings.

CREATE TABLE item (
    id INTEGER PRIMARY KEY,
    name VARCHAR(100) NOT NULL UNIQUE,
    price NUMERIC(10, 2) NOT NULL CHECK (price >= 0),
    description VARCHAR(500)
);

CREATE TABLE address (
    id INTEGER PRIMARY KEY,
    flat_number INTEGER NOT NULL,
    post_code INTEGER NOT NULL
);

CREATE TABLE customer (
    id INTEGER PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    address_id INTEGER NOT NULL REFERENCES address (id)
);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customer (id),
    order_time TIMESTAMP NOT NULL
);

CREATE TABLE order_items (
    order_id INTEGER NOT NULL REFERENCES orders (id),
    item_id INTEGER NOT NULL REFERENCES item (id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, item_id)
);

-- One index per foreign key that a join or a filter uses, and one on the
-- order time for the date-range route. order_items(order_id) is covered by
-- the leading column of its primary key.
CREATE INDEX ix_customer_address_id ON customer (address_id);
CREATE INDEX ix_orders_customer_id ON orders (customer_id);
CREATE INDEX ix_orders_order_time ON orders (order_time);
CREATE INDEX ix_order_items_item_id ON order_items (item_id);

-- The Idempotency-Key header of POST /api/add_new_order: a retried order
-- with the same key gets the order stored the first time (see
-- marketsvc/idempotency.py). A row is written in its order's transaction
-- and kept for 24 hours. There is no foreign key to orders: resetting the
-- database in the course's earlier steps drops only the five tables above,
-- which a reference to orders would block on PostgreSQL. Instead, loading
-- this file drops any keys left over, as they name orders that are gone.
DROP TABLE IF EXISTS idempotency_key;

CREATE TABLE idempotency_key (
    client_key VARCHAR(255) NOT NULL PRIMARY KEY,
    request_hash VARCHAR(64) NOT NULL,
    order_id INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE INDEX ix_idempotency_key_created_at ON idempotency_key (created_at);

INSERT INTO item (id, name, price, description) VALUES
    (1, 'Milk', 5, 'Semi-skimmed, one litre'),
    (2, 'Kit Kat', 1, 'Four-finger chocolate bar'),
    (3, 'Bread', 10.5, 'Sourdough loaf'),
    (4, 'Onion', 2, 'Red onion, loose');

INSERT INTO address (id, flat_number, post_code) VALUES
    (1, 12, 10115),
    (2, 7, 20095),
    (3, 31, 80331);

INSERT INTO customer (id, name, address_id) VALUES
    (1, 'Alex', 1),
    (2, 'Blake', 2),
    (3, 'Cam', 3);

INSERT INTO orders (id, customer_id, order_time) VALUES
    (1, 1, '2024-03-01 09:30:00'),
    (2, 2, '2024-03-10 14:05:00'),
    (3, 1, '2024-03-21 18:45:00');

INSERT INTO order_items (order_id, item_id, quantity) VALUES
    (1, 1, 2),
    (1, 3, 1),
    (2, 2, 4),
    (2, 4, 3),
    (2, 1, 1),
    (3, 3, 2);
