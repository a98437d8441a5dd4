//! The SPEC section 7 workload against a running goalgraph: Q1–Q4 with N concurrent
//! connections for a fixed duration each, printing req/s, p50, p99, the server's resident
//! memory, and SQL statements and MongoDB commands per request (from the response headers).
//!
//! Load the data set first (`goalgraph seed --bench`), start the API, then:
//! `cargo bench --bench workload -- --url http://127.0.0.1:8080/graphql --token <token>
//!  --base <root id - 1> [--connections 8] [--seconds 10] [--server-pid <pid>]
//!  [--only "Q2 full;Q3"] [--accept-encoding gzip|br]` (`--only` takes case-name prefixes,
//!  separated by `;` when a prefix holds a comma).
//!
//! With `--check-ins-per-second <n>` a steady stream of check-ins (on a deepest leaf, each a
//! new value) runs beside the cases, and each row also gives the report cache's hit rate.
//!
//! With `--soak <seconds>` it instead runs a mixed read/write workload (reads of every shape,
//! check-ins, new objectives, progress notes) from `--connections` clients for that long and
//! reports status codes, error codes, p50/p99 per kind and the server's memory over time.

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
    soak: Option<u64>,
    /// `gzip` or `br`: ask for compressed answers (and decompress them); none by default.
    accept_encoding: Option<String>,
    /// A steady stream of check-ins beside the cases (the mixed load of the report cache).
    check_ins_per_second: u32,
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
        soak: None,
        accept_encoding: None,
        check_ins_per_second: 0,
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
            "--soak" => args.soak = Some(value.parse().expect("--soak takes seconds")),
            "--accept-encoding" => args.accept_encoding = Some(value),
            "--check-ins-per-second" => {
                args.check_ins_per_second = value.parse().expect("--check-ins-per-second")
            }
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
/// Issue 12's field sets, as a dashboard writes them: per objective `id title status weight
/// owner { name }`, per key result `id title startValue targetValue currentValue weight`.
/// Q1 full, nested: an objective and three levels of children, each with its key results.
const Q1_FULL_NESTED: &str = include_str!("../tests/fixtures/q1_full_nested.graphql");
/// Q1 full, flat: the same objects through `descendants(maxDepth: 3)`.
const Q1_FULL_FLAT: &str = include_str!("../tests/fixtures/q1_full_flat.graphql");
/// Q2 full: the whole subtree as a flat list.
const Q2_FULL: &str = "query($id: ID!) { objective(id: $id) { descendants(maxDepth: 10) { depth \
  objective { id title status weight owner { name } } } } }";
const CHECK_IN: &str = "mutation($kr: ID!) { checkIn(input: {keyResultId: $kr, value: 50}) { keyResult { progress } objective { progress } } }";
/// Q5 team roll-up: a department with its teams and sub-teams, in one cycle (or the company:
/// the whole tenant).
const Q5: &str = "query($team: ID!, $cycle: ID) { teamRollup(teamId: $team, cycleId: $cycle) { \
  objectives averageProgress completionRate byStatus { status objectives averageProgress } } }";
/// Q6 department ranking for a cycle: window functions and percentiles over the whole tenant.
const Q6: &str = "query($cycle: ID) { departmentRanking(cycleId: $cycle) { department { id name } \
  company { name } objectives averageProgress completionRate p25 median p75 rank percentRank \
  departments } }";
/// Q7 progress history of a level-2 objective (11,111 objectives) over the third quarter by week.
const Q7: &str = "query($id: ID!) { progressHistory(id: $id, from: \"2026-07-01T00:00:00Z\", \
  to: \"2026-10-01T00:00:00Z\", bucket: WEEK) { startsAt progress checkIns } }";
