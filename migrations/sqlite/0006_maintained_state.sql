-- State kept as entries are appended, in the same transaction, so that reads and a restart
-- look it up instead of replaying the ledger (replay stays the audit path: `midori verify`,
-- the audit endpoint). Written by the engine only; a ledger written before this migration is
-- rebuilt from its entries once, at the first start that finds it without a state row.

-- Each entry's parties with their token position after the entry (NULL where the party has
-- none: not a bond's ledger, or no position on it). The latest row at or before an index is
-- the position as of that index: one primary-key lookup (party, ledger, idx).
ALTER TABLE entry_parties ADD COLUMN balance INTEGER;
ALTER TABLE entry_parties ADD COLUMN held INTEGER;
ALTER TABLE entry_parties ADD COLUMN frozen INTEGER;
ALTER TABLE entry_parties ADD COLUMN frozen_all BOOLEAN;

-- Every party that has had a position on a bond, from the entry that gave it one.
CREATE TABLE ledger_holders (
    ledger_id   TEXT NOT NULL REFERENCES ledgers (id),
    party_id    TEXT NOT NULL,
    first_idx   INTEGER NOT NULL CHECK (first_idx >= 0),
    PRIMARY KEY (ledger_id, party_id)
) WITHOUT ROWID;

-- A bond's book totals after each entry that changed them (issue, redeem, pause, close).
CREATE TABLE book_changes (
    ledger_id        TEXT NOT NULL REFERENCES ledgers (id),
    idx              INTEGER NOT NULL CHECK (idx >= 0),
    issued           INTEGER NOT NULL CHECK (issued >= 0),
    redeemed         INTEGER NOT NULL CHECK (redeemed >= 0),
    issuance_closed  BOOLEAN NOT NULL,
    paused           BOOLEAN NOT NULL,
    fully_redeemed   BOOLEAN NOT NULL,
    PRIMARY KEY (ledger_id, idx)
) WITHOUT ROWID;

-- The rest of a bond's state at its head (JSON, `format` versioned): pending transfers,
-- once-only keys, the recorded label per scheme, the day of full redemption, and the indices
-- of its facts (every entry that is not a token operation: monitoring, labels, coupons, KPIs),
-- each with the net proceeds it was judged against.
CREATE TABLE bond_states (
    ledger_id   TEXT PRIMARY KEY REFERENCES ledgers (id),
    format      INTEGER NOT NULL,
    state       TEXT NOT NULL
);

-- A party's positions across bonds start from the bonds it holds.
CREATE INDEX ledger_holders_by_party ON ledger_holders (party_id, ledger_id);

-- "As of a time" starts from the latest checkpoint at or before it (one per batch, timed by
-- the batch's last entry).
CREATE INDEX checkpoints_by_time ON checkpoints (ledger_id, created_at);
