-- SNS: topics and their subscriptions.
CREATE TABLE sns_topics (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,    -- listing order and page tokens
    arn        TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL UNIQUE,
    attributes TEXT NOT NULL DEFAULT '{}',           -- settable attributes, JSON object
    tags       TEXT NOT NULL DEFAULT '{}'            -- JSON object
);

CREATE TABLE sns_subscriptions (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    arn        TEXT NOT NULL UNIQUE,
    topic_arn  TEXT NOT NULL REFERENCES sns_topics (arn) ON DELETE CASCADE,
    protocol   TEXT NOT NULL,
    endpoint   TEXT NOT NULL,
    owner      TEXT NOT NULL,
    confirmed  INTEGER NOT NULL,                     -- 0 while pending confirmation
    token      TEXT NOT NULL,                        -- confirmation token
    attributes TEXT NOT NULL DEFAULT '{}'            -- JSON object
);
CREATE INDEX sns_subscriptions_topic ON sns_subscriptions (topic_arn, seq);
