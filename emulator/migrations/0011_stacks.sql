-- Template stacks: what `emulator up` / template provisioning created for each resource, so that
-- provisioning the same stack again reuses it (same KMS key, same generated names, same API ids)
-- instead of creating a second one.
CREATE TABLE stack_resources (
    stack_name      TEXT NOT NULL,
    logical_id      TEXT NOT NULL,
    type            TEXT NOT NULL,
    physical_id     TEXT NOT NULL,
    attributes      TEXT NOT NULL,                  -- JSON: "Ref" and every Fn::GetAtt attribute
    properties      TEXT NOT NULL,                  -- JSON: the evaluated properties last applied
    properties_hash TEXT NOT NULL,                  -- SHA-256 of `properties`
    updated_at      REAL NOT NULL,
    seq             INTEGER NOT NULL DEFAULT 0,     -- provisioning order
    PRIMARY KEY (stack_name, logical_id)
);
