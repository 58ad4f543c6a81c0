-- Security-token operations: the client-chosen operation id is the idempotency key (a retry of
-- the same request gets the original answer; the same id with another body is refused), and an
-- index of which parties each entry concerns, for a party's operation history.

CREATE TABLE operations (
    ledger_id     TEXT NOT NULL REFERENCES ledgers (id),
    operation_id  TEXT NOT NULL,
    request_hash  BYTEA NOT NULL CHECK (octet_length(request_hash) = 32),
    entry_index   BIGINT NOT NULL CHECK (entry_index >= 0),
    result        TEXT NOT NULL,
    PRIMARY KEY (ledger_id, operation_id)
);

CREATE TABLE entry_parties (
    party_id    TEXT NOT NULL,
    ledger_id   TEXT NOT NULL REFERENCES ledgers (id),
    idx         BIGINT NOT NULL CHECK (idx >= 0),
    PRIMARY KEY (party_id, ledger_id, idx)
);