/// Q8 key results by status under a level-2 objective, filtered on a custom field (MongoDB).
const Q8: &str = "query($id: ID!) { keyResultsByStatus(under: $id, where: [{key: \"theme\", \
  equals: \"growth\"}]) { status objectives keyResults averageProgress } }";
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
                        // Read the whole body, but do not parse it: the generator shares the
                        // server's 2 cores, and parsing a 1 MB answer costs more than the
                        // check needs. `"errors":[` can only occur unescaped as the
                        // top-level key (no field of the schema is called `errors`).
                        match response.bytes().await {
                            Ok(body) if memchr::memmem::find(&body, b"\"errors\":[").is_none() => {}
                            _ => out.errors += 1,
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
    let encoding = args.accept_encoding.as_deref();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .gzip(encoding == Some("gzip"))
        .brotli(encoding == Some("br"))
        .build()
        .expect("client");
    if let Some(seconds) = args.soak {
        soak(&args, &client, seconds).await;
        return;
    }
    // Spec numbering: objective i is id base + i. Level starts: 1, 2, 12, 112, 1112.
    let id = |i: i64| global_id("Objective", args.base + i);
    // The first objective whose subtree holds `levels` levels (itself included), so each case
    // keeps the size its name gives whatever the depth of the loaded tree (--levels).
    let with_levels_below = |levels: u32| {
        id(first_at_level(
            args.levels.saturating_sub(levels).saturating_add(1).max(1),
        ))
    };
    let org = OrgIds::read(&args, &client).await;
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "Q1 nested, 111 objectives",
            Q1,
            json!({ "id": with_levels_below(3) }),
        ),
        (
            "Q1 nested, 1,111 objectives",
            Q1,
            json!({ "id": with_levels_below(4) }),
        ),
        (
            "Q2 subtree, 111 objectives",
            Q2,
            json!({ "id": with_levels_below(3) }),
        ),
        (
            "Q2 subtree, 1,111 objectives",
            Q2,
            json!({ "id": with_levels_below(4) }),
        ),
        (
            "Q2 subtree, 11,111 objectives",
            Q2,
            json!({ "id": with_levels_below(5) }),
        ),
        (
            "Q3 roll-up, children with 111-node subtrees",
            Q3,
            json!({ "id": with_levels_below(4) }),
        ),
        (
            "Q3 roll-up, children with 11,111-node subtrees",
            Q3,
            json!({ "id": with_levels_below(6) }),
        ),
        (
            "Q1 full nested, 111 objectives",
            Q1_FULL_NESTED,
            json!({ "id": with_levels_below(3) }),
        ),
        (
            "Q1 full nested, 1,111 objectives",
            Q1_FULL_NESTED,
            json!({ "id": with_levels_below(4) }),
        ),
        (
            "Q1 full flat, 111 objectives",
            Q1_FULL_FLAT,
            json!({ "id": with_levels_below(3) }),
        ),
        (
            "Q1 full flat, 1,111 objectives",
            Q1_FULL_FLAT,
            json!({ "id": with_levels_below(4) }),
        ),
        (
            "Q2 full, 111 objectives",
            Q2_FULL,
            json!({ "id": with_levels_below(3) }),
        ),
        (
            "Q2 full, 1,111 objectives",
            Q2_FULL,
            json!({ "id": with_levels_below(4) }),
        ),
        (
            "Q2 full, 11,111 objectives",
            Q2_FULL,
            json!({ "id": with_levels_below(5) }),
        ),
        ("Q4 mobile page of 50", Q4, json!({ "after": null })),
        (
            "Q2 scale: the 1,111-objective subtree deepest in the tree",
            Q2,
            json!({ "id": id(first_at_level(args.levels.saturating_sub(3).max(1))) }),
        ),
        (
            "Q5 team roll-up, a department with sub-teams in a cycle",
            Q5,
            json!({ "team": org.department, "cycle": org.cycle }),
        ),
        (
            "Q5 team roll-up, the company (whole tenant)",
            Q5,
            json!({ "team": org.company, "cycle": null }),
        ),
        (
            "Q6 department ranking, a cycle",
            Q6,
            json!({ "cycle": org.cycle }),
        ),
        (
            "Q7 progress history, a level-2 objective by week over a quarter",
            Q7,
            json!({ "id": id(2) }),
        ),
        (
            "Q8 key results by status, a level-2 objective's branch where theme = growth",
            Q8,
            json!({ "id": id(2) }),
        ),
        (
            "Check-in on a deepest leaf",
            CHECK_IN,
            json!({ "kr": leaf_key_result(&args, &client).await }),
        ),
    ];
    let writer = (args.check_ins_per_second > 0).then(|| {
        tokio::spawn(check_in_stream(
            client.clone(),
            args.url.clone(),
            args.token.clone(),
            cases
                .iter()
                .find(|(name, ..)| name.starts_with("Check-in"))
                .map(|(.., variables)| variables["kr"].clone())
                .unwrap_or_default(),
            args.check_ins_per_second,
        ))
    });
    println!("idle RSS: {} MB", rss_mb(args.server_pid));
    println!(
        "| query | req/s | p50 ms | p99 ms | errors | SQL/req | Mongo/req | RSS MB | cache hits |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, query, variables) in cases {
        if args
            .only
            .as_deref()
            .is_some_and(|only| !only_prefixes(only).any(|prefix| name.starts_with(prefix)))
        {
            continue;
        }
        let cache_before = report_cache_counts(&args, &client).await;
        let outcome = run(&args, &client, query, variables).await;
        let (hits, misses) = report_cache_counts(&args, &client).await;
        let (hits, misses) = (hits - cache_before.0, misses - cache_before.1);
        let hit_rate = if hits + misses > 0.0 {
            format!("{:.0} %", 100.0 * hits / (hits + misses))
        } else {
            "–".into()
        };
        println!(
            "| {name} | {:.1} | {:.2} | {:.2} | {} | {} | {} | {} | {hit_rate} |",
            outcome.requests as f64 / args.seconds as f64,
            percentile(&outcome.latencies, 0.5).as_secs_f64() * 1000.0,
            percentile(&outcome.latencies, 0.99).as_secs_f64() * 1000.0,
            outcome.errors,
            outcome.statements,
            outcome.commands,
            rss_mb(args.server_pid),
        );
    }
    if let Some(writer) = writer {
        writer.abort();
    }
}

