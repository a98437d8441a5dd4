//! Fiscal-year partitions of `check_ins`: a function that creates one year's partition
//! idempotently, the partitions for the current and the next year, and a default partition.

use sea_orm_migration::prelude::*;

const UP: &str = r#"
-- Fiscal years are calendar years (a tenant-specific fiscal calendar maps onto cycles, not onto
-- storage). `goalgraph maintain` calls this ahead of time so the default partition stays empty:
-- a new partition cannot be attached while the default holds rows in its range.
CREATE FUNCTION goalgraph_ensure_check_in_partition(fiscal_year INTEGER) RETURNS TEXT
LANGUAGE plpgsql AS $$
DECLARE
    partition_name TEXT := format('check_ins_fy%s', fiscal_year);
BEGIN
    IF to_regclass(partition_name) IS NULL THEN
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF check_ins FOR VALUES FROM (%L) TO (%L)',
            partition_name,
            make_timestamptz(fiscal_year, 1, 1, 0, 0, 0, 'UTC'),
            make_timestamptz(fiscal_year + 1, 1, 1, 0, 0, 0, 'UTC'));
    END IF;
    RETURN partition_name;
END;
$$;

SELECT goalgraph_ensure_check_in_partition(extract(year FROM now())::int);
SELECT goalgraph_ensure_check_in_partition(extract(year FROM now())::int + 1);

-- Catches rows outside every yearly partition (back-dated imports) instead of failing them.
CREATE TABLE check_ins_default PARTITION OF check_ins DEFAULT;
"#;

const DOWN: &str = r#"
DO $$
DECLARE
    part RECORD;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'check_ins'::regclass
    LOOP
        EXECUTE format('DROP TABLE %I', part.relname);
    END LOOP;
END;
$$;
DROP FUNCTION goalgraph_ensure_check_in_partition(INTEGER);
"#;

crate::sql_migration!("m20261121_000002_check_in_partitions", UP, DOWN);
