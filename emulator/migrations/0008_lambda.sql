-- Lambda functions: the configuration of each function. Instances (processes) are not state.
CREATE TABLE lambda_functions (
    name        TEXT PRIMARY KEY NOT NULL,
    definition  TEXT NOT NULL,                        -- the function's configuration, JSON
    code_sha256 TEXT NOT NULL,                        -- base64 SHA-256 of the executable
    code_size   INTEGER NOT NULL,
    updated_at  REAL NOT NULL
);
