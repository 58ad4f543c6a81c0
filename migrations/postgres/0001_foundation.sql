-- Foundation: parties, keys, API keys, ledgers with their Merkle nodes and checkpoints, bonds.
-- Amounts and times are TEXT so that the bytes we sign are the bytes we store (see CRATES.md:
-- SQLite NUMERIC rounds to 15 digits; timestamps are RFC 3339 UTC truncated to microseconds).

CREATE TABLE parties (
    id          TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('operator', 'issuer', 'investor', 'verifier', 'regulator')),
    name        TEXT NOT NULL,
    attributes  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Replay guard: a signed request's nonce is accepted once per party. Uniqueness (not
-- monotonicity) lets a client sign and send requests in parallel.
CREATE TABLE party_nonces (
    party_id    TEXT NOT NULL REFERENCES parties (id),
    nonce       BIGINT NOT NULL CHECK (nonce > 0),
    PRIMARY KEY (party_id, nonce)
);

CREATE TABLE party_keys (
    kid         TEXT PRIMARY KEY,
    party_id    TEXT NOT NULL REFERENCES parties (id),
    public_key  BYTEA NOT NULL CHECK (octet_length(public_key) = 32),
    active      BOOLEAN NOT NULL,
    created_at  TEXT NOT NULL,
    retired_at  TEXT
);
-- A party has at most one active signing key; earlier keys stay for verifying old signatures.
CREATE UNIQUE INDEX party_keys_one_active ON party_keys (party_id) WHERE active;
CREATE INDEX party_keys_by_party ON party_keys (party_id);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    token_hash  BYTEA NOT NULL UNIQUE,
    party_id    TEXT NOT NULL REFERENCES parties (id),
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

CREATE TABLE service_keys (
    kid         TEXT PRIMARY KEY,
    public_key  BYTEA NOT NULL CHECK (octet_length(public_key) = 32),
    active      BOOLEAN NOT NULL,
    created_at  TEXT NOT NULL,
    retired_at  TEXT
);
CREATE UNIQUE INDEX service_keys_one_active ON service_keys (active) WHERE active;

CREATE TABLE ledgers (
    id          TEXT PRIMARY KEY,
    origin      TEXT NOT NULL UNIQUE,
    size        BIGINT NOT NULL CHECK (size >= 0),
    root        BYTEA NOT NULL CHECK (octet_length(root) = 32),
    created_at  TEXT NOT NULL
);

CREATE TABLE entries (
    ledger_id   TEXT NOT NULL REFERENCES ledgers (id),
    idx         BIGINT NOT NULL CHECK (idx >= 0),
    kind        TEXT NOT NULL,
    leaf        BYTEA NOT NULL,
    leaf_hash   BYTEA NOT NULL CHECK (octet_length(leaf_hash) = 32),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (ledger_id, idx)
);

-- Hashes of the perfect subtrees only: proofs read O(log n) of them (RFC 9162 §2.1).
CREATE TABLE tree_nodes (
    ledger_id   TEXT NOT NULL REFERENCES ledgers (id),
    level       SMALLINT NOT NULL CHECK (level >= 0 AND level < 64),
    idx         BIGINT NOT NULL CHECK (idx >= 0),
    hash        BYTEA NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (ledger_id, level, idx)
);

CREATE TABLE checkpoints (
    ledger_id   TEXT NOT NULL REFERENCES ledgers (id),
    size        BIGINT NOT NULL CHECK (size >= 0),
    root        BYTEA NOT NULL CHECK (octet_length(root) = 32),
    note        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (ledger_id, size)
);

CREATE TABLE bonds (
    id          TEXT PRIMARY KEY,
    issuer_id   TEXT NOT NULL REFERENCES parties (id),
    ledger_id   TEXT NOT NULL UNIQUE REFERENCES ledgers (id),
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    isin        TEXT UNIQUE,
    currency    TEXT NOT NULL,
    categories  TEXT NOT NULL,
    sdg_goals   TEXT NOT NULL,
    spec        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX bonds_by_issuer ON bonds (issuer_id, id);
CREATE INDEX bonds_by_kind ON bonds (kind, id);
