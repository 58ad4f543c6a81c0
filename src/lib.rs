//! midori: green and SDG bonds as security tokens on signed, verifiable ledgers.
//!
//! Layers, from the inside out (docs/ARCHITECTURE.md has the full map):
//! - [`domain`]: bonds, parties, money, identifiers. Pure.
//! - [`ledger`]: canonical JSON, signatures, the Merkle tree, checkpoints, offline audit. Pure.
//! - [`sandbox`]: rulebooks and the deterministic replay of sandbox trials. Pure.
//! - [`store`]: the only module with SQL (SQLite and PostgreSQL).
//! - [`app`]: use cases; joins domain, ledger and store; knows nothing of HTTP.
//! - [`http`]: the axum personality: handlers, problems, OpenAPI.
//! - [`cli`]: the `midori` command.

pub mod app;
pub mod cli;
pub mod domain;
pub mod http;
pub mod ledger;
pub mod sandbox;
pub mod store;
