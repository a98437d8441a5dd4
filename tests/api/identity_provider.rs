//! RS256 tokens from an identity provider whose JWKS is served over HTTP: a key rotation needs
//! no restart, a flood of unknown key ids costs the provider one read, and a removed key stops
//! working once the set is re-read on its interval.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use goalgraph::auth::{Claims, RefreshPolicy, TokenKeys};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::helpers::{
    SECRET, TestApp, TestSettings, eventually, fresh_database_named, mongo_uri, serve_app,
};

const FIRST_SET: &str = include_str!("../fixtures/rs256-test-jwks.json");
const SECOND_SET: &str = include_str!("../fixtures/rs256-test-jwks-2.json");
const FIRST_PRIVATE: &[u8] = include_bytes!("../fixtures/rs256-test-private.pem");
const SECOND_PRIVATE: &[u8] = include_bytes!("../fixtures/rs256-test-private-2.pem");

/// An identity provider's JWKS endpoint: serves whatever set it holds and counts reads.
struct JwksEndpoint {
    url: String,
    set: Arc<Mutex<String>>,
    reads: Arc<AtomicU64>,
}

impl JwksEndpoint {
    async fn start(set: &str) -> Self {
        let held = Arc::new(Mutex::new(set.to_owned()));
        let reads = Arc::new(AtomicU64::new(0));
        let (served, counted) = (held.clone(), reads.clone());
        let router = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                let body = served.lock().expect("set").clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().expect("address")
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            url,
            set: held,
            reads,
        }
    }

    fn publish(&self, set: &str) {
        *self.set.lock().expect("set") = set.to_owned();
    }

    fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }
}

/// Both keys in one set (the provider publishes the new key before signing with it).
fn both_keys() -> String {
    let first: serde_json::Value = serde_json::from_str(FIRST_SET).expect("json");
    let second: serde_json::Value = serde_json::from_str(SECOND_SET).expect("json");
    serde_json::json!({ "keys": [first["keys"][0], second["keys"][0]] }).to_string()
}

async fn app_trusting(endpoint: &JwksEndpoint, policy: RefreshPolicy) -> TestApp {
    let (database_url, name) = fresh_database_named().await;
    let mut settings = TestSettings::new(database_url, &mongo_uri(), &name);
    settings.keys = TokenKeys::new(SECRET)
        .expect("token keys")
        .with_jwks_from(&endpoint.url, policy)
        .await
        .expect("the JWKS is read at start-up");
    serve_app(settings).await
}

/// An RS256 token for `tenant`'s user `user`, signed by `private_pem` and naming `kid`.
fn provider_token(tenant: i64, user: i64, private_pem: &[u8], kid: Option<&str>) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let claims = Claims {
        sub: user.to_string(),
        tenant,
        role: "admin".into(),
        iat: now,
        exp: now + 600,
        nbf: None,
        iss: None,
        aud: None,
    };
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(Into::into);
    let key = EncodingKey::from_rsa_pem(private_pem).expect("private key");
    jsonwebtoken::encode(&header, &claims, &key).expect("encodes")
}

/// The HTTP status of `{ me { id } }` with `token`.
async fn status_with(app: &TestApp, token: &str) -> u16 {
    app.client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .json(&serde_json::json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_rotated_signing_key_is_accepted_without_a_restart() {
    let endpoint = JwksEndpoint::start(FIRST_SET).await;
    let app = app_trusting(
        &endpoint,
        RefreshPolicy {
            min_refetch: Duration::ZERO,
            refresh_every: Duration::from_secs(3600),
        },
    )
    .await;
    let tenant = app.tenant("rotation").await;
    let old = provider_token(
        tenant.id,
        tenant.admin.id,
        FIRST_PRIVATE,
        Some("test-key-1"),
    );
    let new = provider_token(
        tenant.id,
        tenant.admin.id,
        SECOND_PRIVATE,
        Some("test-key-2"),
    );
    assert_eq!(status_with(&app, &old).await, 200);
    assert_eq!(status_with(&app, &new).await, 401, "not published yet");

    endpoint.publish(&both_keys());
    assert_eq!(
        status_with(&app, &new).await,
        200,
        "the unknown kid re-read the set"
    );
    assert_eq!(status_with(&app, &old).await, 200);
    // A token naming no key id is tried against every key of the set.
    let unnamed = provider_token(tenant.id, tenant.admin.id, SECOND_PRIVATE, None);
    assert_eq!(status_with(&app, &unnamed).await, 200);
    assert_eq!(
        endpoint.reads(),
        3,
        "start-up, then one re-read per unknown kid"
    );
}

#[tokio::test]
async fn unknown_key_ids_are_rate_limited() {
    let endpoint = JwksEndpoint::start(FIRST_SET).await;
    let app = app_trusting(
        &endpoint,
        RefreshPolicy {
            min_refetch: Duration::from_secs(3600),
            refresh_every: Duration::from_secs(3600),
        },
    )
    .await;
    let tenant = app.tenant("flood").await;
    endpoint.publish(&both_keys());
    let forged: Vec<String> = (0..30)
        .map(|n| {
            let kid = format!("forged-{n}");
            provider_token(tenant.id, tenant.admin.id, SECOND_PRIVATE, Some(&kid))
        })
        .collect();
    let statuses = futures::future::join_all(forged.iter().map(|token| status_with(&app, token)));
    assert!(statuses.await.iter().all(|status| *status == 401));
    // Read at start-up only: the set was read less than the minimum interval ago.
    assert_eq!(endpoint.reads(), 1);
    let first = provider_token(
        tenant.id,
        tenant.admin.id,
        FIRST_PRIVATE,
        Some("test-key-1"),
    );
    assert_eq!(status_with(&app, &first).await, 200);
}

#[tokio::test]
async fn a_key_removed_by_the_provider_stops_working_after_the_interval() {
    let endpoint = JwksEndpoint::start(&both_keys()).await;
    let app = app_trusting(
        &endpoint,
        RefreshPolicy {
            min_refetch: Duration::from_secs(3600),
            refresh_every: Duration::from_secs(1),
        },
    )
    .await;
    let tenant = app.tenant("revoked").await;
    let old = provider_token(
        tenant.id,
        tenant.admin.id,
        FIRST_PRIVATE,
        Some("test-key-1"),
    );
    let new = provider_token(
        tenant.id,
        tenant.admin.id,
        SECOND_PRIVATE,
        Some("test-key-2"),
    );
    assert_eq!(status_with(&app, &old).await, 200);
    endpoint.publish(SECOND_SET);
    eventually(15, "the removed key to be refused", || async {
        status_with(&app, &old).await == 401
    })
    .await;
    assert_eq!(status_with(&app, &new).await, 200);
}
