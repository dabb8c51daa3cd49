-- Idempotency records for write routes (e.g. create-order). A row is
-- inserted as pending before the plugin is called and completed with the
-- answer; a failed call deletes it so the caller may retry.
CREATE TABLE idempotency (
    tenant       TEXT NOT NULL,
    operation    TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,   -- sha256 of the canonical request
    status       INTEGER,         -- NULL while pending
    body         TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant, operation, key)
);
CREATE INDEX idempotency_created ON idempotency(created_at);
