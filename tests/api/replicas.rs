//! Several replicas on one PostgreSQL and one MongoDB, every one started like `goalgraph
//! serve` with its relay and change-stream consumer running: notes are counted once, the
//! outbox is relayed once and in order, migrations started at once serialise, and reconcile
//! finds nothing after concurrent writes spread over all replicas. (A replica killed with
//! SIGKILL mid-burst, with real processes, is in `faults.rs`.)

use std::collections::HashMap;

use goalgraph::application::Application;
use goalgraph::domain::role::Role;
use goalgraph::http::graphql::SQL_STATEMENTS_HEADER;
use goalgraph::store::mongo::goal_trees::GoalTrees;
use goalgraph::store::pg::Db;
use goalgraph::store::pg::outbox::prune_relayed;
use goalgraph::sync::activity::CONSUMER;
use goalgraph::sync::reconcile::reconcile;
use goalgraph::sync::relay::pending;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::helpers::{
    TestApp, TestSettings, eventually, fresh_database_named, mongo_uri, spawn_app,
};

const NOTE: &str = "mutation($o: ID!, $b: String!) { addProgressNote(input: {objectiveId: $o, body: $b}) { update { id } } }";
const MOVE: &str = "mutation($id: ID!, $p: ID) { moveObjective(input: {id: $id, newParentId: $p}) { objective { id } } }";

async fn scalar(db: &Db, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("query")
        .and_then(|row| row.try_get::<i64>("", "n").ok())
        .unwrap_or(0)
}

async fn counted_notes(app: &TestApp, tenant: i64) -> i64 {
    scalar(
        &app.db,
        &format!("SELECT COALESCE(sum(update_count), 0)::bigint AS n FROM objective_activity WHERE tenant_id = {tenant}"),
    )
    .await
}

/// Three servers: the app and two replicas, all with their workers.
async fn three_replicas() -> (TestApp, Vec<String>) {
    let app = spawn_app().await;
    let mut addresses = vec![app.address.clone()];
    addresses.push(app.replica().await);
    addresses.push(app.replica().await);
    (app, addresses)
}

