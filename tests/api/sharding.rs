//! Sharding-ready documents: every MongoDB command the whole suite sent (logged by the driver's
//! command monitor to `GOALGRAPH_MONGO_COMMAND_LOG`, which `scripts/test` sets) names a
//! tenant first — each filter, update and delete query, and each pipeline's first `$match`,
//! starts with `tenant_id`; every document inserted carries one; every index starts with it —
//! so on a cluster sharded by `{ tenant_id, objective_id }` each is a targeted operation.

use serde_json::Value;

/// The first key of a filter document.
fn first_key(filter: &Value) -> Option<&str> {
    filter.as_object()?.keys().next().map(String::as_str)
}

/// What in `command` (named `name`) is not led by `tenant_id`; empty when all of it is.
/// Commands that read no documents (cursor continuation, sessions, pings) have nothing to
/// check; a change stream (`$changeStream`) watches every shard by nature and is the one
/// deliberate exception (the change-stream consumer's).
fn untargeted(name: &str, command: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |what: &str, filter: &Value| {
        if first_key(filter) != Some("tenant_id") {
            problems.push(format!("{name} {what}: {filter}"));
        }
    };
    match name {
        "find" => check("filter", &command["filter"]),
        "aggregate" => {
            let first = &command["pipeline"][0];
            if first.get("$changeStream").is_none() {
                check("$match", &first["$match"]);
            }
        }
        "update" => {
            for update in command["updates"].as_array().into_iter().flatten() {
                check("query", &update["q"]);
            }
        }
        "delete" => {
            for delete in command["deletes"].as_array().into_iter().flatten() {
                check("query", &delete["q"]);
            }
        }
        "findAndModify" | "count" | "distinct" => check("query", &command["query"]),
        "insert" => {
            for document in command["documents"].as_array().into_iter().flatten() {
                if document.get("tenant_id").is_none() {
                    problems.push(format!("insert without tenant_id: {document}"));
                }
            }
        }
        "createIndexes" => {
            for index in command["indexes"].as_array().into_iter().flatten() {
                check("index key", &index["key"]);
            }
        }
        _ => {}
    }
    problems
}

#[test]
#[ignore = "reads the command log of the whole suite: scripts/test runs it after the suite"]
fn every_mongodb_command_the_suite_sent_is_led_by_tenant_id() {
    let path = std::env::var("GOALGRAPH_MONGO_COMMAND_LOG")
        .expect("GOALGRAPH_MONGO_COMMAND_LOG (scripts/test sets it for the suite)");
    let log = std::fs::read_to_string(&path).expect("the suite's MongoDB command log");
    let mut checked = 0;
    let mut problems = Vec::new();
    for line in log.lines().filter(|line| !line.trim().is_empty()) {
        let entry: Value = serde_json::from_str(line).expect("a JSON line");
        let name = entry["name"].as_str().expect("command name");
        checked += 1;
        problems.extend(untargeted(name, &entry["command"]));
    }
    assert!(
        checked > 1000,
        "only {checked} commands logged: was the suite run with the log on?"
    );
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "commands not led by tenant_id:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_refuses_what_a_cluster_could_not_target() {
    let bad = serde_json::json!({ "filter": { "_id": "1:2", "tenant_id": 1 } });
    assert_eq!(untargeted("find", &bad).len(), 1);
    let good = serde_json::json!({ "filter": { "tenant_id": 1, "_id": "1:2" } });
    assert!(untargeted("find", &good).is_empty());
    let pipeline =
        serde_json::json!({ "pipeline": [{ "$match": {} }, { "$group": { "_id": 1 } }] });
    assert_eq!(untargeted("aggregate", &pipeline).len(), 1);
    let watch = serde_json::json!({ "pipeline": [{ "$changeStream": {} }] });
    assert!(untargeted("aggregate", &watch).is_empty());
}
