//! The schema over time: a database made by an earlier release keeps every row when a later
//! migration rebuilds its tables.

use std::str::FromStr;

use midori::store::{Store, StoreOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use crate::support::TempDir;

/// Migration 0005 rebuilds `party_nonces`, `tree_nodes` and `entry_parties` WITHOUT ROWID. A
/// database that the first four migrations made, with rows in all three, must come out of
/// the upgrade with the same rows and the same primary keys.
#[tokio::test]
async fn upgrading_a_sqlite_database_keeps_the_rows_of_the_rebuilt_tables() {
    let dir =
        TempDir(std::env::temp_dir().join(format!("midori-upgrade-{}", uuid::Uuid::now_v7())));
    let earlier = dir.0.join("migrations");
    std::fs::create_dir_all(&earlier).unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < "0005" {
            std::fs::copy(&path, earlier.join(&name)).unwrap();
        }
    }
    let url = format!("sqlite://{}", dir.0.join("midori.db").display());
    let options = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(earlier.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    sqlx::raw_sql(
        "INSERT INTO parties (id, role, name, attributes, created_at) VALUES \
           ('p1', 'investor', 'One', '{}', '2026-04-01T00:00:00Z'), \
           ('p2', 'investor', 'Two', '{}', '2026-04-01T00:00:00Z'); \
         INSERT INTO ledgers (id, origin, size, root, created_at) \
           VALUES ('l1', 'midori.test/bonds/l1', 2, zeroblob(32), '2026-04-01T00:00:00Z'); \
         INSERT INTO party_nonces (party_id, nonce) VALUES ('p1', 1), ('p1', 7), ('p2', 1); \
         INSERT INTO tree_nodes (ledger_id, level, idx, hash) \
           VALUES ('l1', 0, 0, randomblob(32)), ('l1', 0, 1, randomblob(32)), ('l1', 1, 0, randomblob(32)); \
         INSERT INTO entry_parties (party_id, ledger_id, idx) VALUES ('p1', 'l1', 0), ('p2', 'l1', 0), ('p1', 'l1', 1);",
    )
    .execute(&pool)
    .await
    .unwrap();
    let before = snapshot(&pool).await;
    pool.close().await;

    let store = Store::connect(&url, &StoreOptions::default())
        .await
        .unwrap();
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    assert_eq!(
        snapshot(&pool).await,
        before,
        "the rows survive the rebuild"
    );
    for table in ["party_nonces", "tree_nodes", "entry_parties"] {
        let (sql,): (String,) = sqlx::query_as("SELECT sql FROM sqlite_schema WHERE name = $1")
            .bind(table)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(sql.ends_with("WITHOUT ROWID"), "{table}: {sql}");
    }
    // The primary keys still refuse a used nonce and a repeated node.
    assert!(
        sqlx::query("INSERT INTO party_nonces (party_id, nonce) VALUES ('p1', 7)")
            .execute(&pool)
            .await
            .is_err()
    );
    assert!(
        sqlx::query(
            "INSERT INTO tree_nodes (ledger_id, level, idx, hash) VALUES ('l1', 1, 0, zeroblob(32))"
        )
        .execute(&pool)
        .await
        .is_err()
    );
    pool.close().await;
    drop(store);
}

/// Every row of the three rebuilt tables, in key order.
async fn snapshot(pool: &sqlx::SqlitePool) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    for (table, columns) in [
        ("party_nonces", "party_id || ':' || nonce"),
        (
            "tree_nodes",
            "ledger_id || ':' || level || ':' || idx || ':' || hex(hash)",
        ),
        (
            "entry_parties",
            "party_id || ':' || ledger_id || ':' || idx",
        ),
    ] {
        let sql = format!("SELECT {columns} FROM {table} ORDER BY 1");
        let found: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .unwrap();
        rows.extend(found.into_iter().map(|(r,)| format!("{table} {r}")));
    }
    assert_eq!(rows.len(), 9);
    rows
}

mod a_database_from_before_the_key_log_gets_its_keys_recorded_once_as_a_backfill {
    use midori::ledger::canon::{b64url, jwk_thumbprint};
    use midori::store::{NewApiKey, NewKey, NewParty};
    use serde_json::Value;

