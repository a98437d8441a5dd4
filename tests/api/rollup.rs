//! Stored roll-ups follow every write, and always equal a from-scratch recomputation.

use goalgraph::domain::access::Viewer;
use goalgraph::domain::key_result::{KeyResultKind, KeyResultRange, NewCheckIn, NewKeyResult};
use goalgraph::domain::objective::{NewObjective, ObjectivePatch, ObjectiveStatus, Visibility};
use goalgraph::domain::role::Role;
use goalgraph::loaders::Stores;
use goalgraph::store::StoreError;
use goalgraph::store::pg::milestones::{MilestonePatch, NewMilestone};
use goalgraph::store::pg::rollup::recompute_all;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sea_orm::FromQueryResult;
use serde_json::json;

use crate::helpers::spawn_app;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn a_check_in_rolls_up_through_every_ancestor() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let company = app.objective(&t.admin, "company", None).await;
    let dept = app.objective(&t.admin, "dept", Some(&company)).await;
    let team = app.objective(&t.admin, "team", Some(&dept)).await;
    let sibling = app.objective(&t.admin, "sibling team", Some(&dept)).await;
    let kr = app.key_result(&t.admin, &team, 0.0, 200.0, 1.0).await;
    app.key_result(&t.admin, &sibling, 0.0, 10.0, 1.0).await;

    let response = app.check_in(&t.admin, &kr, 100.0).await;
    assert!(close(
        response
            .data("/checkIn/keyResult/progress")
            .as_f64()
            .expect("p"),
        0.5
    ));
    assert!(close(app.progress(&t.admin, &team).await, 0.5));
    // dept = mean(team 0.5, sibling 0) with equal weights.
    assert!(close(app.progress(&t.admin, &dept).await, 0.25));
    assert!(close(app.progress(&t.admin, &company).await, 0.25));

    // Beyond the target clamps to 1.
    app.check_in(&t.admin, &kr, 500.0).await.data("/checkIn");
    assert!(close(app.progress(&t.admin, &dept).await, 0.5));
}

#[tokio::test]
async fn cancelling_archiving_and_moving_children_change_the_parents_roll_up() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let parent = app.objective(&t.admin, "parent", None).await;
    let other_parent = app.objective(&t.admin, "other parent", None).await;
    let done = app.objective(&t.admin, "done", Some(&parent)).await;
    let idle = app.objective(&t.admin, "idle", Some(&parent)).await;
    let kr = app.key_result(&t.admin, &done, 0.0, 1.0, 1.0).await;
    app.check_in(&t.admin, &kr, 1.0).await.data("/checkIn");
    assert!(close(app.progress(&t.admin, &parent).await, 0.5));

    let cancel = "mutation($id: ID!) { updateObjective(input: {id: $id, status: CANCELLED}) { objective { id } } }";
    app.gql(Some(&t.admin.token), cancel, json!({ "id": idle }))
        .await
        .data("/updateObjective");
    assert!(close(app.progress(&t.admin, &parent).await, 1.0));

    let move_query = "mutation($id: ID!, $p: ID) { moveObjective(input: {id: $id, newParentId: $p}) { objective { id } } }";
    app.gql(
        Some(&t.admin.token),
        move_query,
        json!({ "id": done, "p": other_parent }),
    )
    .await
    .data("/moveObjective");
    assert!(close(app.progress(&t.admin, &parent).await, 0.0));
    assert!(close(app.progress(&t.admin, &other_parent).await, 1.0));

    app.gql(
        Some(&t.admin.token),
        "mutation($id: ID!) { archiveObjective(id: $id) { objective { id } } }",
        json!({ "id": done }),
    )
    .await
    .data("/archiveObjective");
    assert!(close(app.progress(&t.admin, &other_parent).await, 0.0));
}

/// One write of the random sequences; indices pick among what exists at that point.
#[derive(Debug, Clone)]
enum Write {
    CreateObjective {
        parent: Option<usize>,
        weight: u8,
    },
    CreateKeyResult {
        objective: usize,
        start: i16,
        span: i16,
        weight: u8,
        milestone: bool,
    },
    CheckIn {
        key_result: usize,
        value: i16,
    },
    Move {
        objective: usize,
        parent: Option<usize>,
    },
    SetStatus {
        objective: usize,
        cancelled: bool,
    },
    SetWeight {
        objective: usize,
        weight: u8,
    },
    Archive {
        objective: usize,
    },
    AddMilestone {
        key_result: usize,
        done: bool,
    },
    ToggleMilestone {
        milestone: usize,
    },
}

