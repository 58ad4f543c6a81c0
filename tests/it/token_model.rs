//! A seeded model test in the style of TigerBeetle's auditor: a random but reproducible
//! workload of token operations goes through the API while a small reference model, written
//! here from the rules and independent of midori's `Book`, predicts every answer. Each reply
//! must agree with the model (201 when it accepts; 422 `rule-violation` naming the model's
//! reasons when it refuses), the dry run must agree too, and every 25 steps and at the end the
//! holder register, each investor's positions and the supply (Σ balances = issued − redeemed)
//! must equal the model's; past registers (`as_of_size`) must equal the model's past. Then the
//! bond matures and is redeemed in full, and the exported ledger must verify offline against
//! the latest checkpoint.
//!
//! The seed is fixed; set `MIDORI_MODEL_SEED` (decimal or 0x-hex) to explore others. Every
//! failure names the seed and the step.

use std::collections::{BTreeMap, HashMap};

use midori::domain::party::Role;
use serde_json::{Value, json};
use time::macros::datetime;

use crate::on_both;
use crate::support::*;

const INVESTORS: usize = 4;
/// The issuer's index among the parties a step names (tokens may never go there).
const ISSUER: usize = INVESTORS;
const STEPS: usize = 150;
/// The green example's issue size.
const ISSUE_SIZE: u64 = 10_000;
/// Chosen so that both workloads (this seed, and this seed ^ 1 with approvals) meet every rule
/// the model knows; the test asserts that coverage for this seed.
const DEFAULT_SEED: u64 = 24;
/// Every refusal reason the model predicts (`unknown_pending` only with approvals).
const REASONS: [&str; 14] = [
    "already_frozen",
    "already_paused",
    "bond_paused",
    "exceeds_balance",
    "exceeds_frozen",
    "exceeds_issue_size",
    "insufficient_balance",
    "not_frozen",
    "not_paused",
    "partially_frozen",
    "position_frozen",
    "receiver_not_investor",
    "same_party",
    "unknown_pending",
];
/// Compare the register with the model every this many steps (and at the end).
const REGISTER_EVERY: usize = 25;

fn seed() -> u64 {
    match std::env::var("MIDORI_MODEL_SEED") {
        Ok(s) => s
            .strip_prefix("0x")
            .map(|h| u64::from_str_radix(h, 16))
            .unwrap_or_else(|| s.parse())
            .expect("MIDORI_MODEL_SEED is a u64"),
        Err(_) => DEFAULT_SEED,
    }
}

/// SplitMix64: tiny, deterministic, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn index(&mut self, n: usize) -> usize {
        self.range(0, n as u64 - 1) as usize
    }
    fn percent(&mut self, p: u64) -> bool {
        self.range(0, 99) < p
    }
    /// A quantity (at least 1) near the boundary `limit`: often within it, often exactly at it
    /// or one past it, sometimes far past it.
    fn around(&mut self, limit: u64) -> u64 {
        match self.range(0, 99) {
            0..50 => self.range(1, limit.max(1)),
            50..65 => limit.max(1),
            65..85 => limit + 1,
            _ => self.range(1, limit + 500),
        }
    }
}

/// One holder's position as the model sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Pos {
    balance: u64,
    held: u64,
    frozen: u64,
    frozen_all: bool,
}

#[derive(Clone, Debug)]
struct Pending {
    from: usize,
    to: usize,
    quantity: u64,
}

/// One step of the workload; parties are indices (investors `0..INVESTORS`, then the issuer).
#[derive(Clone, Debug)]
enum Step {
    Issue(Vec<(usize, u64)>),
    Transfer {
        from: usize,
        to: usize,
        quantity: u64,
    },
    Freeze {
        holder: usize,
        quantity: Option<u64>,
    },
    Unfreeze {
        holder: usize,
        quantity: Option<u64>,
    },
    Pause,
    Unpause,
    Force {
        from: usize,
        to: usize,
        quantity: u64,
    },
    Redeem {
        holder: usize,
        quantity: u64,
    },
    Approve(String),
    Cancel(String),
    /// An investor signs an issuer-only control: refused by role (403), never by the rules.
    Usurp(usize),
}

/// The reference model: balances, holds, freezes, the pause, supply and pending transfers.
#[derive(Default)]
struct Model {
    approval_required: bool,
    issued: u64,
    redeemed: u64,
    paused: bool,
    positions: HashMap<usize, Pos>,
    pending: BTreeMap<String, Pending>,
}

