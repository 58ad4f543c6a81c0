//! Test harness: the real router, in process, on a fresh database (SQLite file or a new
//! PostgreSQL database), with helpers that read like the API.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt;
use midori::app::{App, Clock, CreateParty};
use midori::domain::party::{PartyAttributes, Role};
use midori::http::{AppState, Limits};
use midori::ledger::audit::{AuditFailure, AuditReport, verify_export};
use midori::ledger::canon::{Jwk, b64url, jwk_thumbprint, sign_jcs};
use midori::ledger::entry::ServiceSigner;
use midori::store::{Store, StoreOptions};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

mod postgres;

/// The PostgreSQL server the tests use (each test gets its own database on it), or `None`
/// when there is none to use: see `support/postgres.rs` for how it is chosen.
pub fn postgres_admin_url() -> Option<String> {
    postgres::admin_url()
}

/// A clock the test moves by hand.
pub struct TestClock(pub std::sync::Mutex<OffsetDateTime>);

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

pub struct TestApp {
    pub router: Router,
    pub app: Arc<App>,
    pub clock: Arc<TestClock>,
    /// The database, and the service key, for a second service process on them.
    url: String,
    service_key: SigningKey,
    _dir: Option<TempDir>,
}

pub struct TempDir(pub std::path::PathBuf);

/// A value bound to a statement of [`TestApp::sql`].
pub enum SqlArg<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A party as a test sees it: its id, bearer token, role and signing key.
#[derive(Clone)]
pub struct Party {
    pub id: String,
    pub token: String,
    pub key: SigningKey,
    nonce: Arc<AtomicU64>,
}

impl Party {
    pub fn kid(&self) -> String {
        jwk_thumbprint(&self.key.verifying_key())
    }

    /// Sign `payload` (adding kid and the next nonce) with this party's key.
    pub fn sign(&self, mut payload: Value) -> Value {
        let nonce = self.nonce.fetch_add(1, Ordering::SeqCst) + 1;
        self.sign_with(&mut payload, &self.key.clone(), nonce)
    }

    pub fn sign_with(&self, payload: &mut Value, key: &SigningKey, nonce: u64) -> Value {
        let object = payload.as_object_mut().expect("payload is an object");
        object.insert(
            "kid".into(),
            Value::String(jwk_thumbprint(&key.verifying_key())),
        );
        object.insert("nonce".into(), Value::String(nonce.to_string()));
        let signature = sign_jcs(payload, key).unwrap();
        json!({ "payload": payload, "signature": signature })
    }

    /// The same party (id, API key, nonces) signing with `key` instead of its own: someone
    /// holding its API key but not its private key.
    pub fn with_key(&self, key: SigningKey) -> Party {
        Party {
            key,
            ..self.clone()
        }
    }

    pub fn next_nonce(&self) -> u64 {
        self.nonce.fetch_add(1, Ordering::SeqCst) + 1
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn content_type(&self) -> String {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    }
    /// Assert a problem+json answer with this status and problem slug; return the body.
    #[track_caller]
    pub fn problem(&self, status: u16, slug: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "body: {}",
            self.text()
        );
        let body = self.json();
        assert_eq!(
            body["type"],
            format!("urn:midori:problem:{slug}"),
            "body: {body}"
        );
        assert_eq!(body["status"], status);
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        body
    }
}

static SEED: AtomicU64 = AtomicU64::new(1);

pub fn fresh_key() -> SigningKey {
    // Deterministic per process but distinct per call; tests do not need secrecy.
    let n = SEED.fetch_add(1, Ordering::SeqCst);
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&n.to_le_bytes());
    seed[8..16].copy_from_slice(&std::process::id().to_le_bytes().repeat(2));
    let t = OffsetDateTime::now_utc().unix_timestamp_nanos() as u64;
    seed[16..24].copy_from_slice(&t.to_le_bytes());
    SigningKey::from_bytes(&seed)
}

