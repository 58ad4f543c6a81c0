//! Reads yield to writes: the handlers of safe requests (GET, HEAD) run on a small runtime of
//! their own whose threads have a lower CPU priority (Linux `nice`, per thread), so that a
//! crowd of clients looping on reads — the public label, say — takes the CPU writes leave
//! idle, not the CPU writes need. Connections, request parsing and writes stay on the main
//! runtime at normal priority. Where the priority cannot be lowered, reads still run on the
//! read runtime, only without the lower priority.

use std::future::Future;
use std::sync::OnceLock;

/// Worker threads of the read runtime (`MIDORI_READ_THREADS` overrides it).
pub const READ_THREADS: usize = 2;
/// The read threads' nice value (0 is normal; 19 the lowest priority). At 10, a busy read
/// thread weighs about a tenth of a normal one when the CPU is contended
/// (`MIDORI_READ_NICE` overrides it).
pub const READ_NICE: i32 = 10;

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

static READS: OnceLock<Option<tokio::runtime::Handle>> = OnceLock::new();

/// The read runtime, started on first use and kept for the life of the process (it is shared
/// by every service in the process, as the CPU is).
fn reads() -> Option<&'static tokio::runtime::Handle> {
    READS
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(setting("MIDORI_READ_THREADS", READ_THREADS).max(1))
                .thread_name("midori-reads")
                .on_thread_start(lower_priority)
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => {
                    let handle = runtime.handle().clone();
                    // Lives as long as the process: dropping a runtime inside another one's
                    // task would panic, and reads are served until the process ends.
                    std::mem::forget(runtime);
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no read runtime; reads run beside writes");
                    None
                }
            }
        })
        .as_ref()
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: `setpriority` with PRIO_PROCESS and who = 0 changes the nice value of the calling
    // thread only (Linux keeps it per thread); it reads and writes no memory of ours.
    let nice = setting("MIDORI_READ_NICE", READ_NICE).clamp(0, 19);
    let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    if result != 0 {
        tracing::debug!("the read threads keep the normal priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// Run a read's handler on the read runtime (on the current one if there is none).
pub async fn as_read<F>(work: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match reads() {
        Some(handle) => match handle.spawn(work).await {
            Ok(out) => out,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("a read was cancelled: {e}"),
        },
        None => work.await,
    }
}
