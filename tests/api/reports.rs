//! Dashboard reports: team and cycle roll-ups, department rankings, key results by status from
//! a MongoDB aggregation, and progress histories from the partitioned check-ins — each checked
//! for its figures, its round trips and the private-objective rule.

use goalgraph::domain::role::Role;
use goalgraph::store::pg::reports::{Bucket, history_statement};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{Actor, TestApp, eventually, spawn_app};

async fn team(
    app: &TestApp,
    admin: &Actor,
    name: &str,
    kind: &str,
    parent: Option<&str>,
) -> String {
    app.gql(
        Some(&admin.token),
        "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } } }",
        json!({ "input": { "name": name, "kind": kind, "parentId": parent } }),
    )
    .await
    .data("/createTeam/team/id")
    .as_str()
    .expect("id")
    .to_owned()
}

/// An objective with one 0..100 key result checked in at `value` (none when `None`).
async fn scored(
    app: &TestApp,
    admin: &Actor,
    input: Value,
    value: Option<f64>,
) -> (String, String) {
    let id = app.create_objective(admin, input).await;
    let kr = app.key_result(admin, &id, 0.0, 100.0, 1.0).await;
    if let Some(value) = value {
        app.check_in(admin, &kr, value).await.data("/checkIn");
    }
    (id, kr)
}

fn round(value: &Value) -> f64 {
    (value.as_f64().expect("number") * 1000.0).round() / 1000.0
}

#[tokio::test]
async fn team_cycle_and_department_reports_roll_up_sub_teams_and_respect_privacy() {
    let app = spawn_app().await;
    let tenant = app.tenant("reports").await;
    let admin = &tenant.admin;
    let company = team(&app, admin, "Acme", "COMPANY", None).await;
    let division = team(&app, admin, "Products", "DIVISION", Some(&company)).await;
    let dept_a = team(&app, admin, "Apps", "DEPARTMENT", Some(&division)).await;
    let dept_b = team(&app, admin, "Billing", "DEPARTMENT", Some(&division)).await;
    let squad = team(&app, admin, "Apps squad", "TEAM", Some(&dept_a)).await;
    // A sub-team without objectives must not dilute its department's figures.
    team(&app, admin, "Apps platform", "TEAM", Some(&dept_a)).await;
    let cycle = app
        .gql(
            Some(&admin.token),
            "mutation { createCycle(input: {name: \"FY2026 Q1\", startsOn: \"2026-01-01\", endsOn: \"2026-03-31\"}) { cycle { id } } }",
            json!({}),
        )
        .await
        .data("/createCycle/cycle/id")
        .as_str()
        .expect("id")
        .to_owned();

    scored(
        &app,
        admin,
        json!({ "title": "a", "teamId": dept_a, "cycleId": cycle }),
        Some(50.0),
    )
    .await;
    scored(
        &app,
        admin,
        json!({ "title": "a1", "teamId": squad, "status": "DONE" }),
        Some(100.0),
    )
    .await;
    scored(
        &app,
        admin,
        json!({ "title": "b", "teamId": dept_b, "cycleId": cycle }),
        Some(20.0),
    )
    .await;
    scored(
        &app,
        admin,
        json!({ "title": "b cancelled", "teamId": dept_b, "status": "CANCELLED" }),
        Some(90.0),
    )
    .await;
    // Private and owned by the admin: a member's reports leave it out.
    scored(
        &app,
        admin,
        json!({ "title": "a secret", "teamId": dept_a, "visibility": "PRIVATE" }),
        None,
    )
    .await;
    let member = app.user(&tenant, Role::Member, None).await;

    let rollup = "query($team: ID!) { teamRollup(teamId: $team) { objectives averageProgress completionRate byStatus { status objectives averageProgress } } }";
    let as_member = app
        .gql(Some(&member.token), rollup, json!({ "team": dept_a }))
        .await;
    let summary = as_member.data("/teamRollup");
    assert_eq!(summary["objectives"], 2, "{summary}");
    assert_eq!(round(&summary["averageProgress"]), 0.75);
    assert_eq!(round(&summary["completionRate"]), 0.5);
    let done = summary["byStatus"]
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["status"] == "DONE")
        .expect("done");
    assert_eq!(done["objectives"], 1);
    // The report's statement, the team's existence and the tenant's data version (the report
    // cache's key).
    assert!(
        as_member.statements <= 4,
        "{} statements",
        as_member.statements
    );
    let as_admin = app
        .gql(Some(&admin.token), rollup, json!({ "team": dept_a }))
        .await;
    assert_eq!(as_admin.data("/teamRollup/objectives"), 3);
    assert_eq!(round(as_admin.data("/teamRollup/averageProgress")), 0.5);

    let cycle_summary = app
        .gql(
            Some(&member.token),
            "query($c: ID!) { cycleSummary(cycleId: $c) { objectives averageProgress } }",
            json!({ "c": cycle }),
        )
        .await;
    assert_eq!(cycle_summary.data("/cycleSummary/objectives"), 2);
    assert_eq!(
        round(cycle_summary.data("/cycleSummary/averageProgress")),
        0.35
    );

    let ranking = app
        .gql(
            Some(&member.token),
            "{ departmentRanking { department { name } company { name } objectives averageProgress completionRate p25 median p75 rank percentRank departments } }",
            json!({}),
        )
        .await;
    let standings = ranking.data("/departmentRanking").as_array().expect("list");
    assert_eq!(standings.len(), 2, "{standings:?}");
    let first = &standings[0];
    assert_eq!(first["department"]["name"], "Apps");
    assert_eq!(first["company"]["name"], "Acme");
    assert_eq!(first["rank"], 1);
    assert_eq!(round(&first["percentRank"]), 0.0);
    assert_eq!(round(&first["averageProgress"]), 0.75);
    assert_eq!(round(&first["median"]), 0.75);
    assert_eq!(round(&first["completionRate"]), 0.5);
    assert_eq!(first["objectives"], 2);
    assert_eq!(round(&first["p25"]), 0.625);
    assert_eq!(first["departments"], 2);
    let second = &standings[1];
    assert_eq!(second["department"]["name"], "Billing");
    assert_eq!(second["rank"], 2);
    assert_eq!(round(&second["percentRank"]), 1.0);
    assert_eq!(
        second["objectives"], 1,
        "the cancelled objective is not counted"
    );
    assert!(ranking.statements <= 4, "{} statements", ranking.statements);

    // Another tenant's team is not found.
    let stranger = app.tenant("stranger").await;
    let foreign = app
        .gql(
            Some(&stranger.admin.token),
            rollup,
            json!({ "team": dept_a }),
        )
        .await;
    assert_eq!(foreign.error_code(), "NOT_FOUND");
}

