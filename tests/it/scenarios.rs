//! The replay scenarios shipped under `sandbox/scenarios/`: signed trial ledgers, some of whose
//! transactions break rules, for regulators to replay with `midori sandbox replay`.
//!
//! Each scenario is run here through the API (so its ledger is a real, signed one) and its
//! verdicts are checked against the expectation written below. With `MIDORI_BLESS=1` the
//! export (and the checkpoint and keys to verify it) is written to `sandbox/scenarios/`;
//! otherwise the committed export must replay under v1 with every verdict confirmed and give
//! the same verdicts as the run here, and its what-if under v2 must change what the scenario
//! says it changes.

use std::path::PathBuf;

use midori::domain::party::Role;
use midori::sandbox::Rulebook;
use midori::sandbox::ledger::{Mode, replay_export};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::on_both;
use crate::support::*;

const V1: &str = include_str!("../../sandbox/osaka-ifc-green-st-v1.toml");
const V2: &str = include_str!("../../sandbox/osaka-ifc-green-st-v2.toml");
const DISCLOSURE: &str = "OIFC-GST-DISCLOSURE-2026-09";

/// Who signs: indices into the scenario's parties.
const REGULATOR: usize = 0;
const ISSUER: usize = 1;
const QII: usize = 2;
const PRO: usize = 3;
const GENERAL: usize = 4;

/// One step: when, who, the transaction id, its body (party names resolved at run time), and
/// the rule ids it must break (empty: accepted).
struct Step {
    at: OffsetDateTime,
    signer: usize,
    id: &'static str,
    body: Value,
    breaks: &'static [&'static str],
}

fn step(
    at: OffsetDateTime,
    signer: usize,
    id: &'static str,
    body: Value,
    breaks: &'static [&'static str],
) -> Step {
    Step {
        at,
        signer,
        id,
        body,
        breaks,
    }
}

struct Scenario {
    name: &'static str,
    steps: Vec<Step>,
    /// Transactions whose verdict changes under v2.
    v2_changes: &'static [&'static str],
}

