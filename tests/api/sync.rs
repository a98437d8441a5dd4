//! The two stores stay consistent: the outbox relay (with MongoDB down and back), the
//! change-stream consumer (stopped and restarted mid-stream), and reconcile.

use goalgraph::store::mongo::goal_updates::{GoalUpdates, NewNote};
use goalgraph::store::mongo::local_server::{LocalMongo, Storage};
use goalgraph::sync::activity::{ActivityConsumer, CONSUMER};
use goalgraph::sync::reconcile::{Difference, reconcile};
use goalgraph::sync::relay::pending;
use mongodb::bson::doc;
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::helpers::{Tenant, TestApp, eventually, spawn_app, spawn_app_with_mongo};

const MOVE: &str = "mutation($id: ID!, $p: ID) { moveObjective(input: {id: $id, newParentId: $p}) { objective { id } } }";

async fn converged(app: &TestApp, t: &Tenant) -> bool {
    pending(&app.db).await.unwrap_or(1) == 0
        && reconcile(&app.db, &app.mongo, t.id, false)
            .await
            .is_ok_and(|r| r.differences.is_empty())
}

async fn paths(app: &TestApp, tenant: i64) -> Vec<(String, String, i32)> {
    let trees = goalgraph::store::mongo::goal_trees::GoalTrees::new(app.mongo.database().clone());
    let mut all: Vec<_> = trees
        .all(tenant)
        .await
        .expect("trees")
        .into_iter()
        .map(|t| (t.title, t.path, t.depth))
        .collect();
    all.sort();
    all
}

#[tokio::test]
async fn the_relay_keeps_goal_trees_in_step_through_creates_renames_moves_and_deletes() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let root = app.objective(&t.admin, "root", None).await;
    let a = app.objective(&t.admin, "a", Some(&root)).await;
    let b = app.objective(&t.admin, "b", Some(&root)).await;
    let a1 = app.objective(&t.admin, "a1", Some(&a)).await;
    let a11 = app.objective(&t.admin, "a11", Some(&a1)).await;
    eventually(10, "the relay", || converged(&app, &t)).await;
    let id = |g: &str| {
        goalgraph::domain::global_id::GlobalId::decode(g)
            .expect("id")
            .id
    };
    let (r, ai, bi, a1i, a11i) = (id(&root), id(&a), id(&b), id(&a1), id(&a11));
    assert!(paths(&app, t.id).await.contains(&(
        "a11".into(),
        format!(",{r},{ai},{a1i},{a11i},"),
        3
    )));

    // Move the subtree under b: every descendant's prefix is rewritten.
    app.gql(Some(&t.admin.token), MOVE, json!({ "id": a, "p": b }))
        .await
        .data("/moveObjective");
    app.gql(Some(&t.admin.token), "mutation($id: ID!) { updateObjective(input: {id: $id, title: \"a one\", status: AT_RISK}) { objective { id } } }", json!({ "id": a1 }))
        .await
        .data("/updateObjective");
    app.gql(
        Some(&t.admin.token),
        "mutation($id: ID!) { deleteObjective(id: $id) { deletedId } }",
        json!({ "id": a11 }),
    )
    .await
    .data("/deleteObjective");
    eventually(10, "the relay", || converged(&app, &t)).await;
    let now = paths(&app, t.id).await;
    assert!(
        now.contains(&("a one".into(), format!(",{r},{bi},{ai},{a1i},"), 3)),
        "{now:?}"
    );
    assert!(!now.iter().any(|(title, _, _)| title == "a11"), "{now:?}");
}

