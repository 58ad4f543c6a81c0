//! The authorisation matrix: every endpoint of the OpenAPI document, called as every kind of
//! caller, with the expected status of each cell written down in one table. Refusals are
//! problems (`401 unauthenticated`, `403 forbidden`).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::Method;
use midori::domain::party::Role;
use midori::ledger::canon::{b64url, jwk_thumbprint, sign_jcs};
use serde_json::{Value, json};

use crate::on_both;
use crate::support::*;

/// Who calls. The order is the order of the columns of [`Endpoint::expect`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    /// No `Authorization` header.
    Public,
    Operator,
    /// The issuer that registered the bond the path names.
    Owner,
    /// An issuer, but not of that bond.
    OtherIssuer,
    /// The investor whose id the party paths name.
    Investor,
    Verifier,
    Regulator,
}

const CALLERS: [Caller; 7] = [
    Caller::Public,
    Caller::Operator,
    Caller::Owner,
    Caller::OtherIssuer,
    Caller::Investor,
    Caller::Verifier,
    Caller::Regulator,
];

/// What `{id}` in the path template stands for.
#[derive(Clone, Copy, Debug)]
enum Subject {
    None,
    /// The investor's party id.
    Investor,
    /// The bond registered by the owner.
    Bond,
    /// A fresh API key of the investor, created for this cell alone.
    ApiKey,
    /// The trial created by the regulator.
    Trial,
    /// [`NO_RECOVERY`]: a recovery id that no request made.
    Recovery,
    /// A label scheme midori ships (`icma-gbp`).
    Scheme,
}

/// A well-formed recovery id that names no pending recovery.
const NO_RECOVERY: &str = "01a24ed6-0000-7000-8000-000000000001";

/// The request body of a cell. Bodies that change state are fresh for every cell, so that no
/// cell depends on the order of the others.
#[derive(Clone, Copy, Debug)]
enum Body {
    None,
    /// `POST /v1/parties`: an investor with a fresh key.
    NewParty,
    /// `POST /v1/parties/{id}/keys`: a fresh first key with its proof of possession, for the
    /// investor, who has a key already (so it is never registered: 409 where the caller may).
    NewKey,
    /// `POST /v1/parties/{id}/keys/recoveries`: a fresh key for the investor, with its proof
    /// and a reason (a pending request changes no key).
    Recovery,
    /// `POST /v1/keys/recoveries/{id}/approve`: an approval of [`NO_RECOVERY`], signed by the
    /// caller's own key (409 where the caller may approve: nothing is waiting).
    Approval,
    /// `POST /v1/parties/{id}/keys/rotate`: a rotation signed by the caller's own key, whose
    /// new-key signature does not verify (so no key ever changes: 422 where the caller may).
    BadRotation,
    /// A `bond.register` of the green example, signed by the caller's own key.
    SignedBond,
    /// A `bond.add_document` with a fresh hash, signed by the caller's own key.
    SignedDocument,
    /// A `bond.pause` (an issuer-only operation) with a reason and a fresh operation id, signed
    /// by the caller's own key. A pause that goes through is lifted at once (see [`call`]), so
    /// that later cells find the bond unpaused.
    SignedPause,
    /// An unsigned `token.transfer` of one token to the investor, for the dry run.
    DryRunTransfer,
    /// A `project.register` of a fresh project, signed by the caller's own key.
    SignedProject,
    /// An `allocation.report` of the first period (nothing issued, nothing allocated).
    SignedAllocation,
    /// An `impact.report` on the project the world registered.
    SignedImpact,
    /// A `review.engage` of the world's verifier (the owner's cell engages it, so that the
    /// verifier's review cell below passes).
    SignedEngagement,
    /// A `review.submit` (pre-issuance) with a fresh review id.
    SignedReview,
    /// A label token to check (not a valid one: the check still answers 200).
    LabelToken,
    /// A `trial.create` with the shipped rulebook, signed by the caller's own key.
    SignedTrial,
    /// A `sandbox.tx` consent with a fresh transaction id (judged and recorded, even if refused).
    SignedTrialTx,
    /// `{}`: replay under the rulebook the trial ran with.
    EmptyObject,
}

