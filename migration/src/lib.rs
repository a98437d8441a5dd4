//! Database migrations for goalgraph. Tables are written out in SQL, never derived from the
//! application's entities, so an old migration never changes meaning when an entity does.
//! This crate must not import anything from the `goalgraph` crate.

pub use sea_orm_migration::prelude::*;

/// Declares a migration named `$name` whose `up` and `down` run the SQL in `$up` and `$down`.
macro_rules! sql_migration {
    ($name:literal, $up:ident, $down:ident) => {
        pub struct Migration;

        impl MigrationName for Migration {
            fn name(&self) -> &str {
                $name
            }
        }

        #[async_trait::async_trait]
        impl MigrationTrait for Migration {
            async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
                manager.get_connection().execute_unprepared($up).await?;
                Ok(())
            }

            async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
                manager.get_connection().execute_unprepared($down).await?;
                Ok(())
            }
        }
    };
}
pub(crate) use sql_migration;

mod m20261121_000001_core_schema;
mod m20261121_000002_check_in_partitions;
mod m20261121_000003_sync_state;
mod m20261121_000004_database_settings;
mod m20261130_000005_replica_coordination;
mod m20261130_000006_user_change_notify;
mod m20261130_000007_subtree_sizes;
mod m20261130_000008_report_cache_and_indexes;
mod m20261201_000009_user_truncate_notify;

/// The ordered list of goalgraph migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_core_schema::Migration),
            Box::new(m20261121_000002_check_in_partitions::Migration),
            Box::new(m20261121_000003_sync_state::Migration),
            Box::new(m20261121_000004_database_settings::Migration),
            Box::new(m20261130_000005_replica_coordination::Migration),
            Box::new(m20261130_000006_user_change_notify::Migration),
            Box::new(m20261130_000007_subtree_sizes::Migration),
            Box::new(m20261130_000008_report_cache_and_indexes::Migration),
            Box::new(m20261201_000009_user_truncate_notify::Migration),
        ]
    }
}
