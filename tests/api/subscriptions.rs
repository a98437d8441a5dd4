//! `progressChanged` over graphql-ws: events cross API replicas through PostgreSQL
//! LISTEN/NOTIFY, arrive in commit order, include the roll-up changes in ancestors, and respect
//! tenants, private objectives and authentication.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use goalgraph::domain::role::Role;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::helpers::{Actor, TestApp, spawn_app};

const SUBSCRIPTION: &str = "subscription($under: ID!) { progressChanged(under: $under) { \
     objectiveId ancestorIds progress status occurredAt \
     objective { id title progress keyResults { currentValue } } } }";

/// A graphql-transport-ws client with one subscription.
pub(crate) struct Subscriber {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Subscriber {
    /// Opens `/graphql/ws` on `address` with `payload` as the connection_init payload and
    /// returns the acknowledgement or whatever ended the handshake.
    async fn connect(address: &str, payload: Value) -> (Self, Value) {
        let mut subscriber = Self::open(address).await;
        subscriber
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        let reply = subscriber.next(Duration::from_secs(10)).await;
        (subscriber, reply)
    }

    /// Opens `/graphql/ws` without sending anything.
    async fn open(address: &str) -> Self {
        let url = format!("{}/graphql/ws", address.replacen("http", "ws", 1));
        let mut request = url.into_client_request().expect("request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        let (socket, _) = connect_async(request).await.expect("websocket");
        Self { socket }
    }

    /// Connects with `token` and subscribes to `progressChanged(under:)`.
    pub(crate) async fn start(address: &str, token: &str, under: &str) -> Self {
        let (mut subscriber, ack) = Self::connect(
            address,
            json!({ "authorization": format!("Bearer {token}") }),
        )
        .await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        subscriber
            .send(json!({
                "id": "1", "type": "subscribe",
                "payload": { "query": SUBSCRIPTION, "variables": { "under": under } }
            }))
            .await;
        subscriber
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("send");
    }

    /// The next protocol message (pings answered), or `{"type": "closed"}`.
    async fn next(&mut self, wait: Duration) -> Value {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = tokio::time::timeout(left, self.socket.next())
                .await
                .expect("timed out waiting for a subscription message");
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).expect("json");
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return value;
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|frame| (u16::from(frame.code), frame.reason.to_string()))
                        .unwrap_or_default();
                    return json!({ "type": "closed", "code": code, "reason": reason });
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return json!({ "type": "closed" }),
            }
        }
    }

    /// The next `progressChanged` event.
    pub(crate) async fn event(&mut self) -> Value {
        let message = self.next(Duration::from_secs(10)).await;
        assert_eq!(message["type"], "next", "{message}");
        message["payload"]["data"]["progressChanged"].clone()
    }

    /// Fails if an event arrives within `wait`.
    async fn expect_silence(&mut self, wait: Duration) {
        if let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(wait, self.socket.next()).await
        {
            panic!("unexpected message: {text}");
        }
    }
}

fn summary(event: &Value) -> (String, f64) {
    (
        event["objectiveId"].as_str().expect("id").to_owned(),
        (event["progress"].as_f64().expect("progress") * 1000.0).round() / 1000.0,
    )
}

#[tokio::test]
async fn a_check_in_on_one_replica_reaches_a_subscriber_on_another_in_order() {
    let app = spawn_app().await;
    let tenant = app.tenant("live").await;
    let admin = &tenant.admin;
    let root = app.objective(admin, "Company", None).await;
    let team = app.objective(admin, "Team", Some(&root)).await;
    let leaf = app.objective(admin, "Squad", Some(&team)).await;
    let kr = app.key_result(admin, &leaf, 0.0, 100.0, 1.0).await;

    let replica = app.replica().await;
    let mut subscriber = Subscriber::start(&replica, &admin.token, &root).await;
    // Give the subscription a moment to be registered before writing.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut delays = Vec::new();
    for value in [30.0, 60.0, 90.0] {
        let sent = Instant::now();
        let response = app.check_in(admin, &kr, value).await;
        response.data("/checkIn/objective/progress");
        let first = subscriber.event().await;
        delays.push(sent.elapsed());
        let second = subscriber.event().await;
        let third = subscriber.event().await;
        let expected = value / 100.0;
        // Deepest first: the checked-in objective, then each ancestor it rolls up into.
        assert_eq!(
            [summary(&first), summary(&second), summary(&third)],
            [
                (leaf.clone(), expected),
                (team.clone(), expected),
                (root.clone(), expected)
            ]
        );
        assert_eq!(first["ancestorIds"], json!([root, team]));
        assert_eq!(first["status"], "DRAFT");
        // The event carries the objective itself, read afresh for every event (a cache kept
        // across events would show the first round's progress).
        for (event, title) in [(&first, "Squad"), (&second, "Team"), (&third, "Company")] {
            assert_eq!(event["objective"]["id"], event["objectiveId"]);
            assert_eq!(event["objective"]["title"], title);
            assert_eq!(event["objective"]["progress"], event["progress"]);
        }
        assert_eq!(
            first["objective"]["keyResults"],
            json!([{ "currentValue": value }])
        );
    }
    eprintln!("subscription delivery across replicas (write sent -> first event): {delays:?}");
}