fn write_strategy() -> impl Strategy<Value = Write> {
    prop_oneof![
        3 => (proptest::option::weighted(0.8, 0..64usize), 1..5u8)
            .prop_map(|(parent, weight)| Write::CreateObjective { parent, weight }),
        3 => (0..64usize, -50..50i16, -100..200i16, 1..4u8, proptest::bool::weighted(0.2))
            .prop_map(|(objective, start, span, weight, milestone)| Write::CreateKeyResult { objective, start, span, weight, milestone }),
        4 => (0..64usize, -100..300i16).prop_map(|(key_result, value)| Write::CheckIn { key_result, value }),
        2 => (0..64usize, proptest::option::weighted(0.8, 0..64usize))
            .prop_map(|(objective, parent)| Write::Move { objective, parent }),
        1 => (0..64usize, any::<bool>()).prop_map(|(objective, cancelled)| Write::SetStatus { objective, cancelled }),
        1 => (0..64usize, 1..5u8).prop_map(|(objective, weight)| Write::SetWeight { objective, weight }),
        1 => (0..64usize).prop_map(|objective| Write::Archive { objective }),
        1 => (0..64usize, any::<bool>()).prop_map(|(key_result, done)| Write::AddMilestone { key_result, done }),
        1 => (0..64usize).prop_map(|milestone| Write::ToggleMilestone { milestone }),
    ]
}

#[derive(Debug, FromQueryResult)]
struct Stored {
    id: i64,
    progress: f64,
}

/// Applies `writes` through the repositories (refused moves are part of the game), then
/// compares every stored progress with a from-scratch recomputation.
async fn apply_and_compare(
    stores: &Stores,
    db: &goalgraph::store::pg::Db,
    viewer: Viewer,
    writes: Vec<Write>,
) -> Result<(), String> {
    let mut objectives: Vec<i64> = Vec::new();
    let mut key_results: Vec<(i64, bool)> = Vec::new();
    let mut milestones: Vec<(i64, bool)> = Vec::new();
    let pick = |len: usize, index: usize| (len > 0).then(|| index % len);
    for write in writes {
        let outcome: Result<(), StoreError> = match write {
            Write::CreateObjective { parent, weight } => {
                let parent = parent
                    .and_then(|p| pick(objectives.len(), p))
                    .map(|i| objectives[i]);
                stores
                    .objectives
                    .create(
                        &viewer,
                        NewObjective {
                            parent_id: parent,
                            team_id: None,
                            owner_id: viewer.user_id,
                            cycle_id: None,
                            title: "o".into(),
                            description: String::new(),
                            status: ObjectiveStatus::OnTrack,
                            visibility: Visibility::Public,
                            weight: f64::from(weight),
                        },
                    )
                    .await
                    .map(|o| objectives.push(o.id))
            }
            Write::CreateKeyResult {
                objective,
                start,
                span,
                weight,
                milestone,
            } => {
                let Some(i) = pick(objectives.len(), objective) else {
                    continue;
                };
                let kind = if milestone {
                    KeyResultKind::Milestone
                } else {
                    KeyResultKind::Numeric
                };
                let range = KeyResultRange::parse(
                    kind,
                    f64::from(start),
                    f64::from(start) + f64::from(span),
                )
                .map_err(|e| e.to_string())?;
                stores
                    .key_results
                    .create(
                        &viewer,
                        NewKeyResult {
                            objective_id: objectives[i],
                            owner_id: None,
                            title: "kr".into(),
                            kind,
                            range,
                            weight: f64::from(weight),
                        },
                    )
                    .await
                    .map(|kr| key_results.push((kr.id, milestone)))
            }
            Write::CheckIn { key_result, value } => {
                let Some(i) = pick(key_results.len(), key_result) else {
                    continue;
                };
                if key_results[i].1 {
                    continue;
                }
                stores
                    .key_results
                    .check_in(
                        &viewer,
                        NewCheckIn {
                            key_result_id: key_results[i].0,
                            value: f64::from(value),
                            confidence: None,
                            note: None,
                        },
                    )
                    .await
                    .map(|_| ())
            }
            Write::Move { objective, parent } => {
                let Some(i) = pick(objectives.len(), objective) else {
                    continue;
                };
                let parent = parent
                    .and_then(|p| pick(objectives.len(), p))
                    .map(|p| objectives[p]);
                match stores
                    .objectives
                    .move_to(&viewer, objectives[i], parent, None)
                    .await
                {
                    Err(StoreError::Domain(_)) => Ok(()), // a cycle, correctly refused
                    other => other.map(|_| ()),
                }
            }
            Write::SetStatus {
                objective,
                cancelled,
            } => {
                let Some(i) = pick(objectives.len(), objective) else {
                    continue;
                };
                let status = if cancelled {
                    ObjectiveStatus::Cancelled
                } else {
                    ObjectiveStatus::AtRisk
                };
                stores
                    .objectives
                    .update(
                        &viewer,
                        objectives[i],
                        ObjectivePatch {
                            status: Some(status),
                            ..Default::default()
                        },
                    )
                    .await
                    .map(|_| ())
            }
            Write::SetWeight { objective, weight } => {
                let Some(i) = pick(objectives.len(), objective) else {
                    continue;
                };
                stores
                    .objectives
                    .update(
                        &viewer,
                        objectives[i],
                        ObjectivePatch {
                            weight: Some(f64::from(weight)),
                            ..Default::default()
                        },
                    )
                    .await
                    .map(|_| ())
            }
            Write::Archive { objective } => {
                let Some(i) = pick(objectives.len(), objective) else {
                    continue;
                };
                stores
                    .objectives
                    .archive(&viewer, objectives[i])
                    .await
                    .map(|_| ())
            }
            Write::AddMilestone { key_result, done } => {
                let Some(i) = pick(key_results.len(), key_result) else {
                    continue;
                };
                let kr = stores
                    .key_results
                    .visible_by_ids(&viewer, &[key_results[i].0])
                    .await
                    .map_err(|e| e.to_string())?;
                let Some(kr) = kr.first() else { continue };
                let created = stores
                    .milestones
                    .create(
                        &viewer,
                        NewMilestone {
                            objective_id: kr.objective_id,
                            key_result_id: Some(kr.id),
                            title: "m".into(),
                            due_on: None,
                        },
                    )
                    .await;
                match created {
                    Ok(m) => {
                        milestones.push((m.id, false));
                        if done {
                            let last = milestones.len() - 1;
                            milestones[last].1 = true;
                            stores
                                .milestones
                                .update(
                                    &viewer,
                                    m.id,
                                    MilestonePatch {
                                        done: Some(true),
                                        ..Default::default()
                                    },
                                )
                                .await
                                .map(|_| ())
                        } else {
                            Ok(())
                        }
                    }
                    Err(err) => Err(err),
                }
            }
            Write::ToggleMilestone { milestone } => {
                let Some(i) = pick(milestones.len(), milestone) else {
                    continue;
                };
                milestones[i].1 = !milestones[i].1;
                stores
                    .milestones
                    .update(
                        &viewer,
                        milestones[i].0,
                        MilestonePatch {
                            done: Some(milestones[i].1),
                            ..Default::default()
                        },
                    )
                    .await
                    .map(|_| ())
            }
        };
        outcome.map_err(|err| format!("write failed: {err}"))?;
    }
    stored_matches_recomputation(db, viewer.tenant_id).await
}

