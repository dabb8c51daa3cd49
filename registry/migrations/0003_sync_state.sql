-- Durable sync state (the seed's id mapping): what B2Connect last pushed to
-- a tenant's ERP, per record, so a repeated sync sends only what changed,
-- also after a host restart.
CREATE TABLE sync_map (
    tenant           TEXT NOT NULL,
    provider         TEXT NOT NULL,   -- plugin name: another ERP starts afresh
    entity           TEXT NOT NULL,   -- "product", "customer"
    b2c_id           TEXT NOT NULL,   -- B2Connect's id of the record
    erp_id           TEXT NOT NULL,   -- the ERP's id (the same id today)
    erp_row_version  INTEGER NOT NULL DEFAULT 0,
    content_hash     TEXT NOT NULL,   -- sha256 of the record as last sent
    last_sync_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant, provider, entity, b2c_id)
);
