-- Stored idempotency answers are bounded: an answer over the per-record
-- limit, or one that would take its tenant over its byte cap, is not kept
-- (`omitted` = 1, `body` NULL); a replay then learns that the first request
-- succeeded and that its answer was not kept. `body_bytes` makes the
-- per-tenant sum cheap.
ALTER TABLE idempotency ADD COLUMN omitted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE idempotency ADD COLUMN body_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE idempotency SET body_bytes = length(CAST(body AS BLOB)) WHERE body IS NOT NULL;
