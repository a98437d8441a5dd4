//! The transactional core: tenants, users, teams, cycles, objectives, key results, check-ins,
//! milestones and the outbox. Every table carries `tenant_id`, and every reference between
//! tenant-owned rows is a composite foreign key on `(tenant_id, id)`, so PostgreSQL itself
//! refuses a row that points into another tenant.

use sea_orm_migration::prelude::*;

const UP: &str = r#"
-- pg_trgm backs the case-insensitive text filter on objective titles. It is a trusted
-- extension (PostgreSQL 13+), so a database owner without superuser rights may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE tenants (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Org units: company -> division -> department -> team, as an adjacency list.
CREATE TABLE teams (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    parent_id   BIGINT,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind        TEXT NOT NULL CHECK (kind IN ('company', 'division', 'department', 'team')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The target of every composite foreign key below: a reference is (tenant, id).
    UNIQUE (tenant_id, id),
    CHECK (parent_id <> id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES teams (tenant_id, id)
);
CREATE INDEX teams_parent_idx ON teams (tenant_id, parent_id);

CREATE TABLE users (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    team_id     BIGINT,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email       TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    role        TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'member', 'viewer')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, email),
    FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id) ON DELETE SET NULL (team_id)
);
CREATE INDEX users_team_idx ON users (tenant_id, team_id);

CREATE TABLE cycles (
    id           BIGSERIAL PRIMARY KEY,
    tenant_id    BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    starts_on    DATE NOT NULL,
    ends_on      DATE NOT NULL,
    fiscal_year  INTEGER NOT NULL CHECK (fiscal_year BETWEEN 1900 AND 9999),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name),
    CHECK (ends_on >= starts_on)
);
CREATE INDEX cycles_period_idx ON cycles (tenant_id, starts_on);

-- The alignment tree. `progress` is the stored roll-up of SPEC section 2, kept current by every
-- write that can change it (in the same transaction), so reading it never walks a subtree.
CREATE TABLE objectives (
    id           BIGSERIAL PRIMARY KEY,
    tenant_id    BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    parent_id    BIGINT,
    team_id      BIGINT,
    owner_id     BIGINT NOT NULL,
    cycle_id     BIGINT,
    title        TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    description  TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 20000),
    status       TEXT NOT NULL DEFAULT 'draft'
                 CHECK (status IN ('draft', 'on_track', 'at_risk', 'off_track', 'done', 'cancelled')),
    visibility   TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'private')),
    weight       DOUBLE PRECISION NOT NULL DEFAULT 1 CHECK (weight > 0 AND weight <= 1000),
    progress     DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    archived_at  TIMESTAMPTZ,
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    -- An objective is never its own parent; longer cycles are refused by moveObjective under
    -- a per-tenant lock (a CHECK cannot see other rows).
    CHECK (parent_id <> id),
    -- Composite keys: a parent, team, owner or cycle from another tenant does not exist here.
    FOREIGN KEY (tenant_id, parent_id) REFERENCES objectives (tenant_id, id),
    FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, cycle_id) REFERENCES cycles (tenant_id, id)
);
-- The recursive CTEs walk (tenant_id, parent_id) downwards; the filters of `objectives(...)`
-- each get an index that starts with tenant_id and ends with id, the pagination order.
CREATE INDEX objectives_parent_idx ON objectives (tenant_id, parent_id, id);
CREATE INDEX objectives_team_idx ON objectives (tenant_id, team_id, id);
CREATE INDEX objectives_owner_idx ON objectives (tenant_id, owner_id, id);
CREATE INDEX objectives_cycle_idx ON objectives (tenant_id, cycle_id, id);
CREATE INDEX objectives_status_idx ON objectives (tenant_id, status, id);
CREATE INDEX objectives_title_trgm_idx ON objectives USING gin (title gin_trgm_ops);

CREATE TABLE key_results (
    id             BIGSERIAL PRIMARY KEY,
    tenant_id      BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    objective_id   BIGINT NOT NULL,
    owner_id       BIGINT,
    title          TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    kind           TEXT NOT NULL
                   CHECK (kind IN ('numeric', 'percentage', 'currency', 'boolean', 'milestone')),
    start_value    DOUBLE PRECISION NOT NULL DEFAULT 0,
    target_value   DOUBLE PRECISION NOT NULL,
    current_value  DOUBLE PRECISION,
    weight         DOUBLE PRECISION NOT NULL DEFAULT 1 CHECK (weight > 0 AND weight <= 1000),
    confidence     DOUBLE PRECISION CHECK (confidence BETWEEN 0 AND 1),
    -- Stored like objectives.progress so a roll-up reads it instead of recomputing milestones.
    progress       DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, objective_id) REFERENCES objectives (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX key_results_objective_idx ON key_results (tenant_id, objective_id, id);
CREATE INDEX key_results_owner_idx ON key_results (tenant_id, owner_id);

-- The time series of key-result values. Large tenants keep years of these, so the table is
-- range-partitioned by time, one partition per fiscal year (see the next migration).
CREATE TABLE check_ins (
    id             BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant_id      BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key_result_id  BIGINT NOT NULL,
    author_id      BIGINT NOT NULL,
    value          DOUBLE PRECISION NOT NULL,
    confidence     DOUBLE PRECISION CHECK (confidence BETWEEN 0 AND 1),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The partition key must be part of every unique constraint of a partitioned table.
    PRIMARY KEY (id, created_at),
    FOREIGN KEY (tenant_id, key_result_id) REFERENCES key_results (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, author_id) REFERENCES users (tenant_id, id)
) PARTITION BY RANGE (created_at);
CREATE INDEX check_ins_key_result_idx ON check_ins (tenant_id, key_result_id, created_at DESC);
CREATE INDEX check_ins_author_idx ON check_ins (tenant_id, author_id);

CREATE TABLE milestones (
    id             BIGSERIAL PRIMARY KEY,
    tenant_id      BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    objective_id   BIGINT NOT NULL,
    -- A milestone may count towards a key result of kind 'milestone' (progress = done / total).
    key_result_id  BIGINT,
    title          TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    due_on         DATE,
    done_at        TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, objective_id) REFERENCES objectives (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, key_result_id) REFERENCES key_results (tenant_id, id)
        ON DELETE SET NULL (key_result_id)
);
CREATE INDEX milestones_objective_idx ON milestones (tenant_id, objective_id, id);
CREATE INDEX milestones_key_result_idx ON milestones (tenant_id, key_result_id);

-- Transactional outbox: written in the same transaction as the change it describes, relayed to
-- MongoDB's goal_trees in id order. Rows are marked processed, never updated otherwise.
CREATE TABLE outbox (
    id             BIGSERIAL PRIMARY KEY,
    tenant_id      BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    aggregate_type TEXT NOT NULL,
    aggregate_id   BIGINT NOT NULL,
    event_type     TEXT NOT NULL,
    payload        JSONB NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at   TIMESTAMPTZ
);
CREATE INDEX outbox_pending_idx ON outbox (id) WHERE processed_at IS NULL;
CREATE INDEX outbox_tenant_idx ON outbox (tenant_id);
"#;

const DOWN: &str = r#"
DROP TABLE outbox;
DROP TABLE milestones;
DROP TABLE check_ins;
DROP TABLE key_results;
DROP TABLE objectives;
DROP TABLE cycles;
DROP TABLE users;
DROP TABLE teams;
DROP TABLE tenants;
"#;

crate::sql_migration!("m20261121_000001_core_schema", UP, DOWN);
