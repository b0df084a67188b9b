-- DynamoDB: table definitions and items. Key attributes are stored in an order-preserving byte
-- encoding (see services/dynamodb/value.rs) so sort-key ranges are index range scans.
CREATE TABLE ddb_tables (
    name       TEXT PRIMARY KEY NOT NULL,
    table_id   TEXT NOT NULL,
    definition TEXT NOT NULL,                         -- CreateTable input as accepted, JSON
    created_at REAL NOT NULL,
    ttl_attribute TEXT                                -- TimeToLive attribute when enabled
);

CREATE TABLE ddb_items (
    table_name TEXT NOT NULL REFERENCES ddb_tables (name) ON DELETE CASCADE,
    pk         BLOB NOT NULL,                         -- partition key, encoded
    sk         BLOB NOT NULL,                         -- sort key, encoded; empty without one
    item       TEXT NOT NULL,                         -- the item in wire form, JSON
    size       INTEGER NOT NULL,                      -- DynamoDB's size accounting
    expires_at REAL,                                  -- the TTL attribute's epoch seconds, if any
    PRIMARY KEY (table_name, pk, sk)
) WITHOUT ROWID;
CREATE INDEX ddb_items_expiry ON ddb_items (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE ddb_transaction_tokens (                 -- TransactWriteItems ClientRequestToken idempotency
    token      TEXT PRIMARY KEY NOT NULL,
    request    TEXT NOT NULL,
    created_at REAL NOT NULL
);

CREATE TABLE ddb_index_items (                        -- GSI and LSI entries, kept in step with ddb_items
    table_name TEXT NOT NULL REFERENCES ddb_tables (name) ON DELETE CASCADE,
    index_name TEXT NOT NULL,
    ipk        BLOB NOT NULL,                         -- index partition key, encoded
    isk        BLOB NOT NULL,                         -- index sort key, encoded; empty without one
    pk         BLOB NOT NULL,                         -- the item's table key, encoded
    sk         BLOB NOT NULL,
    item       TEXT NOT NULL,                         -- the projected item, JSON
    size       INTEGER NOT NULL,
    PRIMARY KEY (table_name, index_name, ipk, isk, pk, sk)
) WITHOUT ROWID;
CREATE INDEX ddb_index_items_by_item ON ddb_index_items (table_name, pk, sk);
