-- Schema version 1. Applied in one transaction; `PRAGMA user_version` is set by the caller.
-- Ids are UUIDs as lowercase hyphenated text (text order == UUID byte order). Timestamps are
-- INTEGER nanoseconds since the Unix epoch (exact round trip, ordered). Structured values that
-- are never filtered on are JSON text.

CREATE TABLE tenants (
    id   TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    role       TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name  TEXT NOT NULL,
    api_key    TEXT,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX users_by_api_key ON users (api_key) WHERE api_key IS NOT NULL;

-- Path grants of a user, in the user's order.
CREATE TABLE grants (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    position   INTEGER NOT NULL,
    path       TEXT NOT NULL,
    capability TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, position)
) WITHOUT ROWID;

-- Knowledge-base nodes with their materialized path.
CREATE TABLE path_parts (
    tenant_id      TEXT NOT NULL,
    id             TEXT NOT NULL,
    kind           TEXT NOT NULL,
    name           TEXT NOT NULL,
    parent_id      TEXT,
    path           TEXT NOT NULL,
    approval_state TEXT NOT NULL,
    approval       TEXT,            -- JSON ApprovalRecord
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX path_parts_by_parent ON path_parts (tenant_id, parent_id, path, id);

-- Version facts of DOCUMENT_VERSION parts (one row per such part).
CREATE TABLE versions (
    tenant_id TEXT NOT NULL,
    part_id   TEXT NOT NULL,
    ingestion TEXT NOT NULL,
    active    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, part_id)
) WITHOUT ROWID;

CREATE TABLE definitions (
    tenant_id                TEXT NOT NULL,
    id                       TEXT NOT NULL,
    parent_id                TEXT NOT NULL,
    path                     TEXT NOT NULL,
    runs_folder_id           TEXT NOT NULL,
    name                     TEXT NOT NULL,
    instruction_id           TEXT,
    max_run_duration_seconds INTEGER NOT NULL,
    approval_required        INTEGER NOT NULL,
    is_active                INTEGER NOT NULL,
    is_template              INTEGER NOT NULL,
    common_file_ids          TEXT NOT NULL,   -- JSON [PathPartId]
    selected_skill_ids       TEXT NOT NULL,   -- JSON [Uuid]
    owner_id                 TEXT NOT NULL,
    created_at               INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;

-- Live runs. A deleted run's row is removed; its history stays and keeps its id taken.
CREATE TABLE runs (
    id                      TEXT PRIMARY KEY NOT NULL,
    tenant_id               TEXT NOT NULL,
    definition_id           TEXT NOT NULL,
    name                    TEXT NOT NULL,
    triggered_by            TEXT NOT NULL,
    execution_state         TEXT NOT NULL,
    approval_state          TEXT NOT NULL,
    attempt                 INTEGER NOT NULL,
    version                 INTEGER NOT NULL,
    input_scope             TEXT NOT NULL,    -- JSON [PathPartId]
    selected_skill_ids      TEXT NOT NULL,    -- JSON [Uuid]
    auto_start              INTEGER NOT NULL,
    auto_start_user_message TEXT,
    idempotency_key         TEXT,
    snapshot                TEXT,             -- JSON Snapshot
    started_at              INTEGER,
    attempt_started_at      INTEGER,
    deadline_at             INTEGER,
    completed_at            INTEGER,
    error                   TEXT,
    run_thread_id           TEXT,
    folders                 TEXT NOT NULL,    -- JSON RunFolders
    approval                TEXT,             -- JSON ApprovalRecord
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);
-- CREATE-4 / CREATE-6 uniqueness among live runs of a definition.
CREATE UNIQUE INDEX runs_name ON runs (definition_id, name);
CREATE UNIQUE INDEX runs_idempotency ON runs (definition_id, triggered_by, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- LIST-1: newest first by each time, ties by id descending (SQLite sorts NULL lowest, so a
-- descending scan puts runs without the time last), tenant-wide and per definition.
CREATE INDEX runs_tenant_created ON runs (tenant_id, created_at, id);
CREATE INDEX runs_tenant_started ON runs (tenant_id, started_at, id);
CREATE INDEX runs_tenant_completed ON runs (tenant_id, completed_at, id);
CREATE INDEX runs_def_created ON runs (tenant_id, definition_id, created_at, id);
CREATE INDEX runs_def_started ON runs (tenant_id, definition_id, started_at, id);
CREATE INDEX runs_def_completed ON runs (tenant_id, definition_id, completed_at, id);
-- LIST-1 filters: state, approval, "mine" (and the visibility's "or triggered by me").
CREATE INDEX runs_tenant_state ON runs (tenant_id, execution_state, created_at, id);
CREATE INDEX runs_tenant_approval ON runs (tenant_id, approval_state, created_at, id);
CREATE INDEX runs_tenant_triggerer ON runs (tenant_id, triggered_by, created_at, id);
-- REAP-1: IN_PROGRESS runs by deadline.
CREATE INDEX runs_deadline ON runs (deadline_at, tenant_id, id)
    WHERE execution_state = 'IN_PROGRESS';

-- AUDIT-1: one row per committed transition; never deleted.
CREATE TABLE history (
    run_id        TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    tenant_id     TEXT NOT NULL,
    from_state    TEXT,
    to_state      TEXT,
    event         TEXT NOT NULL,
    actor_user_id TEXT,
    actor_assumed INTEGER NOT NULL,
    at            INTEGER NOT NULL,
    attempt       INTEGER NOT NULL,
    reason        TEXT,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- CONC-5: messages queued with their transition. `seq` is the rowid: increasing, never reused
-- (rows are never deleted).
CREATE TABLE outbox (
    seq       INTEGER PRIMARY KEY,
    run_id    TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    attempt   INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    message   TEXT NOT NULL,   -- JSON OutboxMessage
    attempts  INTEGER NOT NULL DEFAULT 0,
    delivered INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE delivered = 0;
CREATE INDEX outbox_by_run ON outbox (run_id, seq);
