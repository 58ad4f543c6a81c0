//! What each subcommand does.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

use super::{
    AdminCommand, AdminStoreArgs, Cli, Command, CreatePartyArgs, LabelCommand, SandboxCommand,
    ServeArgs, StoreArgs,
};
use crate::app::{App, CreateParty, SystemClock, format_time, keyfile};
use crate::domain::party::{PartyAttributes, Role};
use crate::http::{AppState, Limits};
use crate::ledger::canon::{Jwk, jwk_thumbprint, sign_jcs};
use crate::ledger::entry::ServiceSigner;
use crate::store::{Store, StoreOptions};

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Migrate(args)) => {
            let store = open_store(&args).await?;
            println!("migrations applied ({})", store.backend());
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Admin(command)) => admin(command).await,
        Some(Command::Keygen { out }) => {
            let key = keyfile::generate().context("reading randomness")?;
            keyfile::write_new(&out, &key)?;
            println!(
                "{}",
                serde_json::to_string(&Jwk::from_key(&key.verifying_key()))?
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Sign { key, nonce, input }) => {
            let key = keyfile::read(&key)?;
            let text = match input.as_deref() {
                None => read_stdin()?,
                Some(p) if p == Path::new("-") => read_stdin()?,
                Some(p) => std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?,
            };
            let mut payload: Value =
                serde_json::from_str(&text).context("the payload is not JSON")?;
            let Some(object) = payload.as_object_mut() else {
                bail!("the payload must be a JSON object")
            };
            let nonce = match nonce {
                Some(n) => n,
                None => {
                    u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000)?
                }
            };
            object.insert(
                "kid".into(),
                Value::String(jwk_thumbprint(&key.verifying_key())),
            );
            object.insert("nonce".into(), Value::String(nonce.to_string()));
            let signature = sign_jcs(&payload, &key)?;
            println!(
                "{}",
                serde_json::json!({ "payload": payload, "signature": signature })
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Verify(args)) => super::verify::run(&args),
        Some(Command::Witness(args)) => witness(args).await,
        Some(Command::Label(LabelCommand::Verify { keys, at, token })) => {
            verify_label(&keys, at.as_deref(), token.as_deref())
        }
        Some(Command::Sandbox(SandboxCommand::Replay {
            rulebook,
            ledger,
            json,
            threads,
        })) => sandbox_replay(&rulebook, &ledger, json, threads),
        Some(Command::Openapi) => {
            print!("{}", crate::http::openapi_json());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    Ok(text)
}

async fn open_store(args: &StoreArgs) -> anyhow::Result<Store> {
    let url = args.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&args.location.data_dir)
            .with_context(|| format!("creating {}", args.location.data_dir.display()))?;
    }
    let options = StoreOptions {
        max_connections: args.db_max_connections,
        acquire_timeout: Duration::from_millis(args.db_acquire_timeout_ms),
        sqlite_max_pages: args.sqlite_max_pages,
    };
    Store::connect(&url, &options)
        .await
        .with_context(|| format!("opening the database at {}", redact(&url)))
}

/// Hide a password in a database URL before it is printed.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Open the store and the service key and wire the application.
async fn open_app(args: &StoreArgs) -> anyhow::Result<App> {
    let store = open_store(args).await?;
    let key = match std::env::var("MIDORI_SERVICE_KEY") {
        Ok(text) if !text.trim().is_empty() => keyfile::parse_private(&text, "MIDORI_SERVICE_KEY")?,
        _ => {
            let path = args.key_file();
            let (key, created) = keyfile::load_or_create(&path)?;
            if created {
                tracing::info!(path = %path.display(), "created the service key");
            }
            key
        }
    };
    Ok(App::new(
        store,
        ServiceSigner::new(key),
        args.location.origin.clone(),
        Arc::new(SystemClock),
    )
    .await?)
}

/// Open the database of a running (or stopped) service for an operator command. A missing
/// SQLite database or service key is refused unless `--init` says to create them: run from
/// another directory, the command would otherwise quietly make a second, empty database and
/// hand out an API key the service does not know.
async fn open_admin_app(args: &AdminStoreArgs) -> anyhow::Result<App> {
    check_admin_target(args)?;
    open_app(&args.store_args()).await
}

