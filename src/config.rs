//! Command line and environment configuration. Secrets are read, never printed.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::store::pg::Pooling;

/// A setting that must never be printed (a password-bearing URL, a signing secret): its
/// `Debug` shows `<redacted>`, and only [`Secret::expose`] gives the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret text, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Self(text.to_owned()))
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Self(text)
    }
}

/// goalgraph: a GraphQL API for goal alignment (OKRs).
#[derive(Debug, Parser)]
#[command(name = "goalgraph", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API (starts an embedded PostgreSQL unless DATABASE_URL is set).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(StoreArgs),
    /// Create the check-in partitions for this and the coming fiscal years.
    Maintain(MaintainArgs),
    /// Print a bearer token for the playground.
    Token(TokenArgs),
    /// Create a tenant with its first admin, and print the admin's token.
    CreateTenant(CreateTenantArgs),
    /// Print the GraphQL schema (SDL), or check schema.graphql against it.
    Schema(SchemaArgs),
    /// Run the embedded PostgreSQL alone until interrupted, printing its URL.
    #[cfg(feature = "embedded-stores")]
    Postgres(PostgresArgs),
    /// Run the local MongoDB-compatible server (SecantusDB) alone until interrupted.
    #[cfg(feature = "embedded-stores")]
    Mongodb(MongodbArgs),
    /// Compare a tenant's data in PostgreSQL and MongoDB, report differences, optionally repair.
    Reconcile(ReconcileArgs),
    /// Load the deterministic benchmark data set of SPEC section 7 into a new tenant.
    Seed(SeedArgs),
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// PostgreSQL URL; without it an embedded PostgreSQL keeps its data under --data-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,
    /// Directory for embedded databases and generated secrets.
    #[arg(long, env = "GOALGRAPH_DATA_DIR", default_value = ".goalgraph")]
    pub data_dir: PathBuf,
    /// Port of the embedded PostgreSQL (0 picks a free one).
    #[arg(long, env = "GOALGRAPH_PG_PORT", default_value_t = 0)]
    pub pg_port: u16,
    /// Largest number of pooled PostgreSQL connections.
    #[arg(long, env = "GOALGRAPH_PG_POOL", default_value_t = 16)]
    pub pg_pool: u32,
    /// How DATABASE_URL reaches PostgreSQL: `session` (directly, or a session-pooling
    /// pgBouncer) or `transaction` (a transaction-pooling pgBouncer: every statement runs in a
    /// transaction, no statement cache; needs --pg-listen-url for subscriptions).
    #[arg(long, env = "GOALGRAPH_PG_POOLING", value_enum, default_value_t = Pooling::Session)]
    pub pg_pooling: Pooling,
    /// PostgreSQL URL for the LISTEN connection that feeds subscriptions (default:
    /// DATABASE_URL). LISTEN needs a session: with `--pg-pooling transaction` give a URL that
    /// reaches PostgreSQL directly.
    #[arg(long, env = "GOALGRAPH_PG_LISTEN_URL", hide_env_values = true)]
    pub pg_listen_url: Option<Secret>,
    /// MongoDB URI; without it a local SecantusDB keeps its data under --data-dir.
    #[arg(long, env = "MONGODB_URI", hide_env_values = true)]
    pub mongodb_uri: Option<Secret>,
    /// MongoDB database name.
    #[arg(long, env = "MONGODB_DATABASE", default_value = "goalgraph")]
    pub mongodb_database: String,
    /// Python venv for the local MongoDB-compatible server (default: <data-dir>/venv;
    /// created and SecantusDB installed into it on first use).
    #[arg(long, env = "GOALGRAPH_MONGODB_VENV")]
    pub mongodb_venv: Option<PathBuf>,
}

/// The secret tokens are signed with.
#[derive(Debug, Clone, Args)]
pub struct SecretArgs {
    /// HS256 secret for bearer tokens; without it one is generated once and kept in
    /// <data-dir>/jwt-secret.
    #[arg(long, env = "GOALGRAPH_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// Require this `iss` claim (and put it in issued tokens).
    #[arg(long, env = "GOALGRAPH_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Require this `aud` claim (and put it in issued tokens).
    #[arg(long, env = "GOALGRAPH_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// Also accept RS256 tokens signed by a key of this JWKS (a file path or an http(s) URL,
    /// read at start-up, re-read on an unknown key id and on an interval).
    #[arg(long, env = "GOALGRAPH_JWKS")]
    pub jwks: Option<String>,
    /// The least seconds between two JWKS re-reads caused by tokens naming an unknown key id.
    #[arg(long, env = "GOALGRAPH_JWKS_MIN_REFRESH_SECONDS", default_value_t = 30)]
    pub jwks_min_refresh_seconds: u64,
    /// Re-read the JWKS when it is this many seconds old.
    #[arg(long, env = "GOALGRAPH_JWKS_REFRESH_SECONDS", default_value_t = 3600)]
    pub jwks_refresh_seconds: u64,
}

