//! The `goalgraph` command: parses configuration, initialises tracing, runs a subcommand.

use std::process::ExitCode;

use clap::Parser;
use goalgraph::app::RequestLimits;
use goalgraph::app::{AppState, serve};
use goalgraph::auth::TokenKeys;
use goalgraph::config::{self, Cli, Command, StoreArgs};
use goalgraph::domain::role::Role;
use goalgraph::store::embedded::EmbeddedPostgres;
use goalgraph::store::mongo::MongoStore;
use goalgraph::store::mongo::local_server::{LocalMongo, Storage};
use goalgraph::store::pg::progress_feed::ProgressFeed;
use goalgraph::store::pg::{self, Db, PgOptions, Pooling, org::NewUser, org::OrgRepo};
use goalgraph::store::shared::SharedState;
use goalgraph::sync::activity::ActivityConsumer;
use goalgraph::sync::reconcile::reconcile;
use goalgraph::sync::relay::OutboxRelay;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "goalgraph=info,warn".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // One JSON object per line (with the request id of the span it belongs to) for log
    // collectors; readable text otherwise.
    if std::env::var("GOALGRAPH_LOG_FORMAT").is_ok_and(|format| format == "json") {
        logs.json().with_current_span(true).init();
    } else {
        logs.init();
    }
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("goalgraph: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, AnyError> {
    match cli.command {
        Command::Serve(args) => {
            let keys = args
                .secret
                .token_keys(&config::jwt_secret(&args.secret, &args.store.data_dir)?)
                .await?;
            // PostgreSQL itself stops a statement a request no longer waits for.
            let (db, embedded) = open_store(
                &args.store,
                Some(goalgraph::app::REQUEST_TIMEOUT + std::time::Duration::from_secs(5)),
            )
            .await?;
            if embedded.is_some() {
                bootstrap_first_tenant(&db, &keys).await?;
            }
            let (mongo, local_mongo) = open_documents(&args.store).await?;
            let shared = match &args.redis_url {
                Some(url) => SharedState::redis(url)
                    .await
                    .map_err(|err| format!("cannot connect to Redis: {err}"))?,
                None => SharedState::local(),
            };
            let feed = match (&args.store.pg_listen_url, args.store.pg_pooling) {
                (Some(url), _) => ProgressFeed::start_at(url).map_err(|err| format!("{err}"))?,
                (None, Pooling::Session) => ProgressFeed::start(&db),
                (None, Pooling::Transaction) => {
                    return Err("--pg-pooling transaction needs --pg-listen-url (or \
                                GOALGRAPH_PG_LISTEN_URL): subscriptions LISTEN on a session \
                                of their own, which a transaction pooler cannot give"
                        .into());
                }
            };
            let state = AppState::with_feed(db.clone(), &mongo, keys, feed)
                .with_shared(shared)
                .with_limits(RequestLimits {
                    rate_limit: args.rate_limit(),
                    ..RequestLimits::default()
                });
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
                let _ = rx.wait_for(|stop| *stop).await;
            };
            let workers = [
                tokio::spawn(
                    OutboxRelay::new(db.clone(), &mongo, state.stores.outbox_written.clone())
                        .run(until_stopped(stopped.clone())),
                ),
                tokio::spawn(
                    ActivityConsumer::new(db.clone(), mongo.clone()).run(until_stopped(stopped)),
                ),
            ];
            let listener = tokio::net::TcpListener::bind(args.bind).await?;
            let address = listener.local_addr()?;
            println!("goalgraph is serving GraphQL at http://{address}/graphql");
            println!(
                "the dashboard is at http://{address}/ and the playground at /graphql (in a \
                 browser); subscriptions at ws://{address}/graphql/ws; get a token with \
                 `goalgraph token`"
            );
            serve(listener, state, shutdown_signal()).await?;
            let _ = stop.send(true);
            for worker in workers {
                let _ = worker.await;
            }
            // Stop the driver's background workers before the runtime drops them mid-request.
            mongo.shutdown().await;
            if let Some(local) = local_mongo {
                local.stop().await?;
            }
            close(db, embedded).await?;
        }
        Command::Mongodb(args) => {
            let storage = match &args.dir {
                Some(dir) => Storage::Directory(dir.clone()),
                None => Storage::Memory,
            };
            let server = LocalMongo::start(&args.venv, storage).await?;
            if let Some(file) = &args.uri_file {
                std::fs::write(file, server.uri())?;
            }
            println!(
                "MongoDB-compatible server is ready at {} (stop with Ctrl-C)",
                server.uri()
            );
            shutdown_signal().await;
            server.stop().await?;
        }
        Command::Reconcile(args) => {
            let (db, embedded) = open_store(&args.store, None).await?;
            let (mongo, local_mongo) = open_documents(&args.store).await?;
            let report = reconcile(&db, &mongo, args.tenant, args.repair)
                .await
                .map_err(|err| format!("{err}"))?;
            println!(
                "tenant {}: {} objectives, {} goal_trees documents, {} differences",
                args.tenant,
                report.objectives,
                report.documents,
                report.differences.len()
            );
            for difference in &report.differences {
                println!("  {difference}");
            }
            if report.repaired {
                println!("repaired");
            }
            if let Some(local) = local_mongo {
                local.stop().await?;
            }
            close(db, embedded).await?;
            if !report.differences.is_empty() && !report.repaired {
                return Ok(ExitCode::from(2));
            }
        }
        Command::Seed(args) => {
            if !args.bench {
                return Err("only `seed --bench` is available".into());
            }
            let keys = args
                .secret
                .token_keys(&config::jwt_secret(&args.secret, &args.store.data_dir)?)
                .await?;
            let (db, embedded) = open_store(&args.store, None).await?;
            let (mongo, local_mongo) = open_documents(&args.store).await?;
            let documents = (!args.no_documents).then_some(&mongo);
            let report = seed_bench(&db, documents, args.levels, args.branching, &keys).await?;
            println!("{report}");
            if let Some(local) = local_mongo {
                local.stop().await?;
            }
            close(db, embedded).await?;
        }
        Command::Migrate(store) => {
            let (db, embedded) = open_store(&store, None).await?;
            println!("migrations applied");
            close(db, embedded).await?;
        }
        Command::Maintain(args) => {
            let (db, embedded) = open_store(&args.store, None).await?;
            for partition in pg::ensure_check_in_partitions(&db, args.years_ahead).await? {
                println!("{partition}");
            }
            close(db, embedded).await?;
        }
        Command::Token(args) => {
            let role: Role = args
                .role
                .parse()
                .map_err(|_| format!("unknown role {:?}", args.role))?;
            let keys = args
                .secret
                .token_keys(&config::jwt_secret(&args.secret, &args.data_dir)?)
                .await?;
            println!("{}", keys.issue(args.tenant, args.user, role, args.ttl));
        }
        Command::CreateTenant(args) => {
            let keys = args
                .secret
                .token_keys(&config::jwt_secret(&args.secret, &args.store.data_dir)?)
                .await?;
            let (db, embedded) = open_store(&args.store, None).await?;
            let admin = NewUser {
                name: args.admin_name,
                email: args.admin_email,
                role: Role::Admin,
                team_id: None,
            };
            let (tenant, user) = OrgRepo::new(db.clone())
                .create_tenant(&args.name, admin)
                .await
                .map_err(|err| format!("{err}"))?;
            println!(
                "tenant {} ({}), admin user {}",
                tenant.id, tenant.name, user.id
            );
            println!("{}", keys.issue(tenant.id, user.id, Role::Admin, 86_400));
            close(db, embedded).await?;
        }
        Command::Schema(args) => {
            let sdl = goalgraph::graphql::sdl();
            match args.check {
                None => print!("{sdl}"),
                Some(path) => {
                    if std::fs::read_to_string(&path).ok().as_deref() != Some(sdl.as_str()) {
                        eprintln!(
                            "{} is stale: regenerate it with `cargo run -- schema > {}`",
                            path.display(),
                            path.display()
                        );
                        return Ok(ExitCode::FAILURE);
                    }
                }
            }
        }
        Command::Postgres(args) => {
            let server = EmbeddedPostgres::start(&args.dir, args.port).await?;
            let url = server.url("postgres");
            if let Some(file) = &args.url_file {
                std::fs::write(file, &url)?;
            }
            println!("PostgreSQL is ready (stop with Ctrl-C)");
            shutdown_signal().await;
            server.stop().await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// On the first start of an embedded database, creates a tenant with an admin and prints a
/// token for it, so the playground works with no set-up at all.
async fn bootstrap_first_tenant(db: &Db, keys: &TokenKeys) -> Result<(), AnyError> {
    let org = OrgRepo::new(db.clone());
    if org.has_tenants().await.map_err(|err| format!("{err}"))? {
        return Ok(());
    }
    let admin = NewUser {
        name: "Admin".into(),
        email: "admin@example.com".into(),
        role: Role::Admin,
        team_id: None,
    };
    let (tenant, user) = org
        .create_tenant("My company", admin)
        .await
        .map_err(|err| format!("{err}"))?;
    println!(
        "first start: created tenant {} with admin user {}; a token for the dashboard and the playground (24 h):",
        tenant.id, user.id
    );
    println!("{}", keys.issue(tenant.id, user.id, Role::Admin, 86_400));
    Ok(())
}

/// Loads SPEC section 7 into a new tenant: 997 users, the objective tree with three key results
/// each and stored roll-ups (set-based SQL), then the goal_trees documents (bulk inserts).
async fn seed_bench(
    db: &Db,
    mongo: Option<&MongoStore>,
    levels: u32,
    branching: i64,
    keys: &TokenKeys,
) -> Result<String, AnyError> {
    use goalgraph::store::mongo::goal_trees::{GoalTree, GoalTrees, depth_of, document_id};
    use goalgraph::store::pg::seed::{TreeShape, bench_tree_owned_by, bench_users};
    let started = std::time::Instant::now();
    let stringify = |err: goalgraph::store::StoreError| format!("{err}");
    let admin = NewUser {
        name: "Bench admin".into(),
        email: "admin@bench.example".into(),
        role: Role::Admin,
        team_id: None,
    };
    let (tenant, user) = OrgRepo::new(db.clone())
        .create_tenant("bench", admin)
        .await
        .map_err(stringify)?;
    let owners = bench_users(db, tenant.id, 997).await.map_err(stringify)?;
    let shape = TreeShape { levels, branching };
    let root = bench_tree_owned_by(db, tenant.id, owners, shape)
        .await
        .map_err(stringify)?;
    let postgres_done = started.elapsed();
    if let Some(mongo) = mongo {
        let trees: Vec<GoalTree> = pg::tree::tenant_paths(db, tenant.id)
            .await
            .map_err(stringify)?
            .into_iter()
            .map(|o| GoalTree {
                id: document_id(tenant.id, o.id),
                tenant_id: tenant.id,
                objective_id: o.id,
                depth: depth_of(&o.path),
                path: o.path,
                title: o.title,
                status: o.status,
                archived: o.archived,
                fields: Default::default(),
                outbox_id: 0,
            })
            .collect();
        mongo
            .ensure_indexes()
            .await
            .map_err(|err| format!("{err}"))?;
        GoalTrees::new(mongo.database().clone())
            .insert_many(&trees)
            .await
            .map_err(|err| format!("{err}"))?;
    }
    let token = keys.issue(tenant.id, user.id, Role::Admin, 7 * 86_400);
    Ok(format!(
        "tenant {} (\"bench\"): {} objectives from root id {root}, {} key results; \
         PostgreSQL {:.1} s, goal_trees {:.1} s, total {:.1} s\nadmin token (7 days): {token}",
        tenant.id,
        shape.objectives(),
        3 * shape.objectives(),
        postgres_done.as_secs_f64(),
        (started.elapsed() - postgres_done).as_secs_f64(),
        started.elapsed().as_secs_f64(),
    ))
}

/// Connects to the configured MongoDB (or starts the local SecantusDB) and creates its
/// indexes in the background, so an unreachable MongoDB never stops the API from starting.
async fn open_documents(store: &StoreArgs) -> Result<(MongoStore, Option<LocalMongo>), AnyError> {
    let (uri, local) = match &store.mongodb_uri {
        Some(uri) => (uri.clone(), None),
        None => {
            let server = LocalMongo::start(
                &store.data_dir.join("venv"),
                Storage::Directory(store.data_dir.join("mongodb")),
            )
            .await?;
            (server.uri(), Some(server))
        }
    };
    let mongo = MongoStore::connect(&uri, &store.mongodb_database)
        .await
        .map_err(|err| format!("{err}"))?;
    let indexes = mongo.clone();
    tokio::spawn(async move {
        while let Err(err) = indexes.ensure_indexes().await {
            tracing::warn!(error = %err, "creating MongoDB indexes failed; retrying");
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        }
    });
    Ok((mongo, local))
}

/// Connects to the configured PostgreSQL (or starts the embedded one) and migrates it.
async fn open_store(
    store: &StoreArgs,
    statement_timeout: Option<std::time::Duration>,
) -> Result<(Db, Option<EmbeddedPostgres>), AnyError> {
    let (url, embedded) = match &store.database_url {
        Some(url) => (url.clone(), None),
        None => {
            let server =
                EmbeddedPostgres::start(&store.data_dir.join("postgres"), store.pg_port).await?;
            server.ensure_database("goalgraph").await?;
            (server.url("goalgraph"), Some(server))
        }
    };
    let options = PgOptions {
        max_connections: store.pg_pool,
        statement_timeout,
        pooling: store.pg_pooling,
        ..PgOptions::default()
    };
    let db = pg::connect(&url, &options)
        .await
        .map_err(|err| format!("{err}"))?;
    pg::migrate(&db).await.map_err(|err| format!("{err}"))?;
    pg::ensure_check_in_partitions(&db, 1)
        .await
        .map_err(|err| format!("{err}"))?;
    Ok((db, embedded))
}

async fn close(db: Db, embedded: Option<EmbeddedPostgres>) -> Result<(), AnyError> {
    db.close().await?;
    if let Some(embedded) = embedded {
        embedded.stop().await?;
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}