impl TestApp {
    /// Move the service's clock (entry times, and the dates rules are judged on).
    pub fn set_time(&self, time: OffsetDateTime) {
        *self.clock.0.lock().unwrap() = time;
    }

    pub async fn start(backend: Backend) -> TestApp {
        Self::start_with(backend, Limits::default()).await
    }

    /// A test app on `backend`, or `None` for PostgreSQL on a machine that has none (the
    /// test then returns; `support/postgres.rs` has printed why).
    pub async fn try_start(backend: Backend) -> Option<TestApp> {
        if backend == Backend::Postgres && postgres_admin_url().is_none() {
            return None;
        }
        Some(Self::start(backend).await)
    }

    pub async fn start_with(backend: Backend, limits: Limits) -> TestApp {
        let (url, dir) = match backend {
            Backend::Sqlite => {
                let dir =
                    std::env::temp_dir().join(format!("midori-test-{}", uuid::Uuid::now_v7()));
                std::fs::create_dir_all(&dir).unwrap();
                (
                    format!("sqlite://{}", dir.join("midori.db").display()),
                    Some(TempDir(dir)),
                )
            }
            Backend::Postgres => (fresh_postgres_database().await, None),
        };
        let clock = Arc::new(TestClock(std::sync::Mutex::new(
            time::macros::datetime!(2026-04-01 09:00:00 UTC),
        )));
        Self::on(url, fresh_key(), clock, limits, dir).await
    }

    /// A test app on the SQLite database at `url` (made before, in `dir`), opened with
    /// `options`.
    pub async fn on_sqlite(url: String, dir: TempDir, options: &StoreOptions) -> TestApp {
        let clock = Arc::new(TestClock(std::sync::Mutex::new(
            time::macros::datetime!(2026-04-01 09:00:00 UTC),
        )));
        Self::on_with(
            url,
            fresh_key(),
            clock,
            Limits::default(),
            Some(dir),
            options,
        )
        .await
    }

    async fn on(
        url: String,
        service_key: SigningKey,
        clock: Arc<TestClock>,
        limits: Limits,
        dir: Option<TempDir>,
    ) -> TestApp {
        Self::on_with(
            url,
            service_key,
            clock,
            limits,
            dir,
            &StoreOptions::default(),
        )
        .await
    }

    async fn on_with(
        url: String,
        service_key: SigningKey,
        clock: Arc<TestClock>,
        limits: Limits,
        dir: Option<TempDir>,
        options: &StoreOptions,
    ) -> TestApp {
        let store = Store::connect(&url, options)
            .await
            .expect("database reachable");
        let app = Arc::new(
            App::new(
                store,
                ServiceSigner::new(service_key.clone()),
                "midori.test".into(),
                clock.clone(),
            )
            .await
            .unwrap(),
        );
        let state = AppState {
            app: app.clone(),
            metrics: None,
            limits,
        };
        TestApp {
            router: midori::http::router(state),
            app,
            clock,
            url,
            service_key,
            _dir: dir,
        }
    }

    /// Run one SQL statement directly on the database, outside the service (what an operator
    /// with database access could do), binding `args` as text or bytes.
    pub async fn sql(&self, statement: &str, args: &[SqlArg<'_>]) {
        use sqlx::Connection;
        let statement = sqlx::AssertSqlSafe(statement.to_owned());
        if self.url.starts_with("postgres") {
            let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
            let mut q = sqlx::query(statement);
            for a in args {
                q = match a {
                    SqlArg::Text(t) => q.bind(t.to_string()),
                    SqlArg::Bytes(b) => q.bind(b.to_vec()),
                };
            }
            q.execute(&mut c).await.unwrap();
        } else {
            let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            let mut q = sqlx::query(statement);
            for a in args {
                q = match a {
                    SqlArg::Text(t) => q.bind(t.to_string()),
                    SqlArg::Bytes(b) => q.bind(b.to_vec()),
                };
            }
            q.execute(&mut c).await.unwrap();
        }
    }

    /// A second service process on the same database, with the same service key and clock
    /// (an operator running two by mistake, or a restart overlapping the old process).
    pub async fn second_process(&self) -> TestApp {
        Self::on(
            self.url.clone(),
            self.service_key.clone(),
            self.clock.clone(),
            Limits::default(),
            None,
        )
        .await
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(v) => {
                builder = builder.header("content-type", "application/json");
                Body::from(serde_json::to_vec(&v).unwrap())
            }
            None => Body::empty(),
        };
        self.raw(builder.body(body).unwrap()).await
    }

