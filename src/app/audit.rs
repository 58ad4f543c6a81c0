//! The regulator's audit of every ledger (`GET /v1/audit/ledgers`): the checks of
//! `midori verify` and `midori sandbox replay` run on the stored entries — signatures,
//! canonical form, indices and the Merkle root against the latest signed checkpoint; for a
//! bond the token invariants and the state the service maintains for it, entry by entry; for a
//! trial every recorded verdict replayed under its rulebook.
//!
//! Incremental, as an auditor keeping its last verified checkpoint would be: per ledger the
//! audit keeps (table `ledger_audits`) the checkpoint it verified, the tree's frontier at its
//! size and the audited state there (the bond's book, the trial's replay). The next audit
//! reads only the entries appended since; the new checkpoint's root, computed from the kept
//! frontier and the new leaves, proves the old checkpoint a prefix of the new one. A record is
//! written only after an audit that found nothing wrong; `full` starts again from entry 0.
//!
//! Entries stream from the store a page at a time into the verifier's thread, so memory does
//! not grow with the ledger.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::engine::{BookAudit, BookSnapshot};
use super::state::{BondDoc, effects, position_row, without_position_before};
use super::trials::{parse_rulebook, regulator_only};
use super::{App, AppError, AppResult, Caller};
use crate::domain::record;
use crate::ledger::audit::{self, AuditFailure, Options, TreeFrontier, Verified, verify_stream};
use crate::ledger::canon::{Jwk, b64url};
use crate::ledger::merkle::leaf_hash;
use crate::sandbox::ledger::{ReplayProgress, replay_export_from};
use crate::store::{AuditRow, BondFilter, MaintainedRows, PositionRow, TotalsRow};

/// One ledger as a regulator's audit sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LedgerAudit {
    /// `bond` or `trial`.
    pub kind: String,
    pub id: String,
    pub origin: String,
    pub size: String,
    /// Signatures, canonical form, indices and the Merkle root against the latest signed
    /// checkpoint all verify, and (bonds) the token invariants hold and the state served is
    /// the replay's / (trials) every recorded verdict is the rulebook's.
    pub verified: bool,
    /// Entries an earlier audit verified and this one did not read again ("0" for a full
    /// audit): the checkpoint that audit verified is proven a prefix of this one.
    pub already_verified: String,
    pub detail: String,
}

/// What the audit keeps of a ledger between runs, as JSON in `ledger_audits.record`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Kept {
    /// The checkpoint verified and the tree's frontier at its size.
    tree: TreeFrontier,
    /// A bond's audited book at that size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bond: Option<BookSnapshot>,
    /// A trial's replay up to that size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trial: Option<ReplayProgress>,
    /// A trial's entry 0 (its leaf hash, base64url), which a resumed replay reads again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<String>,
}

/// Entries an earlier audit had verified, and the outcome: the detail and what to keep, or
/// the failure.
type Audited = (u64, Result<(String, Kept), AuditFailure>);

/// Entries read from the store at a time, with the rows maintained for them (bonds).
struct Page {
    leaves: Vec<Vec<u8>>,
    rows: Option<MaintainedRows>,
}

/// What is maintained for one entry, taken from its page's rows.
#[derive(Default)]
struct AtIndex {
    parties: Vec<(String, Option<PositionRow>)>,
    holders: Vec<String>,
    totals: Option<TotalsRow>,
}

