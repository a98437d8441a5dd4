//! The dashboard at `/`, end to end in headless Chromium (driven by `e2e/dashboard.mjs` with
//! playwright-core): load the page, expand a branch, open key results and notes, check in
//! through the API and see the bars move through the subscription.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_page_serves_its_bundled_assets() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(format!("{}/", app.address))
        .send()
        .await
        .expect("page");
    assert!(page.status().is_success());
    let html = page.text().await.expect("html");
    assert!(html.contains("/dashboard/dashboard.js"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN"
    );
    for asset in ["dashboard.js", "dashboard.css"] {
        let response = app
            .client
            .get(format!("{}/dashboard/{asset}", app.address))
            .send()
            .await
            .expect("asset");
        assert!(response.status().is_success(), "{asset}");
    }
    let missing = app
        .client
        .get(format!("{}/dashboard/nope.js", app.address))
        .send()
        .await
        .expect("missing");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn a_check_in_moves_the_bars_of_an_open_dashboard() {
    let app = spawn_app().await;
    let tenant = app.tenant("dashboard").await;
    let admin = &tenant.admin;
    let cycle = app
        .gql(
            Some(&admin.token),
            "mutation { createCycle(input: {name: \"FY2027 Q1\", startsOn: \"2027-01-01\", endsOn: \"2027-03-31\"}) { cycle { id } } }",
            json!({}),
        )
        .await
        .data("/createCycle/cycle/id")
        .as_str()
        .expect("id")
        .to_owned();
    let root = app.create_objective(
        admin,
        json!({ "title": "Become the default OKR platform for mid-size companies", "cycleId": cycle, "status": "ON_TRACK" }),
    )
    .await;
    let growth = app.create_objective(
        admin,
        json!({ "title": "Grow revenue in new regions", "parentId": root, "cycleId": cycle, "status": "AT_RISK" }),
    )
    .await;
    let product = app.create_objective(
        admin,
        json!({ "title": "Ship self-serve onboarding", "parentId": root, "cycleId": cycle, "status": "ON_TRACK" }),
    )
    .await;
    let leaf_title = "Launch in APAC";
    let leaf = app.create_objective(
        admin,
        json!({ "title": leaf_title, "parentId": growth, "cycleId": cycle, "status": "AT_RISK" }),
    )
    .await;
    let emea = app.create_objective(
        admin,
        json!({ "title": "Double EMEA pipeline", "parentId": growth, "cycleId": cycle, "status": "ON_TRACK" }),
    )
    .await;
    let leaf_kr = app
        .titled_key_result(admin, &leaf, "APAC customers signed", 0.0, 100.0, 1.0)
        .await;
    app.check_in(admin, &leaf_kr, 20.0).await.data("/checkIn");
    for (objective, title, value) in [
        (&emea, "Qualified EMEA pipeline (k€)", 70.0),
        (&product, "Sign-ups completing onboarding (%)", 45.0),
    ] {
        let kr = app
            .titled_key_result(admin, objective, title, 0.0, 100.0, 1.0)
            .await;
        app.check_in(admin, &kr, value).await.data("/checkIn");
    }

    let root_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let screenshot = std::env::var("GOALGRAPH_SCREENSHOT").map_or_else(
        |_| root_dir.join("target").join("dashboard.png"),
        PathBuf::from,
    );
    // Async, so this test's runtime keeps serving the page while the browser runs.
    let output = tokio::process::Command::new("node")
        .arg(root_dir.join("e2e").join("dashboard.mjs"))
        .current_dir(root_dir.join("e2e"))
        .env("GOALGRAPH_URL", &app.address)
        .env("GOALGRAPH_TOKEN", &admin.token)
        .env("CYCLE_ID", &cycle)
        .env("ROOT_ID", &root)
        .env("BRANCH_ID", &growth)
        .env("LEAF_ID", &leaf)
        .env("LEAF_TITLE", leaf_title)
        .env("KEY_RESULT_ID", &leaf_kr)
        .env("SCREENSHOT", &screenshot)
        .output()
        .await
        .expect("node (install Node.js; scripts/test installs e2e/node_modules and chromium)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "dashboard e2e failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_str(stdout.trim()).expect("summary");
    assert_eq!(summary["leafBefore"], 20);
    assert_eq!(summary["leafAfter"], 100);
    assert_ne!(summary["rootBefore"], summary["rootAfter"]);
    eprintln!(
        "dashboard: check-in to bar moved in {} ms",
        summary["delayMs"]
    );
    assert!(screenshot.exists());
}

/// The dashboard driver's next step line, after which it waits for ours.
async fn next_step(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
) -> Value {
    let line = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
        .await
        .expect("the dashboard driver went quiet")
        .expect("read")
        .expect("the dashboard driver ended (see its stderr)");
    serde_json::from_str(&line).expect("step JSON")
}

#[tokio::test]
async fn the_live_indicator_shows_reconnecting_and_refused_states() {
    use goalgraph::domain::role::Role;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

    let app = spawn_app().await;
    let tenant = app.tenant("indicator").await;
    let admin = &tenant.admin;
    let root = app.objective(admin, "Company", None).await;
    let kr = app.key_result(admin, &root, 0.0, 100.0, 1.0).await;
    app.check_in(admin, &kr, 10.0).await.data("/checkIn");
    // The browser talks to a replica, which the test stops and starts again on its address.
    let replica = app.replica().await;
    let bind: std::net::SocketAddr = replica
        .trim_start_matches("http://")
        .parse()
        .expect("address");

    let e2e = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("e2e");
    let mut driver = tokio::process::Command::new("node")
        .arg(e2e.join("dashboard-states.mjs"))
        .current_dir(&e2e)
        .env("GOALGRAPH_URL", &replica)
        .env("GOALGRAPH_TOKEN", &admin.token)
        .env("ROOT_ID", &root)
        .env("ROOT_AFTER", "70")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node (scripts/test installs e2e/node_modules and chromium)");
    let mut to_driver = driver.stdin.take().expect("stdin");
    let mut lines = tokio::io::BufReader::new(driver.stdout.take().expect("stdout")).lines();

    assert_eq!(next_step(&mut lines).await["indicator"], "● live");
    app.stop_last().await;
    to_driver.write_all(b"stopped\n").await.expect("write");
    let reconnecting = next_step(&mut lines).await;
    assert_eq!(reconnecting["indicator"], "connecting…", "{reconnecting}");
    // A change made while the dashboard was away shows once it is back.
    app.check_in(admin, &kr, 70.0).await.data("/checkIn");
    app.replica_with(|settings| settings.bind = bind).await;
    to_driver.write_all(b"restarted\n").await.expect("write");
    let back = next_step(&mut lines).await;
    assert_eq!(back["indicator"], "● live", "{back}");
    // Issued now, not at the start: it must outlive the expiring page's loading, then expire.
    let short_token = app.keys.issue(tenant.id, admin.id, Role::Admin, 15);
    to_driver
        .write_all(format!("{short_token}\n").as_bytes())
        .await
        .expect("write");

    let refused = next_step(&mut lines).await;
    assert_eq!(
        refused["indicator"], "not live: Forbidden: the token expired; reconnect with a fresh one",
        "{refused}"
    );
    // Counted from the refusal on: a loaded machine can make the first socket's start fail
    // and the client retry before it is ever live, which is not what this step is about.
    assert_eq!(
        refused["socketsAfterRefusal"], 0,
        "no reconnection after 4403: {refused}"
    );
    to_driver.write_all(b"done\n").await.expect("write");
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), driver.wait())
        .await
        .expect("the dashboard driver exits")
        .expect("driver status");
    assert!(status.success());
}