/// `{party:N}` placeholders in a body become the N-th party's id.
fn resolve(body: &Value, ids: &[String]) -> Value {
    match body {
        Value::String(s) if s.starts_with("{party:") => {
            let n: usize = s[7..s.len() - 1].parse().unwrap();
            Value::String(ids[n].clone())
        }
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), resolve(v, ids)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn onboarding() -> Vec<Step> {
    let d = datetime!(2026-10-01 01:00 UTC);
    let mut steps = vec![
        step(
            d,
            REGULATOR,
            "admit-issuer",
            json!({"type": "participant.admit", "party": "{party:1}", "role": "issuer", "kyc_expires_on": "2027-12-31"}),
            &[],
        ),
        step(
            d,
            REGULATOR,
            "admit-qii",
            json!({"type": "participant.admit", "party": "{party:2}", "role": "investor", "investor_category": "qii", "kyc_expires_on": "2027-12-31"}),
            &[],
        ),
        step(
            d,
            REGULATOR,
            "admit-pro",
            json!({"type": "participant.admit", "party": "{party:3}", "role": "investor", "investor_category": "professional", "kyc_expires_on": "2027-12-31"}),
            &[],
        ),
        // The general investor's KYC lapses at the end of October.
        step(
            d,
            REGULATOR,
            "admit-general",
            json!({"type": "participant.admit", "party": "{party:4}", "role": "investor", "investor_category": "general", "kyc_expires_on": "2026-10-31"}),
            &[],
        ),
        // Issuing before the investor has consented to the disclosure.
        step(
            d,
            ISSUER,
            "issue-too-early",
            json!({"type": "issue", "to": "{party:2}", "amount": "1000000", "use_of_proceeds": "renewable_energy"}),
            &["SBX-CONSENT"],
        ),
    ];
    for (n, p) in [ISSUER, QII, PRO, GENERAL].into_iter().enumerate() {
        let id = [
            "consent-issuer",
            "consent-qii",
            "consent-pro",
            "consent-general",
        ][n];
        steps.push(step(
            d,
            p,
            id,
            json!({"type": "disclosure.consent", "disclosure_version": DISCLOSURE}),
            &[],
        ));
    }
    steps.extend([
        // ¥10,000,000 is the per-transaction cap: at it, accepted; one yen over, refused.
        step(d, ISSUER, "issue-qii-at-cap", json!({"type": "issue", "to": "{party:2}", "amount": "10000000", "use_of_proceeds": "renewable_energy"}), &[]),
        step(d, ISSUER, "issue-qii-over-cap", json!({"type": "issue", "to": "{party:2}", "amount": "10000001", "use_of_proceeds": "renewable_energy"}), &["SBX-CAP-TX"]),
        // A general investor may hold ¥1,000,000 at most.
        step(d, ISSUER, "issue-general-at-cap", json!({"type": "issue", "to": "{party:4}", "amount": "1000000", "use_of_proceeds": "clean_transportation"}), &[]),
        step(d, ISSUER, "issue-general-over-cap", json!({"type": "issue", "to": "{party:4}", "amount": "1", "use_of_proceeds": "clean_transportation"}), &["SBX-CAP-INVESTOR"]),
        // Proceeds outside the green framework.
        step(d, ISSUER, "issue-housing", json!({"type": "issue", "to": "{party:3}", "amount": "5000000", "use_of_proceeds": "affordable_housing"}), &["SBX-USE-OF-PROCEEDS"]),
        // A type the trial does not allow (only the regulator admits).
        step(d, ISSUER, "issuer-admits", json!({"type": "participant.admit", "party": "{party:3}", "role": "investor", "investor_category": "qii"}), &["SBX-ROLE"]),
        // After the general investor's KYC lapsed.
        step(datetime!(2026-11-02 01:00 UTC), ISSUER, "report-october", json!({"type": "report", "period_end": "2026-10-31"}), &[]),
        step(datetime!(2026-11-02 02:00 UTC), ISSUER, "issue-general-kyc-lapsed", json!({"type": "issue", "to": "{party:4}", "amount": "1", "use_of_proceeds": "clean_transportation"}), &["SBX-CAP-INVESTOR", "SBX-KYC"]),
    ]);
    steps
}

fn transfers() -> Vec<Step> {
    let mut steps: Vec<Step> = onboarding().into_iter().take(9).collect();
    let d = datetime!(2026-10-01 02:00 UTC);
    steps.extend([
        step(d, ISSUER, "issue-qii", json!({"type": "issue", "to": "{party:2}", "amount": "8000000", "use_of_proceeds": "renewable_energy"}), &[]),
        // Inside the 30-day lock-up, and without the issuer's consent.
        step(datetime!(2026-10-15 01:00 UTC), QII, "t-early", json!({"type": "transfer", "to": "{party:3}", "amount": "1000000"}), &["SBX-ISSUER-CONSENT", "SBX-LOCKUP"]),
        step(datetime!(2026-11-02 01:00 UTC), ISSUER, "report-october", json!({"type": "report", "period_end": "2026-10-31"}), &[]),
        step(datetime!(2026-11-02 01:10 UTC), ISSUER, "consent-t-pro", json!({"type": "issuer.consent", "transfer_id": "t-pro", "from": "{party:2}", "to": "{party:3}", "amount": "1000000"}), &[]),
        // Day 32: the lock-up is over and the issuer consented.
        step(datetime!(2026-11-02 01:20 UTC), QII, "t-pro", json!({"type": "transfer", "to": "{party:3}", "amount": "1000000"}), &[]),
        // A consent is used once.
        step(datetime!(2026-11-02 01:30 UTC), QII, "t-pro-again", json!({"type": "transfer", "to": "{party:3}", "amount": "1000000"}), &["SBX-ISSUER-CONSENT"]),
        // Transfers go to professional investors and QIIs only.
        step(datetime!(2026-11-02 01:40 UTC), ISSUER, "consent-t-general", json!({"type": "issuer.consent", "transfer_id": "t-general", "from": "{party:2}", "to": "{party:4}", "amount": "100000"}), &[]),
        step(datetime!(2026-11-02 01:50 UTC), QII, "t-general", json!({"type": "transfer", "to": "{party:4}", "amount": "100000"}), &["SBX-KYC", "SBX-TRANSFER-CATEGORY"]),
        // More than the holder has.
        step(datetime!(2026-11-02 02:00 UTC), ISSUER, "consent-t-big", json!({"type": "issuer.consent", "transfer_id": "t-big", "from": "{party:3}", "to": "{party:2}", "amount": "2000000"}), &[]),
        step(datetime!(2026-11-02 02:10 UTC), PRO, "t-big", json!({"type": "transfer", "to": "{party:2}", "amount": "2000000"}), &["SBX-BALANCE"]),
        // No report for November by 2026-12-10 (30-day periods, 10 days' grace): no new business.
        step(datetime!(2026-12-12 01:00 UTC), ISSUER, "consent-t-late", json!({"type": "issuer.consent", "transfer_id": "t-late", "from": "{party:2}", "to": "{party:3}", "amount": "1000000"}), &["SBX-REPORT"]),
    ]);
    steps
}

fn exit() -> Vec<Step> {
    let mut steps: Vec<Step> = onboarding().into_iter().take(9).collect();
    let d = datetime!(2026-10-01 02:00 UTC);
    steps.extend([
        step(d, ISSUER, "issue-qii", json!({"type": "issue", "to": "{party:2}", "amount": "6000000", "use_of_proceeds": "green_buildings"}), &[]),
        step(d, ISSUER, "issue-pro", json!({"type": "issue", "to": "{party:3}", "amount": "4000000", "use_of_proceeds": "green_buildings"}), &[]),
        // The regulator suspends the trial: no new business, exits still pass.
        step(datetime!(2026-10-20 01:00 UTC), REGULATOR, "suspend", json!({"type": "trial.status", "status": "suspended"}), &[]),
        step(datetime!(2026-10-20 02:00 UTC), ISSUER, "issue-while-suspended", json!({"type": "issue", "to": "{party:2}", "amount": "1000", "use_of_proceeds": "green_buildings"}), &["SBX-STATUS"]),
        step(datetime!(2026-10-20 03:00 UTC), QII, "redeem-qii", json!({"type": "redeem", "amount": "6000000"}), &[]),
        // Exiting: positions must be wound down within 30 days.
        step(datetime!(2026-10-21 01:00 UTC), REGULATOR, "exit", json!({"type": "trial.status", "status": "exiting"}), &[]),
        step(datetime!(2026-11-25 01:00 UTC), PRO, "redeem-pro-late", json!({"type": "redeem", "amount": "4000000"}), &["SBX-EXIT"]),
        // Exiting can only become closed (and past the exit deadline only closing passes).
        step(datetime!(2026-11-25 02:00 UTC), REGULATOR, "reactivate", json!({"type": "trial.status", "status": "active"}), &["SBX-EXIT", "SBX-TRANSITION"]),
        step(datetime!(2026-11-25 03:00 UTC), REGULATOR, "close", json!({"type": "trial.status", "status": "closed"}), &[]),
    ]);
    steps
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "01-onboarding-and-caps",
            steps: onboarding(),
            // v2 caps a general investor at ¥500,000.
            v2_changes: &["issue-general-at-cap"],
        },
        Scenario {
            name: "02-transfers-lockup-consent",
            steps: transfers(),
            // v2: ¥5,000,000 a transaction; a 60-day lock-up.
            v2_changes: &["issue-qii", "t-pro"],
        },
        Scenario {
            name: "03-suspension-and-exit",
            steps: exit(),
            // v2: ¥5,000,000 a transaction.
            v2_changes: &["issue-qii"],
        },
    ]
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sandbox/scenarios")
}

