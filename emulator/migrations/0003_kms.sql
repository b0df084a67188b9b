-- KMS: symmetric keys (material kept here, never returned) and their aliases.
CREATE TABLE kms_keys (
    key_id              TEXT PRIMARY KEY NOT NULL,   -- UUID
    arn                 TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    key_usage           TEXT NOT NULL,               -- ENCRYPT_DECRYPT
    key_spec            TEXT NOT NULL,               -- SYMMETRIC_DEFAULT
    key_state           TEXT NOT NULL,               -- Enabled | Disabled | PendingDeletion
    key_manager         TEXT NOT NULL,               -- CUSTOMER | AWS
    created_at          REAL NOT NULL,               -- epoch seconds, emulator clock
    deletion_date       REAL,                        -- set while PendingDeletion
    pending_window_days INTEGER,
    policy              TEXT NOT NULL,               -- key policy JSON
    tags                TEXT NOT NULL DEFAULT '[]',  -- [{"TagKey":…,"TagValue":…}]
    material            BLOB NOT NULL                -- 32 bytes of AES-256 key material
);

CREATE TABLE kms_aliases (
    alias_name TEXT PRIMARY KEY NOT NULL,            -- alias/…
    key_id     TEXT NOT NULL REFERENCES kms_keys (key_id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX kms_aliases_key ON kms_aliases (key_id);