/// Check-ins at `per_second` on `key_result`, each a new value, until the process ends.
async fn check_in_stream(
    client: reqwest::Client,
    url: String,
    token: String,
    key_result: Value,
    per_second: u32,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second);
    let mut n = 0_u32;
    loop {
        tick.tick().await;
        n += 1;
        let body = json!({
            "query": "mutation($kr: ID!, $v: Float!) { checkIn(input: {keyResultId: $kr, value: $v}) { keyResult { progress } } }",
            "variables": { "kr": key_result, "v": f64::from(10 + n % 80) },
        });
        let _ = client
            .post(&url)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await;
    }
}

/// The report cache's hits and misses so far, summed over reports, from `/metrics`.
async fn report_cache_counts(args: &Args, client: &reqwest::Client) -> (f64, f64) {
    let metrics_url = args.url.replace("/graphql", "/metrics");
    let Ok(response) = client.get(&metrics_url).send().await else {
        return (0.0, 0.0);
    };
    let text = response.text().await.unwrap_or_default();
    let mut counts = (0.0, 0.0);
    for line in text
        .lines()
        .filter(|l| l.starts_with("goalgraph_report_cache_total"))
    {
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        if line.contains("outcome=\"hit\"") {
            counts.0 += value;
        } else if line.contains("outcome=\"miss\"") {
            counts.1 += value;
        }
    }
    counts
}

/// The ids the report cases name: the org's company, its first department, the third quarter.
struct OrgIds {
    company: Value,
    department: Value,
    cycle: Value,
}

impl OrgIds {
    /// Reads them through the API (null when the data set has no org).
    async fn read(args: &Args, client: &reqwest::Client) -> Self {
        let answer: Value = client
            .post(&args.url)
            .bearer_auth(&args.token)
            .json(&json!({ "query": "{ teams(rootsOnly: true, first: 1) { nodes { id children { id } } } \
                cycles { id name } }" }))
            .send()
            .await
            .expect("org query")
            .json()
            .await
            .expect("org answer");
        let company = &answer["data"]["teams"]["nodes"][0];
        let cycle = answer["data"]["cycles"]
            .as_array()
            .and_then(|cycles| {
                cycles
                    .iter()
                    .find(|c| c["name"].as_str().is_some_and(|n| n.ends_with("Q3")))
            })
            .map_or(Value::Null, |c| c["id"].clone());
        Self {
            company: company["id"].clone(),
            department: company["children"][0]["id"].clone(),
            cycle,
        }
    }
}