    pub async fn raw(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, path, token, Some(body)).await
    }

    /// Create a party directly (as the admin CLI does), with a fresh signing key.
    pub async fn party(&self, role: Role, name: &str) -> Party {
        let key = fresh_key();
        let attributes: PartyAttributes =
            serde_json::from_value(default_attributes(role, name)).unwrap();
        let created = self
            .app
            .create_party(
                None,
                CreateParty {
                    role,
                    attributes,
                    public_key: Some(b64url(key.verifying_key().as_bytes())),
                },
            )
            .await
            .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
        Party {
            id: created.party.id,
            token: created.api_key,
            key,
            nonce: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Register `spec` as `issuer`; panics unless it is accepted. Returns the bond id.
    pub async fn register(&self, issuer: &Party, spec: Value) -> String {
        let reply = self
            .post(
                "/v1/bonds",
                Some(&issuer.token),
                issuer.sign(json!({"type": "bond.register", "bond": spec})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.json()["bond"]["id"].as_str().unwrap().to_owned()
    }

    /// The service's signing key (to forge what a dishonest operator could sign).
    pub fn service_key(&self) -> &SigningKey {
        &self.service_key
    }

    pub async fn jwks(&self) -> Vec<Jwk> {
        serde_json::from_value(
            self.get("/.well-known/jwks.json", None).await.json()["keys"].clone(),
        )
        .unwrap()
    }

    /// A bond's export as `token` reads it, and what `midori verify` says of it offline
    /// against the bond's latest checkpoint and the published keys.
    pub async fn export_and_verify(
        &self,
        bond: &str,
        token: &str,
    ) -> (String, Result<AuditReport, AuditFailure>) {
        let export = self
            .get(&format!("/v1/bonds/{bond}/ledger/export"), Some(token))
            .await
            .text();
        let checkpoint = self
            .get(&format!("/v1/bonds/{bond}/ledger/checkpoint"), None)
            .await
            .text();
        let verified = verify_export(
            export.lines().map(str::as_bytes),
            &checkpoint,
            &self.jwks().await,
        );
        (export, verified)
    }
}

/// Attributes that pass validation for each role.
pub fn default_attributes(role: Role, name: &str) -> Value {
    match role {
        Role::Investor => {
            json!({"name": name, "country": "JP", "investor_category": "qii", "kyc_status": "verified", "kyc_expires_on": "2030-12-31"})
        }
        Role::Issuer => {
            json!({"name": name, "legal_name": format!("{name} K.K."), "lei": "5493001KJTIIGC8Y1R12", "country": "JP"})
        }
        _ => json!({"name": name, "country": "JP"}),
    }
}

pub fn green_spec() -> Value {
    serde_json::to_value(midori::domain::bond::examples::green()).unwrap()
}

async fn fresh_postgres_database() -> String {
    use sqlx::Connection;
    let admin = postgres_admin_url().expect("a PostgreSQL server for the tests");
    let name = format!("midori_test_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must be reachable at {admin} for the tests: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/{name}")
}

/// Run a scenario once on SQLite and once on PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = $crate::support::TestApp::start($crate::support::Backend::Sqlite).await;
                ($body)(t).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(t) =
                    $crate::support::TestApp::try_start($crate::support::Backend::Postgres).await
                else {
                    return;
                };
                ($body)(t).await;
            }
        }
    };
}