impl Model {
    fn pos(&self, i: usize) -> Pos {
        self.positions.get(&i).cloned().unwrap_or_default()
    }

    /// Tokens not held for pending transfers (what a forced transfer or redemption may take).
    fn unheld(&self, i: usize) -> u64 {
        let p = self.pos(i);
        p.balance.saturating_sub(p.held)
    }

    /// Tokens the holder may move itself.
    fn spendable(&self, i: usize) -> u64 {
        let p = self.pos(i);
        if p.frozen_all {
            0
        } else {
            self.unheld(i).saturating_sub(p.frozen)
        }
    }

    /// The rule codes the service must give when refusing `step`; empty when it must accept.
    fn refusals(&self, step: &Step) -> Vec<&'static str> {
        let mut out = Vec::new();
        match step {
            Step::Issue(allocations) => {
                let total: u64 = allocations.iter().map(|(_, q)| q).sum();
                if self.issued + total > ISSUE_SIZE {
                    out.push("exceeds_issue_size");
                }
            }
            Step::Transfer { from, to, quantity } => {
                if self.paused {
                    out.push("bond_paused");
                }
                if from == to {
                    out.push("same_party");
                }
                if *to == ISSUER {
                    out.push("receiver_not_investor");
                }
                if self.pos(*from).frozen_all {
                    out.push("position_frozen");
                } else if *quantity > self.unheld(*from) {
                    out.push("insufficient_balance");
                } else if *quantity > self.spendable(*from) {
                    out.push("partially_frozen");
                }
            }
            Step::Freeze { holder, quantity } => {
                let p = self.pos(*holder);
                match quantity {
                    _ if p.balance == 0 => out.push("holder_unknown"),
                    Some(q) if p.frozen + p.held + q > p.balance => out.push("exceeds_balance"),
                    None if p.frozen_all => out.push("already_frozen"),
                    _ => {}
                }
            }
            Step::Unfreeze { holder, quantity } => {
                let p = self.pos(*holder);
                match quantity {
                    None if !p.frozen_all && p.frozen == 0 => out.push("not_frozen"),
                    Some(q) if *q > p.frozen => out.push("exceeds_frozen"),
                    _ => {}
                }
            }
            Step::Pause if self.paused => out.push("already_paused"),
            Step::Unpause if !self.paused => out.push("not_paused"),
            Step::Pause | Step::Unpause => {}
            Step::Force { from, to, quantity } => {
                if from == to {
                    out.push("same_party");
                }
                if *to == ISSUER {
                    out.push("receiver_not_investor");
                }
                if *quantity > self.unheld(*from) {
                    out.push("insufficient_balance");
                }
            }
            Step::Redeem { holder, quantity } => {
                if *quantity > self.unheld(*holder) {
                    out.push("insufficient_balance");
                }
            }
            Step::Approve(id) => match self.pending.get(id) {
                None => out.push("unknown_pending"),
                Some(p) => {
                    if self.paused {
                        out.push("bond_paused");
                    }
                    if self.pos(p.from).frozen_all {
                        out.push("position_frozen");
                    }
                }
            },
            Step::Cancel(id) => {
                if !self.pending.contains_key(id) {
                    out.push("unknown_pending");
                }
            }
            Step::Usurp(_) => {}
        }
        out
    }

    /// Take `quantity` off a holder's balance; a partial freeze shrinks to what is left unheld.
    fn take(&mut self, i: usize, quantity: u64) {
        let p = self.positions.entry(i).or_default();
        p.balance -= quantity;
        p.frozen = p.frozen.min(p.balance - p.held);
    }

    fn give(&mut self, i: usize, quantity: u64) {
        self.positions.entry(i).or_default().balance += quantity;
    }

    /// Apply an accepted step; returns the receipt status it must have.
    fn apply(&mut self, step: &Step, operation_id: &str) -> &'static str {
        match step {
            Step::Issue(allocations) => {
                for (i, q) in allocations {
                    self.give(*i, *q);
                    self.issued += q;
                }
            }
            Step::Transfer { from, to, quantity } if self.approval_required => {
                self.positions.entry(*from).or_default().held += quantity;
                self.pending.insert(
                    operation_id.to_owned(),
                    Pending {
                        from: *from,
                        to: *to,
                        quantity: *quantity,
                    },
                );
                return "pending";
            }
            Step::Transfer { from, to, quantity } | Step::Force { from, to, quantity } => {
                self.take(*from, *quantity);
                self.give(*to, *quantity);
            }
            Step::Freeze { holder, quantity } => {
                let p = self.positions.entry(*holder).or_default();
                match quantity {
                    Some(q) => p.frozen += q,
                    None => p.frozen_all = true,
                }
            }
            Step::Unfreeze { holder, quantity } => {
                let p = self.positions.entry(*holder).or_default();
                match quantity {
                    Some(q) => p.frozen -= q,
                    None => {
                        p.frozen = 0;
                        p.frozen_all = false;
                    }
                }
            }
            Step::Pause => self.paused = true,
            Step::Unpause => self.paused = false,
            Step::Redeem { holder, quantity } => {
                self.take(*holder, *quantity);
                self.redeemed += quantity;
            }
            Step::Approve(id) | Step::Cancel(id) => {
                let p = self.pending.remove(id).expect("model: known pending");
                self.positions.entry(p.from).or_default().held -= p.quantity;
                if matches!(step, Step::Approve(_)) {
                    self.take(p.from, p.quantity);
                    self.give(p.to, p.quantity);
                }
            }
            Step::Usurp(_) => unreachable!("never accepted"),
        }
        "applied"
    }

    /// A random next step, biased towards the edges of the rules.
    fn generate(&self, rng: &mut Rng, n: usize) -> Step {
        let investor = |rng: &mut Rng| rng.index(INVESTORS);
        // A receiver: another investor, now and then the sender itself or the issuer.
        let receiver = |rng: &mut Rng, from: usize| match rng.range(0, 99) {
            0..5 => ISSUER,
            5..13 => from,
            _ => (from + 1 + rng.index(INVESTORS - 1)) % INVESTORS,
        };
        let mut weights: Vec<(u64, u8)> = vec![
            (34, 0),                               // transfer
            (6, 1),                                // issue
            (8, 2),                                // freeze
            (7, 3),                                // unfreeze
            (3, 4),                                // pause
            (if self.paused { 12 } else { 2 }, 5), // unpause
            (6, 6),                                // forced transfer
            (6, 7),                                // redeem
            (2, 8),                                // usurp
        ];
        if self.approval_required {
            weights.push((12, 9)); // approve
            weights.push((6, 10)); // cancel
        }
        let total: u64 = weights.iter().map(|w| w.0).sum();
        let mut roll = rng.range(0, total - 1);
        let kind = weights
            .iter()
            .find(|(w, _)| {
                if roll < *w {
                    true
                } else {
                    roll -= w;
                    false
                }
            })
            .unwrap()
            .1;
        match kind {
            0 => {
                let from = investor(rng);
                let to = receiver(rng, from);
                let quantity = rng.around(self.spendable(from));
                Step::Transfer { from, to, quantity }
            }
            1 => {
                let remaining = ISSUE_SIZE - self.issued;
                if rng.percent(35) {
                    Step::Issue(vec![(investor(rng), rng.around(remaining))])
                } else {
                    let first = investor(rng);
                    let count = rng.range(1, INVESTORS as u64) as usize;
                    Step::Issue(
                        (0..count)
                            .map(|k| ((first + k) % INVESTORS, rng.range(1, 600)))
                            .collect(),
                    )
                }
            }
            2 | 3 => {
                // Unfreezing mostly targets a frozen position; either sometimes targets one.
                let frozen: Vec<usize> = (0..INVESTORS)
                    .filter(|i| self.pos(*i).frozen_all || self.pos(*i).frozen > 0)
                    .collect();
                let aim = if kind == 3 { 70 } else { 25 };
                let holder = if !frozen.is_empty() && rng.percent(aim) {
                    frozen[rng.index(frozen.len())]
                } else {
                    investor(rng)
                };
                let p = self.pos(holder);
                let whole = if kind == 2 {
                    rng.percent(30)
                } else {
                    rng.percent(if p.frozen_all || p.frozen == 0 {
                        70
                    } else {
                        20
                    })
                };
                let quantity = if kind == 2 {
                    (!whole).then(|| rng.around(p.balance.saturating_sub(p.held + p.frozen)))
                } else {
                    (!whole).then(|| rng.around(p.frozen))
                };
                if kind == 2 {
                    Step::Freeze { holder, quantity }
                } else {
                    Step::Unfreeze { holder, quantity }
                }
            }
            4 => Step::Pause,
            5 => Step::Unpause,
            6 => {
                let from = investor(rng);
                let to = receiver(rng, from);
                Step::Force {
                    from,
                    to,
                    quantity: rng.around(self.unheld(from)),
                }
            }
            7 => {
                let holder = investor(rng);
                Step::Redeem {
                    holder,
                    quantity: rng.around(self.unheld(holder)),
                }
            }
            8 => Step::Usurp(investor(rng)),
            _ => {
                let id = if !self.pending.is_empty() && rng.percent(85) {
                    let k = rng.index(self.pending.len());
                    self.pending.keys().nth(k).unwrap().clone()
                } else {
                    format!("no-such-transfer-{n}")
                };
                if kind == 9 {
                    Step::Approve(id)
                } else {
                    Step::Cancel(id)
                }
            }
        }
    }
}

