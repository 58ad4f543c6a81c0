-- Witnesses' cosignatures (C2SP tlog-cosignature) on the service's checkpoints, one line per
-- witness and checkpoint, served appended to the checkpoint's note.
CREATE TABLE cosignatures (
    ledger_id   TEXT NOT NULL REFERENCES ledgers (id),
    size        INTEGER NOT NULL CHECK (size >= 0),
    witness     TEXT NOT NULL,
    line        TEXT NOT NULL,
    PRIMARY KEY (ledger_id, size, witness)
) WITHOUT ROWID;

-- The size a witness last cosigned, per ledger.
CREATE INDEX cosignatures_by_witness ON cosignatures (ledger_id, witness, size);
