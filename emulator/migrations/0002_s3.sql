-- S3: buckets, objects (metadata beside the body, which lives in s3_blobs so that listings
-- never touch it), multipart uploads and their parts. Bodies are stored encrypted:
-- a 12-byte AES-GCM nonce followed by the ciphertext.
CREATE TABLE s3_buckets (
    name       TEXT PRIMARY KEY NOT NULL,
    region     TEXT NOT NULL,
    owner      TEXT NOT NULL,            -- account id
    created_at TEXT NOT NULL             -- RFC 3339, emulator clock
);

CREATE TABLE s3_blobs (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    data BLOB NOT NULL
);

CREATE TABLE s3_objects (
    bucket             TEXT NOT NULL REFERENCES s3_buckets (name),
    key                TEXT NOT NULL,
    size               INTEGER NOT NULL,
    etag               TEXT NOT NULL,    -- without quotes
    last_modified      TEXT NOT NULL,
    headers            TEXT NOT NULL,    -- JSON object: content-type, cache-control, …
    metadata           TEXT NOT NULL,    -- JSON object: x-amz-meta-* (names without the prefix)
    checksum_algorithm TEXT,             -- CRC32 | CRC32C | CRC64NVME | SHA1 | SHA256
    checksum_value     TEXT,             -- base64 (composite values end in -N)
    checksum_type      TEXT,             -- FULL_OBJECT | COMPOSITE
    parts_count        INTEGER,
    sse                TEXT NOT NULL,    -- AES256 | aws:kms
    kms_key_arn        TEXT,
    kms_context        TEXT,             -- JSON encryption context
    wrapped_key        BLOB,             -- KMS ciphertext blob of the data key
    blob_id            INTEGER NOT NULL REFERENCES s3_blobs (id),
    PRIMARY KEY (bucket, key)
);

CREATE TABLE s3_uploads (
    upload_id          TEXT PRIMARY KEY NOT NULL,
    bucket             TEXT NOT NULL REFERENCES s3_buckets (name),
    key                TEXT NOT NULL,
    initiated          TEXT NOT NULL,
    headers            TEXT NOT NULL,
    metadata           TEXT NOT NULL,
    checksum_algorithm TEXT,
    checksum_type      TEXT,
    sse                TEXT NOT NULL,
    kms_key_id         TEXT,
    kms_context        TEXT
);
CREATE INDEX s3_uploads_bucket ON s3_uploads (bucket, key, initiated);

CREATE TABLE s3_parts (
    upload_id      TEXT NOT NULL REFERENCES s3_uploads (upload_id),
    part_number    INTEGER NOT NULL,
    size           INTEGER NOT NULL,
    etag           TEXT NOT NULL,
    last_modified  TEXT NOT NULL,
    checksum_value TEXT,
    blob_id        INTEGER NOT NULL REFERENCES s3_blobs (id),
    PRIMARY KEY (upload_id, part_number)
);
