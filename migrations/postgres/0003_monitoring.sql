-- Monitoring after issuance. A project may be financed by several bonds of one issuer; each
-- bond's ledger records its own registration of the project and its allocations. This table is
-- derived from those entries (written in the same transaction) so that the engine can refuse
-- double counting across bonds without replaying every ledger: per (issuer, project, ledger),
-- the cost and financing share the ledger registered and the amount it has allocated so far.
-- Amounts are decimal text (SQLite has no exact decimal type; CRATES.md).

CREATE TABLE issuer_projects (
    issuer_id        TEXT NOT NULL,
    project_id       TEXT NOT NULL,
    ledger_id        TEXT NOT NULL REFERENCES ledgers (id),
    total_cost       TEXT NOT NULL,
    financing_share  TEXT NOT NULL,
    allocated        TEXT NOT NULL,
    PRIMARY KEY (issuer_id, project_id, ledger_id)
);