impl SecretArgs {
    /// The token keys these settings describe, around the HS256 `secret`.
    pub async fn token_keys(&self, secret: &[u8]) -> Result<crate::auth::TokenKeys, String> {
        let keys = crate::auth::TokenKeys::new(secret)?
            .with_issuer(self.jwt_issuer.clone())
            .with_audience(self.jwt_audience.clone());
        let policy = crate::auth::RefreshPolicy {
            min_refetch: std::time::Duration::from_secs(self.jwks_min_refresh_seconds),
            refresh_every: std::time::Duration::from_secs(self.jwks_refresh_seconds),
        };
        match &self.jwks {
            Some(source) => keys.with_jwks_from(source, policy).await,
            None => Ok(keys),
        }
    }
}

/// One CORS origin: `scheme://host[:port]`, as browsers send it in `Origin`.
fn cors_origin(text: &str) -> Result<axum::http::HeaderValue, String> {
    let text = text.trim();
    let valid = (text.starts_with("http://") || text.starts_with("https://"))
        && !text.ends_with('/')
        && text
            .split("://")
            .nth(1)
            .is_some_and(|host| !host.is_empty() && !host.contains('/'));
    if !valid {
        return Err(format!(
            "`{text}` is not an origin: write scheme://host[:port], e.g. https://okr.example.com"
        ));
    }
    axum::http::HeaderValue::from_str(text).map_err(|_| format!("`{text}` is not an origin"))
}

impl ServeArgs {
    /// The per-tenant budget, if limited.
    pub fn rate_limit(&self) -> Option<crate::store::shared::RateLimit> {
        (self.rate_limit > 0.0).then(|| crate::store::shared::RateLimit {
            rate: self.rate_limit,
            burst: self.rate_burst.unwrap_or(self.rate_limit * 20.0).max(1.0),
        })
    }

    /// How row-backed objects are resolved.
    pub fn resolution(&self) -> crate::graphql::Resolution {
        if self.plain_resolution {
            crate::graphql::Resolution::Plain
        } else if self.no_pre_rendered_lists {
            crate::graphql::Resolution::LeanValues
        } else {
            crate::graphql::Resolution::Lean
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "GOALGRAPH_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Redis for state shared by all replicas (rate limits, persisted queries); without it
    /// that state is kept in this process.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<Secret>,
    /// Query cost points per second each tenant may spend on average (0: no limit); a request
    /// costs a point per field per object it is selected on (`extensions.cost`).
    #[arg(long, env = "GOALGRAPH_RATE_LIMIT", default_value_t = 50_000.0)]
    pub rate_limit: f64,
    /// Points a tenant may spend at once (default: twenty times the rate).
    #[arg(long, env = "GOALGRAPH_RATE_BURST")]
    pub rate_burst: Option<f64>,
    /// Resolve every field through async-graphql's own executor instead of the lean path for
    /// row-backed objects, and read subtrees' rows whole instead of only the columns the
    /// selection reads (a troubleshooting switch: same answers, slower).
    #[arg(long, env = "GOALGRAPH_PLAIN_RESOLUTION")]
    pub plain_resolution: bool,
    /// Keep the lean path but answer lists of objectives, tree entries and key results as
    /// values instead of JSON written from their rows (a troubleshooting switch: same answers,
    /// slower, more memory).
    #[arg(long, env = "GOALGRAPH_NO_PRE_RENDERED_LISTS")]
    pub no_pre_rendered_lists: bool,
    /// Browser origins allowed to call the API from another site (CORS), comma-separated, e.g.
    /// `https://okr.example.com`; none by default.
    #[arg(long, env = "GOALGRAPH_CORS_ORIGINS", value_delimiter = ',', value_parser = cors_origin)]
    pub cors_origins: Vec<axum::http::HeaderValue>,
    /// Start the embedded development stores even when bound to a non-loopback address
    /// (otherwise `serve` refuses, so a deployment never runs on them by accident).
    #[arg(long, env = "GOALGRAPH_EMBEDDED_STORES_ON_NETWORK")]
    pub embedded_stores_on_network: bool,
    /// Compute every report instead of serving cached answers (for comparing; the cache is
    /// never stale, see docs/SCALING.md).
    #[arg(long, env = "GOALGRAPH_NO_REPORT_CACHE")]
    pub no_report_cache: bool,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Debug, Args)]
pub struct MaintainArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// How many fiscal years ahead to create partitions for.
    #[arg(long, default_value_t = 2)]
    pub years_ahead: i32,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Tenant id.
    #[arg(long)]
    pub tenant: i64,
    /// User id.
    #[arg(long)]
    pub user: i64,
    /// admin | manager | member | viewer (never more than the user's own role).
    #[arg(long, default_value = "admin")]
    pub role: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 86_400)]
    pub ttl: u64,
    /// Directory holding the generated secret (when GOALGRAPH_JWT_SECRET is unset).
    #[arg(long, env = "GOALGRAPH_DATA_DIR", default_value = ".goalgraph")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Debug, Args)]
