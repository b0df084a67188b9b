-- Lambda event source mappings (DynamoDB stream → function) and each one's checkpoint.
CREATE TABLE lambda_event_source_mappings (
    uuid          TEXT PRIMARY KEY NOT NULL,
    function_name TEXT NOT NULL,
    source_arn    TEXT NOT NULL,
    definition    TEXT NOT NULL,                    -- settings (BatchSize, StartingPosition, …), JSON
    checkpoint    INTEGER,                          -- last stream sequence number handled; NULL = none yet
    last_result   TEXT NOT NULL,
    updated_at    REAL NOT NULL,
    seq           INTEGER NOT NULL DEFAULT 0        -- creation order, for listing
);
CREATE UNIQUE INDEX lambda_esm_pair ON lambda_event_source_mappings (function_name, source_arn);