impl App {
    /// Every ledger, bonds and trials, audited (regulators); from entry 0 when `full`, else
    /// from where the last successful audit of each ledger stopped.
    pub async fn audit_ledgers(&self, caller: &Caller, full: bool) -> AppResult<Vec<LedgerAudit>> {
        regulator_only(caller)?;
        let keys: Vec<Jwk> = self
            .service_keys()
            .await?
            .into_iter()
            .map(|k| k.jwk)
            .collect();
        let mut ledgers: Vec<(&str, String, String, Option<String>)> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let rows = self
                .store
                .bonds(&BondFilter::default(), after.as_deref(), 200)
                .await?;
            ledgers.extend(
                rows.iter()
                    .map(|b| ("bond", b.id.clone(), b.ledger_id.clone(), None)),
            );
            match rows.last() {
                Some(last) if rows.len() == 200 => after = Some(last.id.clone()),
                _ => break,
            }
        }
        for t in self.store.trials().await? {
            ledgers.push(("trial", t.id, t.ledger_id, Some(t.rulebook)));
        }
        let mut out = Vec::with_capacity(ledgers.len());
        for (kind, id, ledger_id, rulebook) in ledgers {
            let kept = match full {
                true => None,
                // A record this build cannot read (another format) only means a full audit.
                false => self
                    .store
                    .audit_record(&ledger_id)
                    .await?
                    .and_then(|row| serde_json::from_str::<Kept>(&row.record).ok()),
            };
            let head = self.store.ledger(&ledger_id).await?;
            let (already, outcome) = match rulebook {
                None => self.audit_bond(&ledger_id, &keys, kept).await?,
                Some(text) => self.audit_trial(&ledger_id, &keys, &text, kept).await?,
            };
            let (verified, detail) = match outcome {
                Ok((detail, kept)) => {
                    self.keep(&ledger_id, &kept).await;
                    (true, detail)
                }
                Err(failure) => {
                    // The next audit starts again from entry 0: a ledger that failed keeps
                    // failing until it is put right, whatever an earlier audit had verified.
                    if let Err(e) = self.store.forget_audit_record(&ledger_id).await {
                        tracing::warn!(ledger = %ledger_id, error = %e, "could not clear the audit record");
                    }
                    (false, failure.to_string())
                }
            };
            out.push(LedgerAudit {
                kind: kind.to_owned(),
                id,
                origin: head.origin,
                size: head.size.to_string(),
                verified,
                already_verified: already.to_string(),
                detail,
            });
        }
        Ok(out)
    }

    /// A bond's ledger: entries, token invariants and the maintained state, from `kept` on.
    /// Returns how many entries an earlier audit had verified, and the outcome.
    async fn audit_bond(
        &self,
        ledger_id: &str,
        keys: &[Jwk],
        kept: Option<Kept>,
    ) -> AppResult<Audited> {
        // The checkpoint first, then the state row: the state is written in the transaction
        // that writes its checkpoint, so its size is at least the checkpoint's.
        let checkpoint = self.store.checkpoint(ledger_id, None).await?;
        let state = self.store.bond_state(ledger_id).await?;
        let Some(doc_text) = state.state else {
            return Ok((0, Err(audit::fail(None, "maintained state: none kept"))));
        };
        let stored_doc: BondDoc = match serde_json::from_str(&doc_text) {
            Ok(doc) => doc,
            Err(e) => return Ok((0, Err(audit::fail(None, format!("maintained state: {e}"))))),
        };
        // A kept book this build cannot go on from (its rules changed) means a full audit.
        let resumed = kept.and_then(|k| {
            let snapshot = k.bond?;
            let book = BookAudit::resume(&snapshot).ok()?;
            Some((book, k.tree, snapshot))
        });
        let (mut book, since, from) = match resumed {
            Some((book, tree, snapshot)) => (book, Some(tree), Some(snapshot)),
            None => (BookAudit::keeping_facts(), None, None),
        };
        let start = since.as_ref().map_or(0, |t| t.size);
        let end = state.size;
        let cp_size = checkpoint.size;
        let (mut rx, feeding) = self.stream(ledger_id, start, end, true);
        let note = checkpoint.note.clone();
        let keys = keys.to_vec();
        let check = tokio::task::spawn_blocking(move || {
            let maintained: RefCell<BTreeMap<u64, AtIndex>> = RefCell::new(BTreeMap::new());
            let lines = std::iter::from_fn(|| {
                let page = rx.blocking_recv()?;
                if let Some(rows) = page.rows {
                    file_rows(&mut maintained.borrow_mut(), rows);
                }
                Some(page.leaves)
            })
            .flatten();
            let mut at_checkpoint = from.filter(|_| start == cp_size);
            let options = Options { threads: 2, since };
            let verified = verify_stream(lines, &note, &keys, &options, |v: Verified<'_>| {
                let at = maintained.borrow_mut().remove(&v.index).unwrap_or_default();
                check_entry(&mut book, &v, at)?;
                if v.index + 1 == cp_size {
                    at_checkpoint = book.snapshot();
                }
                Ok(())
            });
            let (report, tree) = verified?;
            if report.entries != end {
                return Err(audit::fail(
                    None,
                    format!("read {} entries of {end}", report.entries),
                ));
            }
            match book.maintained_doc() {
                Some(Ok(doc)) if doc == stored_doc => {}
                Some(Ok(_)) => {
                    return Err(audit::fail(
                        None,
                        "maintained state: the state document (pending transfers, labels, \
                         facts) differs from the replay",
                    ));
                }
                Some(Err(why)) => return Err(audit::fail(None, why)),
                None => return Err(audit::fail(None, "not a bond's ledger")),
            }
            let Some(snapshot) = at_checkpoint else {
                return Err(audit::fail(None, "no book at the checkpoint's size"));
            };
            let positions: BTreeMap<String, PositionRow> = book
                .bond()
                .map(|b| {
                    b.book
                        .positions()
                        .iter()
                        .map(|(p, x)| (p.clone(), position_row(x)))
                        .collect()
                })
                .unwrap_or_default();
            let kept = Kept {
                tree,
                bond: Some(snapshot),
                trial: None,
                created: None,
            };
            Ok((report, kept, positions))
        });
        let checked = check.await.map_err(|e| AppError::Internal(e.to_string()))?;
        let fed = feeding
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let (report, kept, positions) = match (checked, fed) {
            // The verifier stopped on a fault: that is the answer, whatever the read-ahead hit.
            (Err(failure), _) => return Ok((start, Err(failure))),
            (Ok(_), Err(e)) => return Err(e),
            (Ok(done), Ok(())) => done,
        };
        // The register served at the head (each holder's latest row, which reads use) is the
        // replay's, holders with nothing left included: O(holders), whatever was re-read.
        let mut read = self.store.read_plain().await?;
        let register = read.register_at(ledger_id, end).await;
        read.finish().await;
        if register?.into_iter().collect::<BTreeMap<_, _>>() != positions {
            return Ok((
                start,
                Err(audit::fail(
                    None,
                    "maintained state: the register at the head differs from the replay",
                )),
            ));
        }
        let detail = format!(
            "{} entries verified against the signed checkpoint{}; token invariants hold; \
             the state served matches the replay",
            report.entries,
            resumed_note(report.already_verified),
        );
        Ok((start, Ok((detail, kept))))
    }

    /// A trial's ledger: entries, then every recorded verdict, from `kept` on, in one pass:
    /// each verified entry goes on to the replay, on a thread of its own.
    async fn audit_trial(
        &self,
        ledger_id: &str,
        keys: &[Jwk],
        rulebook: &str,
        kept: Option<Kept>,
    ) -> AppResult<Audited> {
        let Ok(rulebook) = parse_rulebook(rulebook, "/rulebook") else {
            return Ok((
                0,
                Err(audit::fail(None, "the stored rulebook does not parse")),
            ));
        };
        // Entries past the checkpoint are left for the next audit (a trial keeps no state
        // that must be compared at the head).
        let checkpoint = self.store.checkpoint(ledger_id, None).await?;
        let end = checkpoint.size;
        // The rule state and counts the report is read from, written with the checkpoint: to
        // compare with the replay's when no entry was appended in between.
        let served = self.store.trial_state(ledger_id).await?;
        let resumed = kept.and_then(|k| match (k.trial, k.created) {
            (Some(progress), Some(created)) if progress.entries == k.tree.size => {
                Some((k.tree, progress, created))
            }
            _ => None,
        });
        let start = resumed.as_ref().map_or(0, |r| r.0.size);
        // Resumed, the replay needs entry 0 again (it names the trial, its regulator and its
        // rulebook): it must be the entry 0 verified before.
        let mut zero = None;
        if let Some((_, _, created)) = &resumed {
            let row = self.store.entries(ledger_id, 0, 1).await?;
            match row.into_iter().next() {
                Some(r) if b64url(&leaf_hash(&r.leaf)) == *created => zero = Some(r.leaf),
                _ => {
                    return Ok((
                        start,
                        Err(audit::fail(
                            Some(0),
                            "not the entry an earlier audit verified",
                        )),
                    ));
                }
            }
        }
        let (since, progress, mut created) = match resumed {
            Some((tree, progress, created)) => (Some(tree), Some(progress), Some(created)),
            None => (None, None, None),
        };
        let (mut rx, feeding) = self.stream(ledger_id, start, end, false);
        let note = checkpoint.note.clone();
        let keys = keys.to_vec();
        let check = tokio::task::spawn_blocking(move || {
            let (to_replay, replay_lines) = std::sync::mpsc::sync_channel::<Vec<u8>>(1_024);
            std::thread::scope(|scope| {
                let rulebook = &rulebook;
                let progress = progress.as_ref();
                let replay = scope.spawn(move || {
                    let lines = zero.into_iter().chain(replay_lines);
                    replay_export_from(lines, rulebook, 1, progress)
                });
                let lines = std::iter::from_fn(|| rx.blocking_recv().map(|p| p.leaves)).flatten();
                let options = Options { threads: 2, since };
                let verified = verify_stream(lines, &note, &keys, &options, |v: Verified<'_>| {
                    if v.index == 0 {
                        created = Some(b64url(&leaf_hash(v.leaf)));
                    }
                    to_replay
                        .send(v.leaf.to_vec())
                        .map_err(|_| audit::fail(Some(v.index), "the replay stopped"))
                });
                drop(to_replay);
                let replayed = replay
                    .join()
                    .map_err(|_| audit::fail(None, "the replay's thread failed"))?
                    .map_err(|e| audit::fail(None, e.to_string()))?;
                let (report, tree) = verified?;
                Ok((report, tree, replayed, created))
            })
        });
        let checked = check.await.map_err(|e| AppError::Internal(e.to_string()))?;
        let fed = feeding
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let (report, tree, (replayed, progress), created) = match (checked, fed) {
            (Err(failure), _) => return Ok((start, Err(failure))),
            (Ok(_), Err(e)) => return Err(e),
            (Ok(done), Ok(())) => done,
        };
        // Compared only when the kept state is at the checkpoint's size (nothing appended
        // since it was read); else the next audit compares it.
        let served = served
            .state
            .filter(|_| served.size == end)
            .map(|text| serde_json::from_str::<crate::sandbox::Progress>(&text).ok());
        let outcome = if progress.entries != tree.size {
            Err(audit::fail(
                None,
                format!("replayed {} entries of {}", progress.entries, tree.size),
            ))
        } else if !replayed.consistent {
            Err(audit::fail(
                None,
                format!(
                    "{} recorded verdicts differ from the rulebook's",
                    replayed.mismatches.len()
                ),
            ))
        } else if served
            .as_ref()
            .is_some_and(|s| s.as_ref() != Some(&progress.replayer))
        {
            Err(audit::fail(
                None,
                "maintained state: the rule state and verdict counts the report is read from \
                 differ from the replay",
            ))
        } else {
            Ok((
                format!(
                    "{} entries verified against the signed checkpoint{}; {} recorded verdicts \
                     confirmed by replay{}",
                    report.entries,
                    resumed_note(report.already_verified),
                    replayed.transactions,
                    match served {
                        Some(_) => "; the state served matches the replay",
                        None => "",
                    }
                ),
                Kept {
                    tree,
                    bond: None,
                    trial: Some(progress),
                    created,
                },
            ))
        };
        Ok((start, outcome))
    }
}

