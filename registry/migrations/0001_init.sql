-- Plugin registry schema, version 1.

CREATE TABLE plugins (
    name        TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL
);

-- One row per published version. Rows are never updated except `yanked`:
-- a version's bytes (sha256) are immutable.
CREATE TABLE versions (
    name              TEXT NOT NULL REFERENCES plugins(name),
    version           TEXT NOT NULL,
    sha256            TEXT NOT NULL,
    size              INTEGER NOT NULL,
    contract_version  TEXT NOT NULL,
    exports           TEXT NOT NULL,   -- JSON array of provider kinds
    imports           TEXT NOT NULL,   -- JSON array of import names
    yanked            INTEGER NOT NULL DEFAULT 0,
    published_at      INTEGER NOT NULL,
    published_by      TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX versions_sha256 ON versions(sha256);

CREATE TABLE tenants (
    id               TEXT PRIMARY KEY,
    created_at       INTEGER NOT NULL,
    current_binding  INTEGER REFERENCES bindings(id)
);

-- Binding history: append-only; `tenants.current_binding` points at the
-- active row, and a rollback moves it to the row before.
CREATE TABLE bindings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL REFERENCES tenants(id),
    request     TEXT NOT NULL,   -- JSON: what the operator asked for
    pins        TEXT NOT NULL,   -- JSON: resolved plugin versions per kind
    config      TEXT NOT NULL,   -- JSON object of settings
    socket      TEXT,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL
);
CREATE INDEX bindings_tenant ON bindings(tenant, id);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL REFERENCES tenants(id),
    hash        TEXT NOT NULL UNIQUE,  -- sha256 of the key; the key itself is never stored
    label       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX api_keys_tenant ON api_keys(tenant);

CREATE TABLE audit (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    subject  TEXT NOT NULL,
    detail   TEXT NOT NULL
);
