//! The `goalgraph` command: parses configuration, initialises tracing, runs a subcommand.

use std::process::ExitCode;

use clap::Parser;
use goalgraph::app::RequestLimits;
use goalgraph::application::stores::{OpenStores, Opener};
use goalgraph::application::{AnyError, Application, ServeSettings};
use goalgraph::auth::TokenKeys;
use goalgraph::config::{
    self, Cli, Command, CreateTenantArgs, ReconcileArgs, SchemaArgs, SeedArgs, ServeArgs,
    StoreArgs, TokenArgs,
};
#[cfg(feature = "embedded-stores")]
use goalgraph::config::{MongodbArgs, PostgresArgs};
use goalgraph::domain::role::Role;
#[cfg(feature = "embedded-stores")]
use goalgraph::store::embedded::EmbeddedPostgres;
use goalgraph::store::mongo::MongoStore;
#[cfg(feature = "embedded-stores")]
use goalgraph::store::mongo::local_server::{LocalMongo, Storage};
use goalgraph::store::pg::{self, Db, PgOptions, org::NewUser, org::OrgRepo};
use goalgraph::sync::reconcile::reconcile;

/// mimalloc instead of glibc's allocator: glibc's malloc/free took ~13 % of the machine's CPU
/// under a load of 1,111-objective reads (BENCHMARKS.md, issue 12 session 8).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let telemetry = goalgraph::telemetry::init();
    let code = match run(Cli::parse()).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("goalgraph: {err}");
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown();
    code
}

async fn run(cli: Cli) -> Result<ExitCode, AnyError> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        #[cfg(feature = "embedded-stores")]
        Command::Mongodb(args) => mongodb(args).await,
        Command::Reconcile(args) => reconcile_tenant(args).await,
        Command::Seed(args) => seed(args).await,
        Command::Migrate(store) => {
            let stores = open_for_command(&store).await?;
            println!("migrations applied");
            stores.close().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Maintain(args) => {
            let stores = open_for_command(&args.store).await?;
            for partition in pg::ensure_check_in_partitions(&stores.db, args.years_ahead).await? {
                println!("{partition}");
            }
            stores.close().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(args) => token(args).await,
        Command::CreateTenant(args) => create_tenant(args).await,
        Command::Schema(args) => Ok(schema(args)),
        #[cfg(feature = "embedded-stores")]
        Command::Postgres(args) => postgres(args).await,
    }
}

