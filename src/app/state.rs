//! A bond's state maintained as its entries are appended (written by the engine in each
//! batch's transaction, see `store::state`), and loaded from there by reads and by the engine
//! after a restart, in O(holders · log n) or O(facts) — never by replaying the ledger. Replay
//! remains the audit path (`super::audit`, `midori verify`), and the recovery
//! path for a ledger written before its state was maintained ([`rebuild`]).

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::engine::{BondReplay, book_terms, monitor_terms, once_key, rules_date};
use super::{AppError, AppResult};
use crate::domain::book::{Book, BookTerms, Op, Pending, Position, Totals};
use crate::domain::monitor::{Monitor, MonitorTerms};
use crate::domain::record;
use crate::ledger::entry::Entry;
use crate::store::{Batch, PositionRow, Store, TotalsRow};

/// What a bond's state row holds besides positions and totals: everything the book, the
/// monitor and the label need that is not a token position.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BondDoc {
    /// The book's totals and flags.
    pub totals: Totals,
    /// Transfers waiting for the issuer, by pending id.
    pub pending: BTreeMap<String, Pending>,
    /// Facts recorded once only (`coupon.paid:3`, `kpi.observed:k1`).
    pub once: BTreeSet<String>,
    /// Per label scheme, the status last recorded and the day it took effect.
    pub labels: BTreeMap<String, (String, String)>,
    /// The day (Japan) the bond was fully redeemed.
    pub redeemed_on: Option<String>,
    /// Every entry that is not a token operation (registration, monitoring, labels, coupons,
    /// KPIs), with the net proceeds monitoring judged it against.
    pub facts: Vec<(u64, String)>,
}

impl BondDoc {
    pub fn to_text(&self) -> AppResult<String> {
        serde_json::to_string(self).map_err(|e| AppError::Internal(format!("bond state: {e}")))
    }

    fn parse(text: &str) -> AppResult<BondDoc> {
        serde_json::from_str(text)
            .map_err(|e| AppError::Internal(format!("stored bond state: {e}")))
    }
}

pub fn position_row(p: &Position) -> PositionRow {
    PositionRow {
        balance: p.balance,
        held: p.held,
        frozen: p.frozen,
        frozen_all: p.frozen_all,
    }
}

pub fn position_of(r: &PositionRow) -> Position {
    Position {
        balance: r.balance,
        held: r.held,
        frozen: r.frozen,
        frozen_all: r.frozen_all,
    }
}

pub fn totals_row(t: Totals) -> TotalsRow {
    TotalsRow {
        issued: t.issued,
        redeemed: t.redeemed,
        issuance_closed: t.issuance_closed,
        paused: t.paused,
        fully_redeemed: t.fully_redeemed,
    }
}

pub fn totals_of(r: TotalsRow) -> Totals {
    Totals {
        issued: r.issued,
        redeemed: r.redeemed,
        issuance_closed: r.issuance_closed,
        paused: r.paused,
        fully_redeemed: r.fully_redeemed,
    }
}