struct Endpoint {
    method: &'static str,
    /// The OpenAPI path template, then the query string, if any.
    path: &'static str,
    subject: Subject,
    body: Body,
    /// Expected status for: public, operator, owner issuer, other issuer, investor, verifier,
    /// regulator.
    expect: [u16; 7],
}

const fn endpoint(
    method: &'static str,
    path: &'static str,
    subject: Subject,
    body: Body,
    expect: [u16; 7],
) -> Endpoint {
    Endpoint {
        method,
        path,
        subject,
        body,
        expect,
    }
}

const EVERYONE_200: [u16; 7] = [200; 7];

#[rustfmt::skip]
const MATRIX: &[Endpoint] = &[
    //                                                                                                      public op   owner other inv  verif reg
    endpoint("GET",    "/healthz",                                      Subject::None,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/readyz",                                       Subject::None,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/metrics",                                      Subject::None,     Body::None,           [401, 200, 403, 403, 403, 403, 200]),
    endpoint("GET",    "/.well-known/jwks.json",                        Subject::None,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/.well-known/checkpoint-key",                   Subject::None,     Body::None,           EVERYONE_200),
    endpoint("POST",   "/v1/parties",                                   Subject::None,     Body::NewParty,       [401, 201, 403, 403, 403, 403, 403]),
    endpoint("GET",    "/v1/parties",                                   Subject::None,     Body::None,           [401, 200, 403, 403, 403, 403, 200]),
    endpoint("GET",    "/v1/parties/{id}",                              Subject::Investor, Body::None,           [401, 200, 403, 403, 200, 403, 200]),
    endpoint("GET",    "/v1/parties/{id}/keys",                         Subject::Investor, Body::None,           EVERYONE_200),
    endpoint("POST",   "/v1/parties/{id}/keys",                         Subject::Investor, Body::NewKey,         [401, 409, 403, 403, 409, 403, 403]),
    endpoint("POST",   "/v1/parties/{id}/keys/rotate",                  Subject::Investor, Body::BadRotation,    [401, 403, 403, 403, 422, 403, 403]),
    // The key log is public history.
    endpoint("GET",    "/v1/keys/ledger/checkpoint",                    Subject::None,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/keys/ledger/entries",                       Subject::None,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/keys/ledger/proofs/inclusion?index=0",      Subject::None,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/keys/ledger/proofs/consistency?old_size=1", Subject::None,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/keys/ledger/export",                        Subject::None,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/keys/ledger/tile/{level}/{index}",          Subject::None,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/keys/ledger/tile/entries/{index}",          Subject::None,     Body::None,           EVERYONE_200),
    endpoint("POST",   "/v1/parties/{id}/keys/recoveries",              Subject::Investor, Body::Recovery,       [401, 201, 403, 403, 403, 403, 403]),
    endpoint("POST",   "/v1/keys/recoveries/{id}/approve",              Subject::Recovery, Body::Approval,       [401, 403, 403, 403, 403, 403, 409]),
    endpoint("POST",   "/v1/parties/{id}/api-keys",                     Subject::Investor, Body::None,           [401, 201, 403, 403, 403, 403, 403]),
    endpoint("DELETE", "/v1/api-keys/{id}",                             Subject::ApiKey,   Body::None,           [401, 204, 403, 403, 403, 403, 403]),
    endpoint("POST",   "/v1/bonds",                                     Subject::None,     Body::SignedBond,     [401, 403, 201, 201, 403, 403, 403]),
    endpoint("GET",    "/v1/bonds",                                     Subject::None,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/bonds/{id}",                                Subject::Bond,     Body::None,           EVERYONE_200),
    endpoint("POST",   "/v1/bonds/{id}/documents",                      Subject::Bond,     Body::SignedDocument, [401, 403, 201, 403, 403, 403, 403]),
    endpoint("GET",    "/v1/bonds/{id}/documents",                      Subject::Bond,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/bonds/{id}/ledger/checkpoint",              Subject::Bond,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/bonds/{id}/ledger/proofs/inclusion?index=0",Subject::Bond,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/bonds/{id}/ledger/proofs/consistency?old_size=1", Subject::Bond, Body::None,         EVERYONE_200),
    endpoint("GET",    "/v1/bonds/{id}/ledger/entries",                 Subject::Bond,     Body::None,           [401, 200, 200, 403, 403, 403, 200]),
    endpoint("GET",    "/v1/bonds/{id}/ledger/export",                  Subject::Bond,     Body::None,           [401, 200, 200, 403, 403, 403, 200]),
    // Hash tiles are public, as proofs are; entry bundles are the entries.
    endpoint("GET",    "/v1/bonds/{id}/ledger/tile/{level}/{index}",    Subject::Bond,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/bonds/{id}/ledger/tile/entries/{index}",    Subject::Bond,     Body::None,           [401, 200, 200, 403, 403, 403, 200]),
    endpoint("POST",   "/v1/bonds/{id}/operations",                     Subject::Bond,     Body::SignedPause,    [401, 403, 201, 403, 403, 403, 403]),
    endpoint("POST",   "/v1/bonds/{id}/operations/check",               Subject::Bond,     Body::DryRunTransfer, [401, 200, 200, 200, 200, 200, 200]),
    endpoint("GET",    "/v1/bonds/{id}/holders",                        Subject::Bond,     Body::None,           [401, 200, 200, 403, 403, 403, 200]),
    endpoint("GET",    "/v1/parties/{id}/positions",                    Subject::Investor, Body::None,           [401, 200, 403, 403, 200, 403, 200]),
    endpoint("GET",    "/v1/parties/{id}/history",                      Subject::Investor, Body::None,           [401, 200, 403, 403, 200, 403, 200]),
    endpoint("GET",    "/v1/bonds/{id}/coupons",                        Subject::Bond,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/bonds/{id}/coupons/{period}/entitlements",  Subject::Bond,     Body::None,           [401, 200, 200, 403, 403, 403, 200]),
    endpoint("POST",   "/v1/bonds/{id}/projects",                       Subject::Bond,     Body::SignedProject,  [401, 403, 201, 403, 403, 403, 403]),
    endpoint("GET",    "/v1/bonds/{id}/projects",                       Subject::Bond,     Body::None,           EVERYONE_200),
    endpoint("POST",   "/v1/bonds/{id}/allocation-reports",             Subject::Bond,     Body::SignedAllocation, [401, 403, 201, 403, 403, 403, 403]),
    endpoint("GET",    "/v1/bonds/{id}/allocation",                     Subject::Bond,     Body::None,           EVERYONE_200),
    endpoint("POST",   "/v1/bonds/{id}/impact-reports",                 Subject::Bond,     Body::SignedImpact,   [401, 403, 201, 403, 403, 403, 403]),
    endpoint("GET",    "/v1/bonds/{id}/impact",                         Subject::Bond,     Body::None,           EVERYONE_200),
        endpoint("POST",   "/v1/bonds/{id}/reviewers",                      Subject::Bond,     Body::SignedEngagement, [401, 403, 201, 403, 403, 403, 403]),
    endpoint("POST",   "/v1/bonds/{id}/reviews",                        Subject::Bond,     Body::SignedReview,   [401, 403, 403, 403, 403, 201, 403]),
    endpoint("GET",    "/v1/bonds/{id}/reviews",                        Subject::Bond,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/bonds/{id}/label",                          Subject::Bond,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/bonds/{id}/label/history",                  Subject::Bond,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/labels",                                    Subject::None,     Body::None,           EVERYONE_200),
    endpoint("POST",   "/v1/labels/verify",                             Subject::None,     Body::LabelToken,     EVERYONE_200),
    endpoint("GET",    "/v1/label-schemes",                             Subject::None,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/label-schemes/{id}",                        Subject::Scheme,     Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/parties/{id}/impact",                       Subject::Investor, Body::None,           [401, 200, 403, 403, 200, 403, 200]),
    endpoint("GET",    "/v1/impact/indicators",                         Subject::None,     Body::None,           EVERYONE_200),
    endpoint("POST",   "/v1/trials",                                    Subject::None,     Body::SignedTrial,    [401, 403, 403, 403, 403, 403, 201]),
    endpoint("GET",    "/v1/trials",                                    Subject::None,     Body::None,           REGULATOR_ONLY),
    endpoint("GET",    "/v1/trials/{id}",                               Subject::Trial,    Body::None,           REGULATOR_ONLY),
    // Only the trial's regulator and the parties it admitted (none here) write to a trial.
    endpoint("POST",   "/v1/trials/{id}/transactions",                  Subject::Trial,    Body::SignedTrialTx,  [401, 403, 403, 403, 403, 403, 201]),
    endpoint("GET",    "/v1/trials/{id}/ledger/checkpoint",             Subject::Trial,    Body::None,           EVERYONE_200),
        endpoint("GET",    "/v1/trials/{id}/ledger/export",                 Subject::Trial,    Body::None,           REGULATOR_ONLY),
    endpoint("GET",    "/v1/trials/{id}/ledger/entries",                Subject::Trial,    Body::None,           REGULATOR_ONLY),
    endpoint("GET",    "/v1/trials/{id}/ledger/proofs/inclusion?index=0", Subject::Trial, Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/trials/{id}/ledger/proofs/consistency?old_size=1", Subject::Trial, Body::None,      EVERYONE_200),
    endpoint("GET",    "/v1/trials/{id}/ledger/tile/{level}/{index}",   Subject::Trial,    Body::None,           EVERYONE_200),
    endpoint("GET",    "/v1/trials/{id}/ledger/tile/entries/{index}",   Subject::Trial,    Body::None,           REGULATOR_ONLY),
    endpoint("POST",   "/v1/trials/{id}/replay",                        Subject::Trial,    Body::EmptyObject,    REGULATOR_ONLY),
    endpoint("GET",    "/v1/trials/{id}/report",                        Subject::Trial,    Body::None,           REGULATOR_ONLY),
    endpoint("GET",    "/v1/audit/ledgers",                             Subject::None,     Body::None,           REGULATOR_ONLY),
];

const REGULATOR_ONLY: [u16; 7] = [401, 403, 403, 403, 403, 403, 200];
const RULEBOOK: &str = include_str!("../../sandbox/osaka-ifc-green-st-v1.toml");

/// The parties and the bond every cell works on.
struct World {
    operator: Party,
    owner: Party,
    other_issuer: Party,
    investor: Party,
    verifier: Party,
    regulator: Party,
    bond: String,
    trial: String,
}

impl World {
    async fn new(t: &TestApp) -> World {
        let owner = t.party(Role::Issuer, "Osaka Prefecture").await;
        let bond = t.register(&owner, green_spec()).await;
        let project = owner.sign(json!({"type": "project.register", "bond_id": bond,
            "project": project("ACCESS-0")}));
        let reply = t
            .post(
                &format!("/v1/bonds/{bond}/projects"),
                Some(&owner.token),
                project,
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        let regulator = t.party(Role::Regulator, "Kinki Local Finance Bureau").await;
        let created = t
            .post(
                "/v1/trials",
                Some(&regulator.token),
                regulator.sign(json!({"type": "trial.create",
                "trial": {"title": "Access matrix trial", "rulebook": RULEBOOK}})),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
        let trial = created.json()["trial"]["id"].as_str().unwrap().to_owned();
        World {
            trial,
            operator: t.party(Role::Operator, "Exchange operations").await,
            other_issuer: t.party(Role::Issuer, "Sakai City").await,
            investor: t.party(Role::Investor, "Kansai Pension Fund").await,
            verifier: t.party(Role::Verifier, "Green Review K.K.").await,
            regulator,
            owner,
            bond,
        }
    }

    fn party(&self, caller: Caller) -> Option<&Party> {
        match caller {
            Caller::Public => None,
            Caller::Operator => Some(&self.operator),
            Caller::Owner => Some(&self.owner),
            Caller::OtherIssuer => Some(&self.other_issuer),
            Caller::Investor => Some(&self.investor),
            Caller::Verifier => Some(&self.verifier),
            Caller::Regulator => Some(&self.regulator),
        }
    }
}

fn fresh_public_key() -> String {
    b64url(fresh_key().verifying_key().as_bytes())
}

/// Sign `payload` as `party` would; without a party (the public), with a key nobody registered.
fn signed_by(party: Option<&Party>, payload: Value) -> Value {
    match party {
        Some(party) => party.sign(payload),
        None => {
            let key = fresh_key();
            let mut payload = payload;
            payload["kid"] = json!(jwk_thumbprint(&key.verifying_key()));
            payload["nonce"] = json!("1");
            let signature = sign_jcs(&payload, &key).unwrap();
            json!({"payload": payload, "signature": signature})
        }
    }
}

static DOCUMENTS: AtomicU64 = AtomicU64::new(1);
static OPERATIONS: AtomicU64 = AtomicU64::new(1);
static PROJECTS: AtomicU64 = AtomicU64::new(1);

fn project(id: &str) -> Value {
    json!({"project_id": id, "name": "Access matrix solar", "category": "renewable_energy",
        "country": "JP", "location": "Osaka", "total_cost": "1000000", "financing_share": "100",
        "status": "planned", "useful_life_years": "20"})
}

fn body(kind: Body, caller: Option<&Party>, world: &World) -> Option<Value> {
    match kind {
        Body::None => None,
        Body::NewParty => Some(json!({
            "role": "investor",
            "attributes": default_attributes(Role::Investor, "Namba Trust"),
            "public_key": fresh_public_key(),
        })),
        Body::NewKey => {
            let key = fresh_key();
            let statement = midori::app::possession_statement(&world.investor.id);
            Some(json!({"public_key": b64url(key.verifying_key().as_bytes()),
                        "possession": sign_jcs(&statement, &key).unwrap()}))
        }
        Body::Recovery => {
            let key = fresh_key();
            let statement = midori::app::possession_statement(&world.investor.id);
            Some(json!({"public_key": b64url(key.verifying_key().as_bytes()),
                        "possession": sign_jcs(&statement, &key).unwrap(),
                        "reason": "access matrix: the investor reports a lost key"}))
        }
        Body::Approval => Some(signed_by(
            caller,
            json!({"type": "key.recovery_approve", "recovery_id": NO_RECOVERY,
                   "party_id": world.investor.id, "new_key": fresh_public_key()}),
        )),
        Body::BadRotation => {
            let mut signed = signed_by(
                caller,
                json!({"type": "key.rotate", "party_id": world.investor.id,
                       "new_key": fresh_public_key()}),
            );
            signed["new_key_signature"] = json!(b64url(&[7u8; 64]));
            Some(signed)
        }
        Body::SignedBond => Some(signed_by(
            caller,
            json!({"type": "bond.register", "bond": green_spec()}),
        )),
        Body::SignedDocument => {
            let n = DOCUMENTS.fetch_add(1, Ordering::SeqCst);
            Some(signed_by(
                caller,
                json!({"type": "bond.add_document", "bond_id": world.bond, "document": {
                    "kind": "other",
                    "uri": format!("https://example.org/x-{n}.pdf"),
                    "sha256": format!("{n:064x}"),
                }}),
            ))
        }
        Body::SignedPause => {
            let n = OPERATIONS.fetch_add(1, Ordering::SeqCst);
            Some(signed_by(
                caller,
                json!({"type": "bond.pause", "bond_id": world.bond,
                    "operation_id": format!("access-pause-{n}"), "reason": "access matrix"}),
            ))
        }
        Body::SignedProject => {
            let n = PROJECTS.fetch_add(1, Ordering::SeqCst);
            Some(signed_by(
                caller,
                json!({"type": "project.register", "bond_id": world.bond,
                    "project": project(&format!("ACCESS-{n}"))}),
            ))
        }
        Body::SignedAllocation => Some(signed_by(
            caller,
            json!({"type": "allocation.report", "bond_id": world.bond, "allocation": {
                "period_start": "2025-06-20", "period_end": "2025-12-31", "lines": [],
                "unallocated": {"amount": "0", "placement": "nothing issued yet"}}}),
        )),
        Body::SignedImpact => Some(signed_by(
            caller,
            json!({"type": "impact.report", "bond_id": world.bond, "impact": {
                "period_start": "2025-06-20", "period_end": "2025-12-31", "basis": "ex_ante",
                "figures": [{"projects": ["ACCESS-0"], "indicator": "renewable_capacity",
                    "value": "1.5", "unit": "MW", "methodology": "nameplate", "baseline": "none"}]}}),
        )),
        Body::SignedEngagement => Some(signed_by(
            caller,
            json!({"type": "review.engage", "bond_id": world.bond,
                "engagement": {"verifier": world.verifier.id}}),
        )),
        Body::SignedReview => {
            let n = PROJECTS.fetch_add(1, Ordering::SeqCst);
            Some(signed_by(
                caller,
                json!({"type": "review.submit", "bond_id": world.bond, "review": {
                    "review_id": format!("ACCESS-SPO-{n}"), "kind": "pre_issuance",
                    "conclusion": "positive", "summary": "access matrix"}}),
            ))
        }
        Body::LabelToken => Some(json!({"jws": "e30.e30.AAAA"})),
        Body::SignedTrial => Some(signed_by(
            caller,
            json!({"type": "trial.create", "trial": {"title": "Another trial", "rulebook": RULEBOOK}}),
        )),
        Body::SignedTrialTx => {
            let n = PROJECTS.fetch_add(1, Ordering::SeqCst);
            Some(signed_by(
                caller,
                json!({"type": "sandbox.tx", "trial_id": world.trial, "tx_id": format!("access-{n}"),
                    "body": {"type": "disclosure.consent", "disclosure_version": "v0"}}),
            ))
        }
        Body::EmptyObject => Some(json!({})),
        Body::DryRunTransfer => Some(json!({
            "type": "token.transfer", "bond_id": world.bond,
            "to": world.investor.id, "quantity": "1",
        })),
    }
}

fn slug(status: u16) -> Option<&'static str> {
    match status {
        401 => Some("unauthenticated"),
        403 => Some("forbidden"),
        // Cells where the caller passes authorisation and the body is refused on purpose.
        409 => Some("conflict"),
        422 => Some("signature-invalid"),
        _ => None,
    }
}

/// Call `endpoint` as `caller`, with a path and body made fresh for this cell.
async fn call(t: &TestApp, world: &World, endpoint: &Endpoint, caller: Caller) -> (String, Reply) {
    let id = match endpoint.subject {
        Subject::None => String::new(),
        Subject::Investor => world.investor.id.clone(),
        Subject::Bond => world.bond.clone(),
        Subject::Trial => world.trial.clone(),
        Subject::Recovery => NO_RECOVERY.to_owned(),
        Subject::Scheme => "icma-gbp".to_owned(),
        Subject::ApiKey => {
            t.app
                .create_api_key(None, &world.investor.id)
                .await
                .unwrap()
                .api_key_id
        }
    };
    // Tiles: the first hash tile and the first entry bundle, partial of width 1 (every ledger
    // has an entry).
    let path = endpoint
        .path
        .replace("{id}", &id)
        .replace("{period}", "1")
        .replace("{level}", "0")
        .replace("{index}", "000.p/1");
    let party = world.party(caller);
    let method = Method::from_bytes(endpoint.method.as_bytes()).unwrap();
    let reply = t
        .send(
            method,
            &path,
            party.map(|p| p.token.as_str()),
            body(endpoint.body, party, world),
        )
        .await;
    if matches!(endpoint.body, Body::SignedPause) && reply.status == 201 {
        // Keep cells independent: lift the pause this cell placed.
        let unpause = t
            .op(
                &world.owner,
                &world.bond,
                json!({"type": "bond.unpause", "reason": "access matrix"}),
            )
            .await;
        assert_eq!(unpause.status, 201, "{}", unpause.text());
    }
    (path, reply)
}

on_both!(
    every_endpoint_answers_every_caller_exactly_as_the_matrix_says,
    |t: TestApp| async move {
        // Arrange: one party of each role, and a bond of the owner's.
        let world = World::new(&t).await;

        // Act: every cell.
        let mut cells = Vec::new();
        for endpoint in MATRIX {
            for (column, caller) in CALLERS.into_iter().enumerate() {
                let (path, reply) = call(&t, &world, endpoint, caller).await;
                cells.push((
                    format!("{} {path} as {caller:?}", endpoint.method),
                    endpoint.expect[column],
                    reply,
                ));
            }
        }

        // Assert: every status as written (all mismatches at once), then every refusal is the
        // right problem.
        let wrong: Vec<String> = cells
            .iter()
            .filter(|(_, expected, reply)| reply.status.as_u16() != *expected)
            .map(|(cell, expected, reply)| {
                format!(
                    "{cell}: expected {expected}, got {} {}",
                    reply.status.as_u16(),
                    reply.text()
                )
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "{} of {} cells differ from the matrix:\n{}",
            wrong.len(),
            cells.len(),
            wrong.join("\n")
        );
        assert_eq!(cells.len(), MATRIX.len() * CALLERS.len());
        for (cell, expected, reply) in &cells {
            match slug(*expected) {
                Some(slug) => {
                    let problem = reply.problem(*expected, slug);
                    assert!(
                        problem["title"].as_str().is_some_and(|s| !s.is_empty()),
                        "{cell}: {problem}"
                    );
                }
                None => assert_ne!(
                    reply.content_type(),
                    "application/problem+json",
                    "{cell}: {}",
                    reply.text()
                ),
            }
        }
    }
);

on_both!(
    revoking_an_api_key_twice_is_idempotent_and_the_key_stops_working,
    |t: TestApp| async move {
        let operator = t.party(Role::Operator, "Exchange operations").await;
        let investor = t.party(Role::Investor, "Kansai Pension Fund").await;
        let extra = t.app.create_api_key(None, &investor.id).await.unwrap();
        let path = format!("/v1/api-keys/{}", extra.api_key_id);

        let first = t
            .send(Method::DELETE, &path, Some(&operator.token), None)
            .await;
        let second = t
            .send(Method::DELETE, &path, Some(&operator.token), None)
            .await;

        assert_eq!(first.status, 204, "{}", first.text());
        assert_eq!(second.status, 204, "{}", second.text());
        t.get(
            &format!("/v1/parties/{}", investor.id),
            Some(&extra.api_key),
        )
        .await
        .problem(401, "unauthenticated");
    }
);

on_both!(a_refused_caller_changes_nothing, |t: TestApp| async move {
    // Arrange
    let world = World::new(&t).await;
    let keys_before = t
        .get(&format!("/v1/parties/{}/keys", world.investor.id), None)
        .await
        .json();
    let size_before = t
        .get(&format!("/v1/bonds/{}", world.bond), None)
        .await
        .json()["ledger"]["size"]
        .clone();

    // Act: every write, as every caller the matrix refuses.
    for endpoint in MATRIX.iter().filter(|e| e.method != "GET") {
        for (column, caller) in CALLERS.into_iter().enumerate() {
            if endpoint.expect[column] >= 400 {
                let (path, reply) = call(&t, &world, endpoint, caller).await;
                assert!(
                    reply.status.is_client_error(),
                    "{} {path} as {caller:?}: {}",
                    endpoint.method,
                    reply.text()
                );
            }
        }
    }

    // Assert: no party, key, bond or entry appeared.
    let parties = t
        .get("/v1/parties", Some(&world.operator.token))
        .await
        .json();
    assert_eq!(parties.as_array().unwrap().len(), 6, "{parties}");
    assert_eq!(
        t.get(&format!("/v1/parties/{}/keys", world.investor.id), None)
            .await
            .json(),
        keys_before
    );
    let bonds = t.get("/v1/bonds", None).await.json();
    assert_eq!(bonds["items"].as_array().unwrap().len(), 1, "{bonds}");
    assert_eq!(
        t.get(&format!("/v1/bonds/{}", world.bond), None)
            .await
            .json()["ledger"]["size"],
        size_before
    );
});

on_both!(
    an_investor_may_never_read_another_investors_record,
    |t: TestApp| async move {
        let investor = t.party(Role::Investor, "Kansai Pension Fund").await;
        let other = t.party(Role::Investor, "Namba Trust").await;

        let reply = t
            .get(&format!("/v1/parties/{}", other.id), Some(&investor.token))
            .await;

        reply.problem(403, "forbidden");
        assert!(!reply.text().contains("Namba Trust"), "{}", reply.text());
    }
);

#[test]
fn the_matrix_covers_every_endpoint_of_the_openapi_document() {
    let doc: Value = serde_json::from_str(&midori::http::openapi_json()).unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| {
                    [
                        "get", "put", "post", "delete", "patch", "head", "options", "trace",
                    ]
                    .contains(&k.as_str())
                })
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let tabled: Vec<(String, String)> = MATRIX
        .iter()
        .map(|e| {
            (
                e.method.to_owned(),
                e.path.split('?').next().unwrap().to_owned(),
            )
        })
        .collect();
    let tabled_set: BTreeSet<(String, String)> = tabled.iter().cloned().collect();

    assert_eq!(
        tabled.len(),
        tabled_set.len(),
        "an endpoint is in the matrix twice"
    );
    let missing: Vec<_> = documented.difference(&tabled_set).collect();
    assert!(
        missing.is_empty(),
        "endpoints without a row in the access matrix: {missing:?}"
    );
    let stale: Vec<_> = tabled_set.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "matrix rows for endpoints the API does not have: {stale:?}"
    );
}