    use crate::on_both;
    use crate::support::*;

    on_both!(holds, |t: TestApp| async move {
        // Arrange: a key row written the way midori wrote them before the key log.
        let key = fresh_key();
        let party = uuid::Uuid::now_v7().to_string();
        t.app
            .store
            .insert_party(&NewParty {
                id: party.clone(),
                role: "investor".into(),
                name: "Kansai Pension Fund".into(),
                attributes: r#"{"name":"Kansai Pension Fund","country":"JP"}"#.into(),
                key: Some(NewKey {
                    kid: jwk_thumbprint(&key.verifying_key()),
                    public_key: key.verifying_key().as_bytes().to_vec(),
                }),
                api_key: NewApiKey {
                    id: uuid::Uuid::now_v7().to_string(),
                    token_hash: vec![7; 32],
                },
                created_at: "2025-06-20T00:00:00.000000Z".into(),
            })
            .await
            .unwrap();
        assert_eq!(t.get("/v1/keys/ledger/export", None).await.text(), "");

        // Act: the service starts on it (twice: a restart records nothing again).
        let restarted = t.second_process().await;
        let again = restarted.second_process().await;

        // Assert
        let log = again.get("/v1/keys/ledger/export", None).await.text();
        let entries: Vec<Value> = log
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(entries.len(), 1, "{log}");
        let data = &entries[0]["data"];
        assert_eq!(entries[0]["type"], "key.registered");
        assert_eq!(data["via"], "backfill");
        assert_eq!(data["party_id"], party.as_str());
        assert_eq!(data["created_at"], "2025-06-20T00:00:00.000000Z");
        assert_eq!(
            data["jwk"]["x"],
            b64url(key.verifying_key().as_bytes()).as_str()
        );
    });
}

