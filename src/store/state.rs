//! State maintained as entries are appended (migration `maintained_state`), written in the
//! batch's transaction and read by index lookups: a bond's positions after each entry (as
//! columns of `entry_parties`), the parties that have had a position (`ledger_holders`), its
//! book totals after each change (`book_changes`) and the rest of its state at the head
//! (`bond_states`). Reads cost O(holders · log n) or O(log n), never O(entries).

use sqlx::AssertSqlSafe;

use super::{Batch, Conn, Db, EntryRow, Store, StoreError, StoreResult};

/// The state format written by this build; a stored state of another format is rebuilt from
/// the ledger (the recovery path), never read.
pub const STATE_FORMAT: i64 = 1;

/// A party's token position on a bond, after some entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PositionRow {
    pub balance: u64,
    pub held: u64,
    pub frozen: u64,
    pub frozen_all: bool,
}

/// A bond's book totals, after some entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TotalsRow {
    pub issued: u64,
    pub redeemed: u64,
    pub issuance_closed: bool,
    pub paused: bool,
    pub fully_redeemed: bool,
}

/// A bond's maintained state at its head: the head's size (read in the same statement) and
/// the state document, if one of this build's format is stored.
#[derive(Clone, Debug)]
pub struct StateRow {
    pub size: u64,
    pub state: Option<String>,
}

type PositionTuple = (String, i64, i64, i64, bool);
type TotalsTuple = (i64, i64, bool, bool, bool);

fn unsigned(v: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative {what}")))
}

fn position(
    (party, balance, held, frozen, frozen_all): PositionTuple,
) -> StoreResult<(String, PositionRow)> {
    Ok((
        party,
        PositionRow {
            balance: unsigned(balance, "balance")?,
            held: unsigned(held, "held")?,
            frozen: unsigned(frozen, "frozen")?,
            frozen_all,
        },
    ))
}

