//! What dashboard reports need: a per-tenant data version that every commit changing a
//! report's inputs bumps (the report cache's key, so a cached answer never outlives the data
//! it was computed from), and a covering index for the team and cycle roll-ups.

use sea_orm_migration::prelude::*;

const UP: &str = r#"
-- Bumped in the writing transaction by the triggers below (and by the outbox relay and
-- MongoDB-only writes, in the application), so it becomes visible with the data it describes.
-- The epoch tells this tenant from the same tenant id in another database sharing one Redis
-- (staging beside production, a test suite's databases).
ALTER TABLE tenants ADD COLUMN data_version BIGINT NOT NULL DEFAULT 0,
                    ADD COLUMN data_epoch UUID NOT NULL DEFAULT gen_random_uuid();

-- Statement-level: one UPDATE per statement and tenant, whatever the number of rows. The
-- transition table names the tenants a statement touched.
CREATE FUNCTION goalgraph_bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE tenants SET data_version = data_version + 1
        WHERE id IN (SELECT DISTINCT tenant_id FROM changed_before);
    ELSE
        UPDATE tenants SET data_version = data_version + 1
        WHERE id IN (SELECT DISTINCT tenant_id FROM changed_after);
    END IF;
    RETURN NULL;
END
$$;

-- The tables reports read (objectives, key results, check-ins, milestones, the org, cycles)
-- and users, whose team decides what a manager may see. A trigger with transition tables
-- handles one event, hence three per table.
DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['objectives', 'key_results', 'check_ins', 'milestones', 'teams',
                             'cycles', 'users']
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS changed_after
                        FOR EACH STATEMENT EXECUTE FUNCTION goalgraph_bump_data_version()',
                       t || '_inserted_bump_version', t);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING NEW TABLE AS changed_after
                        FOR EACH STATEMENT EXECUTE FUNCTION goalgraph_bump_data_version()',
                       t || '_updated_bump_version', t);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS changed_before
                        FOR EACH STATEMENT EXECUTE FUNCTION goalgraph_bump_data_version()',
                       t || '_deleted_bump_version', t);
    END LOOP;
END
$$;

-- teamRollup and cycleSummary read live objectives by team and cycle: an index-only scan of
-- the teams asked for instead of a scan of the tenant (27 → 2.4 ms for a department in a
-- cycle on the benchmark org).
CREATE INDEX objectives_report_idx ON objectives (tenant_id, team_id, cycle_id)
    INCLUDE (status, progress, visibility, owner_id) WHERE archived_at IS NULL;
"#;

const DOWN: &str = r#"
DROP INDEX objectives_report_idx;
DO $$
DECLARE
    t TEXT;
    event TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['objectives', 'key_results', 'check_ins', 'milestones', 'teams',
                             'cycles', 'users']
    LOOP
        FOREACH event IN ARRAY ARRAY['inserted', 'updated', 'deleted']
        LOOP
            EXECUTE format('DROP TRIGGER %I ON %I', t || '_' || event || '_bump_version', t);
        END LOOP;
    END LOOP;
END
$$;
DROP FUNCTION goalgraph_bump_data_version();
ALTER TABLE tenants DROP COLUMN data_version, DROP COLUMN data_epoch;
"#;

crate::sql_migration!("m20261130_000008_report_cache_and_indexes", UP, DOWN);