struct World {
    issuer: Party,
    investors: Vec<Party>,
    bond: String,
}

impl World {
    fn id(&self, i: usize) -> &str {
        if i == ISSUER {
            &self.issuer.id
        } else {
            &self.investors[i].id
        }
    }

    /// Who signs `step`, and its payload (without bond_id and operation_id).
    fn request(&self, step: &Step, n: usize) -> (&Party, Value) {
        let reason = format!("model step {n}");
        let q = |q: &u64| q.to_string();
        match step {
            Step::Issue(allocations) => (
                &self.issuer,
                json!({"type": "token.issue", "allocations": allocations.iter()
                    .map(|(i, n)| json!({"investor": self.id(*i), "quantity": q(n)}))
                    .collect::<Vec<_>>()}),
            ),
            Step::Transfer { from, to, quantity } => (
                &self.investors[*from],
                json!({"type": "token.transfer", "to": self.id(*to), "quantity": q(quantity)}),
            ),
            Step::Freeze { holder, quantity } | Step::Unfreeze { holder, quantity } => {
                let kind = if matches!(step, Step::Freeze { .. }) {
                    "token.freeze"
                } else {
                    "token.unfreeze"
                };
                let mut payload =
                    json!({"type": kind, "holder": self.id(*holder), "reason": reason});
                if let Some(n) = quantity {
                    payload["quantity"] = json!(q(n));
                }
                (&self.issuer, payload)
            }
            Step::Pause => (
                &self.issuer,
                json!({"type": "bond.pause", "reason": reason}),
            ),
            Step::Unpause => (
                &self.issuer,
                json!({"type": "bond.unpause", "reason": reason}),
            ),
            Step::Force { from, to, quantity } => (
                &self.issuer,
                json!({"type": "token.force_transfer", "from": self.id(*from),
                    "to": self.id(*to), "quantity": q(quantity), "reason": reason}),
            ),
            Step::Redeem { holder, quantity } => (
                &self.issuer,
                json!({"type": "token.redeem", "holder": self.id(*holder), "quantity": q(quantity)}),
            ),
            Step::Approve(id) => (
                &self.issuer,
                json!({"type": "token.approve", "pending_id": id}),
            ),
            Step::Cancel(id) => (
                &self.issuer,
                json!({"type": "token.cancel", "pending_id": id}),
            ),
            Step::Usurp(i) => (
                &self.investors[*i],
                json!({"type": "bond.pause", "reason": reason}),
            ),
        }
    }
}

