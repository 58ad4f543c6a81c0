//! Rulebooks: the versioned TOML files under `sandbox/` that fix a trial's rules.
//!
//! ```toml
//! id = "osaka-ifc-green-st"
//! version = 1
//! title = "…"
//! currency = "JPY"
//! disclosure_version = "2026-10"
//!
//! [[rule]]
//! id = "SBX-CAP-TX"
//! kind = "transaction_cap"
//! max_amount = "10000000"
//! reason = "A single subscription or transfer may not exceed ¥10,000,000."
//! ```
//!
//! [`Rulebook::parse`] checks the whole file: unknown fields, unknown kinds, duplicate ids, a
//! kind used twice and invalid parameters are errors naming the rule. Money is a string in
//! the rulebook's currency (never a TOML float); times are RFC 3339 with an offset or plain
//! dates, which mean midnight Asia/Tokyo (an end date includes its whole day). The rulebook is
//! pinned by the SHA-256 of its exact bytes. docs/sandbox.md documents every kind.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

use crate::domain::bond::Category;
use crate::domain::ids::Currency;
use crate::domain::money::Amount;
use crate::domain::party::InvestorCategory;
use crate::domain::wire::{parse_date, wire_enum};
use crate::sandbox::tx::TxType;
use crate::sandbox::{ID_LEN_MAX, PARTICIPANTS_MAX, SandboxError, TRIAL_OFFSET, trial_date};

/// Largest rulebook file accepted: a real one is a few kilobytes.
pub const RULEBOOK_BYTES_MAX: usize = 256 * 1024;

/// Longest rule id and rulebook id.
pub const RULE_ID_LEN_MAX: usize = 64;

/// Longest title or reason text.
pub const TEXT_LEN_MAX: usize = 2_000;

/// Longest period a rule may count in days (lock-up, exit, reporting): ten years, far beyond
/// any sandbox trial.
pub const DAYS_MAX: u32 = 3_660;

wire_enum! {
    /// Which rule a `[[rule]]` table is: its `kind`.
    pub enum RuleKind ("rule kind") {
        Window = "window",
        Participants = "participants",
        Consent = "consent",
        TransactionCap = "transaction_cap",
        InvestorCap = "investor_cap",
        AggregateCap = "aggregate_cap",
        DailyCap = "daily_cap",
        AllowedTypes = "allowed_types",
        Status = "status",
        Exit = "exit",
        ReportDue = "report_due",
        Kyc = "kyc",
        Offering = "offering",
        TransferCategory = "transfer_category",
        HolderCap = "holder_cap",
        IssuerConsent = "issuer_consent",
        LockUp = "lock_up",
        UseOfProceeds = "use_of_proceeds",
    }
}

wire_enum! {
    /// The private-placement (or public) regime of the trial's offering under the FIEA.
    pub enum OfferingType ("offering type") {
        /// Only qualified institutional investors may acquire (technical transfer restriction).
        QiiOnly = "qii_only",
        /// Only professional investors (QIIs included) may acquire.
        ProfessionalOnly = "professional_only",
        /// At most `max_offerees` distinct investors may ever acquire.
        SmallNumber = "small_number",
        /// Anyone admitted may acquire.
        Public = "public",
    }
}

wire_enum! {
    /// What a per-investor cap measures.
    pub enum CapBasis ("cap basis") {
        /// The investor's position after the acquisition (exposure).
        Holding = "holding",
        /// Everything the investor acquired in the trial, sales not deducted (purchases).
        Acquired = "acquired",
    }
}

/// Rules that every trial has, whatever its rulebook says: without them no other rule could be
/// judged. Their ids are reserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BuiltinRule {
    /// The amount is zero, has more decimals than the currency's minor unit, or would take a
    /// running total past `state::TOTAL_UNITS_MAX`.
    Amount,
    /// The sender holds less than it sends.
    Balance,
    /// A field is empty or too long, or an admission is malformed.
    Format,
    /// The replay's memory bounds ([`PARTICIPANTS_MAX`], `PENDING_CONSENTS_MAX`).
    Limit,
    /// A party is unknown, or the transaction names a party it cannot name.
    Party,
    /// The sender's role may not send this type, or the counterparty's role may not receive.
    Role,
    /// The time is earlier than the trial's clock or cannot be placed on the calendar.
    Time,
    /// The status change is not allowed (closed is final; exiting only closes).
    Transition,
}

