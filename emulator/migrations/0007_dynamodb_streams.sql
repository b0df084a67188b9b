-- DynamoDB Streams: one stream per enabling of a table's stream, one shard per stream, records
-- in commit order. A stream outlives its table (records stay readable for 24 hours).
ALTER TABLE ddb_tables ADD COLUMN stream_arn TEXT;    -- the latest stream; kept after disabling

CREATE TABLE ddb_streams (
    stream_arn  TEXT PRIMARY KEY NOT NULL,
    table_name  TEXT NOT NULL,                        -- no foreign key: the stream outlives the table
    label       TEXT NOT NULL,
    view_type   TEXT NOT NULL,                        -- KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES
    key_schema  TEXT NOT NULL,                        -- the table's KeySchema, JSON
    shard_id    TEXT NOT NULL,
    created_at  REAL NOT NULL,
    start_seq   INTEGER NOT NULL,                     -- sequence numbers of this stream are >= this
    trimmed_seq INTEGER,                              -- records up to this one were trimmed
    closed_at   REAL                                  -- when disabled or its table deleted
);
CREATE INDEX ddb_streams_by_table ON ddb_streams (table_name, created_at);

CREATE TABLE ddb_stream_records (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,    -- the sequence number; never reused
    stream_arn  TEXT NOT NULL REFERENCES ddb_streams (stream_arn) ON DELETE CASCADE,
    created_at  REAL NOT NULL,
    record      TEXT NOT NULL                         -- the record as GetRecords returns it, minus SequenceNumber, JSON
);
CREATE INDEX ddb_stream_records_by_stream ON ddb_stream_records (stream_arn, seq);
CREATE INDEX ddb_stream_records_by_age ON ddb_stream_records (created_at);
