//! Settings every connection to goalgraph's database gets from the database itself, so they
//! hold for connections that cannot send startup options (through pgBouncer in transaction
//! pooling mode, or psql): JIT off, because it makes recursive CTEs slow to plan and gains
//! nothing on OLTP-sized queries.

use sea_orm_migration::prelude::*;

const UP: &str = r#"
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
END
$$;
"#;

const DOWN: &str = r#"
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I RESET jit', current_database());
END
$$;
"#;

crate::sql_migration!("m20261121_000004_database_settings", UP, DOWN);