/// The register's holder lines as (balance, held, frozen, frozen_all), by holder id.
type Lines = BTreeMap<String, (u64, u64, u64, bool)>;

fn number(v: &Value) -> u64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a decimal string: {v}"))
}

fn line(h: &Value) -> (u64, u64, u64, bool) {
    (
        number(&h["balance"]),
        number(&h["held"]),
        number(&h["frozen"]),
        h["frozen_all"].as_bool().unwrap(),
    )
}

/// The register lines the model expects: every holder with a balance.
fn expected_lines(w: &World, model: &Model) -> Lines {
    model
        .positions
        .iter()
        .filter(|(_, p)| p.balance > 0)
        .map(|(i, p)| {
            (
                w.id(*i).to_owned(),
                (p.balance, p.held, p.frozen, p.frozen_all),
            )
        })
        .collect()
}

/// The holder register (`query` selects a past one), and its lines.
async fn register(t: &TestApp, w: &World, query: &str, context: &str) -> (Value, Lines) {
    let reply = t
        .get(
            &format!("/v1/bonds/{}/holders{query}", w.bond),
            Some(&w.issuer.token),
        )
        .await;
    assert_eq!(reply.status, 200, "{context}: {}", reply.text());
    let register = reply.json();
    let lines = register["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["holder"].as_str().unwrap().to_owned(), line(h)))
        .collect();
    (register, lines)
}

/// The ledger size the bond reports.
async fn ledger_size(t: &TestApp, w: &World) -> u64 {
    number(&t.get(&format!("/v1/bonds/{}", w.bond), None).await.json()["ledger"]["size"])
}

/// The holder register, the positions of every investor and the supply equal the model's.
async fn assert_state(t: &TestApp, w: &World, model: &Model, context: &str) {
    let (register, lines) = register(t, w, "", context).await;
    assert_eq!(
        lines,
        expected_lines(w, model),
        "{context}: holder register"
    );
    assert_eq!(
        (
            number(&register["issued"]),
            number(&register["redeemed"]),
            number(&register["outstanding"]),
            register["paused"].as_bool(),
        ),
        (
            model.issued,
            model.redeemed,
            model.issued - model.redeemed,
            Some(model.paused),
        ),
        "{context}: supply and pause"
    );
    let sum: u64 = lines.values().map(|l| l.0).sum();
    assert_eq!(
        sum,
        model.issued - model.redeemed,
        "{context}: Σ balances = issued − redeemed"
    );
    let held: u64 = lines.values().map(|l| l.1).sum();
    let pending: u64 = model.pending.values().map(|p| p.quantity).sum();
    assert_eq!(held, pending, "{context}: holds = pending transfers");

    // Each investor sees its own position, exactly as the model has it.
    for (i, investor) in w.investors.iter().enumerate() {
        let reply = t
            .get(
                &format!("/v1/parties/{}/positions", investor.id),
                Some(&investor.token),
            )
            .await;
        assert_eq!(reply.status, 200, "{context}: {}", reply.text());
        let seen: Vec<(String, (u64, u64, u64, bool))> = reply
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["bond_id"].as_str().unwrap().to_owned(), line(p)))
            .collect();
        let p = model.pos(i);
        let want = if p == Pos::default() {
            vec![]
        } else {
            vec![(w.bond.clone(), (p.balance, p.held, p.frozen, p.frozen_all))]
        };
        assert_eq!(seen, want, "{context}: positions of investor {i}");
    }
}

