//! The command line: `serve` (the default), operator commands that work offline on the
//! database, and client tools (`keygen`, `sign`, `verify`) that need no server at all.

mod commands;
mod verify;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use commands::run;

/// midori: green and SDG bonds as security tokens on signed, verifiable ledgers.
#[derive(Debug, Parser)]
#[command(name = "midori", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `serve`, also accepted without the subcommand.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default when no subcommand is given).
    Serve(ServeArgs),
    /// Apply database migrations and exit (creates the database if there is none).
    Migrate(StoreArgs),
    /// Operator commands that work directly on the database.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Write a new Ed25519 key pair: the private JWK to FILE (mode 0600), the public JWK to stdout.
    Keygen {
        /// Where to write the private key; refuses to overwrite.
        #[arg(long)]
        out: PathBuf,
    },
    /// Turn a JSON payload into the signed request the API expects: adds `kid` and `nonce`,
    /// signs the RFC 8785 canonical bytes, prints `{"payload":…,"signature":…}`.
    Sign {
        /// Private key file written by `midori keygen`.
        #[arg(long)]
        key: PathBuf,
        /// Nonce to use; default: the current Unix time in microseconds (unique for one
        /// signer signing one request at a time).
        #[arg(long)]
        nonce: Option<u64>,
        /// Payload file; `-` or absent reads standard input.
        input: Option<PathBuf>,
    },
    /// Check a ledger export offline: every signature, canonical form, index, the Merkle root
    /// against a signed checkpoint, and (for a bond) the token and monitoring entries by
    /// replay; streaming, in one pass, signatures in batches on several threads. Exits 1
    /// naming the first bad entry.
    Verify(VerifyArgs),
    /// Run a witness (C2SP tlog-witness): cosign a ledger's checkpoints only while each is
    /// consistent with the last one cosigned, so that no service can show two histories.
    Witness(WitnessArgs),
    /// Print the OpenAPI document (as committed in openapi/openapi.json).
    Openapi,
    /// Labels: check a label JWS offline.
    #[command(subcommand)]
    Label(LabelCommand),
    /// Regulatory sandbox: replay a trial's ledger offline.
    #[command(subcommand)]
    Sandbox(SandboxCommand),
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Replay a trial's ledger export under a rulebook, deterministically (no clock: time comes
    /// from the entries). Under the rulebook the trial ran with (same SHA-256), confirms every
    /// recorded verdict or lists each mismatch (exit 1); under another version, lists the
    /// verdicts that would change. Checks every client signature too.
    Replay {
        /// The rulebook TOML file (e.g. sandbox/osaka-ifc-green-st-v1.toml).
        #[arg(long)]
        rulebook: PathBuf,
        /// JSON Lines export (`GET /v1/trials/{id}/ledger/export`).
        #[arg(long)]
        ledger: PathBuf,
        /// Print the result as JSON instead of the summary.
        #[arg(long)]
        json: bool,
        /// Threads verifying signatures.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum LabelCommand {
    /// Check a label's compact JWS against the service's JWK Set: the EdDSA signature, the
    /// claims, and the expiry (against now, or `--at`). Exits 1 if it does not verify or has
    /// expired; prints the claims.
    Verify {
        /// The service's JWK Set (`GET /.well-known/jwks.json`).
        #[arg(long)]
        keys: PathBuf,
        /// Judge expiry at this RFC 3339 time instead of now.
        #[arg(long)]
        at: Option<String>,
        /// File with the JWS (`label.jws`); `-` or absent reads standard input.
        token: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a party and print its id and API key (shown once).
    CreateParty(CreatePartyArgs),
    /// Issue another API key for a party and print it (shown once).
    CreateApiKey {
        #[command(flatten)]
        store: AdminStoreArgs,
        /// The party's id (as printed by `create-party`, or `GET /v1/parties`).
        #[arg(long)]
        party: String,
    },
    /// Revoke an API key by its id: requests bearing it are refused from then on.
    RevokeApiKey {
        #[command(flatten)]
        store: AdminStoreArgs,
        /// The API key's id (the `id` printed beside the key, not the key itself).
        #[arg(long)]
        id: String,
    },
    /// Replace the service key: the old key file is kept beside the new one as
    /// `<file>.retired-<time>`, its public key stays in the JWK Set so that everything it
    /// signed still verifies. Restart the service afterwards.
    RotateServiceKey {
        #[command(flatten)]
        store: AdminStoreArgs,
    },
}

#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// The witness's private key (written by `midori keygen`).
    #[arg(long)]
    pub key: PathBuf,
    /// The witness's name (a schema-less URL naming it, e.g. `witness.fsa.example/1`).
    #[arg(long)]
    pub name: String,
    /// A log to follow: `ORIGIN_PREFIX=VKEY`, where VKEY is the service's checkpoint key
    /// (`GET /.well-known/checkpoint-key`) and ORIGIN_PREFIX the start of its ledgers' origins
    /// (its key name and a slash); repeatable.
    #[arg(long = "log", value_name = "PREFIX=VKEY", required = true)]
    pub logs: Vec<String>,
    /// Where the witness records the last checkpoint it cosigned for each ledger.
    #[arg(long)]
    pub state: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub bind: String,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// JSON Lines export (`GET /v1/bonds/{id}/ledger/export` or `/v1/trials/{id}/ledger/export`;
    /// with `--since`, `…/ledger/export?from=SIZE`, the entries after the earlier audit).
    #[arg(long, required_unless_present = "tiles", conflicts_with = "tiles")]
    pub export: Option<PathBuf>,
    /// Signed checkpoint (`GET /v1/bonds/{id}/ledger/checkpoint`); with `--tiles`, read from
    /// `URL/checkpoint` when not given (it is checked against `--keys` all the same).
    #[arg(long, required_unless_present = "tiles")]
    pub checkpoint: Option<PathBuf>,
    /// Read the ledger from its C2SP tlog-tiles instead of an export: `URL` is the ledger's
    /// prefix (`http://HOST/v1/bonds/{id}/ledger`, or a mirror of it); the entry bundles under
    /// `URL/tile/entries/` are read in order, streaming.
    #[arg(long, value_name = "URL")]
    pub tiles: Option<String>,
    /// API key for the entry bundles where the service restricts them (a bond's issuer,
    /// operators, regulators); not sent elsewhere.
    #[arg(long, env = "MIDORI_TOKEN", hide_env_values = true, requires = "tiles")]
    pub token: Option<String>,
    /// The service's JWK Set (`GET /.well-known/jwks.json`).
    #[arg(long)]
    pub keys: PathBuf,
    /// The key log's export (`GET /v1/keys/ledger/export`): then every signer's key must be
    /// its party's active key on the key log at the entry's time.
    #[arg(long, requires = "key_log_checkpoint")]
    pub key_log: Option<PathBuf>,
    /// The key log's signed checkpoint (`GET /v1/keys/ledger/checkpoint`).
    #[arg(long, requires = "key_log")]
    pub key_log_checkpoint: Option<PathBuf>,
    /// An earlier audit of this ledger (written by `--save`): only the entries after its
    /// checkpoint are read, and the new checkpoint must extend it.
    #[arg(long)]
    pub since: Option<PathBuf>,
    /// Write this audit's record here (the checkpoint verified, the tree's frontier, the
    /// bond's state), for the next `--since`.
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Require the cosignature of this witness on the checkpoint (its vkey, as `midori witness`
    /// prints it); repeatable.
    #[arg(long = "witness", value_name = "VKEY")]
    pub witnesses: Vec<String>,
    /// Threads parsing and verifying (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CreatePartyArgs {
    #[command(flatten)]
    pub store: AdminStoreArgs,
    /// operator, issuer, investor, verifier or regulator.
    #[arg(long)]
    pub role: String,
    /// The name shown for the party (e.g. "Osaka Prefecture").
    #[arg(long)]
    pub name: String,
    /// Registered legal name, if it differs from the name.
    #[arg(long)]
    pub legal_name: Option<String>,
    /// ISO 17442 Legal Entity Identifier (check digits are validated).
    #[arg(long)]
    pub lei: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[arg(long)]
    pub country: Option<String>,
    /// qii, professional or general (investors).
    #[arg(long)]
    pub investor_category: Option<String>,
    /// pending, verified or rejected.
    #[arg(long)]
    pub kyc_status: Option<String>,
    /// YYYY-MM-DD.
    #[arg(long)]
    pub kyc_expires_on: Option<String>,
    /// Ed25519 public key: a JWK (JSON) or base64url; `@FILE` reads it from a file.
    #[arg(long)]
    pub public_key: Option<String>,
}

/// Where the service's database and key are: the same options for `serve`, `migrate` and the
/// operator commands.
#[derive(Clone, Debug, Args)]
pub struct Location {
    /// The service's data directory (its SQLite database and service key).
    #[arg(long, env = "MIDORI_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: SQLite at `<data-dir>/midori.db`.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// The service's private key (private JWK); created on the service's first start. Default
    /// `<data-dir>/service.jwk`.
    #[arg(long, env = "MIDORI_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Deployment name carried by checkpoints (`<origin>/bonds/<id>`) and the signed-note key name.
    #[arg(long, env = "MIDORI_ORIGIN", default_value = "midori.local")]
    pub origin: String,
}

/// The database an operator command works on: the running service's (same data directory or
/// `DATABASE_URL`). It is never created by accident.
#[derive(Clone, Debug, Args)]
pub struct AdminStoreArgs {
    #[command(flatten)]
    pub location: Location,
    /// Create the database (and service key) if there is none yet. Without it, a missing
    /// database is an error: run from the service's directory or pass `--data-dir`.
    #[arg(long)]
    pub init: bool,
}

impl AdminStoreArgs {
    /// The store options an operator command opens the database with: the service's, but a
    /// small pool (one command, one caller).
    pub fn store_args(&self) -> StoreArgs {
        StoreArgs {
            location: self.location.clone(),
            db_max_connections: 2,
            db_acquire_timeout_ms: crate::store::POOL_ACQUIRE_TIMEOUT_MS,
            sqlite_max_pages: None,
        }
    }
}

/// Where the database and the service key are, and the pool's options.
#[derive(Clone, Debug, Args)]
pub struct StoreArgs {
    #[command(flatten)]
    pub location: Location,
    /// Database connections at most.
    #[arg(long, env = "MIDORI_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
    /// Wait this long for a connection before answering 503.
    #[arg(long, env = "MIDORI_DB_ACQUIRE_TIMEOUT_MS", default_value_t = crate::store::POOL_ACQUIRE_TIMEOUT_MS)]
    pub db_acquire_timeout_ms: u64,
    /// SQLite: the most 4 KiB pages the database may grow to; past it writes answer 503
    /// storage-full, as on a full disk (default: no cap but the disk's).
    #[arg(long, env = "MIDORI_SQLITE_MAX_PAGES")]
    pub sqlite_max_pages: Option<u32>,
}

#[derive(Clone, Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on.
    #[arg(long, env = "MIDORI_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Log format: text or json.
    #[arg(long, env = "MIDORI_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    /// Largest request body, in bytes.
    #[arg(long, env = "MIDORI_BODY_BYTES_MAX", default_value_t = crate::http::limits::REQUEST_BODY_BYTES_MAX)]
    pub body_bytes_max: usize,
    /// Requests taking longer are answered 503 with Retry-After.
    #[arg(long, env = "MIDORI_REQUEST_TIMEOUT_MS", default_value_t = crate::http::limits::REQUEST_TIMEOUT_MS)]
    pub request_timeout_ms: u64,
    /// Requests served at once; more are answered 503 with Retry-After.
    #[arg(long, env = "MIDORI_CONCURRENT_REQUESTS_MAX", default_value_t = crate::http::limits::CONCURRENT_REQUESTS_MAX)]
    pub concurrent_requests_max: usize,
    /// Seconds between evaluations of every label's deadlines (each change becomes a ledger
    /// entry; reads always evaluate at once).
    #[arg(long, env = "MIDORI_LABEL_WATCH_SECS", default_value_t = 60)]
    pub label_watch_secs: u64,
    /// Also serve `/metrics` without an API key on this address (for a Prometheus scraper on a
    /// monitoring network); on the main address `/metrics` needs an operator's or regulator's key.
    #[arg(long, env = "MIDORI_METRICS_BIND")]
    pub metrics_bind: Option<String>,
    /// A witness to submit every ledger's checkpoints to: `VKEY=URL`, its verifier key (as
    /// `midori witness` prints it) and its submission prefix (`http://host:port`); repeatable,
    /// or comma-separated in the environment.
    #[arg(
        long = "witness",
        env = "MIDORI_WITNESSES",
        value_delimiter = ',',
        value_name = "VKEY=URL"
    )]
    pub witnesses: Vec<String>,
    /// Seconds between witnessing rounds.
    #[arg(long, env = "MIDORI_WITNESS_SECS", default_value_t = 2)]
    pub witness_secs: u64,
}