/// The parties an operation may give a first position to: those it names, and a pending
/// transfer's parties.
pub fn without_position_before(op: &Op, book: &Book) -> Vec<String> {
    let mut named: Vec<String> = match op {
        Op::Issue { allocations } => allocations.iter().map(|(p, _)| p.clone()).collect(),
        Op::Transfer { to, .. } | Op::ForcedTransfer { to, .. } => vec![to.clone()],
        Op::Freeze { holder, .. } => vec![holder.clone()],
        Op::Approve { pending } => book
            .pending()
            .get(pending)
            .map(|p| vec![p.to.clone()])
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    named.retain(|p| !book.has_position(p));
    named
}

/// What one appended entry changes in a bond's maintained state.
#[derive(Debug, Default)]
pub struct Effects {
    /// The position after the entry of each of its parties that has one.
    pub positions: Vec<(String, PositionRow)>,
    /// Parties given their first position by the entry.
    pub holders: Vec<String>,
    /// The book's totals, if the entry changed them.
    pub totals: Option<TotalsRow>,
}

/// The effects of an entry, from the book after it. `parties` are the entry's parties (its
/// `entry_parties` rows); a party given a first position is always one of them.
pub fn effects(
    book: &Book,
    parties: &[String],
    without_before: &[String],
    totals_before: Totals,
) -> AppResult<Effects> {
    let mut out = Effects::default();
    for p in parties {
        if out.positions.iter().any(|(q, _)| q == p) {
            continue;
        }
        if let Some(position) = book.positions().get(p) {
            out.positions.push((p.clone(), position_row(position)));
        }
    }
    for p in without_before {
        if book.has_position(p) && !out.holders.contains(p) {
            if !parties.contains(p) {
                return Err(AppError::Internal(format!(
                    "an entry gave {p} a position without naming it"
                )));
            }
            out.holders.push(p.clone());
        }
    }
    let totals = book.totals();
    if totals != totals_before {
        out.totals = Some(totals_row(totals));
    }
    Ok(out)
}

/// A bond as its maintained state describes it at the head.
#[derive(Debug)]
pub struct Loaded {
    /// Entries on the ledger.
    pub size: u64,
    /// Time of the last entry (empty for an empty ledger).
    pub last_time: String,
    pub doc: BondDoc,
    /// Book (positions only if asked for), monitor, labels and redemption day.
    pub bond: BondReplay,
    /// The fact entries, in index order.
    pub facts: Vec<Entry>,
}

/// Load a bond's state at its head from what is maintained: its state row, the entries its
/// facts name, its totals, and (if `positions`) every position. `None` when the ledger has no
/// state row of this build's format (written before it; [`rebuild`] writes one).
pub async fn load(
    batch: &mut Batch<'_>,
    ledger_id: &str,
    book_terms: BookTerms,
    monitor_terms: MonitorTerms,
    positions: bool,
) -> AppResult<Option<Loaded>> {
    let row = batch.bond_state(ledger_id).await?;
    let Some(text) = row.state else {
        return Ok(None);
    };
    let doc = BondDoc::parse(&text)?;
    let size = row.size;
    let last_time = match size.checked_sub(1) {
        Some(last) => batch.entry_time(ledger_id, last).await?,
        None => String::new(),
    };
    let held: BTreeMap<String, Position> = if positions {
        batch
            .register_at(ledger_id, size)
            .await?
            .into_iter()
            .map(|(p, r)| (p, position_of(&r)))
            .collect()
    } else {
        BTreeMap::new()
    };
    let indices: Vec<u64> = doc.facts.iter().map(|(i, _)| *i).collect();
    let facts: Vec<Entry> = batch
        .entries_at(ledger_id, &indices)
        .await?
        .iter()
        .map(|r| Entry::from_leaf(&r.leaf).map(|(e, _)| e))
        .collect::<Result<_, _>>()?;
    let mut monitor = Monitor::new(monitor_terms);
    for ((index, net), entry) in doc.facts.iter().zip(&facts) {
        let on = entry_day(entry)?;
        let net: Decimal = net
            .parse()
            .map_err(|_| AppError::Internal(format!("stored net proceeds {net:?}")))?;
        let actor = entry.actor.as_ref().map(|a| a.party.as_str()).unwrap_or("");
        monitor
            .apply_recorded(&entry.kind, &entry.data, *index, on, actor, net)
            .map_err(|e| AppError::Internal(format!("entry {index}: {e}")))?;
    }
    let redeemed_on = doc
        .redeemed_on
        .as_deref()
        .map(crate::domain::wire::parse_date)
        .transpose()
        .map_err(|_| AppError::Internal("stored redemption day".into()))?;
    let book = Book::restore(book_terms, doc.totals, held, doc.pending.clone());
    Ok(Some(Loaded {
        size,
        last_time,
        bond: BondReplay {
            book,
            monitor,
            labels: doc.labels.clone(),
            redeemed_on,
        },
        doc,
        facts,
    }))
}

impl std::ops::Deref for Loaded {
    type Target = BondReplay;
    fn deref(&self) -> &BondReplay {
        &self.bond
    }
}

/// The day (Japan) of an entry.
pub fn entry_day(entry: &Entry) -> AppResult<time::Date> {
    OffsetDateTime::parse(&entry.time, &Rfc3339)
        .map(rules_date)
        .map_err(|e| AppError::Internal(format!("entry {}: time: {e}", entry.index)))
}

/// A bond's maintained state recomputed by replaying its first `size` entries.
#[derive(Debug, PartialEq, Eq)]
pub struct Recomputed {
    pub size: u64,
    pub positions: Vec<(String, u64, PositionRow)>,
    pub holders: Vec<(String, u64)>,
    pub totals: Vec<(u64, TotalsRow)>,
    pub doc: BondDoc,
}

/// Replay a bond ledger (the recovery path) into the state the engine maintains.
/// Positions are those of the ledger's `entry_parties` rows.
pub async fn recompute(
    store: &Store,
    ledger_id: &str,
    issuer: &str,
    spec: &str,
) -> AppResult<Recomputed> {
    let head = store.ledger(ledger_id).await?;
    let mut parties_at: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (party, index) in store.entry_parties_of(ledger_id).await? {
        parties_at.entry(index).or_default().push(party);
    }
    let mut replay = BondReplay::new(book_terms(issuer, spec)?, monitor_terms(spec)?);
    let mut out = Recomputed {
        size: head.size,
        positions: Vec::new(),
        holders: Vec::new(),
        totals: Vec::new(),
        doc: BondDoc::default(),
    };
    let mut start = 0;
    while start < head.size {
        let rows = store.entries(ledger_id, start, head.size).await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let (entry, _) = Entry::from_leaf(&row.leaf)?;
            let index = row.index;
            let op = record::replay(&entry.kind, &entry.data).map_err(AppError::Internal)?;
            let without = op
                .as_ref()
                .map(|(op, _)| without_position_before(op, &replay.book))
                .unwrap_or_default();
            let before = replay.book.totals();
            let net = replay.monitor.terms().net_proceeds(replay.book.issued());
            replay.apply(&entry).map_err(AppError::Internal)?;
            if op.is_none() {
                out.doc.facts.push((index, net.normalize().to_string()));
            }
            if let Some(key) = once_key(&entry.kind, &entry.data) {
                out.doc.once.insert(key);
            }
            let parties = parties_at.remove(&index).unwrap_or_default();
            let fx = effects(&replay.book, &parties, &without, before)?;
            out.positions
                .extend(fx.positions.into_iter().map(|(p, r)| (p, index, r)));
            out.holders
                .extend(fx.holders.into_iter().map(|p| (p, index)));
            if let Some(t) = fx.totals {
                out.totals.push((index, t));
            }
        }
        start += rows.len() as u64;
    }
    out.doc.totals = replay.book.totals();
    out.doc.pending = replay.book.pending().clone();
    out.doc.labels = replay.labels.clone();
    out.doc.redeemed_on = replay.redeemed_on.map(crate::domain::wire::format_date);
    Ok(out)
}

/// Recovery: write the maintained state of a bond ledger from its entries (a ledger written
/// before state was maintained, or by a build with another state format). The positions are
/// set on the ledger's existing `entry_parties` rows.
pub async fn rebuild(store: &Store, ledger_id: &str, issuer: &str, spec: &str) -> AppResult<()> {
    let r = recompute(store, ledger_id, issuer, spec).await?;
    store
        .write_rebuilt(
            ledger_id,
            r.size,
            &r.positions,
            &r.holders,
            &r.totals,
            &r.doc.to_text()?,
        )
        .await?;
    Ok(())
}

/// Recovery at start: rebuild the state of every bond ledger that has none of this build's
/// format. Returns how many were rebuilt.
pub async fn rebuild_missing(store: &Store) -> AppResult<usize> {
    let mut n = 0;
    for (ledger_id, issuer, spec) in store.bonds_without_state().await? {
        tracing::info!(ledger = %ledger_id, "rebuilding the maintained state from the ledger");
        rebuild(store, &ledger_id, &issuer, &spec).await?;
        n += 1;
    }
    Ok(n)
}