/// The checks of `open_admin_app`, and the line saying which database is used.
fn check_admin_target(args: &AdminStoreArgs) -> anyhow::Result<()> {
    let store = args.store_args();
    if !args.init {
        let hint = "run this from the directory the service runs in, pass --data-dir \
                    (MIDORI_DATA_DIR) or DATABASE_URL as the service has them, or add --init \
                    to create a new one";
        if let Some(db) = store.sqlite_path()
            && !db.exists()
        {
            bail!(
                "there is no database at {}: {hint}",
                absolute(&db).display()
            );
        }
        let inline_key = std::env::var("MIDORI_SERVICE_KEY").is_ok_and(|k| !k.trim().is_empty());
        let key = store.key_file();
        if !inline_key && !key.exists() {
            bail!(
                "there is no service key at {}: {hint}",
                absolute(&key).display()
            );
        }
    }
    let url = store.database_url();
    eprintln!(
        "database: {}",
        match store.sqlite_path() {
            Some(db) => format!("sqlite://{}", absolute(&db).display()),
            None => redact(&url),
        }
    );
    Ok(())
}

fn absolute(path: &Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// One service per SQLite database: a second `serve` on the same file would compete for the
/// same ledgers' heads. The lock is an advisory file lock beside the database, held for the
/// life of the process (the kernel drops it if the process dies), with the holder's pid inside.
fn lock_database(args: &StoreArgs) -> anyhow::Result<Option<std::fs::File>> {
    use std::io::{Seek, Write};
    let Some(db) = args.sqlite_path() else {
        return Ok(None);
    };
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let path = std::path::PathBuf::from(format!("{}.lock", db.display()));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            file.rewind()?;
            writeln!(file, "{}", std::process::id())?;
            Ok(Some(file))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            bail!(
                "another midori (pid {}) is already serving {}; stop it first, or start this \
                 one with another --data-dir",
                holder.trim(),
                absolute(&db).display()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

fn init_tracing(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("MIDORI_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_tracing(&args.log_format);
    let _lock = lock_database(&args.store)?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&[
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ])
        .context("histogram buckets")?
        .install_recorder()
        .context("installing the metrics recorder")?;
    let app = Arc::new(open_app(&args.store).await?);
    let limits = Limits::new(
        args.body_bytes_max,
        Duration::from_millis(args.request_timeout_ms),
        args.concurrent_requests_max,
    );
    let listener = crate::http::bind(&args.bind)
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    tracing::info!(
        addr = %listener.local_addr()?,
        backend = app.store.backend(),
        origin = app.origin(),
        kid = app.signer().kid(),
        "midori listening"
    );
    if args.log_format != "json" {
        print_welcome(&args, &app, listener.local_addr()?).await?;
    }
    let metrics_server = match &args.metrics_bind {
        Some(addr) => {
            let listener = crate::http::bind(addr)
                .await
                .with_context(|| format!("binding the metrics address {addr}"))?;
            tracing::info!(addr = %listener.local_addr()?, "metrics listening");
            let router = crate::http::metrics_router(metrics.clone());
            Some(tokio::spawn(
                async move { axum::serve(listener, router).await },
            ))
        }
        None => None,
    };
    let watch = app.spawn_label_watch(Duration::from_secs(args.label_watch_secs.max(1)));
    let witnesses = args
        .witnesses
        .iter()
        .map(|w| crate::app::witnessing::WitnessTarget::parse(w))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("--witness: {e}"))?;
    let witnessing = app.spawn_witnessing(witnesses, Duration::from_secs(args.witness_secs.max(1)));
    let state = AppState {
        app: app.clone(),
        metrics: Some(metrics),
        limits,
    };
    crate::http::serve(listener, state).await?;
    watch.abort();
    if let Some(w) = witnessing {
        w.abort();
    }
    if let Some(server) = metrics_server {
        server.abort();
    }
    app.store.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// What a person starting the service needs next: where the docs are, and on a database without
/// an operator, the one command that creates the first credential.
async fn print_welcome(
    args: &ServeArgs,
    app: &App,
    addr: std::net::SocketAddr,
) -> anyhow::Result<()> {
    let base = format!("http://{addr}");
    eprintln!();
    eprintln!("  midori is serving at {base} ({})", app.store.backend());
    eprintln!("  API docs     {base}/docs   (OpenAPI 3.1: {base}/openapi.json)");
    eprintln!("  public keys  {base}/.well-known/jwks.json");
    if !app.store.any_party_with_role("operator").await? {
        let program = std::env::args().next().unwrap_or_else(|| "midori".into());
        let target = match (&args.store.location.database_url, args.store.sqlite_path()) {
            (None, _) => format!("--data-dir {}", args.store.location.data_dir.display()),
            (Some(_), Some(db)) => format!("--database-url sqlite://{}", db.display()),
            (Some(_), None) => "(with the same DATABASE_URL)".to_owned(),
        };
        eprintln!("  There is no operator yet. Create the first one; its API key is printed once:");
        eprintln!(
            "    {program} admin create-party {target} --role operator --name \"Operations\""
        );
    }
    eprintln!();
    Ok(())
}

async fn admin(command: AdminCommand) -> anyhow::Result<ExitCode> {
    init_tracing("text");
    match command {
        AdminCommand::CreateParty(args) => create_party(args).await,
        AdminCommand::CreateApiKey { store, party } => {
            let app = open_admin_app(&store).await?;
            let key = app.create_api_key(None, &party).await?;
            println!("{}", serde_json::to_string_pretty(&key)?);
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::RevokeApiKey { store, id } => {
            let app = open_admin_app(&store).await?;
            app.revoke_api_key(None, &id).await?;
            println!("revoked {id}");
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::RotateServiceKey { store } => {
            check_admin_target(&store)?;
            let path = store.store_args().key_file();
            if path.exists() {
                let retired = path.with_extension(format!(
                    "jwk.retired-{}",
                    format_time(time::OffsetDateTime::now_utc()).replace(':', "")
                ));
                std::fs::rename(&path, &retired)
                    .with_context(|| format!("moving {} aside", path.display()))?;
                println!("previous key kept at {}", retired.display());
            }
            let app = open_app(&store.store_args()).await?;
            println!(
                "new service key {} is active; restart the service to use it",
                app.signer().kid()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn create_party(args: CreatePartyArgs) -> anyhow::Result<ExitCode> {
    let role =
        Role::parse(&args.role).map_err(|_| anyhow::anyhow!("unknown role {:?}", args.role))?;
    let public_key = match args.public_key {
        Some(k) if k.starts_with('@') => {
            Some(std::fs::read_to_string(&k[1..]).with_context(|| format!("reading {}", &k[1..]))?)
        }
        other => other,
    };
    let attributes: PartyAttributes = serde_json::from_value(serde_json::json!({
        "name": args.name,
        "legal_name": args.legal_name,
        "lei": args.lei,
        "country": args.country,
        "investor_category": args.investor_category,
        "kyc_status": args.kyc_status,
        "kyc_expires_on": args.kyc_expires_on,
    }))
    .context("party attributes")?;
    let app = open_admin_app(&args.store).await?;
    match app
        .create_party(
            None,
            CreateParty {
                role,
                attributes,
                public_key,
            },
        )
        .await
    {
        Ok(created) => {
            println!("{}", serde_json::to_string_pretty(&created)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(crate::app::AppError::Validation(errors)) => {
            for e in errors {
                eprintln!("{}: {} ({})", e.pointer, e.detail, e.code);
            }
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}

/// `midori witness`: serve `add-checkpoint` until interrupted.
async fn witness(args: super::WitnessArgs) -> anyhow::Result<ExitCode> {
    init_tracing("text");
    let key = keyfile::read(&args.key)?;
    let mut logs = Vec::new();
    for spec in &args.logs {
        let (prefix, vkey) = spec
            .split_once('=')
            .with_context(|| format!("--log {spec:?}: expected PREFIX=VKEY"))?;
        let (name, log_key) = crate::ledger::note::parse_verifier_key(vkey)
            .with_context(|| format!("--log {spec:?}"))?;
        logs.push(crate::ledger::witness::TrustedLog {
            origin_prefix: prefix.to_owned(),
            keys: vec![(name, log_key)],
        });
    }
    let witness = crate::http::witness::Witness::open(args.name, key, logs, args.state)?;
    let listener = tokio::net::TcpListener::bind(&args.bind)
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    println!("witness vkey: {}", witness.vkey());
    println!(
        "listening on http://{}/add-checkpoint",
        listener.local_addr()?
    );
    let router = crate::http::witness::router(Arc::new(witness));
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(ExitCode::SUCCESS)
}

/// `midori label verify`: the signature with the JWK Set, then the expiry.
fn verify_label(keys: &Path, at: Option<&str>, token: Option<&Path>) -> anyhow::Result<ExitCode> {
    let text = match token {
        None => read_stdin()?,
        Some(p) if p == Path::new("-") => read_stdin()?,
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
    };
    let set: Value = serde_json::from_str(
        &std::fs::read_to_string(keys).with_context(|| format!("reading {}", keys.display()))?,
    )
    .context("the key set is not JSON")?;
    let jwks: Vec<Jwk> = serde_json::from_value(set.get("keys").cloned().unwrap_or(Value::Null))
        .context("the key set has no `keys` array of JWKs")?;
    let keys: Vec<(String, ed25519_dalek::VerifyingKey)> = jwks
        .iter()
        .filter_map(|k| {
            Some((
                k.kid.clone()?,
                crate::ledger::canon::parse_public_key(&k.x).ok()?,
            ))
        })
        .collect();
    let now = match at {
        Some(t) => time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .with_context(|| format!("--at {t:?} is not an RFC 3339 time"))?,
        None => time::OffsetDateTime::now_utc(),
    };
    match crate::ledger::jws::verify(text.trim(), &keys) {
        Err(e) => {
            println!("label does NOT verify: {e}");
            Ok(ExitCode::from(1))
        }
        Ok((kid, claims)) => {
            let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
            let status = claims
                .pointer("/label/status")
                .and_then(Value::as_str)
                .unwrap_or("?");
            let bond = claims.get("sub").and_then(Value::as_str).unwrap_or("?");
            println!("{}", serde_json::to_string_pretty(&claims)?);
            // Unix seconds in the claims (RFC 7519), a date a person reads in the summary.
            let until = time::OffsetDateTime::from_unix_timestamp(exp)
                .map(format_time)
                .unwrap_or_else(|_| exp.to_string());
            if exp <= now.unix_timestamp() {
                println!(
                    "signature OK (key {kid}), but the label EXPIRED at {until}: fetch a fresh one"
                );
                return Ok(ExitCode::from(1));
            }
            println!(
                "label OK: bond {bond} is {status:?}, signed by key {kid}, valid until {until}"
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `midori sandbox replay`: stream the export, judge every transaction again.
fn sandbox_replay(
    rulebook: &Path,
    ledger: &Path,
    json: bool,
    threads: usize,
) -> anyhow::Result<ExitCode> {
    use std::io::BufRead;
    let bytes =
        std::fs::read(rulebook).with_context(|| format!("reading {}", rulebook.display()))?;
    let rulebook = crate::sandbox::Rulebook::parse(&bytes)
        .with_context(|| format!("{} is not a valid rulebook", rulebook.display()))?;
    let file =
        std::fs::File::open(ledger).with_context(|| format!("reading {}", ledger.display()))?;
    let lines = std::io::BufReader::with_capacity(1 << 20, file).split(b'\n');
    let mut read_error = None;
    let lines = lines.map_while(|l| match l {
        Ok(l) => Some(l),
        Err(e) => {
            read_error = Some(e);
            None
        }
    });
    let outcome = crate::sandbox::ledger::replay_export(lines, &rulebook, threads);
    if let Some(e) = read_error {
        bail!("reading {}: {e}", ledger.display());
    }
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            println!("replay FAILED: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        print!("{}", outcome.summary());
    }
    let confirmed = outcome.consistent || outcome.mode == crate::sandbox::ledger::Mode::WhatIf;
    Ok(if confirmed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
