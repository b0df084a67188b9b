-- Cognito user pools: pools, their signing keys, app clients, users, one-time codes,
-- challenge sessions and refresh tokens.
CREATE TABLE cognito_pools (
    id          TEXT PRIMARY KEY NOT NULL,            -- {region}_{9 chars}
    name        TEXT NOT NULL,
    config      TEXT NOT NULL,                        -- CreateUserPool input as given, JSON
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);

CREATE TABLE cognito_keys (
    kid         TEXT PRIMARY KEY NOT NULL,
    pool_id     TEXT NOT NULL REFERENCES cognito_pools (id) ON DELETE CASCADE,
    private_der BLOB NOT NULL,                        -- PKCS#1 DER of the RSA-2048 key
    n           TEXT NOT NULL,                        -- base64url modulus (JWKS)
    e           TEXT NOT NULL,                        -- base64url exponent (JWKS)
    created_at  REAL NOT NULL,
    retired_at  REAL                                  -- set when rotated out; NULL = signing key
);
CREATE INDEX cognito_keys_pool ON cognito_keys (pool_id);

CREATE TABLE cognito_clients (
    client_id   TEXT PRIMARY KEY NOT NULL,
    pool_id     TEXT NOT NULL REFERENCES cognito_pools (id) ON DELETE CASCADE,
    secret      TEXT,
    config      TEXT NOT NULL,                        -- CreateUserPoolClient input as given, JSON
    created_at  REAL NOT NULL
);

CREATE TABLE cognito_users (
    pool_id       TEXT NOT NULL REFERENCES cognito_pools (id) ON DELETE CASCADE,
    username      TEXT NOT NULL,
    sub           TEXT NOT NULL,
    status        TEXT NOT NULL,                      -- UNCONFIRMED | CONFIRMED | FORCE_CHANGE_PASSWORD | RESET_REQUIRED
    enabled       INTEGER NOT NULL,
    attributes    TEXT NOT NULL,                      -- JSON object, includes sub
    password_hash TEXT,                               -- argon2 PHC string
    password_set_at REAL,
    srp_salt      BLOB,                               -- SRP-6a salt (16 bytes)
    srp_verifier  BLOB,                               -- SRP-6a verifier g^x mod N, big-endian
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    PRIMARY KEY (pool_id, username)
);
CREATE INDEX cognito_users_sub ON cognito_users (pool_id, sub);

CREATE TABLE cognito_codes (
    pool_id    TEXT NOT NULL,
    username   TEXT NOT NULL,
    purpose    TEXT NOT NULL,                         -- signup | forgot
    code       TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (pool_id, username, purpose),
    FOREIGN KEY (pool_id, username) REFERENCES cognito_users (pool_id, username) ON DELETE CASCADE
);

CREATE TABLE cognito_sessions (
    id         TEXT PRIMARY KEY NOT NULL,
    pool_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    username   TEXT NOT NULL,
    challenge  TEXT NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}',
    expires_at REAL NOT NULL
);

CREATE TABLE cognito_refresh_tokens (
    token      TEXT PRIMARY KEY NOT NULL,
    pool_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    username   TEXT NOT NULL,
    origin_jti TEXT NOT NULL,
    auth_time  INTEGER NOT NULL,
    expires_at REAL NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX cognito_refresh_user ON cognito_refresh_tokens (pool_id, username);

CREATE TABLE cognito_revoked_origins (                -- sign-ins revoked by RevokeToken or GlobalSignOut
    origin_jti TEXT PRIMARY KEY NOT NULL
);
