//! The SPEC section 7 workload against a running goalgraph: Q1–Q4 with N concurrent
//! connections for a fixed duration each, printing req/s, p50, p99, the server's resident
//! memory, and SQL statements and MongoDB commands per request (from the response headers).
//!
//! Load the data set first (`goalgraph seed --bench`), start the API, then:
//! `cargo bench --bench workload -- --url http://127.0.0.1:8080/graphql --token <token>
//!  --base <root id - 1> [--connections 8] [--seconds 10] [--server-pid <pid>]`

use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Args {
    url: String,
    token: String,
    base: i64,
    connections: usize,
    seconds: u64,
    server_pid: Option<u32>,
    only: Option<String>,
    levels: u32,
}

fn parse_args() -> Args {
    let mut args = Args {
        url: "http://127.0.0.1:8080/graphql".into(),
        token: String::new(),
        base: 0,
        connections: 8,
        seconds: 10,
        server_pid: None,
        only: None,
        levels: 6,
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < raw.len() {
        let value = raw.get(i + 1).cloned().unwrap_or_default();
        match raw[i].as_str() {
            "--url" => args.url = value,
            "--token" => args.token = value,
            "--base" => args.base = value.parse().expect("--base takes a number"),
            "--connections" => args.connections = value.parse().expect("--connections"),
            "--seconds" => args.seconds = value.parse().expect("--seconds"),
            "--server-pid" => args.server_pid = value.parse().ok(),
            "--only" => args.only = Some(value),
            "--levels" => args.levels = value.parse().expect("--levels"),
            "--bench" => {
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    assert!(
        !args.token.is_empty(),
        "--token is required (printed by goalgraph seed --bench)"
    );
    args
}

fn global_id(kind: &str, id: i64) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{id}"))
}

const Q1: &str = "query($id: ID!) { objective(id: $id) { title progress keyResults { progress }
  children { title progress keyResults { progress }
    children { title progress keyResults { progress }
      children { title progress keyResults { progress } } } } } }";
const Q2: &str = "query($id: ID!) { objective(id: $id) { descendants(maxDepth: 10) { depth objective { id title progress } } } }";
const Q3: &str = "query($id: ID!) { objective(id: $id) { children { id title progress } } }";
const CHECK_IN: &str = "mutation($kr: ID!) { checkIn(input: {keyResultId: $kr, value: 50}) { keyResult { progress } objective { progress } } }";
const Q4: &str = "query($after: String) { objectives(first: 50, after: $after) { edges { node { id title progress owner { name } team { name } customFields latestUpdate { body } } } } }";

struct Outcome {
    requests: usize,
    errors: usize,
    latencies: Vec<Duration>,
    statements: u64,
    commands: u64,
}

async fn run(args: &Args, client: &reqwest::Client, query: &str, variables: Value) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let body = json!({ "query": query, "variables": variables });
    let workers = (0..args.connections).map(|_| {
        let (client, body, url, token) = (
            client.clone(),
            body.clone(),
            args.url.clone(),
            args.token.clone(),
        );
        tokio::spawn(async move {
            let mut out = Outcome {
                requests: 0,
                errors: 0,
                latencies: Vec::new(),
                statements: 0,
                commands: 0,
            };
            while Instant::now() < deadline {
                let started = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await;
                match response {
                    Ok(response) if response.status().is_success() => {
                        let header = |name: &str| {
                            response
                                .headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(0)
                        };
                        out.statements = header("x-goalgraph-sql-statements");
                        out.commands = header("x-goalgraph-mongo-commands");
                        let value: Value = response.json().await.unwrap_or(Value::Null);
                        if value.get("errors").is_some() {
                            out.errors += 1;
                        }
                    }
                    _ => out.errors += 1,
                }
                out.latencies.push(started.elapsed());
                out.requests += 1;
            }
            out
        })
    });
    let mut total = Outcome {
        requests: 0,
        errors: 0,
        latencies: Vec::new(),
        statements: 0,
        commands: 0,
    };
    for worker in futures::future::join_all(workers).await {
        let worker = worker.expect("worker");
        total.requests += worker.requests;
        total.errors += worker.errors;
        total.latencies.extend(worker.latencies);
        total.statements = total.statements.max(worker.statements);
        total.commands = total.commands.max(worker.commands);
    }
    total.latencies.sort();
    total
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn rss_mb(pid: Option<u32>) -> String {
    let Some(pid) = pid else { return "-".into() };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or("-".into(), |kb| format!("{:.0}", kb / 1024.0))
}

/// The spec number of the first objective on `level` (the root is level 1).
fn first_at_level(level: u32) -> i64 {
    (10_i64.pow(level - 1) - 1) / 9 + 1
}

/// A key result of the last (deepest) objective of the tree: spec objective (10^levels − 1)/9.
async fn leaf_key_result(args: &Args, client: &reqwest::Client) -> String {
    let last = (10_i64.pow(args.levels) - 1) / 9;
    let response: Value = client
        .post(&args.url)
        .bearer_auth(&args.token)
        .json(&json!({
            "query": "query($id: ID!) { objective(id: $id) { keyResults { id } } }",
            "variables": { "id": global_id("Objective", args.base + last) },
        }))
        .send()
        .await
        .expect("leaf")
        .json()
        .await
        .expect("json");
    response
        .pointer("/data/objective/keyResults/0/id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .build()
        .expect("client");
    // Spec numbering: objective i is id base + i. Level starts: 1, 2, 12, 112, 1112.
    let id = |i: i64| global_id("Objective", args.base + i);
    let cases: Vec<(&str, &str, Value)> = vec![
        ("Q1 nested, 111 objectives", Q1, json!({ "id": id(112) })),
        ("Q1 nested, 1,111 objectives", Q1, json!({ "id": id(12) })),
        ("Q2 subtree, 111 objectives", Q2, json!({ "id": id(112) })),
        ("Q2 subtree, 1,111 objectives", Q2, json!({ "id": id(12) })),
        ("Q2 subtree, 11,111 objectives", Q2, json!({ "id": id(2) })),
        (
            "Q3 roll-up, children with 111-node subtrees",
            Q3,
            json!({ "id": id(12) }),
        ),
        (
            "Q3 roll-up, children with 11,111-node subtrees",
            Q3,
            json!({ "id": id(1) }),
        ),
        ("Q4 mobile page of 50", Q4, json!({ "after": null })),
        (
            "Q2 scale: the 1,111-objective subtree deepest in the tree",
            Q2,
            json!({ "id": id(first_at_level(args.levels.saturating_sub(3).max(1))) }),
        ),
        (
            "Check-in on a deepest leaf",
            CHECK_IN,
            json!({ "kr": leaf_key_result(&args, &client).await }),
        ),
    ];
    println!("idle RSS: {} MB", rss_mb(args.server_pid));
    println!("| query | req/s | p50 ms | p99 ms | errors | SQL/req | Mongo/req | RSS MB |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, query, variables) in cases {
        if args
            .only
            .as_deref()
            .is_some_and(|only| !only.split(',').any(|prefix| name.starts_with(prefix)))
        {
            continue;
        }
        let outcome = run(&args, &client, query, variables).await;
        println!(
            "| {name} | {:.1} | {:.2} | {:.2} | {} | {} | {} | {} |",
            outcome.requests as f64 / args.seconds as f64,
            percentile(&outcome.latencies, 0.5).as_secs_f64() * 1000.0,
            percentile(&outcome.latencies, 0.99).as_secs_f64() * 1000.0,
            outcome.errors,
            outcome.statements,
            outcome.commands,
            rss_mb(args.server_pid),
        );
    }
}
