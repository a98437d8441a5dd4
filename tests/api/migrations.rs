//! Migrations run up, down and up again on a real database, and the schema's constraints hold.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database};

use crate::helpers::{fresh_database, spawn_app};

#[tokio::test]
async fn migrations_run_up_down_and_up_again() {
    let url = fresh_database().await;
    let db = Database::connect(&url).await.expect("connect");
    Migrator::up(&db, None).await.expect("first up");
    Migrator::down(&db, None).await.expect("down");
    let leftover = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' \
             AND tablename <> 'seaql_migrations'",
        ))
        .await
        .expect("count")
        .expect("row");
    assert_eq!(
        leftover.try_get::<i64>("", "n").expect("n"),
        0,
        "down leaves no tables"
    );
    Migrator::up(&db, None).await.expect("second up");
    // Running up again with nothing pending is a no-op.
    Migrator::up(&db, None).await.expect("idempotent up");
}

#[tokio::test]
async fn check_ins_are_partitioned_by_fiscal_year_this_year_and_next() {
    let app = spawn_app().await;
    let rows = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'check_ins'::regclass ORDER BY 1",
        ))
        .await
        .expect("partitions");
    let names: Vec<String> = rows
        .iter()
        .map(|r| r.try_get("", "name").expect("name"))
        .collect();
    let year = chrono::Datelike::year(&chrono::Utc::now());
    assert!(names.contains(&format!("check_ins_fy{year}")), "{names:?}");
    assert!(
        names.contains(&format!("check_ins_fy{}", year + 1)),
        "{names:?}"
    );
    let made = goalgraph::store::pg::ensure_check_in_partitions(&app.db, 3)
        .await
        .expect("maintain");
    assert!(
        made.contains(&format!("check_ins_fy{}", year + 3)),
        "{made:?}"
    );
}

#[tokio::test]
async fn the_database_refuses_a_parent_from_another_tenant_and_a_self_parent() {
    let app = spawn_app().await;
    let a = app.tenant("a").await;
    let b = app.tenant("b").await;
    let a_root = app.objective(&a.admin, "A root", None).await;
    let a_root_id = goalgraph::domain::global_id::GlobalId::decode(&a_root)
        .expect("id")
        .id;
    let cross = app
        .db
        .execute_unprepared(&format!(
            "INSERT INTO objectives (tenant_id, parent_id, owner_id, title) VALUES ({}, {a_root_id}, {}, 'x')",
            b.id, b.admin.id
        ))
        .await;
    assert!(cross.is_err(), "a parent in another tenant must be refused");
    let own_parent = app
        .db
        .execute_unprepared(&format!(
            "UPDATE objectives SET parent_id = id WHERE id = {a_root_id}"
        ))
        .await;
    assert!(own_parent.is_err(), "an objective cannot be its own parent");
    let zero_weight = app
        .db
        .execute_unprepared(&format!(
            "UPDATE objectives SET weight = 0 WHERE id = {a_root_id}"
        ))
        .await;
    assert!(zero_weight.is_err(), "weight must be positive");
}

#[tokio::test]
async fn the_projects_connections_run_with_jit_off() {
    let app = spawn_app().await;
    for _ in 0..3 {
        let row = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                app.db.get_database_backend(),
                "SELECT current_setting('jit') AS jit",
            ))
            .await
            .expect("query")
            .expect("row");
        assert_eq!(row.try_get::<String>("", "jit").expect("jit"), "off");
    }
}