pub struct CreateTenantArgs {
    /// The tenant's name.
    #[arg(long)]
    pub name: String,
    /// The first admin's name.
    #[arg(long, default_value = "Admin")]
    pub admin_name: String,
    /// The first admin's email.
    #[arg(long)]
    pub admin_email: String,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Compare with this file instead of printing; exit 1 when it differs.
    #[arg(long)]
    pub check: Option<PathBuf>,
}

#[cfg(feature = "embedded-stores")]
#[derive(Debug, Args)]
pub struct PostgresArgs {
    /// Directory for the server's data.
    #[arg(long, default_value = ".goalgraph/postgres")]
    pub dir: PathBuf,
    /// Port (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Write the connection URL (to the `postgres` database) to this file once ready.
    #[arg(long)]
    pub url_file: Option<PathBuf>,
}

/// The token secret: the configured one, else one generated once under `data_dir`.
pub fn jwt_secret(args: &SecretArgs, data_dir: &std::path::Path) -> std::io::Result<Vec<u8>> {
    if let Some(secret) = &args.jwt_secret {
        return Ok(secret.expose().as_bytes().to_vec());
    }
    let file = data_dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read(&file)
        && existing.len() >= 32
    {
        return Ok(existing);
    }
    std::fs::create_dir_all(data_dir)?;
    let mut secret = [0u8; 48];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut secret)?;
    std::fs::write(&file, secret)?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
    Ok(secret.to_vec())
}

#[cfg(feature = "embedded-stores")]
#[derive(Debug, Args)]
pub struct MongodbArgs {
    /// Python venv holding SecantusDB (created and installed if missing).
    #[arg(long, default_value = ".goalgraph/venv")]
    pub venv: PathBuf,
    /// Data directory; without it data lives in memory only.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Write the connection URI to this file once ready.
    #[arg(long)]
    pub uri_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The tenant to check.
    #[arg(long)]
    pub tenant: i64,
    /// Fix what differs (goal_trees from PostgreSQL, the activity summary from goal_updates).
    #[arg(long)]
    pub repair: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Load the benchmark data set: the tree (111,111 objectives with 6 levels) in an org of
    /// 211 teams and two cycles, with a weekly check-in history and progress notes.
    #[arg(long)]
    pub bench: bool,
    /// Levels of the tree, root included (6: 111,111 objectives; 7: 1,111,111).
    #[arg(long, default_value_t = 6)]
    pub levels: u32,
    /// Children per objective.
    #[arg(long, default_value_t = 10)]
    pub branching: i64,
    /// Skip the goal_trees documents (PostgreSQL-only scale runs).
    #[arg(long)]
    pub no_documents: bool,
    /// Skip the check-in history (the tree benchmarks do not read it).
    #[arg(long)]
    pub no_history: bool,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_secret_shows_in_the_parsed_configuration() {
        let cli = Cli::parse_from([
            "goalgraph",
            "serve",
            "--database-url",
            "postgres://app:pg-password@db/goalgraph",
            "--pg-listen-url",
            "postgres://app:listen-password@db/goalgraph",
            "--mongodb-uri",
            "mongodb://app:mongo-password@mongo/",
            "--redis-url",
            "redis://:redis-password@redis/",
            "--jwt-secret",
            "jwt-secret-value-that-is-long-enough",
        ]);
        let printed = format!("{cli:?}");
        for secret in [
            "pg-password",
            "listen-password",
            "mongo-password",
            "redis-password",
            "jwt-secret-value",
        ] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        let Command::Serve(args) = cli.command else {
            panic!("serve");
        };
        assert_eq!(
            args.store.database_url.as_ref().map(Secret::expose),
            Some("postgres://app:pg-password@db/goalgraph")
        );
    }
}