async fn run(first: TestApp, approval_required: bool) {
    let mut t = &first;
    // Half-way, a new process on the same database takes over: it loads each ledger's
    // maintained state (no replay) and must go on exactly where the first one stopped.
    let restarted = first.second_process().await;
    let base = seed();
    let seed = base ^ u64::from(approval_required);
    let started = std::time::Instant::now();
    let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
    let mut spec = green_spec();
    spec["transfer_restrictions"]["issuer_approval_required"] = json!(approval_required);
    let bond = t.register(&issuer, spec).await;
    let mut investors = Vec::new();
    for name in [
        "Kansai Pension Fund",
        "Naniwa Trust Bank",
        "Sakai Credit Union",
        "Kobe Mutual",
    ] {
        investors.push(t.party(Role::Investor, name).await);
    }
    let w = World {
        issuer,
        investors,
        bond,
    };
    let mut model = Model {
        approval_required,
        ..Model::default()
    };
    let mut rng = Rng(seed);
    let mut accepted = 0u64;
    let mut refused = 0u64;
    // (ledger size, expected register lines) at each comparison, for the as-of reads.
    let mut snapshots: Vec<(u64, Lines)> = Vec::new();
    let mut dry_run_disagreements: Vec<String> = Vec::new();
    // How often each reason was predicted (and given): the workload's coverage of the rules.
    let mut reasons: BTreeMap<&'static str, u32> = BTreeMap::new();

    for n in 0..STEPS {
        if n == STEPS / 2 {
            t = &restarted;
        }
        // Step 0 puts tokens in every hand; the rest is random.
        let step = if n == 0 {
            Step::Issue((0..INVESTORS).map(|i| (i, 1_500)).collect())
        } else {
            model.generate(&mut rng, n)
        };
        let context = format!("seed {seed:#x}, approval {approval_required}, step {n}: {step:?}");
        let expected = model.refusals(&step);
        for code in &expected {
            *reasons.entry(code).or_default() += 1;
        }
        let operation_id = format!("m-{n}");
        let (signer, payload) = w.request(&step, n);

        // The dry run (unsigned, by the same caller) agrees with the model, and so with the
        // operation below. It judges by the rules alone: an investor's issuer control is
        // `not_issuer` there, where the operation itself is refused by role.
        let verdict = t.check(signer, &w.bond, payload.clone()).await;
        let codes: Vec<&str> = verdict["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["code"].as_str().unwrap())
            .collect();
        // An investor may not read the register: what it is told about the receiver is one
        // code (docs/tokens.md, "What the dry run tells whom"), for the dry run and the refusal.
        let expected = if signer.id == w.issuer.id {
            expected
        } else {
            as_seen_by_investor(expected)
        };
        let dry_expected = match step {
            Step::Usurp(_) => vec!["not_issuer"],
            _ => expected.clone(),
        };
        let pending = approval_required && matches!(step, Step::Transfer { .. });
        let outcome =
            dry_expected
                .is_empty()
                .then_some(if pending { "pending" } else { "applied" });
        if verdict["allowed"].as_bool() != Some(dry_expected.is_empty())
            || !dry_expected.iter().all(|c| codes.contains(c))
            || verdict["outcome"].as_str() != outcome
        {
            // Recorded, and asserted after everything else, so that one wrong verdict does not
            // hide what the rest of the workload would show.
            dry_run_disagreements.push(format!(
                "{context}: dry run says {verdict}, model expects {dry_expected:?}"
            ));
        }

        let mut payload = payload;
        payload["operation_id"] = json!(operation_id);
        let reply = t.op(signer, &w.bond, payload).await;
        if let Step::Usurp(_) = step {
            reply.problem(403, "forbidden");
            refused += 1;
        } else if expected.is_empty() {
            assert_eq!(
                reply.status,
                201,
                "{context}: model accepts, service says {}",
                reply.text()
            );
            let status = model.apply(&step, &operation_id);
            assert_eq!(reply.json()["status"], status, "{context}");
            accepted += 1;
        } else {
            assert_eq!(
                reply.status,
                422,
                "{context}: model refuses with {expected:?}, service says {}",
                reply.text()
            );
            let codes = violation_codes(&reply);
            assert!(
                expected.iter().all(|c| codes.contains(&c.to_string())),
                "{context}: service refuses with {codes:?}, model expects {expected:?}"
            );
            refused += 1;
        }
        if (n + 1) % REGISTER_EVERY == 0 {
            assert_state(t, &w, &model, &context).await;
            // Refusals wrote nothing: one entry per acceptance, after the registration.
            assert_eq!(ledger_size(t, &w).await, 1 + accepted, "{context}");
            snapshots.push((1 + accepted, expected_lines(&w, &model)));
        }
    }
    let context = format!("seed {seed:#x}, approval {approval_required}, end");
    assert_state(t, &w, &model, &context).await;
    // The workload exercised both sides of the rules (and, with the default seed, every rule).
    assert!(
        accepted >= 25 && refused >= 20,
        "{context}: {accepted} accepted, {refused} refused"
    );
    if base == DEFAULT_SEED {
        let missed: Vec<&str> = REASONS
            .into_iter()
            .filter(|r| !reasons.contains_key(r))
            .filter(|r| approval_required || *r != "unknown_pending")
            .collect();
        assert!(
            missed.is_empty(),
            "{context}: the workload never met {missed:?}"
        );
    }
    // Past registers, rebuilt from the ledger, are what the model was then.
    for (size, lines) in &snapshots {
        let (_, past) = register(t, &w, &format!("?as_of_size={size}"), &context).await;
        assert_eq!(&past, lines, "{context}: register as of size {size}");
    }

    // At maturity: the final redemption waits for pending transfers, then takes every holding
    // (freezes included); afterwards nothing moves.
    t.set_time(datetime!(2030-06-20 01:00:00 UTC));
    let redeem_all = json!({"type": "token.redeem_all", "operation_id": "m-redeem-all"});
    if !model.pending.is_empty() {
        let reply = t.op(&w.issuer, &w.bond, redeem_all.clone()).await;
        assert!(
            violation_codes(&reply).contains(&"transfers_pending".to_owned()),
            "{context}: {}",
            reply.text()
        );
        let ids: Vec<String> = model.pending.keys().cloned().collect();
        for (n, id) in ids.into_iter().enumerate() {
            let step = Step::Cancel(id);
            let (signer, mut payload) = w.request(&step, STEPS);
            payload["operation_id"] = json!(format!("m-end-{n}"));
            let reply = t.op(signer, &w.bond, payload).await;
            assert_eq!(reply.status, 201, "{context}: {step:?}: {}", reply.text());
            model.apply(&step, "");
            accepted += 1;
        }
    }
    let reply = t.op(&w.issuer, &w.bond, redeem_all).await;
    assert_eq!(reply.status, 201, "{context}: {}", reply.text());
    accepted += 1;
    for p in model.positions.values_mut() {
        if p.balance > 0 {
            model.redeemed += p.balance;
            *p = Pos::default();
        }
    }
    assert_state(t, &w, &model, &context).await;
    let (register, _) = register(t, &w, "", &context).await;
    assert_eq!(register["fully_redeemed"], true, "{context}");
    let after = t
        .op(
            &w.investors[0],
            &w.bond,
            json!({"type": "token.transfer", "to": w.investors[1].id, "quantity": "1"}),
        )
        .await;
    assert!(
        violation_codes(&after).contains(&"bond_redeemed".to_owned()),
        "{context}: {}",
        after.text()
    );

    // The export verifies offline against the latest checkpoint.
    let size = 1 + accepted;
    assert_eq!(ledger_size(t, &w).await, size, "{context}");
    let report = t
        .export_and_verify(&w.bond, &w.issuer.token)
        .await
        .1
        .unwrap_or_else(|e| panic!("{context}: export does not verify: {e:?}"));
    assert_eq!(
        (report.entries, report.checkpoint_size),
        (size, size),
        "{context}"
    );
    assert!(
        dry_run_disagreements.is_empty(),
        "{} dry runs disagree with the model (and with the operation that followed):\n{}",
        dry_run_disagreements.len(),
        dry_run_disagreements.join("\n")
    );
    // The regulator's audit replays the ledger and finds the state served equal to it.
    t.audit_of_bond(&w.bond).await;
    eprintln!(
        "token model ({context}): {accepted} accepted, {refused} refused, {} pending left, \
         reasons {reasons:?}, {:?}",
        model.pending.len(),
        started.elapsed()
    );
}

on_both!(
    a_random_workload_without_approvals_matches_the_reference_model,
    |t: TestApp| async move { run(t, false).await }
);

on_both!(
    a_random_workload_with_issuer_approvals_matches_the_reference_model,
    |t: TestApp| async move { run(t, true).await }
);

// The defect the model run above found, on its own: a dry run of a valid approval reports
// `receiver_unknown` (the engine looks up the pending receiver's facts for an approval it
// performs, not for one it only checks), while the approval itself is accepted.
on_both!(
    the_dry_run_of_a_valid_approval_agrees_with_the_approval,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka City").await;
        let mut spec = green_spec();
        spec["transfer_restrictions"]["issuer_approval_required"] = json!(true);
        let bond = t.register(&issuer, spec).await;
        let a = t.party(Role::Investor, "Kansai Pension Fund").await;
        let b = t.party(Role::Investor, "Naniwa Trust Bank").await;
        let issue =
            json!({"type": "token.issue", "allocations": [{"investor": a.id, "quantity": "100"}]});
        assert_eq!(t.op(&issuer, &bond, issue).await.status, 201);
        let transfer =
            json!({"type": "token.transfer", "to": b.id, "quantity": "80", "operation_id": "t-1"});
        assert_eq!(t.op(&a, &bond, transfer).await.json()["status"], "pending");

        let approve = json!({"type": "token.approve", "pending_id": "t-1"});
        let verdict = t.check(&issuer, &bond, approve.clone()).await;
        let approved = t.op(&issuer, &bond, approve).await;

        assert_eq!(approved.status, 201, "{}", approved.text());
        assert_eq!(
            verdict,
            json!({"allowed": true, "outcome": "applied", "violations": []}),
            "the dry run must agree with the approval that was then accepted"
        );
    }
);

/// Codes as a party that may not read the register is told them.
fn as_seen_by_investor(codes: Vec<&'static str>) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = codes
        .into_iter()
        .map(|c| {
            if c.starts_with("receiver_") {
                "receiver_not_eligible"
            } else {
                c
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}