#[tokio::test]
async fn status_changes_are_delivered_and_siblings_elsewhere_are_not() {
    let app = spawn_app().await;
    let tenant = app.tenant("status").await;
    let admin = &tenant.admin;
    let root = app.objective(admin, "Company", None).await;
    let watched = app.objective(admin, "Watched", Some(&root)).await;
    let other = app.objective(admin, "Elsewhere", Some(&root)).await;
    let mut subscriber = Subscriber::start(&app.address, &admin.token, &watched).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A change outside the watched branch is not delivered.
    app.gql(
        Some(&admin.token),
        "mutation($input: UpdateObjectiveInput!) { updateObjective(input: $input) { objective { id } } }",
        json!({ "input": { "id": other, "status": "AT_RISK" } }),
    )
    .await
    .data("/updateObjective");
    subscriber.expect_silence(Duration::from_millis(700)).await;

    app.gql(
        Some(&admin.token),
        "mutation($input: UpdateObjectiveInput!) { updateObjective(input: $input) { objective { id } } }",
        json!({ "input": { "id": watched, "status": "OFF_TRACK" } }),
    )
    .await
    .data("/updateObjective");
    let event = subscriber.event().await;
    assert_eq!(event["objectiveId"], json!(watched));
    assert_eq!(event["status"], "OFF_TRACK");
}

/// Makes `objective` private, as `admin`.
async fn make_private(app: &TestApp, admin: &Actor, objective: &str) {
    app.gql(
        Some(&admin.token),
        "mutation($input: UpdateObjectiveInput!) { updateObjective(input: $input) { objective { id } } }",
        json!({ "input": { "id": objective, "visibility": "PRIVATE" } }),
    )
    .await
    .data("/updateObjective");
}

#[tokio::test]
async fn private_objectives_and_other_tenants_stay_hidden() {
    let app = spawn_app().await;
    let tenant = app.tenant("private").await;
    let admin = &tenant.admin;
    let member = app.user(&tenant, Role::Member, None).await;
    let root = app.objective(admin, "Company", None).await;
    let secret = app.objective(admin, "Secret", Some(&root)).await;
    make_private(&app, admin, &secret).await;
    let kr = app.key_result(admin, &secret, 0.0, 10.0, 1.0).await;

    let mut subscriber = Subscriber::start(&app.address, &member.token, &root).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.check_in(admin, &kr, 5.0).await.data("/checkIn");
    // The member hears of the root's new roll-up, never of the private objective itself.
    let event = subscriber.event().await;
    assert_eq!(summary(&event), (root.clone(), 0.5));
    subscriber.expect_silence(Duration::from_millis(500)).await;

    // Another tenant cannot subscribe to this tenant's objective.
    let stranger = app.tenant("stranger").await;
    let mut foreign = Subscriber::start(&app.address, &stranger.admin.token, &root).await;
    let message = foreign.next(Duration::from_secs(10)).await;
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(message["payload"]["data"], Value::Null, "{message}");
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{message}"
    );
}