impl App {
    /// Keep what an audit verified, for the next one to go on from. A failure to write it
    /// costs the next audit time, not this one its answer: logged, not returned.
    async fn keep(&self, ledger_id: &str, kept: &Kept) {
        let row = serde_json::to_string(kept).map(|record| AuditRow {
            size: kept.tree.size,
            record,
            audited_at: self.now(),
        });
        let saved = match row {
            Ok(row) => self
                .store
                .save_audit_record(ledger_id, &row)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = saved {
            tracing::warn!(ledger = %ledger_id, error = %e, "could not keep the audit record");
        }
    }

    /// Entries `[from, to)` of a ledger (with their maintained rows if `rows`), a page at a
    /// time, read by a task of their own a couple of pages ahead of the reader; the handle
    /// answers the store's error if reading stopped on one.
    fn stream(
        &self,
        ledger_id: &str,
        from: u64,
        to: u64,
        rows: bool,
    ) -> (
        tokio::sync::mpsc::Receiver<Page>,
        tokio::task::JoinHandle<AppResult<()>>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::channel::<Page>(2);
        let store = self.store.clone();
        let ledger = ledger_id.to_owned();
        let feeding = tokio::spawn(async move {
            // One connection throughout: every pooled connection would otherwise fill its own
            // page cache with the ledger's pages.
            let mut read = store.read_plain().await?;
            let fed = async {
                let mut at = from;
                while at < to {
                    let entries = read.entries_between(&ledger, at, to).await?;
                    let Some(last) = entries.last() else { break };
                    let next = last.index + 1;
                    let rows = match rows {
                        true => Some(read.maintained_rows(&ledger, at, next).await?),
                        false => None,
                    };
                    let page = Page {
                        leaves: entries.into_iter().map(|r| r.leaf).collect(),
                        rows,
                    };
                    if tx.send(page).await.is_err() {
                        break;
                    }
                    at = next;
                }
                Ok::<_, AppError>(())
            }
            .await;
            read.finish().await;
            fed
        });
        (rx, feeding)
    }
}

/// How much an earlier audit had verified, for the detail.
fn resumed_note(already: u64) -> String {
    match already {
        0 => String::new(),
        n => format!(" ({n} verified by an earlier audit, not read again)"),
    }
}

/// File a page's maintained rows by entry index.
fn file_rows(by_index: &mut BTreeMap<u64, AtIndex>, rows: MaintainedRows) {
    for (party, index, position) in rows.parties {
        by_index
            .entry(index)
            .or_default()
            .parties
            .push((party, position));
    }
    for (party, index) in rows.holders {
        by_index.entry(index).or_default().holders.push(party);
    }
    for (index, totals) in rows.totals {
        by_index.entry(index).or_default().totals = Some(totals);
    }
}

/// One verified entry of a bond's ledger: the token invariants, then what is maintained for it
/// against what replaying it gives (each party's position after it, the parties it gave a
/// first position, the book totals it changed).
fn check_entry(book: &mut BookAudit, v: &Verified<'_>, at: AtIndex) -> Result<(), AuditFailure> {
    let failed = |why: String| audit::fail(Some(v.index), why);
    let op = record::replay(&v.entry.kind, &v.entry.data).map_err(failed)?;
    let before = book.bond().map(|b| {
        let without = op
            .as_ref()
            .map(|(op, _)| without_position_before(op, &b.book))
            .unwrap_or_default();
        (without, b.book.totals())
    });
    book.apply_leaf(v.index, v.entry, v.leaf)
        .map_err(|why| failed(format!("invariant: {why}")))?;
    let Some(bond) = book.bond() else {
        return Err(failed("not a bond's registration".into()));
    };
    let (without, totals_before) = before.unwrap_or_else(|| (Vec::new(), bond.book.totals()));
    let parties: Vec<String> = at.parties.iter().map(|(p, _)| p.clone()).collect();
    let fx = effects(&bond.book, &parties, &without, totals_before)
        .map_err(|e| failed(format!("maintained state: {e}")))?;
    let mut kept: Vec<(String, PositionRow)> = at
        .parties
        .into_iter()
        .filter_map(|(p, r)| r.map(|r| (p, r)))
        .collect();
    let mut replayed = fx.positions;
    kept.sort_by(|a, b| a.0.cmp(&b.0));
    replayed.sort_by(|a, b| a.0.cmp(&b.0));
    if kept != replayed {
        let party = kept
            .iter()
            .zip(&replayed)
            .find(|(a, b)| a != b)
            .map(|(a, _)| a.0.clone())
            .unwrap_or_else(|| format!("{} kept, {} replayed", kept.len(), replayed.len()));
        return Err(failed(format!(
            "maintained state: the positions after the entry differ from the replay ({party})"
        )));
    }
    let (mut holders, mut first) = (at.holders, fx.holders);
    holders.sort();
    first.sort();
    if holders != first {
        return Err(failed(
            "maintained state: the parties given a first position differ from the replay".into(),
        ));
    }
    if at.totals != fx.totals {
        return Err(failed(
            "maintained state: the book totals differ from the replay".into(),
        ));
    }
    Ok(())
}