#[tokio::test]
async fn writes_succeed_while_mongodb_is_down_and_goal_trees_converge_when_it_returns() {
    let venv = std::env::var("GOALGRAPH_TEST_MONGO_VENV").expect("GOALGRAPH_TEST_MONGO_VENV");
    let data = std::env::temp_dir().join(format!("gg-mongo-{}", std::process::id()));
    let server = LocalMongo::start(venv.as_ref(), Storage::Directory(data.clone()))
        .await
        .expect("mongo");
    let port = server.port();
    let app = spawn_app_with_mongo(&server.uri()).await;
    let t = app.tenant("acme").await;
    let root = app.objective(&t.admin, "root", None).await;
    let child = app.objective(&t.admin, "child", Some(&root)).await;
    eventually(15, "the relay", || converged(&app, &t)).await;

    server.stop().await.expect("stop");
    // PostgreSQL is the source of truth: every write is acknowledged.
    let other = app.objective(&t.admin, "while down", None).await;
    app.gql(
        Some(&t.admin.token),
        MOVE,
        json!({ "id": child, "p": other }),
    )
    .await
    .data("/moveObjective");
    app.objective(&t.admin, "grandchild", Some(&child)).await;
    assert!(
        pending(&app.db).await.expect("pending") > 0,
        "the outbox holds what MongoDB missed"
    );
    // Writes still succeed, so the replica stays in the load balancer, reporting the
    // degraded store in its body and its metrics.
    let (status, ready) = app.readiness().await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["status"], "degraded");
    assert_eq!(ready["mongodb"], "failing");
    assert_eq!(ready["postgres"], "ok");
    assert_eq!(ready["degraded"], json!(["mongodb"]));
    let metrics = app.get_text("/metrics").await;
    assert!(
        metrics.contains("goalgraph_store_up{store=\"mongodb\"} 0"),
        "{metrics}"
    );
    assert!(metrics.contains("goalgraph_store_up{store=\"postgres\"} 1"));

    let restarted = LocalMongo::start_on(venv.as_ref(), Storage::Directory(data.clone()), port)
        .await
        .expect("restart");
    eventually(30, "goal_trees to converge after MongoDB returns", || {
        converged(&app, &t)
    })
    .await;
    let (status, ready) = app.readiness().await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["outbox_pending"], 0);
    assert!(
        app.get_text("/metrics")
            .await
            .contains("goalgraph_store_up{store=\"mongodb\"} 1")
    );
    app.stop().await;
    restarted.stop().await.expect("stop");
    let _ = std::fs::remove_dir_all(data);
}