/// One rule of a rulebook, as listed in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    id: String,
    kind: RuleKind,
    reason: String,
}

/// A parsed and validated rulebook, pinned by the SHA-256 of its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rulebook {
    id: String,
    version: u32,
    title: String,
    currency: Currency,
    disclosure_version: String,
    sha256: String,
    rules: Vec<Rule>,
    pub(crate) set: RuleSet,
}

/// Index of a rule in [`Rulebook::rules`].
pub(crate) type Ix = u16;

/// The rules by kind, with typed parameters, for O(1) lookups during replay.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RuleSet {
    pub window: Option<(Ix, Window)>,
    pub participants: Option<(Ix, usize)>,
    pub consent: Option<Ix>,
    pub transaction_cap: Option<(Ix, Decimal)>,
    pub investor_cap: Option<(Ix, InvestorCap)>,
    pub aggregate_cap: Option<(Ix, Decimal)>,
    pub daily_cap: Option<(Ix, Decimal)>,
    /// A bit per allowed [`TxType`] (`TxType::bit`).
    pub allowed_types: Option<(Ix, u16)>,
    pub status: Option<Ix>,
    pub exit: Option<(Ix, u32)>,
    pub report_due: Option<(Ix, ReportDue)>,
    pub kyc: Option<Ix>,
    pub offering: Option<(Ix, Offering)>,
    pub transfer_category: Option<(Ix, CategorySet)>,
    pub holder_cap: Option<(Ix, u64)>,
    pub issuer_consent: Option<Ix>,
    pub lock_up: Option<(Ix, u32)>,
    pub use_of_proceeds: Option<(Ix, BTreeSet<Category>)>,
}

/// A half-open interval of time: `start` ≤ t < `until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub start: OffsetDateTime,
    pub until: OffsetDateTime,
}

/// Caps per investor category, on one basis. A category without a cap may not acquire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InvestorCap {
    pub basis: CapBasis,
    pub caps: [Option<Decimal>; 3],
}

/// Reports are due every `every_days` from `start`, with `grace_days` to file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReportDue {
    pub every_days: u32,
    pub grace_days: u32,
    pub start: Date,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Offering {
    pub offering: OfferingType,
    /// For `small_number` only; zero otherwise.
    pub max_offerees: u64,
}

/// A set of investor categories.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CategorySet([bool; 3]);

impl BuiltinRule {
    /// Every built-in rule, in the order of their ids.
    pub const ALL: [BuiltinRule; 8] = [
        BuiltinRule::Amount,
        BuiltinRule::Balance,
        BuiltinRule::Format,
        BuiltinRule::Limit,
        BuiltinRule::Party,
        BuiltinRule::Role,
        BuiltinRule::Time,
        BuiltinRule::Transition,
    ];

    /// The rule id reported in verdicts.
    pub const fn id(self) -> &'static str {
        match self {
            BuiltinRule::Amount => "SBX-AMOUNT",
            BuiltinRule::Balance => "SBX-BALANCE",
            BuiltinRule::Format => "SBX-FORMAT",
            BuiltinRule::Limit => "SBX-LIMIT",
            BuiltinRule::Party => "SBX-PARTY",
            BuiltinRule::Role => "SBX-ROLE",
            BuiltinRule::Time => "SBX-TIME",
            BuiltinRule::Transition => "SBX-TRANSITION",
        }
    }

    /// The reason reported in verdicts.
    pub const fn reason(self) -> &'static str {
        match self {
            BuiltinRule::Amount => {
                "The amount must be greater than zero, have no more decimals than the trial \
                 currency's minor unit, and keep every running total within limits."
            }
            BuiltinRule::Balance => "The sender does not hold enough tokens.",
            BuiltinRule::Format => {
                "A field is empty or too long, or the admission is malformed (an investor needs \
                 a category, an issuer has none; only issuers and investors are admitted)."
            }
            BuiltinRule::Limit => {
                "The trial has reached a bound of the replay itself (participants or pending \
                 consents)."
            }
            BuiltinRule::Party => {
                "A party in the transaction is not admitted to the trial, or cannot be named \
                 there (a regulator, the sender itself, a change of role)."
            }
            BuiltinRule::Role => {
                "The sender's role may not send this transaction, or the counterparty's role \
                 may not receive it: the regulator admits and changes status, issuers issue, \
                 consent and report, investors transfer and redeem."
            }
            BuiltinRule::Time => {
                "The transaction is earlier than the trial's latest accepted transaction, or \
                 its time cannot be placed on the calendar."
            }
            BuiltinRule::Transition => {
                "The status change is not allowed: closed is final, an exiting trial can only \
                 close, and a status cannot change to itself."
            }
        }
    }
}

