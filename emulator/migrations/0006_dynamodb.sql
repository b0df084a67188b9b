-- DynamoDB: table definitions and items. Key attributes are stored in an order-preserving byte
-- encoding (see services/dynamodb/value.rs) so sort-key ranges are index range scans.
CREATE TABLE ddb_tables (
    name       TEXT PRIMARY KEY NOT NULL,
    table_id   TEXT NOT NULL,
    definition TEXT NOT NULL,                         -- CreateTable input as accepted, JSON
    created_at REAL NOT NULL
);

CREATE TABLE ddb_items (
    table_name TEXT NOT NULL REFERENCES ddb_tables (name) ON DELETE CASCADE,
    pk         BLOB NOT NULL,                         -- partition key, encoded
    sk         BLOB NOT NULL,                         -- sort key, encoded; empty without one
    item       TEXT NOT NULL,                         -- the item in wire form, JSON
    size       INTEGER NOT NULL,                      -- DynamoDB's size accounting
    PRIMARY KEY (table_name, pk, sk)
) WITHOUT ROWID;

CREATE TABLE ddb_transaction_tokens (                 -- TransactWriteItems ClientRequestToken idempotency
    token      TEXT PRIMARY KEY NOT NULL,
    request    TEXT NOT NULL,
    created_at REAL NOT NULL
);