/// One kind of request of the soak mix.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    RollUp,
    Nested,
    Subtree,
    Mobile,
    CheckIn,
    Create,
    Note,
}

/// The soak's mix, in twentieths: mostly reads, a fifth writes.
const MIX: [Kind; 20] = [
    Kind::RollUp,
    Kind::RollUp,
    Kind::RollUp,
    Kind::RollUp,
    Kind::RollUp,
    Kind::RollUp,
    Kind::Nested,
    Kind::Nested,
    Kind::Nested,
    Kind::Subtree,
    Kind::Subtree,
    Kind::Mobile,
    Kind::Mobile,
    Kind::RollUp,
    Kind::Nested,
    Kind::Subtree,
    Kind::CheckIn,
    Kind::CheckIn,
    Kind::Create,
    Kind::Note,
];

/// A small deterministic generator (xorshift), so runs are repeatable without a dependency.
struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[derive(Default)]
struct SoakTally {
    statuses: std::collections::BTreeMap<u16, usize>,
    codes: std::collections::BTreeMap<String, usize>,
    latencies: std::collections::HashMap<String, Vec<Duration>>,
    transport_errors: usize,
}

async fn soak(args: &Args, client: &reqwest::Client, seconds: u64) {
    let id = |i: i64| global_id("Objective", args.base + i);
    // Key results to check in on: those of 100 objectives on the deepest full level.
    let leaves_from = first_at_level(args.levels.min(5));
    let mut key_results = Vec::new();
    for i in 0..100 {
        let response: Value = client
            .post(&args.url)
            .bearer_auth(&args.token)
            .json(&json!({
                "query": "query($id: ID!) { objective(id: $id) { keyResults { id } } }",
                "variables": { "id": id(leaves_from + i * 37) },
            }))
            .send()
            .await
            .expect("key results")
            .json()
            .await
            .expect("json");
        if let Some(list) = response
            .pointer("/data/objective/keyResults")
            .and_then(Value::as_array)
        {
            key_results.extend(
                list.iter()
                    .filter_map(|kr| kr["id"].as_str().map(str::to_owned)),
            );
        }
    }
    assert!(!key_results.is_empty(), "no key results found under --base");
    let key_results = std::sync::Arc::new(key_results);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let rss_samples =
        std::sync::Arc::new(std::sync::Mutex::new(vec![(0u64, rss_mb(args.server_pid))]));
    let sampler = {
        let (samples, pid) = (rss_samples.clone(), args.server_pid);
        tokio::spawn(async move {
            let started = Instant::now();
            while Instant::now() < deadline {
                tokio::time::sleep(Duration::from_secs(15)).await;
                if let Ok(mut samples) = samples.lock() {
                    samples.push((started.elapsed().as_secs(), rss_mb(pid)));
                }
            }
        })
    };
    let workers = (0..args.connections).map(|worker| {
        let (client, url, token, key_results, base) = (
            client.clone(),
            args.url.clone(),
            args.token.clone(),
            key_results.clone(),
            args.base,
        );
        tokio::spawn(async move {
            let id = |i: i64| global_id("Objective", base + i);
            let mut random = Xorshift(0x9e37_79b9_7f4a_7c15 ^ (worker as u64 + 1));
            let mut tally = SoakTally::default();
            let mut step = worker;
            while Instant::now() < deadline {
                let kind = MIX[step % MIX.len()];
                step += 1;
                let (query, variables) = match kind {
                    Kind::RollUp => (Q3, json!({ "id": id(2 + random.below(110) as i64) })),
                    Kind::Nested => (Q1, json!({ "id": id(112 + random.below(1000) as i64) })),
                    Kind::Subtree => (Q2, json!({ "id": id(112 + random.below(1000) as i64) })),
                    Kind::Mobile => (Q4, json!({ "after": null })),
                    Kind::CheckIn => (
                        "mutation($kr: ID!, $v: Float!) { checkIn(input: {keyResultId: $kr, value: $v}) { objective { progress } } }",
                        json!({
                            "kr": key_results[random.below(key_results.len() as u64) as usize],
                            "v": random.below(1000) as f64,
                        }),
                    ),
                    Kind::Create => (
                        "mutation($p: ID!) { createObjective(input: {title: \"soak\", parentId: $p}) { objective { id } } }",
                        json!({ "p": id(1112 + random.below(10_000) as i64) }),
                    ),
                    Kind::Note => (
                        "mutation($o: ID!) { addProgressNote(input: {objectiveId: $o, body: \"soak note\"}) { update { id } } }",
                        json!({ "o": id(112 + random.below(1000) as i64) }),
                    ),
                };
                let started = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({ "query": query, "variables": variables }))
                    .send()
                    .await;
                match response {
                    Ok(response) => {
                        *tally.statuses.entry(response.status().as_u16()).or_default() += 1;
                        let body: Value = response.json().await.unwrap_or(Value::Null);
                        if let Some(code) = body.pointer("/errors/0/extensions/code").and_then(Value::as_str) {
                            *tally.codes.entry(code.to_owned()).or_default() += 1;
                        }
                    }
                    Err(_) => tally.transport_errors += 1,
                }
                tally
                    .latencies
                    .entry(format!("{kind:?}"))
                    .or_default()
                    .push(started.elapsed());
            }
            tally
        })
    });
    let mut total = SoakTally::default();
    for tally in futures::future::join_all(workers).await {
        let tally = tally.expect("worker");
        for (status, n) in tally.statuses {
            *total.statuses.entry(status).or_default() += n;
        }
        for (code, n) in tally.codes {
            *total.codes.entry(code).or_default() += n;
        }
        for (kind, latencies) in tally.latencies {
            total.latencies.entry(kind).or_default().extend(latencies);
        }
        total.transport_errors += tally.transport_errors;
    }
    let _ = sampler.await;
    let requests: usize = total.statuses.values().sum::<usize>() + total.transport_errors;
    let server_errors: usize = total
        .statuses
        .iter()
        .filter(|(status, _)| **status >= 500)
        .map(|(_, n)| n)
        .sum();
    println!(
        "soak: {seconds} s, {} clients, {requests} requests ({:.1} req/s), {server_errors} 5xx, \
         {} transport errors",
        args.connections,
        requests as f64 / seconds as f64,
        total.transport_errors
    );
    println!("HTTP statuses: {:?}", total.statuses);
    println!("GraphQL error codes: {:?}", total.codes);
    println!("| kind | requests | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    let mut all = Vec::new();
    let mut kinds: Vec<_> = total.latencies.into_iter().collect();
    kinds.sort_by(|a, b| a.0.cmp(&b.0));
    for (kind, mut latencies) in kinds {
        latencies.sort();
        println!(
            "| {kind} | {} | {:.1} | {:.1} |",
            latencies.len(),
            percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
            percentile(&latencies, 0.99).as_secs_f64() * 1000.0
        );
        all.extend(latencies);
    }
    all.sort();
    println!(
        "| all | {} | {:.1} | {:.1} |",
        all.len(),
        percentile(&all, 0.5).as_secs_f64() * 1000.0,
        percentile(&all, 0.99).as_secs_f64() * 1000.0
    );
    if let Ok(samples) = rss_samples.lock() {
        let line: Vec<String> = samples
            .iter()
            .map(|(at, mb)| format!("{at}s: {mb} MB"))
            .collect();
        println!("server RSS over time: {}", line.join(", "));
    }
    // A soak passes when nothing failed: no 5xx, no dropped connection, no GraphQL error.
    let graphql_errors: usize = total.codes.values().sum();
    if server_errors + total.transport_errors + graphql_errors > 0 {
        eprintln!(
            "soak FAILED: {server_errors} 5xx, {} transport errors, {graphql_errors} GraphQL errors",
            total.transport_errors
        );
        std::process::exit(1);
    }
}

/// The case-name prefixes of `--only`: separated by `;` when it holds one (case names contain
/// commas: "Q2 full, 11,111 objectives"), else by `,`.
fn only_prefixes(only: &str) -> impl Iterator<Item = &str> {
    let separator = if only.contains(';') { ';' } else { ',' };
    only.split(separator).filter(|prefix| !prefix.is_empty())
}
