//! `goalgraph seed --bench` as a user runs it (the real binary, a second command on the
//! suite's stores): the org-shaped data set is whole, and both stores agree afterwards
//! (`goalgraph reconcile` finds nothing to repair).

use sea_orm::{ConnectionTrait, Statement};

use crate::faults::goalgraph_command;
use crate::helpers::{fresh_database_named, mongo_uri};

async fn count(db: &goalgraph::store::pg::Db, query: &str) -> i64 {
    db.query_one_raw(Statement::from_string(
        sea_orm::DbBackend::Postgres,
        query.to_owned(),
    ))
    .await
    .expect("count")
    .expect("a row")
    .try_get::<i64>("", "n")
    .expect("n")
}

#[tokio::test]
async fn the_bench_seed_loads_the_org_shaped_data_set_and_leaves_nothing_for_reconcile() {
    let (database_url, name) = fresh_database_named().await;
    let data_dir = std::env::temp_dir().join(format!("gg-seed-{name}"));
    let run = |subcommand: &str, args: &[&str]| {
        let mut command = goalgraph_command(subcommand, &data_dir);
        command
            .args(args)
            .env("DATABASE_URL", &database_url)
            .env("MONGODB_URI", mongo_uri())
            .env("MONGODB_DATABASE", &name);
        command
    };
    let seeded = run("seed", &["--bench", "--levels", "3"])
        .output()
        .await
        .expect("seed runs");
    let printed = String::from_utf8_lossy(&seeded.stdout);
    assert!(
        seeded.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    assert!(printed.contains("111 objectives"), "{printed}");

    let db = goalgraph::store::pg::connect(&database_url, &Default::default())
        .await
        .expect("connect");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM teams").await, 211);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM cycles").await, 2);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) AS n FROM objectives WHERE team_id IS NULL OR cycle_id IS NULL"
        )
        .await,
        0
    );
    // 13 weekly check-ins for each key result with an even id (333 key results: 166 even).
    let even = count(
        &db,
        "SELECT count(*) AS n FROM key_results WHERE id % 2 = 0",
    )
    .await;
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM check_ins").await,
        13 * even
    );

    let reconciled = run("reconcile", &["--tenant", "1"])
        .output()
        .await
        .expect("reconcile runs");
    let report = String::from_utf8_lossy(&reconciled.stdout);
    assert!(
        report.contains("111 objectives, 111 goal_trees documents, 0 differences"),
        "{report}"
    );
    assert!(reconciled.status.success(), "{report}");
    let _ = std::fs::remove_dir_all(&data_dir);
}