#[tokio::test]
async fn key_results_by_status_come_from_a_goal_trees_aggregation() {
    let app = spawn_app().await;
    let tenant = app.tenant("krs").await;
    let admin = &tenant.admin;
    let fields = json!([{ "key": "region", "type": "enum", "allowedValues": ["EMEA", "APAC"] }]);
    app.gql(
        Some(&admin.token),
        "mutation($fields: [FieldDefinitionInput!]!) { setGoalTemplate(input: {fields: $fields}) { version } }",
        json!({ "fields": fields }),
    )
    .await
    .data("/setGoalTemplate");
    let root = app.objective(admin, "Company", None).await;
    let (x, _) = scored(
        &app,
        admin,
        json!({ "title": "x", "parentId": root, "status": "ON_TRACK" }),
        Some(50.0),
    )
    .await;
    let (y, _) = scored(
        &app,
        admin,
        json!({ "title": "y", "parentId": root, "status": "ON_TRACK" }),
        Some(100.0),
    )
    .await;
    scored(
        &app,
        admin,
        json!({ "title": "z", "parentId": x, "status": "AT_RISK" }),
        None,
    )
    .await;
    for (objective, region) in [(&x, "EMEA"), (&y, "APAC")] {
        app.gql(
            Some(&admin.token),
            "mutation($id: ID!, $f: JSON!) { setCustomFields(input: {objectiveId: $id, fields: $f}) { objective { id } } }",
            json!({ "id": objective, "f": { "region": region } }),
        )
        .await
        .data("/setCustomFields");
    }
    let query = "query($u: ID!, $w: [CustomFieldCondition!] = []) { keyResultsByStatus(under: $u, where: $w) { status objectives keyResults averageProgress } }";
    eventually(10, "the relay to write the tree", || async {
        let r = app
            .gql(Some(&admin.token), query, json!({ "u": root }))
            .await;
        r.data("/keyResultsByStatus").as_array().map_or(0, Vec::len) == 3
    })
    .await;
    // A change to a custom field makes the next read compute the report again.
    app.gql(
        Some(&admin.token),
        "mutation($id: ID!, $f: JSON!) { setCustomFields(input: {objectiveId: $id, fields: $f}) { objective { id } } }",
        json!({ "id": y, "f": { "region": "APAC" } }),
    )
    .await
    .data("/setCustomFields");
    let response = app
        .gql(Some(&admin.token), query, json!({ "u": root }))
        .await;
    let groups = response.data("/keyResultsByStatus");
    assert_eq!(groups[0]["status"], "AT_RISK", "{groups}");
    assert_eq!(groups[0]["keyResults"], 1);
    assert_eq!(round(&groups[0]["averageProgress"]), 0.0);
    // The root itself is in its branch, with no key results.
    assert_eq!(groups[1]["status"], "DRAFT");
    assert_eq!(groups[1]["keyResults"], 0);
    assert_eq!(groups[2]["status"], "ON_TRACK");
    assert_eq!(groups[2]["objectives"], 2);
    assert_eq!(round(&groups[2]["averageProgress"]), 0.75);
    assert_eq!(response.mongo_commands, 1, "one aggregation");
    assert!(
        response.statements <= 4,
        "{} statements",
        response.statements
    );
    // Read again with nothing changed: the cached answer, with neither the aggregation nor
    // the report's statements (only the data version is read).
    let again = app
        .gql(Some(&admin.token), query, json!({ "u": root }))
        .await;
    assert_eq!(again.data("/keyResultsByStatus"), groups);
    assert_eq!((again.mongo_commands, again.statements), (0, 1));

    let emea = app
        .gql(
            Some(&admin.token),
            query,
            json!({ "u": root, "w": [{ "key": "region", "equals": "EMEA" }] }),
        )
        .await;
    assert_eq!(
        emea.data("/keyResultsByStatus"),
        &json!([{ "status": "ON_TRACK", "objectives": 1, "keyResults": 1, "averageProgress": 0.5 }])
    );
    let operator = app
        .gql(
            Some(&admin.token),
            query,
            json!({ "u": root, "w": [{ "key": "$where", "equals": "1" }] }),
        )
        .await;
    assert_eq!(operator.error_code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn progress_history_replays_check_ins_by_day_and_week_with_partition_pruning() {
    let app = spawn_app().await;
    let tenant = app.tenant("history").await;
    let admin = &tenant.admin;
    let root = app.objective(admin, "Root", None).await;
    let child = app.objective(admin, "Child", Some(&root)).await;
    let k1 = app.key_result(admin, &root, 0.0, 100.0, 1.0).await;
    let k2 = app.key_result(admin, &child, 0.0, 100.0, 1.0).await;
    let raw = |id: &str| {
        goalgraph::domain::global_id::GlobalId::decode(id)
            .expect("id")
            .id
    };
    for (kr, at, value) in [
        (&k1, "2026-02-20 10:00+00", 50.0),
        (&k1, "2026-03-03 10:00+00", 100.0),
        (&k2, "2026-03-02 10:00+00", 20.0),
        (&k2, "2026-03-04 09:00+00", 40.0),
        (&k2, "2026-03-04 12:00+00", 50.0),
    ] {
        app.db
            .execute_raw(Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "INSERT INTO check_ins (tenant_id, key_result_id, author_id, value, created_at) \
                 VALUES ($1, $2, $3, $4, $5::timestamptz)",
                [
                    tenant.id.into(),
                    raw(kr).into(),
                    admin.id.into(),
                    value.into(),
                    at.into(),
                ],
            ))
            .await
            .expect("insert check-in");
    }
    let query = "query($id: ID!, $from: DateTime!, $to: DateTime!, $bucket: HistoryBucket = DAY) { progressHistory(id: $id, from: $from, to: $to, bucket: $bucket) { startsAt progress checkIns } }";
    let daily = app
        .gql(
            Some(&admin.token),
            query,
            json!({ "id": root, "from": "2026-03-01T00:00:00Z", "to": "2026-03-05T00:00:00Z" }),
        )
        .await;
    let points = daily.data("/progressHistory").as_array().expect("list");
    let progress: Vec<f64> = points.iter().map(|p| round(&p["progress"])).collect();
    assert_eq!(progress, [0.25, 0.35, 0.6, 0.75]);
    let check_ins: Vec<i64> = points
        .iter()
        .map(|p| p["checkIns"].as_i64().expect("n"))
        .collect();
    assert_eq!(check_ins, [0, 1, 1, 2]);
    assert_eq!(points[0]["startsAt"], "2026-03-01T00:00:00+00:00");
    assert!(daily.statements <= 4, "{} statements", daily.statements);

    let weekly = app
        .gql(
            Some(&admin.token),
            query,
            json!({ "id": k2, "from": "2026-03-01T00:00:00Z", "to": "2026-03-10T00:00:00Z", "bucket": "WEEK" }),
        )
        .await;
    assert_eq!(
        weekly.data("/progressHistory"),
        &json!([
            { "startsAt": "2026-02-23T00:00:00+00:00", "progress": 0.0, "checkIns": 0 },
            { "startsAt": "2026-03-02T00:00:00+00:00", "progress": 0.5, "checkIns": 3 },
            { "startsAt": "2026-03-09T00:00:00+00:00", "progress": 0.5, "checkIns": 0 },
        ])
    );

    let backwards = app
        .gql(
            Some(&admin.token),
            query,
            json!({ "id": root, "from": "2026-03-05T00:00:00Z", "to": "2026-03-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(backwards.error_code(), "BAD_USER_INPUT");

    // The range's check-ins come from the range's partition only.
    let statement = history_statement(
        tenant.id,
        None,
        &[raw(&root), raw(&child)],
        "2026-03-01T00:00:00Z".parse().expect("from"),
        "2026-03-05T00:00:00Z".parse().expect("to"),
        Bucket::Day,
    );
    let explain = Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        format!("EXPLAIN (COSTS OFF) {}", statement.sql),
        statement.values.map(|v| v.0).unwrap_or_default(),
    );
    let plan: Vec<String> = app
        .db
        .query_all_raw(explain)
        .await
        .expect("explain")
        .iter()
        .map(|row| row.try_get::<String>("", "QUERY PLAN").expect("line"))
        .collect();
    let plan = plan.join("\n");
    assert!(plan.contains("check_ins_fy2026"), "{plan}");
    assert!(!plan.contains("check_ins_fy2027"), "no pruning:\n{plan}");
}