#[tokio::test]
async fn events_never_name_a_private_ancestor_the_subscriber_may_not_see() {
    let app = spawn_app().await;
    let tenant = app.tenant("hidden-ancestor").await;
    let admin = &tenant.admin;
    let member = app.user(&tenant, Role::Member, None).await;
    let root = app.objective(admin, "Company", None).await;
    let secret = app.objective(admin, "Secret", Some(&root)).await;
    let public_child = app.objective(admin, "Public child", Some(&secret)).await;
    make_private(&app, admin, &secret).await;
    let kr = app.key_result(admin, &public_child, 0.0, 10.0, 1.0).await;

    let mut member_feed = Subscriber::start(&app.address, &member.token, &root).await;
    let mut admin_feed = Subscriber::start(&app.address, &admin.token, &root).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.check_in(admin, &kr, 5.0).await.data("/checkIn");
    // The admin may see the private objective: its events name it as an ancestor.
    let event = admin_feed.event().await;
    assert_eq!(event["objectiveId"], public_child.as_str());
    assert_eq!(event["ancestorIds"], json!([root, secret]));
    // The member's events never carry its id, in any field.
    for _ in 0..2 {
        let event = member_feed.event().await;
        assert!(
            !event.to_string().contains(&secret),
            "a private objective's id reached a member: {event}"
        );
    }
}

#[tokio::test]
async fn a_connection_without_a_valid_token_is_closed_with_4403() {
    let app = spawn_app().await;
    for payload in [json!({}), json!({ "token": "not-a-jwt" })] {
        let (_, reply) = Subscriber::connect(&app.address, payload).await;
        assert_eq!(reply["type"], "closed", "{reply}");
        // 4403 (Forbidden): the official client retries it; 1002 made it give up for good.
        assert_eq!(reply["code"], 4403, "{reply}");
    }
}

/// The graphql-transport-ws protocol's own close codes, as its official client expects them.
#[tokio::test]
async fn protocol_violations_close_with_the_protocols_codes() {
    let app = spawn_app().await;
    let tenant = app.tenant("protocol").await;
    let root = app.objective(&tenant.admin, "root", None).await;
    let subscribe = |id: &str| {
        json!({
            "id": id, "type": "subscribe",
            "payload": { "query": SUBSCRIPTION, "variables": { "under": root } }
        })
    };
    // Subscribing before connection_ack: 4401 Unauthorized.
    let mut early = Subscriber::open(&app.address).await;
    early.send(subscribe("1")).await;
    let reply = early.next(Duration::from_secs(5)).await;
    assert_eq!(reply["code"], 4401, "{reply}");
    // A second connection_init: 4429.
    let token = json!({ "authorization": format!("Bearer {}", tenant.admin.token) });
    let (mut twice, ack) = Subscriber::connect(&app.address, token.clone()).await;
    assert_eq!(ack["type"], "connection_ack");
    twice
        .send(json!({ "type": "connection_init", "payload": token }))
        .await;
    assert_eq!(twice.next(Duration::from_secs(5)).await["code"], 4429);
    // Reusing the id of a live subscription: 4409 Subscriber already exists.
    let mut reused = Subscriber::start(&app.address, &tenant.admin.token, &root).await;
    reused.send(subscribe("1")).await;
    let reply = reused.next(Duration::from_secs(5)).await;
    assert_eq!(reply["code"], 4409, "{reply}");
    // Not JSON: 4400.
    let (mut garbled, _) = Subscriber::connect(&app.address, token).await;
    garbled
        .socket
        .send(Message::text("{not json"))
        .await
        .expect("send");
    assert_eq!(garbled.next(Duration::from_secs(5)).await["code"], 4400);
}

#[tokio::test]
async fn a_socket_that_never_initialises_is_closed_with_4408() {
    let app = spawn_app().await;
    let mut silent = Subscriber::open(&app.address).await;
    let reply = silent.next(Duration::from_secs(20)).await;
    assert_eq!(reply["type"], "closed", "{reply}");
    assert_eq!(reply["code"], 4408, "{reply}");
}

#[tokio::test]
async fn the_socket_closes_with_4403_when_its_token_expires() {
    let app = spawn_app().await;
    let tenant = app.tenant("expiring").await;
    let root = app.objective(&tenant.admin, "root", None).await;
    let short = app.keys.issue(
        tenant.id,
        tenant.admin.id,
        goalgraph::domain::role::Role::Admin,
        2,
    );
    let mut subscriber = Subscriber::start(&app.address, &short, &root).await;
    // The socket closes with 4403 when the token expires (the client reconnects with a fresh
    // one); before, the subscription completed and the socket stayed open.
    let message = subscriber.next(Duration::from_secs(8)).await;
    assert_eq!(message["type"], "closed", "{message}");
    assert_eq!(message["code"], 4403, "{message}");
}