#[tokio::test]
async fn the_change_stream_consumer_resumes_without_losing_or_double_counting() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let objective = app.objective(&t.admin, "Grow", None).await;
    // This test drives its own consumer: the API stops (giving up its consumer's lease), and
    // notes are written to goal_updates directly, as another replica would.
    app.stop().await;
    // Whether the API's consumer stored where its stream started before the stop depends on
    // timing (on a loaded machine it may not have): start from no token every time, so
    // this test's consumer begins afresh, and wait below until it has stored its start.
    // (Waiting only for the row let notes be written before a fresh stream opened: they were
    // never counted — "29 of 30".)
    app.db
        .execute_unprepared(&format!(
            "UPDATE change_stream_offsets SET resume_token = NULL WHERE consumer = '{CONSUMER}'"
        ))
        .await
        .expect("forget the API consumer's token");
    let objective_id = goalgraph::domain::global_id::GlobalId::decode(&objective)
        .expect("id")
        .id;
    let count = || async {
        app.db
            .query_one_raw(sea_orm::Statement::from_string(
                app.db.get_database_backend(),
                format!("SELECT COALESCE(sum(update_count), 0)::bigint AS n FROM objective_activity WHERE tenant_id = {}", t.id),
            ))
            .await
            .expect("count")
            .and_then(|row| row.try_get::<i64>("", "n").ok())
            .unwrap_or(0)
    };
    // The consumer has stored where its stream starts: every note written from now on counts.
    let started = || async {
        app.db
            .query_one_raw(sea_orm::Statement::from_string(
                app.db.get_database_backend(),
                format!(
                    "SELECT 1 AS one FROM change_stream_offsets \
                     WHERE consumer = '{CONSUMER}' AND resume_token IS NOT NULL"
                ),
            ))
            .await
            .expect("offset")
            .is_some()
    };
    let updates = GoalUpdates::new(app.mongo.database().clone());
    let add_notes = |n: usize| {
        let updates = updates.clone();
        let (tenant_id, author_id) = (t.id, t.admin.id);
        async move {
            for i in 0..n {
                updates
                    .add(NewNote {
                        tenant_id,
                        objective_id,
                        key_result_id: None,
                        kind: "note",
                        body: format!("note {i}"),
                        author_id,
                        source_outbox_id: None,
                    })
                    .await
                    .expect("note");
            }
        }
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let consumer = tokio::spawn(
        ActivityConsumer::new(app.db.clone(), app.mongo.clone()).run(async move {
            let mut stopped = stopped;
            let _ = stopped.wait_for(|s| *s).await;
        }),
    );
    eventually(10, "the consumer to open its stream", started).await;
    let writer = add_notes(20);
    let interrupt = async {
        eventually(20, "some events to be consumed", || async {
            count().await >= 5
        })
        .await;
        let _ = stop.send(true);
    };
    tokio::join!(writer, interrupt);
    consumer.await.expect("consumer stopped");
    let at_stop = count().await;
    add_notes(10).await;
    assert_eq!(count().await, at_stop, "nothing is consumed while stopped");

    let (_stop_again, stopped_again) = tokio::sync::watch::channel(false);
    tokio::spawn(
        ActivityConsumer::new(app.db.clone(), app.mongo.clone()).run(async move {
            let mut stopped = stopped_again;
            let _ = stopped.wait_for(|s| *s).await;
        }),
    );
    // Polled by hand so that a failure says where the consumer stood (its lease and whether it
    // kept a resume token), not only that it did not catch up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while count().await < 30 {
        if std::time::Instant::now() > deadline {
            let lease = app
                .db
                .query_one_raw(sea_orm::Statement::from_string(
                    app.db.get_database_backend(),
                    format!(
                        "SELECT concat_ws(' ', 'owner', owner, 'expires', lease_expires_at, 'now', now(), \
                         'token', resume_token IS NOT NULL) AS state \
                         FROM change_stream_offsets WHERE consumer = '{CONSUMER}'"
                    ),
                ))
                .await
                .expect("lease")
                .and_then(|row| row.try_get::<String>("", "state").ok());
            panic!(
                "the restarted consumer did not catch up in 30 s: {} of 30 counted ({at_stop} at \
                 the stop); lease: {lease:?}",
                count().await
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(count().await, 30, "every note counted exactly once");
    let report = reconcile(&app.db, &app.mongo, t.id, false)
        .await
        .expect("reconcile");
    assert!(
        !report.differences.iter().any(
            |d| matches!(d, Difference::WrongSummary { objective_id: o, .. } if *o == objective_id)
        ),
        "{:?}",
        report.differences
    );
}

#[tokio::test]
async fn reconcile_reports_and_repairs_corruption_on_both_sides() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let root = app.objective(&t.admin, "root", None).await;
    let child = app.objective(&t.admin, "child", Some(&root)).await;
    let gone = app.objective(&t.admin, "will vanish", Some(&root)).await;
    app.gql(
        Some(&t.admin.token),
        "mutation($o: ID!) { addProgressNote(input: {objectiveId: $o, body: \"hello\"}) { update { id } } }",
        json!({ "o": child }),
    )
    .await
    .data("/addProgressNote");
    eventually(10, "the relay and the consumer", || converged(&app, &t)).await;

    let id = |g: &str| {
        goalgraph::domain::global_id::GlobalId::decode(g)
            .expect("id")
            .id
    };
    let trees = app
        .mongo
        .database()
        .collection::<mongodb::bson::Document>("goal_trees");
    // MongoDB side: a lost document, a wrong path, a stale title, an orphan document.
    trees
        .delete_one(doc! { "tenant_id": t.id, "objective_id": id(&gone) })
        .await
        .expect("delete");
    trees
        .update_one(
            doc! { "tenant_id": t.id, "objective_id": id(&child) },
            doc! { "$set": { "path": ",999,", "title": "stale" } },
        )
        .await
        .expect("corrupt");
    trees
        .insert_one(doc! { "_id": format!("{}:424242", t.id), "tenant_id": t.id, "objective_id": 424242_i64, "path": ",424242," })
        .await
        .expect("orphan");
    // PostgreSQL side: a summary that lost a count.
    app.db
        .execute_unprepared(&format!(
            "UPDATE objective_activity SET update_count = 7 WHERE tenant_id = {}",
            t.id
        ))
        .await
        .expect("corrupt summary");

    let report = reconcile(&app.db, &app.mongo, t.id, false)
        .await
        .expect("report");
    let has = |wanted: &dyn Fn(&Difference) -> bool| report.differences.iter().any(wanted);
    assert!(
        has(
            &|d| matches!(d, Difference::MissingDocument { objective_id } if *objective_id == id(&gone))
        ),
        "{:?}",
        report.differences
    );
    assert!(has(
        &|d| matches!(d, Difference::WrongPath { objective_id, .. } if *objective_id == id(&child))
    ));
    assert!(has(
        &|d| matches!(d, Difference::StaleFields { objective_id, .. } if *objective_id == id(&child))
    ));
    assert!(has(&|d| matches!(
        d,
        Difference::ExtraDocument {
            objective_id: 424242
        }
    )));
    assert!(has(
        &|d| matches!(d, Difference::WrongSummary { objective_id, .. } if *objective_id == id(&child))
    ));

    let repaired = reconcile(&app.db, &app.mongo, t.id, true)
        .await
        .expect("repair");
    assert!(repaired.repaired);
    let after = reconcile(&app.db, &app.mongo, t.id, false)
        .await
        .expect("after");
    assert_eq!(after.differences, vec![], "repair left differences");
}
