//! `midori`: parse the command line and run it. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than the system allocator: the engine and the handlers allocate many small
/// short-lived buffers from several threads, where glibc's malloc spent ~15% of the CPU time
/// of the transfer benchmark (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = midori::cli::Cli::parse();
    match midori::cli::run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
