//! Where the PostgreSQL suite runs, decided once per test process:
//!
//! 1. `MIDORI_TEST_POSTGRES_URL` set: that server. The suite then fails, never skips, when it
//!    cannot be reached (CI sets it).
//! 2. Otherwise, a throwaway cluster of our own, when PostgreSQL's server binaries (`initdb`,
//!    `pg_ctl`) are found on the machine: created in a temporary directory, listening on a free
//!    loopback port, and stopped and removed by a watchdog once this test process has exited.
//! 3. Otherwise (a machine with only the Rust toolchain) the PostgreSQL tests return at once,
//!    after one line on stderr saying why; the SQLite suite always runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// How long `pg_ctl start` may take before we give up on the throwaway cluster.
const START_TIMEOUT_SECS: u32 = 60;

/// The admin URL of the PostgreSQL server the tests use, or `None` when there is none.
pub fn admin_url() -> Option<String> {
    // Straight to the process's stderr: libtest captures `eprintln!` of passing tests, and
    // this line must be seen in every run.
    let say = |line: String| {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{line}");
    };
    static URL: OnceLock<Option<String>> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("MIDORI_TEST_POSTGRES_URL")
            && !url.trim().is_empty()
        {
            return Some(url);
        }
        match start_throwaway() {
            Ok(url) => {
                say(format!("PostgreSQL suite: throwaway cluster at {url}"));
                Some(url)
            }
            Err(why) => {
                say(format!(
                    "PostgreSQL suite SKIPPED: {why}. Set MIDORI_TEST_POSTGRES_URL \
                     (e.g. postgres://postgres@127.0.0.1:5432/postgres) to run it."
                ));
                None
            }
        }
    })
    .clone()
}

/// The directory holding `initdb` and `pg_ctl`: `PATH` first, then `pg_config --bindir`, then
/// the usual package locations (Debian's versioned directories, newest first).
fn server_bindir() -> Option<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    if let Some(dir) = on_path.into_iter().find(|d| has_server(d)) {
        return Some(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_server(&dir) {
            return Some(dir);
        }
    }
    let mut versioned: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versioned.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versioned.reverse();
    versioned.extend(
        [
            "/usr/local/pgsql/bin",
            "/opt/homebrew/bin",
            "/usr/local/bin",
        ]
        .iter()
        .map(PathBuf::from),
    );
    versioned.into_iter().find(|d| has_server(d))
}

/// PostgreSQL refuses to run as root; as root we run it as the `postgres` user if there is one.
fn run_as() -> Result<Option<&'static str>, String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("cannot run `id -u`: {e}"))?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Ok(None);
    }
    let user = Command::new("id")
        .arg("postgres")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let runuser = Command::new("runuser")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if user && runuser {
        Ok(Some("postgres"))
    } else {
        Err(
            "running as root, and there is no `postgres` user (with runuser) to run a \
             throwaway PostgreSQL as"
                .into(),
        )
    }
}

fn command(user: Option<&str>, program: &Path) -> Command {
    match user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

fn run(mut command: Command, what: &str) -> Result<(), String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn free_port() -> Result<u16, String> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn start_throwaway() -> Result<String, String> {
    let bin = server_bindir().ok_or(
        "MIDORI_TEST_POSTGRES_URL is not set and no PostgreSQL server binaries (initdb, pg_ctl) \
         were found",
    )?;
    let user = run_as()?;
    let dir = std::env::temp_dir().join(format!("midori-test-pg-{}", std::process::id()));
    let data = dir.join("data");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    if let Some(user) = user {
        run(
            {
                let mut c = Command::new("chown");
                c.arg(user).arg(&dir);
                c
            },
            "chown",
        )?;
    }
    let mut initdb = command(user, &bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
    run(initdb, "initdb")?;
    let port = free_port()?;
    // Throwaway data: no fsync (durability is the production server's setting, not the suite's).
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300",
        dir.display()
    );
    let mut start = command(user, &bin.join("pg_ctl"));
    start
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("server.log"))
        .args([
            "-w",
            "-t",
            &START_TIMEOUT_SECS.to_string(),
            "-o",
            &options,
            "start",
        ]);
    run(start, "pg_ctl start")?;
    // The watchdog outlives nothing it should: once this process is gone it stops the cluster
    // and removes its directory.
    let stop = {
        let mut parts = Vec::new();
        if let Some(user) = user {
            parts.push(format!("runuser -u {user} --"));
        }
        parts.push(format!(
            "'{}' -D '{}' -m immediate stop",
            bin.join("pg_ctl").display(),
            data.display()
        ));
        parts.join(" ")
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        dir = dir.display()
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the cluster's watchdog: {e}"))?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}