/// `goalgraph serve`: the API with its workers until Ctrl-C or SIGTERM.
async fn serve(args: ServeArgs) -> Result<ExitCode, AnyError> {
    let keys = args
        .secret
        .token_keys(&config::jwt_secret(&args.secret, &args.store.data_dir)?)
        .await?;
    let application = Application::build(ServeSettings {
        bind: args.bind,
        redis_url: args.redis_url.as_ref().map(|url| url.expose().to_owned()),
        limits: RequestLimits {
            rate_limit: args.rate_limit(),
            ..RequestLimits::default()
        },
        pg_acquire_timeout: PgOptions::default().acquire_timeout,
        resolution: args.resolution(),
        cors_origins: args.cors_origins.clone(),
        embedded_stores_on_network: args.embedded_stores_on_network,
        report_cache: !args.no_report_cache,
        store: args.store,
        keys,
    })
    .await?;
    if let Some(first_start) = application.first_start() {
        println!("{first_start}");
    }
    let address = application.address()?;
    println!("goalgraph is serving GraphQL at http://{address}/graphql");
    println!(
        "the dashboard is at http://{address}/ and the playground at /graphql (in a browser); \
         subscriptions at ws://{address}/graphql/ws; get a token with `goalgraph token`"
    );
    application.run_until(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// `goalgraph mongodb`: the local MongoDB-compatible server alone.
#[cfg(feature = "embedded-stores")]
async fn mongodb(args: MongodbArgs) -> Result<ExitCode, AnyError> {
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
    Ok(ExitCode::SUCCESS)
}

/// `goalgraph reconcile`: compares (and optionally repairs) one tenant's two stores; exit code
/// 2 when differences remain.
async fn reconcile_tenant(args: ReconcileArgs) -> Result<ExitCode, AnyError> {
    let stores = open_for_command(&args.store).await?;
    let report = reconcile(&stores.db, &stores.mongo, args.tenant, args.repair)
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
    stores.close().await?;
    Ok(if !report.differences.is_empty() && !report.repaired {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// `goalgraph seed --bench`: the benchmark data set (SPEC section 7 in an org) in a new tenant.
async fn seed(args: SeedArgs) -> Result<ExitCode, AnyError> {
    if !args.bench {
        return Err("only `seed --bench` is available".into());
    }
    let keys = args
        .secret
        .token_keys(&config::jwt_secret(&args.secret, &args.store.data_dir)?)
        .await?;
    let stores = open_for_command(&args.store).await?;
    let documents = (!args.no_documents).then_some(&stores.mongo);
    let report = seed_bench(&stores.db, documents, &args, &keys).await?;
    println!("{report}");
    stores.close().await?;
    Ok(ExitCode::SUCCESS)
}

/// `goalgraph token`: a bearer token signed with the configured or generated secret.
async fn token(args: TokenArgs) -> Result<ExitCode, AnyError> {
    let role: Role = args
        .role
        .parse()
        .map_err(|_| format!("unknown role {:?}", args.role))?;
    let keys = args
        .secret
        .token_keys(&config::jwt_secret(&args.secret, &args.data_dir)?)
        .await?;
    println!("{}", keys.issue(args.tenant, args.user, role, args.ttl));
    Ok(ExitCode::SUCCESS)
}

/// `goalgraph create-tenant`: a tenant with its first admin, and the admin's token.
async fn create_tenant(args: CreateTenantArgs) -> Result<ExitCode, AnyError> {
    let keys = args
        .secret
        .token_keys(&config::jwt_secret(&args.secret, &args.store.data_dir)?)
        .await?;
    let stores = open_for_command(&args.store).await?;
    let admin = NewUser {
        name: args.admin_name,
        email: args.admin_email,
        role: Role::Admin,
        team_id: None,
    };
    let (tenant, user) = OrgRepo::new(stores.db.clone())
        .create_tenant(&args.name, admin)
        .await
        .map_err(|err| format!("{err}"))?;
    println!(
        "tenant {} ({}), admin user {}",
        tenant.id, tenant.name, user.id
    );
    println!("{}", keys.issue(tenant.id, user.id, Role::Admin, 86_400));
    stores.close().await?;
    Ok(ExitCode::SUCCESS)
}

/// `goalgraph schema`: prints the SDL, or checks a file against it.
fn schema(args: SchemaArgs) -> ExitCode {
    let sdl = goalgraph::graphql::sdl();
    let Some(path) = args.check else {
        print!("{sdl}");
        return ExitCode::SUCCESS;
    };
    if std::fs::read_to_string(&path).ok().as_deref() == Some(sdl.as_str()) {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "{} is stale: regenerate it with `cargo run -- schema > {}`",
        path.display(),
        path.display()
    );
    ExitCode::FAILURE
}

/// `goalgraph postgres`: the embedded PostgreSQL alone.
#[cfg(feature = "embedded-stores")]
async fn postgres(args: PostgresArgs) -> Result<ExitCode, AnyError> {
    let server = EmbeddedPostgres::start(&args.dir, args.port).await?;
    let url = server.url("postgres");
    if let Some(file) = &args.url_file {
        std::fs::write(file, &url)?;
    }
    println!("PostgreSQL is ready (stop with Ctrl-C)");
    shutdown_signal().await;
    server.stop().await?;
    Ok(ExitCode::SUCCESS)
}

/// The stores for a one-off subcommand: those of the running `serve` that owns the data
/// directory, else the configured or embedded ones.
async fn open_for_command(store: &StoreArgs) -> Result<OpenStores, AnyError> {
    let options = PgOptions {
        max_connections: store.pg_pool,
        pooling: store.pg_pooling,
        ..PgOptions::default()
    };
    OpenStores::open(store, options, Opener::Command).await
}

/// Loads the benchmark data set into a new tenant: 997 users, the org (211 teams, two cycles),
/// the SPEC section 7 tree in it with three key results each and stored roll-ups, the check-in
/// history (set-based SQL), then the template, goal_trees documents and notes (bulk inserts).
async fn seed_bench(
    db: &Db,
    mongo: Option<&MongoStore>,
    args: &SeedArgs,
    keys: &TokenKeys,
) -> Result<String, AnyError> {
    use goalgraph::store::mongo::seed::{Numbering, bench_documents};
    use goalgraph::store::pg::seed::{TreeShape, bench_tree_owned_by, bench_users, org};
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
    let txn = db.begin().await?;
    let org = org::create(&txn, tenant.id, owners)
        .await
        .map_err(stringify)?;
    txn.commit().await?;
    let shape = TreeShape {
        levels: args.levels,
        branching: args.branching,
    };
    let root = bench_tree_owned_by(db, tenant.id, owners, shape, Some(&org))
        .await
        .map_err(stringify)?;
    let tree_done = started.elapsed();
    let check_ins = if args.no_history {
        0
    } else {
        org::check_in_history(db, tenant.id)
            .await
            .map_err(stringify)?
    };
    let postgres_done = started.elapsed();
    let mut notes = 0;
    if let Some(mongo) = mongo {
        let objectives = pg::tree::tenant_paths(db, tenant.id)
            .await
            .map_err(stringify)?;
        let numbering = Numbering {
            base: root - 1,
            first_user: owners.first,
            users: owners.count,
        };
        let summaries = bench_documents(mongo, tenant.id, user.id, numbering, objectives)
            .await
            .map_err(|err| format!("{err}"))?;
        pg::activity::write_summaries(db, tenant.id, &summaries)
            .await
            .map_err(stringify)?;
        notes = summaries.len();
    }
    let token = keys.issue(tenant.id, user.id, Role::Admin, 7 * 86_400);
    Ok(format!(
        "tenant {} (\"bench\"): {} objectives from root id {root}, {} key results, {} teams, \
         cycles {} and {}, {check_ins} check-ins, {notes} notes; tree {:.1} s, check-ins {:.1} s, \
         MongoDB {:.1} s, total {:.1} s\nadmin token (7 days): {token}",
        tenant.id,
        shape.objectives(),
        3 * shape.objectives(),
        org.teams.len(),
        org.cycles[0],
        org.cycles[1],
        tree_done.as_secs_f64(),
        (postgres_done - tree_done).as_secs_f64(),
        (started.elapsed() - postgres_done).as_secs_f64(),
        started.elapsed().as_secs_f64(),
    ))
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