/// The (accepted, rule ids) of every transaction of an export.
fn verdicts(export: &str) -> Vec<(String, bool, Vec<String>)> {
    export
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["type"] == "sandbox.tx")
        .map(|e| {
            let v = &e["data"]["verdict"];
            (
                v["tx_id"].as_str().unwrap().to_owned(),
                v["accepted"].as_bool().unwrap(),
                v["violations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x["rule"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

on_both!(
    the_shipped_scenarios_are_what_their_steps_say,
    |t: TestApp| async move {
        let v1 = Rulebook::parse(V1.as_bytes()).unwrap();
        let v2 = Rulebook::parse(V2.as_bytes()).unwrap();
        let me = uuid::Uuid::now_v7().to_string();
        for scenario in scenarios() {
            t.set_time(datetime!(2026-10-01 00:30 UTC));
            let parties = [
                t.party(Role::Regulator, "Kinki Local Finance Bureau").await,
                t.party(Role::Issuer, "Osaka Green Energy K.K.").await,
                t.party(Role::Investor, "Kansai Pension Fund").await,
                t.party(Role::Investor, "Naniwa Securities").await,
                t.party(Role::Investor, "Hanako Yamada").await,
            ];
            let ids: Vec<String> = parties.iter().map(|p| p.id.clone()).collect();
            let created = t
                .post(
                    "/v1/trials",
                    Some(&parties[REGULATOR].token),
                    parties[REGULATOR].sign(json!({
                    "type": "trial.create", "trial": {"title": scenario.name, "rulebook": V1}})),
                )
                .await;
            assert_eq!(created.status, 201, "{}", created.text());
            let trial = created.json()["trial"]["id"].as_str().unwrap().to_owned();
            for s in &scenario.steps {
                t.set_time(s.at);
                let p = &parties[s.signer];
                let reply = t
                    .post(&format!("/v1/trials/{trial}/transactions"), Some(&p.token),
                        p.sign(json!({"type": "sandbox.tx", "trial_id": trial, "tx_id": s.id, "body": resolve(&s.body, &ids)})))
                    .await;
                assert_eq!(reply.status, 201, "{}: {}", s.id, reply.text());
                let rules: Vec<String> = reply.json()["verdict"]["violations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v["rule"].as_str().unwrap().to_owned())
                    .collect();
                assert_eq!(rules, s.breaks, "{} / {}", scenario.name, s.id);
            }
            let regulator = &parties[REGULATOR].token;
            let export = t
                .get(
                    &format!("/v1/trials/{trial}/ledger/export"),
                    Some(regulator),
                )
                .await
                .text();
            let path = dir().join(format!("{}.jsonl", scenario.name));
            // Both backends run this; one of them writes, so that a scenario's three files
            // always come from the same run.
            static WRITER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            if std::env::var("MIDORI_BLESS").is_ok() && WRITER.get_or_init(|| me.clone()) == &me {
                std::fs::create_dir_all(dir()).unwrap();
                std::fs::write(&path, &export).unwrap();
                let checkpoint = t
                    .get(&format!("/v1/trials/{trial}/ledger/checkpoint"), None)
                    .await
                    .text();
                std::fs::write(
                    dir().join(format!("{}.checkpoint.txt", scenario.name)),
                    checkpoint,
                )
                .unwrap();
                let jwks = t.get("/.well-known/jwks.json", None).await.text();
                std::fs::write(dir().join(format!("{}.jwks.json", scenario.name)), jwks).unwrap();
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (run with MIDORI_BLESS=1 to write it)",
                    path.display()
                )
            });
            assert_eq!(
                verdicts(&committed),
                verdicts(&export),
                "{}: the committed scenario is stale; MIDORI_BLESS=1 rewrites it",
                scenario.name
            );
            let confirm = replay_export(committed.lines().map(str::as_bytes), &v1, 2).unwrap();
            assert_eq!(
                (confirm.mode, confirm.consistent),
                (Mode::Confirm, true),
                "{}",
                confirm.summary()
            );
            let what_if = replay_export(committed.lines().map(str::as_bytes), &v2, 2).unwrap();
            let changed: Vec<&str> = what_if
                .mismatches
                .iter()
                .map(|m| m.tx_id.as_str())
                .collect();
            for id in scenario.v2_changes {
                assert!(
                    changed.contains(id),
                    "{}: v2 should change {id}; it changes {changed:?}",
                    scenario.name
                );
            }
        }
    }
);