#[tokio::test]
async fn every_progress_note_is_counted_once_with_three_replicas_running() {
    let (app, addresses) = three_replicas().await;
    let t = app.tenant("notes").await;
    let objective = app.objective(&t.admin, "Grow", None).await;
    for i in 0..10 {
        app.gql(
            Some(&t.admin.token),
            NOTE,
            json!({ "o": objective, "b": format!("note {i}") }),
        )
        .await
        .data("/addProgressNote");
    }
    eventually(30, "ten notes to be counted", || async {
        counted_notes(&app, t.id).await >= 10
    })
    .await;
    // One consumer reads the stream: the lease is held by exactly one of them.
    let holders = scalar(
        &app.db,
        &format!("SELECT count(*)::bigint AS n FROM change_stream_offsets WHERE consumer = '{CONSUMER}' AND owner IS NOT NULL AND lease_expires_at > now()"),
    )
    .await;
    assert_eq!(holders, 1, "exactly one consumer holds the lease");
    // Absence can only be shown over time: for two seconds (many polls of every standby
    // consumer) the count stays exact; with a consumer per replica it reached 20 or 30.
    for _ in 0..20 {
        assert_eq!(counted_notes(&app, t.id).await, 10, "a note counted twice");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Every replica answers the same.
    for address in &addresses {
        let body = app
            .gql_at(
                address,
                &t.admin.token,
                "query($id: ID!) { objective(id: $id) { activity { updateCount } } }",
                json!({ "id": objective }),
            )
            .await;
        assert_eq!(
            body["data"]["objective"]["activity"]["updateCount"], 10,
            "{body}"
        );
    }
    let report = reconcile(&app.db, &app.mongo, t.id, false)
        .await
        .expect("reconcile");
    assert_eq!(report.differences, vec![]);
    eprintln!(
        "3 replicas: 10 notes written, {} counted, 0 differences",
        counted_notes(&app, t.id).await
    );
    app.stop().await;
}

#[tokio::test]
async fn a_standby_consumer_takes_over_from_the_stored_token_when_the_leader_stops() {
    let (app, addresses) = three_replicas().await;
    let t = app.tenant("takeover").await;
    let objective = app.objective(&t.admin, "Grow", None).await;
    let post_note = |address: String, i: usize| {
        let (app, token, objective) = (&app, t.admin.token.clone(), objective.clone());
        async move {
            let body = app
                .gql_at(
                    &address,
                    &token,
                    NOTE,
                    json!({ "o": objective, "b": format!("note {i}") }),
                )
                .await;
            assert!(body.get("errors").is_none(), "{body}");
        }
    };
    for i in 0..5 {
        post_note(addresses[i % 3].clone(), i).await;
    }
    eventually(30, "five notes to be counted", || async {
        counted_notes(&app, t.id).await == 5
    })
    .await;
    // The first server's consumer took the lease when it started. Stopping it and the first
    // replica (as SIGTERM would) hands the lease to the last replica, which resumes from the
    // stored token: notes written through it meanwhile are counted once.
    let owner = || async {
        app.db
            .query_one_raw(Statement::from_string(
                app.db.get_database_backend(),
                format!("SELECT COALESCE(owner, '') AS owner FROM change_stream_offsets WHERE consumer = '{CONSUMER}'"),
            ))
            .await
            .expect("owner")
            .and_then(|row| row.try_get::<String>("", "owner").ok())
            .unwrap_or_default()
    };
    let first_owner = owner().await;
    app.stop_first(2).await;
    for i in 5..15 {
        post_note(addresses[2].clone(), i).await;
    }
    eventually(30, "fifteen notes to be counted", || async {
        counted_notes(&app, t.id).await == 15
    })
    .await;
    let last_owner = owner().await;
    assert!(
        !last_owner.is_empty() && last_owner != first_owner,
        "the lease moved"
    );
    app.stop().await;
    assert_eq!(counted_notes(&app, t.id).await, 15);
}

#[tokio::test]
async fn replicas_started_at_once_migrate_one_after_another_and_all_come_up() {
    let (database_url, name) = fresh_database_named().await;
    let settings = TestSettings::new(database_url, &mongo_uri(), &name);
    let built =
        futures::future::join_all((0..3).map(|_| Application::build(settings.serve_settings())))
            .await;
    let mut applications = Vec::new();
    for application in built {
        applications.push(application.expect("every replica starts"));
    }
    let db = applications[0].db().clone();
    let applied = scalar(&db, "SELECT count(*)::bigint AS n FROM seaql_migrations").await;
    let distinct = scalar(
        &db,
        "SELECT count(DISTINCT version)::bigint AS n FROM seaql_migrations",
    )
    .await;
    assert_eq!(applied, distinct, "each migration recorded once");
    assert_eq!(
        applied,
        <migration::Migrator as migration::MigratorTrait>::migrations().len() as i64
    );
    drop(applications);
}

#[tokio::test]
async fn writes_spread_over_three_replicas_are_relayed_once_in_order_and_reconcile_clean() {
    let (app, addresses) = three_replicas().await;
    let t = app.tenant("burst").await;
    let root = app.objective(&t.admin, "root", None).await;
    let other = app.objective(&t.admin, "other root", None).await;
    let create =
        "mutation($i: CreateObjectiveInput!) { createObjective(input: $i) { objective { id } } }";
    let send = |address: &str, query: &'static str, variables: serde_json::Value| {
        let (app, address, token) = (&app, address.to_owned(), t.admin.token.clone());
        async move {
            let body = app.gql_at(&address, &token, query, variables).await;
            assert!(body.get("errors").is_none(), "{body}");
            body
        }
    };
    let created = futures::future::join_all((0..60).map(|i| {
        send(
            &addresses[i % 3],
            create,
            json!({ "i": { "title": format!("o{i}"), "parentId": root } }),
        )
    }))
    .await;
    let ids: Vec<String> = created
        .iter()
        .map(|b| {
            b["data"]["createObjective"]["objective"]["id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    // Moves, renames and notes at once, through every replica.
    let moves = ids
        .iter()
        .step_by(3)
        .enumerate()
        .map(|(i, id)| send(&addresses[i % 3], MOVE, json!({ "id": id, "p": other })));
    let notes = (0..30).map(|i| {
        send(
            &addresses[(i + 1) % 3],
            NOTE,
            json!({ "o": ids[i], "b": format!("n{i}") }),
        )
    });
    futures::future::join(
        futures::future::join_all(moves),
        futures::future::join_all(notes),
    )
    .await;
    eventually(60, "both stores to converge", || async {
        pending(&app.db).await.unwrap_or(1) == 0
            && counted_notes(&app, t.id).await == 30
            && reconcile(&app.db, &app.mongo, t.id, false)
                .await
                .is_ok_and(|r| r.differences.is_empty())
    })
    .await;
    // Relayed in order: every document carries the id of its objective's newest event.
    let newest: HashMap<i64, i64> = app
        .db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT aggregate_id, max(id) AS id FROM outbox WHERE tenant_id = {} AND aggregate_type = 'objective' GROUP BY aggregate_id", t.id),
        ))
        .await
        .expect("outbox")
        .iter()
        .map(|row| (row.try_get("", "aggregate_id").expect("a"), row.try_get("", "id").expect("id")))
        .collect();
    let documents = GoalTrees::new(app.mongo.database().clone())
        .all(t.id)
        .await
        .expect("documents");
    assert_eq!(documents.len(), 62);
    for document in &documents {
        assert_eq!(
            Some(&document.outbox_id),
            newest.get(&document.objective_id),
            "objective {} relayed out of order",
            document.objective_id
        );
    }
    // Relayed events are pruned; the newest stays as the high-water mark, and later writes
    // still relay.
    let before = scalar(&app.db, "SELECT count(*)::bigint AS n FROM outbox").await;
    let pruned = prune_relayed(&app.db, std::time::Duration::ZERO)
        .await
        .expect("prune");
    assert_eq!(pruned as i64, before - 1);
    app.objective(&t.admin, "after pruning", Some(&root)).await;
    eventually(30, "the relay after pruning", || async {
        pending(&app.db).await.unwrap_or(1) == 0
            && reconcile(&app.db, &app.mongo, t.id, false)
                .await
                .is_ok_and(|r| r.differences.is_empty())
    })
    .await;
    eprintln!(
        "3 replicas: 60 creates, 20 moves, 30 notes; {before} outbox rows relayed, {pruned} pruned; 30 notes counted; 0 differences"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_role_change_rename_or_deletion_reaches_every_replicas_user_cache_within_a_second() {
    let app = spawn_app().await;
    let replica = app.replica().await;
    let t = app.tenant("cache").await;
    let manager = app.user(&t, Role::Admin, None).await;
    let owner = app.user(&t, Role::Member, None).await;
    let leaver = app.user(&t, Role::Member, None).await;
    let secret = app.objective(&owner, "Secret", None).await;
    app.gql(
        Some(&owner.token),
        "mutation($input: UpdateObjectiveInput!) { updateObjective(input: $input) { objective { id } } }",
        json!({ "input": { "id": secret, "visibility": "PRIVATE" } }),
    )
    .await
    .data("/updateObjective");
    let read_secret = "query($id: ID!) { objective(id: $id) { title } }";
    let sees_secret = |token: String| {
        let (app, replica, secret) = (&app, replica.clone(), secret.clone());
        async move {
            let body = app
                .gql_at(&replica, &token, read_secret, json!({ "id": secret }))
                .await;
            body.pointer("/data/objective/title")
                .and_then(|t| t.as_str())
                == Some("Secret")
        }
    };
    // The replica caches the admin: the same request costs one statement less the second time.
    let first = app
        .post_raw(
            &replica,
            &manager.token,
            json!({ "query": read_secret, "variables": { "id": secret } }).to_string(),
        )
        .await;
    let second = app
        .post_raw(
            &replica,
            &manager.token,
            json!({ "query": read_secret, "variables": { "id": secret } }).to_string(),
        )
        .await;
    let statements = |answer: &crate::helpers::RawResponse| -> u64 {
        answer.headers[SQL_STATEMENTS_HEADER]
            .to_str()
            .expect("header")
            .parse()
            .expect("count")
    };
    assert_eq!(first.body["data"]["objective"]["title"], "Secret");
    assert_eq!(statements(&second) + 1, statements(&first));
    assert!(sees_secret(manager.token.clone()).await);

    // An operator demotes the admin in SQL; the replica stops showing the private objective
    // within a second.
    app.db
        .execute_unprepared(&format!(
            "UPDATE users SET role = 'member' WHERE id = {}",
            manager.id
        ))
        .await
        .expect("demote");
    eventually(1, "the demotion to reach the replica", || async {
        !sees_secret(manager.token.clone()).await
    })
    .await;

    // Owners come from the cache too: a second read of an objective's owner reads only the
    // objective, and an operator's rename reaches the replica within a second.
    let read_owner = "query($id: ID!) { objective(id: $id) { owner { name } } }";
    let owner_read = || async {
        app.post_raw(
            &replica,
            &owner.token,
            json!({ "query": read_owner, "variables": { "id": secret } }).to_string(),
        )
        .await
    };
    let (first, second) = (owner_read().await, owner_read().await);
    assert_eq!(second.body, first.body);
    assert_eq!(statements(&second), 1, "the objective's, not its owner's");
    app.db
        .execute_unprepared(&format!(
            "UPDATE users SET name = 'Renamed' WHERE id = {}",
            owner.id
        ))
        .await
        .expect("rename");
    eventually(1, "the rename to reach the replica", || async {
        owner_read().await.body["data"]["objective"]["owner"]["name"] == "Renamed"
    })
    .await;

    // A deleted user's token stops working on the replica within a second.
    assert!(!sees_secret(leaver.token.clone()).await);
    let query = "{ viewer { id } }";
    let unauthenticated = || async {
        app.gql_at(&replica, &leaver.token, query, json!({})).await["errors"][0]["extensions"]["code"]
            == "UNAUTHENTICATED"
    };
    assert!(!unauthenticated().await);
    app.db
        .execute_unprepared(&format!("DELETE FROM users WHERE id = {}", leaver.id))
        .await
        .expect("delete");
    eventually(1, "the deletion to reach the replica", unauthenticated).await;

    // So does an operator's TRUNCATE (no row trigger fires for it): the owner, whose token the
    // replica has cached, is refused within a second.
    let owner_refused = || async {
        app.gql_at(&replica, &owner.token, query, json!({})).await["errors"][0]["extensions"]["code"]
            == "UNAUTHENTICATED"
    };
    assert!(!owner_refused().await);
    app.db
        .execute_unprepared("TRUNCATE users CASCADE")
        .await
        .expect("truncate");
    eventually(1, "the truncation to reach the replica", owner_refused).await;
    app.stop().await;
}