impl TestApp {
    /// Sign and send a token operation as `party` on `bond` (adds bond_id and a fresh
    /// operation_id unless the payload has one).
    /// Send a signed monitoring payload (`type`, with `member` set to `value`) to
    /// `/v1/bonds/{bond}/{path}`.
    pub async fn monitor(
        &self,
        party: &Party,
        bond: &str,
        path: &str,
        kind: &str,
        member: &str,
        value: Value,
    ) -> Reply {
        let mut payload = json!({ "type": kind, "bond_id": bond });
        payload[member] = value;
        self.post(
            &format!("/v1/bonds/{bond}/{path}"),
            Some(&party.token),
            party.sign(payload),
        )
        .await
    }

    pub async fn op(&self, party: &Party, bond: &str, mut payload: Value) -> Reply {
        payload["bond_id"] = Value::String(bond.to_owned());
        if payload.get("operation_id").is_none() {
            payload["operation_id"] = Value::String(uuid::Uuid::now_v7().to_string());
        }
        self.post(
            &format!("/v1/bonds/{bond}/operations"),
            Some(&party.token),
            party.sign(payload),
        )
        .await
    }

    /// The dry-run verdict for `payload` by `party`.
    pub async fn check(&self, party: &Party, bond: &str, mut payload: Value) -> Value {
        payload["bond_id"] = Value::String(bond.to_owned());
        let reply = self
            .post(
                &format!("/v1/bonds/{bond}/operations/check"),
                Some(&party.token),
                payload,
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()
    }

    /// Balances of the current register, by holder id.
    pub async fn balances(
        &self,
        reader: &Party,
        bond: &str,
    ) -> std::collections::BTreeMap<String, u64> {
        let reply = self
            .get(&format!("/v1/bonds/{bond}/holders"), Some(&reader.token))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()["holders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["holder"].as_str().unwrap().to_owned(),
                    h["balance"].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect()
    }
}

impl TestApp {
    /// Osaka Prefecture's example green bond, with 6,000 tokens issued to Kansai Pension Fund
    /// and 3,000 to Naniwa Trust Bank: (issuer, bond, first holder, second holder).
    pub async fn bond_with_two_holders(&self) -> (Party, String, Party, Party) {
        let issuer = self.party(Role::Issuer, "Osaka Prefecture").await;
        let bond = self.register(&issuer, green_spec()).await;
        let a = self.party(Role::Investor, "Kansai Pension Fund").await;
        let b = self.party(Role::Investor, "Naniwa Trust Bank").await;
        created(
            &self
                .op(
                    &issuer,
                    &bond,
                    json!({"type": "token.issue", "allocations": [
                        {"investor": a.id, "quantity": "6000"}, {"investor": b.id, "quantity": "3000"}]}),
                )
                .await,
        );
        (issuer, bond, a, b)
    }

    /// The regulator's audit of one bond's ledger (`GET /v1/audit/ledgers`), asserted to
    /// verify and to find the state served equal to the replay.
    pub async fn audit_of_bond(&self, bond: &str) -> Value {
        let regulator = self.party(Role::Regulator, "FSA Kinki").await;
        let reply = self.get("/v1/audit/ledgers", Some(&regulator.token)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let audit = reply.json();
        let line = audit
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == bond)
            .unwrap_or_else(|| panic!("bond {bond} is not audited: {audit}"))
            .clone();
        assert_eq!(line["verified"], true, "{line}");
        assert!(
            line["detail"]
                .as_str()
                .unwrap()
                .contains("the state served matches the replay"),
            "{line}"
        );
        line
    }
}

/// The body of a 201 reply; panics with the reply otherwise.
#[track_caller]
pub fn created(reply: &Reply) -> Value {
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()
}

/// The rule codes of a 422 rule-violation problem.
#[track_caller]
pub fn violation_codes(reply: &Reply) -> Vec<String> {
    let body = reply.problem(422, "rule-violation");
    body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["code"].as_str().unwrap().to_owned())
        .collect()
}
