-- Emulator-wide state: instance metadata and the mailbox of "sent" e-mail and SMS.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE mailbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    sent_at     TEXT NOT NULL,            -- RFC 3339, emulator clock
    channel     TEXT NOT NULL,            -- 'email' | 'sms'
    source      TEXT NOT NULL,            -- which service sent it, e.g. 'sns'
    destination TEXT NOT NULL,            -- e-mail address or phone number
    subject     TEXT,
    body        TEXT NOT NULL
);
CREATE INDEX mailbox_destination ON mailbox (destination, id);
