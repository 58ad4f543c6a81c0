//! The application's one error type. Each variant is a kind of answer a client can act on; the
//! HTTP layer maps every variant to exactly one RFC 9457 problem type.

use crate::domain::error::FieldError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is well-formed JSON but its content breaks rules; every field is named.
    #[error("the request has {} invalid field(s)", .0.len())]
    Validation(Vec<FieldError>),
    /// The operation breaks the rules of the ledger it targets; every broken rule is listed.
    #[error("the operation breaks {} rule(s)", .0.len())]
    Rules(Vec<crate::domain::book::Violation>),
    /// The request cannot be understood (bad JSON, bad query parameter).
    #[error("{0}")]
    BadRequest(String),
    /// No, or an unknown or revoked, API key.
    #[error("a valid bearer API key is required")]
    Unauthenticated,
    /// Authenticated, but this party may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The signature of a signed request does not verify, or names a key the caller cannot use.
    #[error("{0}")]
    Signature(String),
    #[error("{0} not found")]
    NotFound(String),
    /// Uniqueness or state conflict (a duplicate ISIN, an id reused).
    #[error("{0}")]
    Conflict(String),
    /// The signed nonce was used before: a replayed request.
    #[error("{0}")]
    Replay(String),
    /// Overloaded: retry after a short wait.
    #[error("the service is busy; retry shortly")]
    Busy,
    /// Another process wrote to the same database at the same time: retry.
    #[error("another writer holds the database; retry shortly")]
    Contention,
    /// The database's disk is full: nothing was written; retry once space is freed.
    #[error("the database is full")]
    StorageFull,
    /// Our fault. The message is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => AppError::NotFound("resource".into()),
            StoreError::Conflict(constraint) => AppError::Conflict(conflict_message(&constraint)),
            StoreError::Busy => AppError::Busy,
            StoreError::HeadMoved(_) | StoreError::Contended => AppError::Contention,
            StoreError::Full => AppError::StorageFull,
            StoreError::InvalidInput(reason) => AppError::BadRequest(format!(
                "a value in the request is not acceptable: {reason}"
            )),
            StoreError::Corrupt(reason) => {
                AppError::Internal(format!("storage invariant: {reason}"))
            }
            StoreError::Database(err) => AppError::Internal(format!("database: {err}")),
        }
    }
}

impl From<crate::ledger::LedgerError> for AppError {
    fn from(err: crate::ledger::LedgerError) -> Self {
        AppError::Internal(format!("ledger: {err}"))
    }
}

/// Name the duplicate in words; SQLite reports `table.column`, PostgreSQL the index name.
fn conflict_message(constraint: &str) -> String {
    if constraint.contains("isin") {
        "a bond with this ISIN is already registered".into()
    } else if constraint.contains("kid") || constraint.contains("party_keys") {
        "this public key is already registered".into()
    } else {
        format!("duplicate value ({constraint})")
    }
}
