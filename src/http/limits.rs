//! Named limits of the HTTP layer (TigerBeetle style: a number on everything). Each is
//! configurable (README, "Configuration"); the constants are the defaults.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// Largest request body accepted; a bond with 64 documents and 32 KPIs is well under it.
pub const REQUEST_BODY_BYTES_MAX: usize = 256 * 1024;
/// A request that takes longer is answered 503 with `Retry-After`.
pub const REQUEST_TIMEOUT_MS: u64 = 10_000;
/// Requests served at once; the next one is answered 503 with `Retry-After` at once,
/// never queued without bound.
pub const CONCURRENT_REQUESTS_MAX: usize = 512;
/// Expensive reads served at once (ledger exports, the regulator's audit, which read a whole
/// ledger each): beyond this they are answered 503 with `Retry-After`, so that they cannot
/// starve writes and cheap reads. Every other read costs O(log n) in ledger size or is paged.
pub const HEAVY_READS_MAX: usize = 4;

#[derive(Clone, Debug)]
pub struct Limits {
    pub body_bytes_max: usize,
    pub request_timeout: Duration,
    pub in_flight: Arc<Semaphore>,
    /// Permits for expensive reads ([`HEAVY_READS_MAX`]), held until the last byte is sent.
    pub heavy: Arc<Semaphore>,
}

impl Limits {
    pub fn new(
        body_bytes_max: usize,
        request_timeout: Duration,
        concurrent_requests_max: usize,
    ) -> Self {
        Limits {
            body_bytes_max,
            request_timeout,
            in_flight: Arc::new(Semaphore::new(concurrent_requests_max)),
            heavy: Arc::new(Semaphore::new(HEAVY_READS_MAX)),
        }
    }

    /// A permit for an expensive read, or 503 at once.
    pub fn heavy_read(&self) -> Result<tokio::sync::OwnedSemaphorePermit, crate::app::AppError> {
        self.heavy.clone().try_acquire_owned().map_err(|_| {
            metrics::counter!("midori_http_heavy_shed_total").increment(1);
            crate::app::AppError::Busy
        })
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(
            REQUEST_BODY_BYTES_MAX,
            Duration::from_millis(REQUEST_TIMEOUT_MS),
            CONCURRENT_REQUESTS_MAX,
        )
    }
}
