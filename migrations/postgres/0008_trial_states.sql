-- A trial's rule state and verdict counts at its head (`sandbox::Progress` as JSON), written by
-- the engine in the transaction that appends the trial's entries, so that the trial's report
-- is read, not replayed. A trial not written to since is reported by replay until its next
-- transaction.
CREATE TABLE trial_states (
    ledger_id   TEXT PRIMARY KEY REFERENCES ledgers (id),
    format      BIGINT NOT NULL,
    state       TEXT NOT NULL
);