impl Rule {
    /// The rule's id, as reported in verdicts (`"SBX-WINDOW"`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Which rule it is.
    pub fn kind(&self) -> RuleKind {
        self.kind
    }

    /// The text shown on violation.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl CategorySet {
    pub fn contains(&self, category: InvestorCategory) -> bool {
        self.0[category_ix(category)]
    }
}

/// Index of a category in per-category arrays.
pub(crate) const fn category_ix(category: InvestorCategory) -> usize {
    match category {
        InvestorCategory::Qii => 0,
        InvestorCategory::Professional => 1,
        InvestorCategory::General => 2,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRulebook {
    id: String,
    version: u32,
    title: String,
    currency: String,
    disclosure_version: String,
    #[serde(default)]
    rule: Vec<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowParams {
    start: toml::Value,
    end: toml::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParticipantsParams {
    max_participants: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaxAmountParams {
    max_amount: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InvestorCapParams {
    basis: String,
    caps: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AggregateCapParams {
    max_outstanding: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowedTypesParams {
    types: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExitParams {
    exit_days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportDueParams {
    every_days: u32,
    #[serde(default)]
    grace_days: u32,
    #[serde(default)]
    start: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfferingParams {
    offering: String,
    #[serde(default)]
    max_offerees: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowedParams {
    allowed: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolderCapParams {
    max_holders: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LockUpParams {
    lock_up_days: u32,
}

impl Rulebook {
    /// Parses and validates a rulebook from the exact bytes of its file; `sha256()` is their
    /// hash.
    pub fn parse(bytes: &[u8]) -> Result<Rulebook, SandboxError> {
        if bytes.len() > RULEBOOK_BYTES_MAX {
            return Err(SandboxError::TooLarge {
                size: bytes.len(),
                max: RULEBOOK_BYTES_MAX,
            });
        }
        let sha256 = hex_lower(&Sha256::digest(bytes));
        let text = std::str::from_utf8(bytes)
            .map_err(|_| SandboxError::Toml("the file is not UTF-8".to_owned()))?;
        let raw: RawRulebook =
            toml::from_str(text).map_err(|e| SandboxError::Toml(e.to_string().trim().into()))?;

        let field = |field: &'static str, problem: String| SandboxError::Field { field, problem };
        if !is_rule_id(&raw.id) {
            return Err(field("id", id_rule_text(&raw.id)));
        }
        if raw.version == 0 {
            return Err(field("version", "must be 1 or more".into()));
        }
        if !is_text(&raw.title, TEXT_LEN_MAX) {
            return Err(field("title", text_rule_text(TEXT_LEN_MAX)));
        }
        let currency =
            Currency::parse(&raw.currency).map_err(|e| field("currency", e.to_string()))?;
        if !is_text(&raw.disclosure_version, ID_LEN_MAX) {
            return Err(field("disclosure_version", text_rule_text(ID_LEN_MAX)));
        }

        let mut rules = Vec::with_capacity(raw.rule.len());
        let mut set = RuleSet::default();
        let mut kinds: BTreeMap<&'static str, String> = BTreeMap::new();
        let mut report_start_missing = None;
        for (index, mut table) in raw.rule.into_iter().enumerate() {
            let position = format!("#{} (counting from 1)", index + 1);
            let id = match table.remove("id") {
                Some(toml::Value::String(id)) => id,
                _ => {
                    return Err(SandboxError::Rule {
                        rule: position,
                        problem: "needs a string `id`".into(),
                    });
                }
            };
            let rule_error = |problem: String| SandboxError::Rule {
                rule: id.clone(),
                problem,
            };
            if !is_rule_id(&id) {
                return Err(rule_error(id_rule_text(&id)));
            }
            if BuiltinRule::ALL.iter().any(|b| b.id() == id) {
                return Err(SandboxError::ReservedId(id));
            }
            if rules.iter().any(|rule: &Rule| rule.id == id) {
                return Err(SandboxError::DuplicateId(id));
            }
            let kind = match table.remove("kind") {
                Some(toml::Value::String(kind)) => kind,
                _ => return Err(rule_error("needs a string `kind`".into())),
            };
            let kind = RuleKind::parse(&kind).map_err(|_| SandboxError::UnknownKind {
                rule: id.clone(),
                kind: kind.clone(),
                known: RuleKind::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            if let Some(first) = kinds.insert(kind.as_str(), id.clone()) {
                return Err(SandboxError::DuplicateKind {
                    kind: kind.as_str(),
                    first,
                    second: id,
                });
            }
            let reason = match table.remove("reason") {
                Some(toml::Value::String(reason)) if is_text(&reason, TEXT_LEN_MAX) => reason,
                _ => {
                    return Err(rule_error(format!(
                        "needs a `reason`: {}",
                        text_rule_text(TEXT_LEN_MAX)
                    )));
                }
            };
            let ix = Ix::try_from(index).map_err(|_| rule_error("too many rules".into()))?;
            let amount = |text: &str, name: &str| {
                Amount::parse(text, currency)
                    .map(|a| a.value())
                    .map_err(|e| rule_error(format!("`{name}`: {e}")))
            };
            let days = |value: u32, name: &str, min: u32| {
                if (min..=DAYS_MAX).contains(&value) {
                    Ok(value)
                } else {
                    Err(rule_error(format!(
                        "`{name}` must be from {min} to {DAYS_MAX} days; got {value}"
                    )))
                }
            };
            let count = |value: u64, name: &str| {
                if (1..=PARTICIPANTS_MAX as u64).contains(&value) {
                    Ok(value)
                } else {
                    Err(rule_error(format!(
                        "`{name}` must be from 1 to {PARTICIPANTS_MAX}; got {value}"
                    )))
                }
            };
            match kind {
                RuleKind::Window => {
                    let p: WindowParams = params(&id, table)?;
                    let start = instant(&p.start, false)
                        .map_err(|e| rule_error(format!("`start`: {e}")))?;
                    let until =
                        instant(&p.end, true).map_err(|e| rule_error(format!("`end`: {e}")))?;
                    if start >= until {
                        return Err(rule_error("`end` must be after `start`".into()));
                    }
                    set.window = Some((ix, Window { start, until }));
                }
                RuleKind::Participants => {
                    let p: ParticipantsParams = params(&id, table)?;
                    let max = count(p.max_participants, "max_participants")?;
                    set.participants = Some((ix, usize::try_from(max).unwrap_or(PARTICIPANTS_MAX)));
                }
                RuleKind::Consent => {
                    let _: NoParams = params(&id, table)?;
                    set.consent = Some(ix);
                }
                RuleKind::TransactionCap => {
                    let p: MaxAmountParams = params(&id, table)?;
                    set.transaction_cap = Some((ix, amount(&p.max_amount, "max_amount")?));
                }
                RuleKind::InvestorCap => {
                    let p: InvestorCapParams = params(&id, table)?;
                    let basis = CapBasis::parse(&p.basis)
                        .map_err(|e| rule_error(format!("`basis`: {e}")))?;
                    let mut caps = [None; 3];
                    for (name, text) in &p.caps {
                        let category = InvestorCategory::parse(name)
                            .map_err(|e| rule_error(format!("`caps`: {e}")))?;
                        caps[category_ix(category)] = Some(amount(text, &format!("caps.{name}"))?);
                    }
                    if caps.iter().all(Option::is_none) {
                        return Err(rule_error(
                            "`caps` must give a cap for at least one investor category".into(),
                        ));
                    }
                    set.investor_cap = Some((ix, InvestorCap { basis, caps }));
                }
                RuleKind::AggregateCap => {
                    let p: AggregateCapParams = params(&id, table)?;
                    set.aggregate_cap = Some((ix, amount(&p.max_outstanding, "max_outstanding")?));
                }
                RuleKind::DailyCap => {
                    let p: MaxAmountParams = params(&id, table)?;
                    set.daily_cap = Some((ix, amount(&p.max_amount, "max_amount")?));
                }
                RuleKind::AllowedTypes => {
                    let p: AllowedTypesParams = params(&id, table)?;
                    if p.types.is_empty() {
                        return Err(rule_error("`types` must list at least one type".into()));
                    }
                    let mut bits = 0u16;
                    for name in &p.types {
                        let tx_type =
                            TxType::parse(name).map_err(|e| rule_error(format!("`types`: {e}")))?;
                        bits |= tx_type.bit();
                    }
                    set.allowed_types = Some((ix, bits));
                }
                RuleKind::Status => {
                    let _: NoParams = params(&id, table)?;
                    set.status = Some(ix);
                }
                RuleKind::Exit => {
                    let p: ExitParams = params(&id, table)?;
                    set.exit = Some((ix, days(p.exit_days, "exit_days", 0)?));
                }
                RuleKind::ReportDue => {
                    let p: ReportDueParams = params(&id, table)?;
                    let every_days = days(p.every_days, "every_days", 1)?;
                    let grace_days = days(p.grace_days, "grace_days", 0)?;
                    let start = match &p.start {
                        Some(value) => {
                            let start = instant(value, false)
                                .map_err(|e| rule_error(format!("`start`: {e}")))?;
                            trial_date(start)
                                .ok_or_else(|| rule_error("`start` is out of range".into()))?
                        }
                        None => {
                            report_start_missing = Some(id.clone());
                            Date::MIN
                        }
                    };
                    set.report_due = Some((
                        ix,
                        ReportDue {
                            every_days,
                            grace_days,
                            start,
                        },
                    ));
                }
                RuleKind::Kyc => {
                    let _: NoParams = params(&id, table)?;
                    set.kyc = Some(ix);
                }
                RuleKind::Offering => {
                    let p: OfferingParams = params(&id, table)?;
                    let offering = OfferingType::parse(&p.offering)
                        .map_err(|e| rule_error(format!("`offering`: {e}")))?;
                    let max_offerees = match (offering, p.max_offerees) {
                        (OfferingType::SmallNumber, Some(max)) => count(max, "max_offerees")?,
                        (OfferingType::SmallNumber, None) => {
                            return Err(rule_error(
                                "a small_number offering needs `max_offerees`".into(),
                            ));
                        }
                        (_, Some(_)) => {
                            return Err(rule_error(
                                "`max_offerees` applies only to a small_number offering".into(),
                            ));
                        }
                        (_, None) => 0,
                    };
                    set.offering = Some((
                        ix,
                        Offering {
                            offering,
                            max_offerees,
                        },
                    ));
                }
                RuleKind::TransferCategory => {
                    let p: AllowedParams = params(&id, table)?;
                    if p.allowed.is_empty() {
                        return Err(rule_error(
                            "`allowed` must list at least one category".into(),
                        ));
                    }
                    let mut categories = CategorySet::default();
                    for name in &p.allowed {
                        let category = InvestorCategory::parse(name)
                            .map_err(|e| rule_error(format!("`allowed`: {e}")))?;
                        categories.0[category_ix(category)] = true;
                    }
                    set.transfer_category = Some((ix, categories));
                }
                RuleKind::HolderCap => {
                    let p: HolderCapParams = params(&id, table)?;
                    set.holder_cap = Some((ix, count(p.max_holders, "max_holders")?));
                }
                RuleKind::IssuerConsent => {
                    let _: NoParams = params(&id, table)?;
                    set.issuer_consent = Some(ix);
                }
                RuleKind::LockUp => {
                    let p: LockUpParams = params(&id, table)?;
                    set.lock_up = Some((ix, days(p.lock_up_days, "lock_up_days", 0)?));
                }
                RuleKind::UseOfProceeds => {
                    let p: AllowedParams = params(&id, table)?;
                    if p.allowed.is_empty() {
                        return Err(rule_error(
                            "`allowed` must list at least one category".into(),
                        ));
                    }
                    let allowed = p
                        .allowed
                        .iter()
                        .map(|name| Category::parse(name))
                        .collect::<Result<BTreeSet<_>, _>>()
                        .map_err(|e| rule_error(format!("`allowed`: {e}")))?;
                    set.use_of_proceeds = Some((ix, allowed));
                }
            }
            rules.push(Rule { id, kind, reason });
        }

        // A report rule without its own start counts from the trial window's start.
        if let Some(rule) = report_start_missing {
            let start = set.window.and_then(|(_, window)| trial_date(window.start));
            match (start, set.report_due.as_mut()) {
                (Some(start), Some((_, report))) => report.start = start,
                _ => {
                    return Err(SandboxError::Rule {
                        rule,
                        problem: "needs `start`, or a window rule to count from".into(),
                    });
                }
            }
        }

        Ok(Rulebook {
            id: raw.id,
            version: raw.version,
            title: raw.title,
            currency,
            disclosure_version: raw.disclosure_version,
            sha256,
            rules,
            set,
        })
    }

    /// The rulebook's id (the trial programme), e.g. `"osaka-ifc-green-st"`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The rulebook's version; a revision of the same programme has a higher one.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Its title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The currency of every amount in the trial.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The disclosure document version participants must consent to.
    pub fn disclosure_version(&self) -> &str {
        &self.disclosure_version
    }

    /// Lowercase hex SHA-256 of the file's bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|rule| rule.id == id)
    }

    /// The rule at `ix`; every `Ix` in the rule set comes from this rulebook.
    pub(crate) fn at(&self, ix: Ix) -> Option<&Rule> {
        self.rules.get(usize::from(ix))
    }
}

/// Deserialises a rule's parameters (its table without `id`, `kind` and `reason`).
fn params<T: DeserializeOwned>(rule: &str, table: toml::Table) -> Result<T, SandboxError> {
    toml::Value::Table(table)
        .try_into::<T>()
        .map_err(|e| SandboxError::Rule {
            rule: rule.to_owned(),
            // toml puts the field on a second line; a verdict-style message reads better on one.
            problem: e.to_string().trim().replace('\n', " "),
        })
}

/// A point in time from an RFC 3339 time with offset, or from a date meaning midnight in
/// Asia/Tokyo; for the end of a window (`end`) a date means the following midnight, so that the
/// day is included.
fn instant(value: &toml::Value, end: bool) -> Result<OffsetDateTime, String> {
    let text = match value {
        toml::Value::String(text) => text.clone(),
        toml::Value::Datetime(datetime) => datetime.to_string(),
        _ => return Err("must be a date YYYY-MM-DD or an RFC 3339 time with offset".into()),
    };
    if let Ok(date) = parse_date(&text) {
        let date = if end {
            date.next_day().ok_or("is out of range")?
        } else {
            date
        };
        return Ok(PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_offset(TRIAL_OFFSET));
    }
    OffsetDateTime::parse(&text, &Rfc3339).map_err(|_| {
        format!("{text:?} is neither a date YYYY-MM-DD nor an RFC 3339 time with offset")
    })
}

fn is_rule_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= RULE_ID_LEN_MAX
        && id
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphanumeric() || (i > 0 && matches!(b, b'-' | b'_' | b'.')))
}

fn id_rule_text(id: &str) -> String {
    format!(
        "{id:?} is not an id: 1 to {RULE_ID_LEN_MAX} ASCII letters, digits, '-', '_' or '.', \
         starting with a letter or digit"
    )
}

fn is_text(text: &str, max: usize) -> bool {
    !text.trim().is_empty()
        && text.len() <= max
        && !text.chars().any(|c| c.is_control() && c != '\n')
}

fn text_rule_text(max: usize) -> String {
    format!("must be non-empty text of at most {max} bytes without control characters")
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}