/// Compares every stored progress of a tenant with a from-scratch recomputation.
pub(crate) async fn stored_matches_recomputation(
    db: &goalgraph::store::pg::Db,
    tenant_id: i64,
) -> Result<(), String> {
    let expected = recompute_all(db, tenant_id)
        .await
        .map_err(|e| e.to_string())?;
    for (table, expected) in [
        ("objectives", &expected.objectives),
        ("key_results", &expected.key_results),
    ] {
        let stored = Stored::find_by_statement(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            format!("SELECT id, progress FROM {table} WHERE tenant_id = $1"),
            [tenant_id.into()],
        ))
        .all(db)
        .await
        .map_err(|e| e.to_string())?;
        for row in stored {
            let want = expected.get(&row.id).copied().unwrap_or(f64::NAN);
            if !close(row.progress, want) {
                return Err(format!(
                    "{table} {}: stored {} but recomputed {want}",
                    row.id, row.progress
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn stored_roll_ups_always_equal_a_from_scratch_recomputation() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let app = runtime.block_on(spawn_app());
    let stores = Stores::new(app.db.clone(), &app.mongo);
    let mut runner = TestRunner::new(Config {
        cases: 24,
        ..Config::default()
    });
    runner
        .run(
            &proptest::collection::vec(write_strategy(), 5..60),
            |writes| {
                let outcome = runtime.block_on(async {
                    let tenant = app.tenant("prop").await;
                    let viewer = Viewer {
                        tenant_id: tenant.id,
                        user_id: tenant.admin.id,
                        role: Role::Admin,
                        team_id: None,
                    };
                    apply_and_compare(&stores, &app.db, viewer, writes).await
                });
                prop_assert!(outcome.is_ok(), "{}", outcome.err().unwrap_or_default());
                Ok(())
            },
        )
        .expect("roll-ups match a recomputation");
}

#[tokio::test]
async fn the_benchmark_seed_stores_the_same_roll_ups_as_a_recomputation() {
    let app = spawn_app().await;
    let t = app.tenant("bench").await;
    let shape = goalgraph::store::pg::seed::TreeShape {
        levels: 4,
        branching: 5,
    };
    goalgraph::store::pg::seed::bench_tree(&app.db, t.id, t.admin.id, shape)
        .await
        .expect("seed");
    let expected = recompute_all(&app.db, t.id).await.expect("recompute");
    assert_eq!(expected.objectives.len(), 156);
    assert_eq!(expected.key_results.len(), 3 * 156);
    let outcome = stored_matches_recomputation(&app.db, t.id).await;
    assert!(outcome.is_ok(), "{}", outcome.err().unwrap_or_default());
}
