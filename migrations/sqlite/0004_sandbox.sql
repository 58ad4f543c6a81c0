-- Regulatory sandbox trials. Each trial has its own ledger (entry 0 records the rulebook the
-- regulator created it with, in full, pinned by its SHA-256); this row is the registry that
-- finds it.

CREATE TABLE trials (
    id               TEXT PRIMARY KEY,
    ledger_id        TEXT NOT NULL UNIQUE REFERENCES ledgers (id),
    title            TEXT NOT NULL,
    regulator_id     TEXT NOT NULL,
    rulebook_id      TEXT NOT NULL,
    rulebook_version INTEGER NOT NULL CHECK (rulebook_version >= 0),
    rulebook_sha256  TEXT NOT NULL,
    rulebook         TEXT NOT NULL,
    created_at       TEXT NOT NULL
);
