-- The regulator's audit goes on from where it last stopped (issue #17): per ledger, what its
-- last successful audit verified — the signed checkpoint, the tree's frontier at its size,
-- and the audited state there (a bond's book, a trial's replay) — as one JSON record. Written
-- only after an audit that found nothing wrong; `GET /v1/audit/ledgers?full=true` ignores it.
CREATE TABLE ledger_audits (
    ledger_id   TEXT PRIMARY KEY REFERENCES ledgers (id),
    size        INTEGER NOT NULL CHECK (size >= 0),
    record      TEXT NOT NULL,
    audited_at  TEXT NOT NULL
);

-- An entry's parties by ledger and index: the audit compares the positions maintained for
-- the entries appended since its last run, a range of indices.
CREATE INDEX entry_parties_by_index ON entry_parties (ledger_id, idx);

-- The parties given their first position in such a range.
CREATE INDEX ledger_holders_by_index ON ledger_holders (ledger_id, first_idx);
