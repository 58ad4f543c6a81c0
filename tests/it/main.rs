//! Integration tests: the real router against real SQLite and real PostgreSQL.
//! One binary (fast to link); one module per area.

mod support;

mod access;
mod audit;
mod bonds;
mod cli;
mod docs;
mod leaks;
mod ledger;
mod monitoring;
mod openapi;
mod pages;
mod parties;
mod problems;
mod real_reports;
mod scenarios;
mod storage;
mod token_model;
mod tokens;
mod trials;
mod witness;