impl StoreArgs {
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.location.sqlite_path()
    }

    pub fn database_url(&self) -> String {
        self.location.database_url()
    }

    pub fn key_file(&self) -> PathBuf {
        self.location.key_file()
    }
}

impl Location {
    /// The SQLite database file, when the database is a SQLite file.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let url = self.database_url();
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("midori.db").display()))
    }

    pub fn key_file(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("service.jwk"))
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every subcommand below `command`, with its path of names.
    fn all(command: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
        out.push((path.clone(), command.clone()));
        for sub in command.get_subcommands() {
            all(sub, format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_flag_and_argument_of_every_command_has_help_text() {
        let mut commands = Vec::new();
        all(&Cli::command(), "midori".into(), &mut commands);
        let missing: Vec<String> = commands
            .iter()
            .flat_map(|(path, command)| {
                command
                    .get_arguments()
                    .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
                    .filter(|a| a.get_help().is_none_or(|h| h.to_string().trim().is_empty()))
                    .map(move |a| format!("{path} {}", a.get_id()))
            })
            .collect();
        assert!(missing.is_empty(), "without help text: {missing:?}");
    }

    #[test]
    fn operator_commands_list_only_their_own_options() {
        let mut commands = Vec::new();
        all(&Cli::command(), "midori".into(), &mut commands);
        let server_only = [
            "bind",
            "db_max_connections",
            "db_acquire_timeout_ms",
            "sqlite_max_pages",
            "log_format",
        ];
        for (path, command) in commands
            .iter()
            .filter(|(p, _)| p.starts_with("midori admin "))
        {
            let ids: Vec<&str> = command
                .get_arguments()
                .map(|a| a.get_id().as_str())
                .collect();
            assert!(ids.contains(&"data_dir"), "{path}: {ids:?}");
            assert!(ids.contains(&"init"), "{path}: {ids:?}");
            for id in server_only {
                assert!(!ids.contains(&id), "{path} lists the server's --{id}");
            }
        }
    }
}