/// A fresh SQLite database with the schema (migrated by the store, which is then closed), and
/// a one-connection pool on it, to look at what the store would run.
async fn migrated_sqlite(prefix: &str) -> (TempDir, String, sqlx::SqlitePool) {
    let dir =
        TempDir(std::env::temp_dir().join(format!("midori-{prefix}-{}", uuid::Uuid::now_v7())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let url = format!("sqlite://{}", dir.0.join("midori.db").display());
    drop(
        Store::connect(&url, &StoreOptions::default())
            .await
            .unwrap(),
    );
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::from_str(&url).unwrap())
        .await
        .unwrap();
    (dir, url, pool)
}

/// Proofs read a few nodes of a ledger's tree: each must be one look-up on the whole primary key
/// (ledger, level, index), never a scan of every node of the ledger (issue #14).
#[tokio::test]
async fn a_proofs_node_look_ups_use_the_whole_primary_key_on_sqlite() {
    use midori::ledger::merkle::NodeId;
    let (_dir, _, pool) = migrated_sqlite("plan").await;
    let ids = [
        NodeId { level: 0, index: 7 },
        NodeId { level: 2, index: 0 },
        NodeId { level: 1, index: 2 },
    ];
    let sql = format!("EXPLAIN QUERY PLAN {}", midori::store::nodes_sql(&ids));
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind("l1")
        .fetch_all(&pool)
        .await
        .unwrap();
    let details: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
    assert!(
        details.iter().any(|d| d.contains("tree_nodes")
            && d.contains("USING PRIMARY KEY (ledger_id=? AND level=? AND idx=?)")),
        "{details:?}"
    );
    assert!(
        !details
            .iter()
            .any(|d| d.contains("tree_nodes")
                && (d.starts_with("SCAN") || d.ends_with("(ledger_id=?)"))),
        "{details:?}"
    );
}

/// The audit reads the rows maintained for the entries appended since its last run: each of
/// its three queries must be a range of an index on (ledger, index), never a scan of the table
/// (`entry_parties` is keyed by party first) — else an incremental audit would read every row.
#[tokio::test]
async fn the_audits_range_reads_use_an_index_on_ledger_and_index_on_sqlite() {
    let (_dir, _, pool) = migrated_sqlite("plan").await;
    for (sql, table, using) in [
        (
            midori::store::AUDIT_PARTIES_SQL,
            "entry_parties",
            "INDEX entry_parties_by_index (ledger_id=? AND idx>? AND idx<?)",
        ),
        (
            midori::store::AUDIT_HOLDERS_SQL,
            "ledger_holders",
            "INDEX ledger_holders_by_index (ledger_id=? AND first_idx>? AND first_idx<?)",
        ),
        (
            midori::store::AUDIT_TOTALS_SQL,
            "book_changes",
            "PRIMARY KEY (ledger_id=? AND idx>? AND idx<?)",
        ),
    ] {
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .bind("l1")
                .bind(0_i64)
                .bind(10_i64)
                .fetch_all(&pool)
                .await
                .unwrap();
        let details: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
        assert!(
            details
                .iter()
                .any(|d| d.starts_with(&format!("SEARCH {table} ")) && d.ends_with(using)),
            "{table}: {details:?}"
        );
        assert!(
            !details.iter().any(|d| d.starts_with("SCAN")),
            "{table}: {details:?}"
        );
    }
}

/// A connection left counting an open transaction (as a failed COMMIT on a full disk leaves
/// it) is closed when it goes back to the pool, not handed to the next writer, whose BEGIN
/// would fail; a connection whose transaction was simply dropped is rolled back and kept.
#[tokio::test]
async fn a_connection_stuck_in_a_transaction_is_not_reused() {
    use sqlx::Acquire;
    let dir = TempDir(std::env::temp_dir().join(format!("midori-stuck-{}", uuid::Uuid::now_v7())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let url = format!("sqlite://{}", dir.0.join("t.db").display());
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .after_release(|conn, _| Box::pin(midori::store::still_clean(conn)))
        .connect_with(
            SqliteConnectOptions::from_str(&url)
                .unwrap()
                .create_if_missing(true),
        )
        .await
        .unwrap();
    // Dropped without commit: rolled back, the connection stays in the pool.
    {
        let mut conn = pool.acquire().await.unwrap();
        let tx = conn.begin().await.unwrap();
        drop(tx);
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(pool.num_idle(), 1);
    // Stuck: the transaction is never ended (its rollback never queued).
    {
        let mut conn = pool.acquire().await.unwrap();
        let tx = conn.begin().await.unwrap();
        std::mem::forget(tx);
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(pool.num_idle(), 0, "the stuck connection was closed");
    // The next writer gets a fresh connection and can begin.
    let tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
    tx.commit().await.unwrap();
}

/// A full disk, provoked with a cap on the SQLite database's pages: writes past it answer 503
/// `storage-full` with `Retry-After` (not 500), nothing acknowledged is lost, and once space is
/// freed writes succeed again without a restart (issue #14).
#[tokio::test]
async fn a_full_disk_answers_503_and_writes_resume_once_space_is_freed() {
    use midori::domain::party::Role;
    use serde_json::json;

    use crate::support::{SqlArg, TestApp, green_spec};
    // The schema, and 2 MB of filler standing for the rest of the disk's contents.
    let (dir, url, pool) = migrated_sqlite("full").await;
    sqlx::raw_sql(
        "CREATE TABLE filler (b BLOB); \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) \
         INSERT INTO filler SELECT zeroblob(4000) FROM n; \
         PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    // Room for the parties, the bond and a few hundred transfers.
    let options = StoreOptions {
        sqlite_max_pages: Some(u32::try_from(pages).unwrap() + 60),
        ..StoreOptions::default()
    };
    let t = TestApp::on_sqlite(url, dir, &options).await;
    let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
    let bond = t.register(&issuer, green_spec()).await;
    let a = t.party(Role::Investor, "Kansai Pension Fund").await;
    let b = t.party(Role::Investor, "Naniwa Trust Bank").await;
    t.set_time(time::macros::datetime!(2025-06-20 01:00 UTC));
    let issued = t
        .op(
            &issuer,
            &bond,
            json!({"type": "token.issue",
            "allocations": [{"investor": a.id, "quantity": "10000"}]}),
        )
        .await;
    assert_eq!(issued.status, 201, "{}", issued.text());
    let transfer = json!({"type": "token.transfer", "to": b.id, "quantity": "1"});
    let mut acknowledged = 0u64;
    let mut full = None;
    for _ in 0..5_000 {
        let reply = t.op(&a, &bond, transfer.clone()).await;
        match reply.status.as_u16() {
            201 => acknowledged += 1,
            503 => {
                full = Some(reply);
                break;
            }
            other => panic!("unexpected {other}: {}", reply.text()),
        }
    }
    let full = full.expect("the cap was reached");
    assert_eq!(
        full.headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    full.problem(503, "storage-full");
    assert!(acknowledged > 0);
    // Space is freed: writes resume on the same service.
    t.sql("DROP TABLE filler", &[] as &[SqlArg<'_>]).await;
    let reply = t.op(&a, &bond, transfer.clone()).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    acknowledged += 1;
    // Nothing acknowledged was lost; the refused write left nothing behind.
    let balances = t.balances(&issuer, &bond).await;
    assert_eq!(balances[&b.id], acknowledged);
    assert_eq!(balances[&a.id], 10_000 - acknowledged);
}

mod a_bond_ledger_without_maintained_state_is_rebuilt_from_its_entries_at_start {
    use serde_json::{Value, json};

    use crate::on_both;
    use crate::support::*;

    /// Every read that the maintained state serves, as a caller sees it.
    async fn reads(t: &TestApp, issuer: &Party, a: &Party, bond: &str) -> Vec<Value> {
        let mut out = Vec::new();
        for (path, token) in [
            (
                format!("/v1/bonds/{bond}/holders"),
                Some(issuer.token.as_str()),
            ),
            (
                format!("/v1/bonds/{bond}/holders?as_of_size=3"),
                Some(issuer.token.as_str()),
            ),
            (
                format!("/v1/parties/{}/positions", a.id),
                Some(a.token.as_str()),
            ),
            (format!("/v1/bonds/{bond}/coupons"), None),
            (format!("/v1/bonds/{bond}/allocation"), None),
            (format!("/v1/bonds/{bond}/projects"), None),
        ] {
            let reply = t.get(&path, token).await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.text());
            out.push(reply.json());
        }
        let mut label = t.get(&format!("/v1/bonds/{bond}/label"), None).await.json();
        // Signed at each read (its time differs); the rest must not.
        label.as_object_mut().unwrap().remove("jws");
        out.push(label);
        out
    }

    on_both!(holds, |t: TestApp| async move {
        // A bond with a history: an issuance, a transfer, a freeze, a project.
        let (issuer, bond, a, b) = t.bond_with_two_holders().await;
        created(
            &t.op(
                &a,
                &bond,
                json!({"type": "token.transfer", "to": b.id, "quantity": "100"}),
            )
            .await,
        );
        created(&t.op(&issuer, &bond, json!({"type": "token.freeze", "holder": a.id, "quantity": "50", "reason": "court order"})).await);
        let before = reads(&t, &issuer, &a, &bond).await;

        // What an earlier build left: the entries, and none of the state kept beside them.
        for statement in [
            "DELETE FROM bond_states",
            "DELETE FROM ledger_holders",
            "DELETE FROM book_changes",
            "UPDATE entry_parties SET balance = NULL, held = NULL, frozen = NULL, frozen_all = NULL",
        ] {
            t.sql(statement, &[]).await;
        }

        // A new process rebuilds it from the ledger before serving, and serves the same.
        let u = t.second_process().await;
        assert_eq!(reads(&u, &issuer, &a, &bond).await, before);
        let reply = u
            .op(
                &b,
                &bond,
                json!({"type": "token.transfer", "to": a.id, "quantity": "1"}),
            )
            .await;
        assert_eq!(created(&reply)["entry_index"], "4");
        let balances = u.balances(&issuer, &bond).await;
        assert_eq!((balances[&a.id], balances[&b.id]), (5_901, 3_099));
        // The audit finds the rebuilt state equal to the replay.
        u.audit_of_bond(&bond).await;
    });
}