/// Position rows by their key (party or ledger) in byte order, on both backends alike
/// (PostgreSQL's collation may order text otherwise).
fn by_key(rows: Vec<PositionTuple>) -> StoreResult<Vec<(String, PositionRow)>> {
    let mut out = rows
        .into_iter()
        .map(position)
        .collect::<StoreResult<Vec<_>>>()?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn totals(
    (issued, redeemed, issuance_closed, paused, fully_redeemed): TotalsTuple,
) -> StoreResult<TotalsRow> {
    Ok(TotalsRow {
        issued: unsigned(issued, "issued")?,
        redeemed: unsigned(redeemed, "redeemed")?,
        issuance_closed,
        paused,
        fully_redeemed,
    })
}

/// The parties with a position on the ledger as of its first `size` entries, with that
/// position: per party, one primary-key lookup of its latest `entry_parties` row.
const REGISTER_SQL: &str = "SELECT h.party_id, p.balance, p.held, p.frozen, p.frozen_all \
     FROM ledger_holders h JOIN entry_parties p \
       ON p.party_id = h.party_id AND p.ledger_id = h.ledger_id \
      AND p.idx = (SELECT max(q.idx) FROM entry_parties q \
                   WHERE q.party_id = h.party_id AND q.ledger_id = h.ledger_id AND q.idx < $2) \
     WHERE h.ledger_id = $1 AND h.first_idx < $2 ORDER BY h.party_id";

/// The book totals as of the first `size` entries (none before the first change).
const TOTALS_SQL: &str = "SELECT issued, redeemed, issuance_closed, paused, fully_redeemed \
     FROM book_changes WHERE ledger_id = $1 AND idx < $2 ORDER BY idx DESC LIMIT 1";

/// A ledger's head size with its kept state row, of bonds or of trials.
const BOND_STATE_SQL: &str = "SELECT l.size, s.format, s.state FROM ledgers l \
     LEFT JOIN bond_states s ON s.ledger_id = l.id WHERE l.id = $1";
const TRIAL_STATE_SQL: &str = "SELECT l.size, s.format, s.state FROM ledgers l \
     LEFT JOIN trial_states s ON s.ledger_id = l.id WHERE l.id = $1";

impl Batch<'_> {
    /// A bond ledger's head size and state document (in one statement, so the two agree).
    pub async fn bond_state(&mut self, ledger_id: &str) -> StoreResult<StateRow> {
        self.head_and_state(BOND_STATE_SQL, ledger_id).await
    }

    /// A trial ledger's head size and its rule state with verdict counts (JSON), read
    /// together; no state for a trial not written to since this build began keeping it.
    pub async fn trial_state(&mut self, ledger_id: &str) -> StoreResult<StateRow> {
        self.head_and_state(TRIAL_STATE_SQL, ledger_id).await
    }

    async fn head_and_state(
        &mut self,
        sql: &'static str,
        ledger_id: &str,
    ) -> StoreResult<StateRow> {
        let row: (i64, Option<i64>, Option<String>) = on_tx!(&mut self.tx, c => sqlx::query_as(sql)
            .bind(ledger_id).fetch_one(c).await)?;
        Ok(StateRow {
            size: unsigned(row.0, "size")?,
            state: row.2.filter(|_| row.1 == Some(STATE_FORMAT)),
        })
    }

    /// Every party that has had a position on the ledger in its first `size` entries, with its
    /// position as of then (zero balances included).
    pub async fn register_at(
        &mut self,
        ledger_id: &str,
        size: u64,
    ) -> StoreResult<Vec<(String, PositionRow)>> {
        let rows: Vec<PositionTuple> = on_tx!(&mut self.tx, c => sqlx::query_as(REGISTER_SQL)
            .bind(ledger_id).bind(size as i64).fetch_all(c).await)?;
        by_key(rows)
    }

    /// The book totals as of the first `size` entries.
    pub async fn totals_at(&mut self, ledger_id: &str, size: u64) -> StoreResult<TotalsRow> {
        let row: Option<TotalsTuple> = on_tx!(&mut self.tx, c => sqlx::query_as(TOTALS_SQL)
            .bind(ledger_id).bind(size as i64).fetch_optional(c).await)?;
        row.map(totals).transpose().map(Option::unwrap_or_default)
    }

    /// The entries at these indices, in index order (one round trip).
    pub async fn entries_at(
        &mut self,
        ledger_id: &str,
        indices: &[u64],
    ) -> StoreResult<Vec<EntryRow>> {
        if indices.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<i64> = indices.iter().map(|i| *i as i64).collect();
        let rows = match self.tx.conn() {
            Conn::Sqlite(c) => {
                let json =
                    serde_json::to_string(&list).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query(
                    "SELECT idx, kind, leaf, leaf_hash, created_at FROM entries \
                     WHERE ledger_id = $1 AND idx IN (SELECT value FROM json_each($2)) ORDER BY idx")
                    .bind(ledger_id).bind(json).fetch_all(c).await?
                    .iter().map(EntryRow::from_row).collect::<StoreResult<Vec<_>>>()?
            }
            Conn::Postgres(c) => sqlx::query(
                "SELECT idx, kind, leaf, leaf_hash, created_at FROM entries \
                 WHERE ledger_id = $1 AND idx = ANY($2) ORDER BY idx",
            )
            .bind(ledger_id)
            .bind(list)
            .fetch_all(c)
            .await?
            .iter()
            .map(EntryRow::from_row)
            .collect::<StoreResult<Vec<_>>>()?,
        };
        if rows.len() != indices.len() {
            return Err(StoreError::Corrupt(format!(
                "ledger {ledger_id}: {} of {} fact entries found",
                rows.len(),
                indices.len()
            )));
        }
        Ok(rows)
    }

    /// The time of the entry at `index`.
    pub async fn entry_time(&mut self, ledger_id: &str, index: u64) -> StoreResult<String> {
        let (time,): (String,) = on_tx!(&mut self.tx, c => sqlx::query_as(
            "SELECT created_at FROM entries WHERE ledger_id = $1 AND idx = $2")
            .bind(ledger_id).bind(index as i64).fetch_one(c).await)?;
        Ok(time)
    }

    /// How many of the first `size` entries were appended at or before `time` (RFC 3339 UTC,
    /// as stored). Entry times never go backwards along a ledger, and each batch's checkpoint
    /// is timed by its last entry: the latest checkpoint at or before `time` (an index lookup)
    /// bounds it from below, the first checkpoint after `time` from above, and the entries
    /// between the two — one batch at most — are counted in one range of the primary key.
    pub async fn size_at_time(
        &mut self,
        ledger_id: &str,
        size: u64,
        time: &str,
    ) -> StoreResult<u64> {
        let from: Option<(i64,)> = on_tx!(&mut self.tx, c => sqlx::query_as(
            "SELECT size FROM checkpoints WHERE ledger_id = $1 AND created_at <= $2 AND size <= $3 \
             ORDER BY created_at DESC, size DESC LIMIT 1")
            .bind(ledger_id).bind(time).bind(size as i64).fetch_optional(c).await)?;
        let at = from
            .map(|(s,)| unsigned(s, "size"))
            .transpose()?
            .unwrap_or(0)
            .min(size);
        // The first checkpoint after `time` ends the batch that holds the answer.
        let until: Option<(i64,)> = on_tx!(&mut self.tx, c => sqlx::query_as(
            "SELECT size FROM checkpoints WHERE ledger_id = $1 AND created_at > $2 \
             ORDER BY created_at, size LIMIT 1")
            .bind(ledger_id).bind(time).fetch_optional(c).await)?;
        let until = until
            .map(|(s,)| unsigned(s, "size"))
            .transpose()?
            .unwrap_or(size)
            .clamp(at, size);
        // Entries [0, at) are at or before `time`, entries [until, size) after it.
        let (within,): (i64,) = on_tx!(&mut self.tx, c => sqlx::query_as(
            "SELECT count(*) FROM entries WHERE ledger_id = $1 AND idx >= $2 AND idx < $3 AND created_at <= $4")
            .bind(ledger_id).bind(at as i64).bind(until as i64).bind(time).fetch_one(c).await)?;
        Ok(at + unsigned(within, "count")?)
    }

    /// Every bond ledger on which a party has had a position, with its latest position: per
    /// ledger, one primary-key lookup.
    pub async fn positions_of(
        &mut self,
        party_id: &str,
    ) -> StoreResult<Vec<(String, PositionRow)>> {
        // One statement per ledger, each a descending primary-key lookup: a join lets SQLite
        // scan every row of the party instead (measured: 20 ms at 1M entries).
        let ledgers: Vec<(String,)> = on_tx!(&mut self.tx, c => sqlx::query_as(
            "SELECT ledger_id FROM ledger_holders WHERE party_id = $1")
            .bind(party_id).fetch_all(c).await)?;
        let mut rows: Vec<PositionTuple> = Vec::with_capacity(ledgers.len());
        for (ledger_id,) in ledgers {
            let row: Option<(i64, i64, i64, bool)> = on_tx!(&mut self.tx, c => sqlx::query_as(
                "SELECT balance, held, frozen, frozen_all FROM entry_parties \
                 WHERE party_id = $1 AND ledger_id = $2 ORDER BY idx DESC LIMIT 1")
                .bind(party_id).bind(&ledger_id).fetch_optional(c).await)?;
            let (balance, held, frozen, frozen_all) = row.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "{party_id} holds on {ledger_id} without a position row"
                ))
            })?;
            rows.push((ledger_id, balance, held, frozen, frozen_all));
        }
        by_key(rows)
    }

    /// The rows maintained for entries `[from, to)` of a ledger, by index ranges of the
    /// indexes `entry_parties_by_index`, `ledger_holders_by_index` and `book_changes`' key.
    /// Rows of appended entries never change, so no common snapshot is needed: the audit reads
    /// them on one plain connection (one page cache, however many pages it reads).
    pub async fn maintained_rows(
        &mut self,
        ledger_id: &str,
        from: u64,
        to: u64,
    ) -> StoreResult<MaintainedRows> {
        type PartyTuple = (
            String,
            i64,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<bool>,
        );
        let rows: Vec<PartyTuple> = on_tx!(&mut self.tx, c => sqlx::query_as(
            AUDIT_PARTIES_SQL)
            .bind(ledger_id).bind(from as i64).bind(to as i64).fetch_all(c).await)?;
        let parties = rows
            .into_iter()
            .map(|(party, i, b, h, f, a)| {
                let index = unsigned(i, "index")?;
                match (b, h, f, a) {
                    (Some(b), Some(h), Some(f), Some(a)) => {
                        let (party, row) = position((party, b, h, f, a))?;
                        Ok((party, index, Some(row)))
                    }
                    (None, None, None, None) => Ok((party, index, None)),
                    _ => Err(StoreError::Corrupt(format!(
                        "ledger {ledger_id}: a partial position for {party} at {index}"
                    ))),
                }
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let holders: Vec<(String, i64)> = on_tx!(&mut self.tx, c => sqlx::query_as(
            AUDIT_HOLDERS_SQL)
            .bind(ledger_id).bind(from as i64).bind(to as i64).fetch_all(c).await)?;
        let holders = holders
            .into_iter()
            .map(|(p, i)| Ok((p, unsigned(i, "index")?)))
            .collect::<StoreResult<Vec<_>>>()?;
        let totals_rows: Vec<(i64, i64, i64, bool, bool, bool)> = on_tx!(&mut self.tx, c => sqlx::query_as(
            AUDIT_TOTALS_SQL)
            .bind(ledger_id).bind(from as i64).bind(to as i64).fetch_all(c).await)?;
        let totals = totals_rows
            .into_iter()
            .map(|(i, a, b, c, d, e)| Ok((unsigned(i, "index")?, totals((a, b, c, d, e))?)))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(MaintainedRows {
            parties,
            holders,
            totals,
        })
    }

    /// Entries `[start, end)` in leaf order, at most [`super::ENTRIES_PAGE_MAX`].
    pub async fn entries_between(
        &mut self,
        ledger_id: &str,
        start: u64,
        end: u64,
    ) -> StoreResult<Vec<super::EntryRow>> {
        let end = end.min(start.saturating_add(super::ENTRIES_PAGE_MAX));
        let rows = on_tx!(&mut self.tx, c => sqlx::query(
            "SELECT idx, kind, leaf, leaf_hash, created_at FROM entries \
             WHERE ledger_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx")
            .bind(ledger_id).bind(start as i64).bind(end as i64).fetch_all(c).await.map_err(StoreError::from)
            .and_then(|rows| rows.iter().map(super::EntryRow::from_row).collect::<StoreResult<Vec<_>>>()))?;
        Ok(rows)
    }

    /// Write the maintained state of the ledgers of a batch (positions travel with the
    /// `entry_parties` rows): new holders, changed totals, and changed state documents.
    pub(super) async fn write_state(
        &mut self,
        ledgers: &[(String, super::LedgerWrite)],
    ) -> StoreResult<()> {
        for (ledger_id, w) in ledgers {
            if !w.holders.is_empty() {
                let parties: Vec<&str> = w.holders.iter().map(|(p, _)| p.as_str()).collect();
                let firsts: Vec<i64> = w.holders.iter().map(|(_, i)| *i as i64).collect();
                match self.tx.conn() {
                    Conn::Sqlite(c) => {
                        let rows: Vec<(&str, i64)> = parties
                            .iter()
                            .copied()
                            .zip(firsts.iter().copied())
                            .collect();
                        let json = serde_json::to_string(&rows)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        sqlx::query(
                            "INSERT INTO ledger_holders (ledger_id, party_id, first_idx) \
                                     SELECT $1, value->>0, value->>1 FROM json_each($2)",
                        )
                        .bind(ledger_id)
                        .bind(json)
                        .execute(c)
                        .await?;
                    }
                    Conn::Postgres(c) => {
                        sqlx::query(
                            "INSERT INTO ledger_holders (ledger_id, party_id, first_idx) \
                                     SELECT $1, * FROM unnest($2::text[], $3::bigint[])",
                        )
                        .bind(ledger_id)
                        .bind(parties)
                        .bind(firsts)
                        .execute(c)
                        .await?;
                    }
                }
            }
            for (index, t) in &w.totals {
                on_tx!(&mut self.tx, c => sqlx::query(
                    "INSERT INTO book_changes (ledger_id, idx, issued, redeemed, issuance_closed, paused, fully_redeemed) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(ledger_id).bind(*index as i64).bind(t.issued as i64).bind(t.redeemed as i64)
                    .bind(t.issuance_closed).bind(t.paused).bind(t.fully_redeemed)
                    .execute(c).await.map(|_| ()))?;
            }
            if let Some(state) = &w.state {
                on_tx!(&mut self.tx, c => sqlx::query(
                    "INSERT INTO bond_states (ledger_id, format, state) VALUES ($1, $2, $3) \
                     ON CONFLICT (ledger_id) DO UPDATE SET format = excluded.format, state = excluded.state")
                    .bind(ledger_id).bind(STATE_FORMAT).bind(state)
                    .execute(c).await.map(|_| ()))?;
            }
            if let Some(state) = &w.trial_state {
                on_tx!(&mut self.tx, c => sqlx::query(
                    "INSERT INTO trial_states (ledger_id, format, state) VALUES ($1, $2, $3) \
                     ON CONFLICT (ledger_id) DO UPDATE SET format = excluded.format, state = excluded.state")
                    .bind(ledger_id).bind(STATE_FORMAT).bind(state)
                    .execute(c).await.map(|_| ()))?;
            }
        }
        Ok(())
    }

    /// Recovery: the positions of existing `entry_parties` rows (a ledger written before the
    /// state was maintained, rebuilt once from its entries).
    pub async fn set_positions(
        &mut self,
        ledger_id: &str,
        rows: &[(String, u64, PositionRow)],
    ) -> StoreResult<()> {
        for (party, index, p) in rows {
            let sql = "UPDATE entry_parties SET balance = $4, held = $5, frozen = $6, frozen_all = $7 \
                       WHERE party_id = $1 AND ledger_id = $2 AND idx = $3";
            let n = on_tx!(&mut self.tx, c => sqlx::query(AssertSqlSafe(sql))
                .bind(party).bind(ledger_id).bind(*index as i64)
                .bind(p.balance as i64).bind(p.held as i64).bind(p.frozen as i64).bind(p.frozen_all)
                .execute(c).await.map(|r| r.rows_affected()))?;
            if n != 1 {
                return Err(StoreError::Corrupt(format!(
                    "ledger {ledger_id}: no entry_parties row for {party} at {index}"
                )));
            }
        }
        Ok(())
    }
}

/// The audit's range queries over the rows maintained for entries `[$2, $3)` of ledger `$1`:
/// each an index range scan (`entry_parties_by_index`, `ledger_holders_by_index`,
/// `book_changes`' key), checked with `EXPLAIN QUERY PLAN` in a test.
pub const AUDIT_PARTIES_SQL: &str = "SELECT party_id, idx, balance, held, frozen, frozen_all FROM entry_parties \
     WHERE ledger_id = $1 AND idx >= $2 AND idx < $3";
pub const AUDIT_HOLDERS_SQL: &str = "SELECT party_id, first_idx FROM ledger_holders \
     WHERE ledger_id = $1 AND first_idx >= $2 AND first_idx < $3";
pub const AUDIT_TOTALS_SQL: &str = "SELECT idx, issued, redeemed, issuance_closed, paused, fully_redeemed FROM book_changes \
     WHERE ledger_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx";

/// What is maintained for entries `[from, to)` of a bond's ledger (the audit compares it with
/// its replay of them).
#[derive(Debug, Default)]
pub struct MaintainedRows {
    /// Each entry's parties (`entry_parties`), with the position kept after the entry where
    /// the party has one.
    pub parties: Vec<(String, u64, Option<PositionRow>)>,
    /// Parties given their first position by one of the entries.
    pub holders: Vec<(String, u64)>,
    /// The book totals after each entry that changed them.
    pub totals: Vec<(u64, TotalsRow)>,
}

/// What the regulator's audit last verified of a ledger (see `app::audit`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub size: u64,
    pub record: String,
    pub audited_at: String,
}

impl Store {
    /// See [`Batch::trial_state`], on a pooled connection.
    pub async fn trial_state(&self, ledger_id: &str) -> StoreResult<StateRow> {
        let mut b = self.read_plain().await?;
        let row = b.trial_state(ledger_id).await;
        b.finish().await;
        row
    }

    /// A bond ledger's head size and state document, read together.
    pub async fn bond_state(&self, ledger_id: &str) -> StoreResult<StateRow> {
        let mut b = self.read_plain().await?;
        let row = b.bond_state(ledger_id).await;
        b.finish().await;
        row
    }

    /// The record the regulator's audit kept of a ledger, if it has audited it.
    pub async fn audit_record(&self, ledger_id: &str) -> StoreResult<Option<AuditRow>> {
        let row: Option<(i64, String, String)> = on_pool!(self, p => sqlx::query_as(
            "SELECT size, record, audited_at FROM ledger_audits WHERE ledger_id = $1")
            .bind(ledger_id).fetch_optional(p).await)?;
        row.map(|(size, record, audited_at)| {
            Ok(AuditRow {
                size: unsigned(size, "size")?,
                record,
                audited_at,
            })
        })
        .transpose()
    }

    /// Keep what an audit of a ledger verified (replacing the last record), durably.
    pub async fn save_audit_record(&self, ledger_id: &str, row: &AuditRow) -> StoreResult<()> {
        let _guard = self.write_guard().await;
        on_pool!(self, p => sqlx::query(
            "INSERT INTO ledger_audits (ledger_id, size, record, audited_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (ledger_id) DO UPDATE SET size = excluded.size, record = excluded.record, \
             audited_at = excluded.audited_at")
            .bind(ledger_id).bind(row.size as i64).bind(&row.record).bind(&row.audited_at)
            .execute(p).await.map(|_| ()))?;
        Ok(())
    }

    /// Forget what audits verified of a ledger: the next audit reads it from entry 0.
    pub async fn forget_audit_record(&self, ledger_id: &str) -> StoreResult<()> {
        let _guard = self.write_guard().await;
        on_pool!(self, p => sqlx::query("DELETE FROM ledger_audits WHERE ledger_id = $1")
            .bind(ledger_id).execute(p).await.map(|_| ()))?;
        Ok(())
    }

    /// See [`Batch::positions_of`], on a pooled connection.
    pub async fn positions_of(&self, party_id: &str) -> StoreResult<Vec<(String, PositionRow)>> {
        let mut b = self.read_plain().await?;
        let rows = b.positions_of(party_id).await;
        b.finish().await;
        rows
    }

    /// Recovery: every (party, index) row of a ledger's `entry_parties`.
    pub async fn entry_parties_of(&self, ledger_id: &str) -> StoreResult<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> = on_pool!(self, p => sqlx::query_as(
            "SELECT party_id, idx FROM entry_parties WHERE ledger_id = $1")
            .bind(ledger_id).fetch_all(p).await)?;
        rows.into_iter()
            .map(|(p, i)| Ok((p, unsigned(i, "index")?)))
            .collect()
    }

    /// Bond ledgers without a state row of this build's format: (ledger, issuer, spec).
    pub async fn bonds_without_state(&self) -> StoreResult<Vec<(String, String, String)>> {
        let rows: Vec<(String, String, String)> = on_pool!(self, p => sqlx::query_as(
            "SELECT b.ledger_id, b.issuer_id, b.spec FROM bonds b \
             LEFT JOIN bond_states s ON s.ledger_id = b.ledger_id \
             WHERE s.format IS NULL OR s.format <> $1 ORDER BY b.ledger_id")
            .bind(STATE_FORMAT).fetch_all(p).await)?;
        Ok(rows)
    }

    /// Recovery: replace a ledger's maintained state with one rebuilt from its `size`
    /// entries, in one transaction that fails if the ledger grew meanwhile.
    pub async fn write_rebuilt(
        &self,
        ledger_id: &str,
        size: u64,
        positions: &[(String, u64, PositionRow)],
        holders: &[(String, u64)],
        totals: &[(u64, TotalsRow)],
        state: &str,
    ) -> StoreResult<()> {
        let mut b = self.begin_batch().await?;
        let head = b.head(ledger_id).await?;
        if head.size != size {
            return Err(StoreError::HeadMoved(ledger_id.to_owned()));
        }
        // Rows an audit verified are rewritten: the next audit reads the ledger from entry 0.
        for table in [
            "ledger_holders",
            "book_changes",
            "bond_states",
            "ledger_audits",
        ] {
            let sql = format!("DELETE FROM {table} WHERE ledger_id = $1");
            on_tx!(&mut b.tx, c => sqlx::query(AssertSqlSafe(sql.clone())).bind(ledger_id).execute(c).await.map(|_| ()))?;
        }
        b.set_positions(ledger_id, positions).await?;
        let write = super::LedgerWrite {
            holders: holders.to_vec(),
            totals: totals.to_vec(),
            state: Some(state.to_owned()),
            ..Default::default()
        };
        b.write_state(&[(ledger_id.to_owned(), write)]).await?;
        b.commit().await
    }
}