/// The `graphql-ws` package's own client (npm, run by Node from `e2e/`) against `/graphql/ws`.
async fn official_client(address: &str, token: &str, under: &str) -> tokio::process::Child {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    tokio::process::Command::new("node")
        .arg(root.join("e2e").join("graphql-ws-client.mjs"))
        .arg(format!("{}/graphql/ws", address.replacen("http", "ws", 1)))
        .arg(token)
        .arg(under)
        .current_dir(root.join("e2e"))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node (scripts/test installs e2e/node_modules)")
}

/// The official client's next printed event.
async fn client_event(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(15), lines.next_line())
        .await
        .expect("the client said nothing")
        .expect("read")
        .expect("the client ended");
    serde_json::from_str(&line).expect("JSON")
}

#[tokio::test]
async fn the_official_graphql_ws_client_receives_events_and_sees_4403() {
    use tokio::io::AsyncBufReadExt;

    let app = spawn_app().await;
    let tenant = app.tenant("official").await;
    let root = app.objective(&tenant.admin, "root", None).await;
    let kr = app.key_result(&tenant.admin, &root, 0.0, 100.0, 1.0).await;
    let mut client = official_client(&app.address, &tenant.admin.token, &root).await;
    let mut lines = tokio::io::BufReader::new(client.stdout.take().expect("stdout")).lines();
    assert_eq!(client_event(&mut lines).await["event"], "connected");
    // The subscription starts right after the acknowledgement; check in (a new value each
    // time: only a change of progress is an event) until it reports.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut value = 10.0;
    let event = loop {
        assert!(Instant::now() < deadline, "no event within 30 s");
        value += 1.0;
        app.check_in(&tenant.admin, &kr, value)
            .await
            .data("/checkIn");
        if let Ok(Ok(Some(line))) =
            tokio::time::timeout(Duration::from_millis(500), lines.next_line()).await
        {
            break serde_json::from_str::<Value>(&line).expect("JSON");
        }
    };
    assert_eq!(event["event"], "next", "{event}");
    let change = &event["payload"]["data"]["progressChanged"];
    assert_eq!(change["objectiveId"], root.as_str());
    // What a normalised cache needs: the object under its ID with the selected fields.
    let progress = change["progress"].as_f64().expect("progress");
    assert!(progress > 0.1 && progress <= value / 100.0, "{change}");
    let objective = &change["objective"];
    assert_eq!(
        (
            &objective["__typename"],
            &objective["id"],
            &objective["status"]
        ),
        (&json!("Objective"), &json!(root), &json!("DRAFT"))
    );
    // Read when the event is sent: this change's progress, or a later check-in's.
    let current = objective["progress"].as_f64().expect("progress");
    assert!(current >= progress && current <= value / 100.0, "{change}");

    // A bad token: the client sees the close code the protocol gives it, 4403.
    let mut refused = official_client(&app.address, "not-a-jwt", &root).await;
    let mut lines = tokio::io::BufReader::new(refused.stdout.take().expect("stdout")).lines();
    let closed = loop {
        let event = client_event(&mut lines).await;
        if event["event"] == "closed" {
            break event;
        }
    };
    assert_eq!(closed["code"], 4403, "{closed}");
}

#[tokio::test]
async fn operations_over_the_socket_are_priced_like_requests_over_http() {
    let app = spawn_app().await;
    let tenant = app.tenant("socket-priced").await;
    let (mut socket, ack) = Subscriber::connect(
        &app.address,
        json!({ "authorization": format!("Bearer {}", tenant.admin.token) }),
    )
    .await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    // A query over the socket runs (with its own loaders) ...
    socket
        .send(json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ viewer { name } }" } }))
        .await;
    let answer = socket.next(Duration::from_secs(10)).await;
    assert_eq!(answer["type"], "next", "{answer}");
    assert_eq!(
        answer["payload"]["data"]["viewer"]["name"],
        "socket-priced admin"
    );
    // ... and one over the object cap is refused as over HTTP.
    let ids: Vec<String> = (1..=100).map(crate::helpers::objective_id).collect();
    socket
        .send(json!({
            "id": "big", "type": "subscribe",
            "payload": {
                "query": "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Objective { children { children { children { children { id } } } } } } }",
                "variables": { "ids": ids }
            }
        }))
        .await;
    let refused = loop {
        let message = socket.next(Duration::from_secs(10)).await;
        if message["id"] == "big" {
            break message;
        }
    };
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "NODE_LIMIT_EXCEEDED"
    );
}
