//! State of the MongoDB -> PostgreSQL direction: the per-objective activity summary that
//! dashboards sort and filter on, and the change-stream resume tokens, which are written in the
//! same transaction as the summary change they account for.

use sea_orm_migration::prelude::*;

const UP: &str = r#"
-- Derived from MongoDB's goal_updates and goal_trees by the change-stream consumer. Not a
-- foreign key to objectives: an event may arrive for an objective deleted meanwhile, and
-- reconcile removes such rows.
CREATE TABLE objective_activity (
    tenant_id                BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    objective_id             BIGINT NOT NULL,
    update_count             BIGINT NOT NULL DEFAULT 0 CHECK (update_count >= 0),
    last_update_at           TIMESTAMPTZ,
    last_author_id           BIGINT,
    custom_fields_changed_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, objective_id)
);
CREATE INDEX objective_activity_recent_idx ON objective_activity (tenant_id, last_update_at DESC);

-- One row per change-stream consumer: where to resume.
CREATE TABLE change_stream_offsets (
    consumer     TEXT PRIMARY KEY,
    resume_token JSONB NOT NULL,
    events       BIGINT NOT NULL DEFAULT 0,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
"#;

const DOWN: &str = r#"
DROP TABLE change_stream_offsets;
DROP TABLE objective_activity;
"#;

crate::sql_migration!("m20261121_000003_sync_state", UP, DOWN);
