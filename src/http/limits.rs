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

#[derive(Clone, Debug)]
pub struct Limits {
    pub body_bytes_max: usize,
    pub request_timeout: Duration,
    pub in_flight: Arc<Semaphore>,
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
        }
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
