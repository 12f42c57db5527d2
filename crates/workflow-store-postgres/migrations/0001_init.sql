-- Schema version 1 of workflow-store-postgres. Applied at connect inside one transaction that
-- holds pg_advisory_xact_lock (several processes may start at once) and recorded in
-- schema_migrations by the store (src/migrate.rs).
--
-- The same data as the SQLite adapter, in PostgreSQL types: ids are `uuid` (PostgreSQL orders
-- them bytewise, as the reference adapter does), timestamps are `bigint` nanoseconds since the
-- Unix epoch (exact round trips, where `timestamptz` would round to microseconds), wire enums are
-- their wire strings, structured values never filtered on are `jsonb`.

CREATE TABLE tenants (
    id   uuid PRIMARY KEY,
    name text NOT NULL
);

-- SEC-3: only the SHA-256 digest of an API key is stored (there is no column for a key in
-- clear); lookup is by digest.
CREATE TABLE users (
    tenant_id      uuid NOT NULL,
    id             uuid NOT NULL,
    role           text NOT NULL,
    first_name     text NOT NULL,
    last_name      text NOT NULL,
    api_key_digest bytea CHECK (octet_length(api_key_digest) = 32),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX users_by_api_key_digest ON users (api_key_digest) WHERE api_key_digest IS NOT NULL;

-- Path grants of a user, in the user's order.
CREATE TABLE grants (
    tenant_id  uuid NOT NULL,
    user_id    uuid NOT NULL,
    position   integer NOT NULL,
    path       text NOT NULL,
    capability text NOT NULL,
    PRIMARY KEY (tenant_id, user_id, position)
);

-- Knowledge-base nodes with their materialized path.
CREATE TABLE path_parts (
    tenant_id      uuid NOT NULL,
    id             uuid NOT NULL,
    kind           text NOT NULL,
    name           text NOT NULL,
    parent_id      uuid,
    path           text NOT NULL,
    approval_state text NOT NULL,
    approval       jsonb,           -- ApprovalRecord
    created_at     bigint NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX path_parts_by_parent ON path_parts (tenant_id, parent_id, path, id);

-- Version facts of DOCUMENT_VERSION parts (one row per such part).
CREATE TABLE versions (
    tenant_id uuid NOT NULL,
    part_id   uuid NOT NULL,
    ingestion text NOT NULL,
    active    boolean NOT NULL,
    PRIMARY KEY (tenant_id, part_id)
);

CREATE TABLE definitions (
    tenant_id                uuid NOT NULL,
    id                       uuid NOT NULL,
    parent_id                uuid NOT NULL,
    path                     text NOT NULL,
    runs_folder_id           uuid NOT NULL,
    name                     text NOT NULL,
    instruction_id           uuid,
    max_run_duration_seconds bigint NOT NULL,
    approval_required        boolean NOT NULL,
    is_active                boolean NOT NULL,
    is_template              boolean NOT NULL,
    common_file_ids          jsonb NOT NULL,   -- [PathPartId]
    selected_skill_ids       jsonb NOT NULL,   -- [Uuid]
    owner_id                 uuid NOT NULL,
    created_at               bigint NOT NULL,
    description              text,
    schedule                 jsonb,            -- Schedule (cadence, start_at, timezone)
    created_from_id          uuid,
    updated_at               bigint NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- SCHED-3: the scheduler reads every tenant's scheduled definitions each tick.
CREATE INDEX definitions_scheduled ON definitions (tenant_id, id) WHERE schedule IS NOT NULL;

-- Store requirement 2: every run id ever committed, live or deleted (a tombstone outlives its
-- run's row), so that a deleted run's id never comes back; the primary key is also the backstop
-- for two creations of one id racing each other.
CREATE TABLE run_ids (
    id uuid PRIMARY KEY
);

-- Live runs. A deleted run's row is removed; its history and its run_ids row stay.
CREATE TABLE runs (
    id                      uuid PRIMARY KEY,
    tenant_id               uuid NOT NULL,
    definition_id           uuid NOT NULL,
    name                    text NOT NULL,
    triggered_by            uuid NOT NULL,
    execution_state         text NOT NULL,
    approval_state          text NOT NULL,
    attempt                 bigint NOT NULL,
    version                 bigint NOT NULL,
    input_scope             jsonb NOT NULL,   -- [PathPartId]
    selected_skill_ids      jsonb NOT NULL,   -- [Uuid]
    auto_start              boolean NOT NULL,
    auto_start_user_message text,
    idempotency_key         text,
    snapshot                jsonb,            -- Snapshot
    started_at              bigint,
    attempt_started_at      bigint,
    deadline_at             bigint,
    completed_at            bigint,
    error                   text,
    run_thread_id           uuid,
    folders                 jsonb NOT NULL,   -- RunFolders
    approval                jsonb,            -- ApprovalRecord
    created_at              bigint NOT NULL,
    updated_at              bigint NOT NULL,
    failure                 text              -- FailureKind of a FAILED run
);
-- CREATE-4 / CREATE-6 uniqueness among live runs of a definition: the backstop for races
-- between the commit's check and its write (a violation maps to ConflictKind by its name).
CREATE UNIQUE INDEX runs_name ON runs (definition_id, name);
CREATE UNIQUE INDEX runs_idempotency ON runs (definition_id, triggered_by, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- LIST-1/LIST-3: each order, either direction, runs without the time last, ties by id in the
-- same direction, tenant-wide and per definition. created_at is never NULL: one index serves
-- both directions. started_at / completed_at need NULLS LAST both ways: a forward scan of the
-- ascending index and a forward scan of the DESC NULLS LAST one.
CREATE INDEX runs_tenant_created ON runs (tenant_id, created_at, id);
CREATE INDEX runs_tenant_started ON runs (tenant_id, started_at, id);
CREATE INDEX runs_tenant_started_desc ON runs (tenant_id, started_at DESC NULLS LAST, id DESC);
CREATE INDEX runs_tenant_completed ON runs (tenant_id, completed_at, id);
CREATE INDEX runs_tenant_completed_desc ON runs (tenant_id, completed_at DESC NULLS LAST, id DESC);
CREATE INDEX runs_def_created ON runs (tenant_id, definition_id, created_at, id);
CREATE INDEX runs_def_started ON runs (tenant_id, definition_id, started_at, id);
CREATE INDEX runs_def_started_desc ON runs (tenant_id, definition_id, started_at DESC NULLS LAST, id DESC);
CREATE INDEX runs_def_completed ON runs (tenant_id, definition_id, completed_at, id);
CREATE INDEX runs_def_completed_desc ON runs (tenant_id, definition_id, completed_at DESC NULLS LAST, id DESC);
-- LIST-2: updated_after / updated_before windows are index ranges.
CREATE INDEX runs_tenant_updated ON runs (tenant_id, updated_at, id);
CREATE INDEX runs_def_updated ON runs (tenant_id, definition_id, updated_at, id);
-- LIST-1/LIST-2 filters: state, approval, triggerer ("mine", owner_id, and the visibility's
-- "or triggered by me").
CREATE INDEX runs_tenant_state ON runs (tenant_id, execution_state, created_at, id);
CREATE INDEX runs_tenant_approval ON runs (tenant_id, approval_state, created_at, id);
CREATE INDEX runs_tenant_triggerer ON runs (tenant_id, triggered_by, created_at, id);
-- REAP-1: IN_PROGRESS runs by deadline.
CREATE INDEX runs_deadline ON runs (deadline_at, tenant_id, id)
    WHERE execution_state = 'IN_PROGRESS';

-- AUDIT-1: one row per committed transition; never deleted.
CREATE TABLE history (
    run_id        uuid NOT NULL,
    seq           bigint NOT NULL,
    tenant_id     uuid NOT NULL,
    from_state    text,
    to_state      text,
    event         text NOT NULL,
    actor_user_id uuid,
    actor_assumed boolean NOT NULL,
    at            bigint NOT NULL,
    attempt       bigint NOT NULL,
    reason        text,
    PRIMARY KEY (run_id, seq)
);

-- CONC-5: messages queued with their transition. `seq` comes from an identity sequence:
-- increasing and never reused. A run's messages are written under its row lock, so their seq
-- order is their commit order. SCALE-2: a relay leases the messages it claims
-- (lease_owner / lease_until, ns since the epoch); recording an attempt ends the lease.
CREATE TABLE outbox (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          uuid NOT NULL,
    tenant_id       uuid NOT NULL,
    attempt         bigint NOT NULL,
    kind            text NOT NULL,
    message         jsonb NOT NULL,   -- OutboxMessage
    attempts        bigint NOT NULL DEFAULT 0,
    delivered       boolean NOT NULL DEFAULT false,
    dead            boolean NOT NULL DEFAULT false,
    last_error      text,
    next_try_at     bigint,           -- NULL: due now
    first_failed_at bigint,
    lease_owner     uuid,
    lease_until     bigint
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE NOT delivered AND NOT dead;
CREATE INDEX outbox_pending_by_run ON outbox (run_id, seq) WHERE NOT delivered AND NOT dead;
CREATE INDEX outbox_by_run ON outbox (run_id, seq);
