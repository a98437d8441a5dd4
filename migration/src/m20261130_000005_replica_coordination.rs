//! State that lets several API replicas share one database: the change-stream consumer's
//! lease (one replica at a time reads the stream; the others stand by), and an index for
//! pruning relayed outbox events.

use sea_orm_migration::prelude::*;

const UP: &str = r#"
-- A consumer that holds the lease may have no token yet (its stream has not started).
ALTER TABLE change_stream_offsets ALTER COLUMN resume_token DROP NOT NULL;
ALTER TABLE change_stream_offsets
    ADD COLUMN owner            TEXT,
    ADD COLUMN lease_expires_at TIMESTAMPTZ;

CREATE INDEX outbox_relayed_idx ON outbox (processed_at) WHERE processed_at IS NOT NULL;
"#;

const DOWN: &str = r#"
DROP INDEX outbox_relayed_idx;
ALTER TABLE change_stream_offsets DROP COLUMN lease_expires_at, DROP COLUMN owner;
DELETE FROM change_stream_offsets WHERE resume_token IS NULL;
ALTER TABLE change_stream_offsets ALTER COLUMN resume_token SET NOT NULL;
"#;

crate::sql_migration!("m20261130_000005_replica_coordination", UP, DOWN);
