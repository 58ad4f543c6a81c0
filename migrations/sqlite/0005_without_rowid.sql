-- Rows that are their own key: WITHOUT ROWID keeps each row once, in its primary-key B-tree,
-- instead of in a rowid table plus an automatic index that repeats the whole row. Every
-- appended transfer writes two entry_parties rows, a nonce and about two Merkle nodes, so this
-- halves the B-tree inserts (and the pages each commit writes) for those rows. Same columns,
-- same constraints; PostgreSQL has no rowid and needs no change.

CREATE TABLE party_nonces_new (
    party_id    TEXT NOT NULL REFERENCES parties (id),
    nonce       INTEGER NOT NULL CHECK (nonce > 0),
    PRIMARY KEY (party_id, nonce)
) WITHOUT ROWID;
INSERT INTO party_nonces_new (party_id, nonce) SELECT party_id, nonce FROM party_nonces;
DROP TABLE party_nonces;
ALTER TABLE party_nonces_new RENAME TO party_nonces;

CREATE TABLE tree_nodes_new (
    ledger_id   TEXT NOT NULL REFERENCES ledgers (id),
    level       INTEGER NOT NULL CHECK (level >= 0 AND level < 64),
    idx         INTEGER NOT NULL CHECK (idx >= 0),
    hash        BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (ledger_id, level, idx)
) WITHOUT ROWID;
INSERT INTO tree_nodes_new (ledger_id, level, idx, hash)
    SELECT ledger_id, level, idx, hash FROM tree_nodes;
DROP TABLE tree_nodes;
ALTER TABLE tree_nodes_new RENAME TO tree_nodes;

CREATE TABLE entry_parties_new (
    party_id    TEXT NOT NULL,
    ledger_id   TEXT NOT NULL REFERENCES ledgers (id),
    idx         INTEGER NOT NULL CHECK (idx >= 0),
    PRIMARY KEY (party_id, ledger_id, idx)
) WITHOUT ROWID;
INSERT INTO entry_parties_new (party_id, ledger_id, idx)
    SELECT party_id, ledger_id, idx FROM entry_parties;
DROP TABLE entry_parties;
ALTER TABLE entry_parties_new RENAME TO entry_parties;
