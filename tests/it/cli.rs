//! The `midori` binary as a newcomer meets it: the first start, the operator commands run from
//! the wrong directory, a second server on the same database, and error output.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::TempDir;

/// How long a server may take to say it is listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

fn midori() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_midori"));
    // The tests choose the data directory; nothing from the caller's environment leaks in.
    for var in [
        "MIDORI_DATA_DIR",
        "DATABASE_URL",
        "MIDORI_KEY_FILE",
        "MIDORI_SERVICE_KEY",
        "MIDORI_BIND",
        "MIDORI_LOG_FORMAT",
    ] {
        command.env_remove(var);
    }
    command.stdin(Stdio::null());
    command
}

fn scratch() -> TempDir {
    let dir = std::env::temp_dir().join(format!("midori-cli-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn create_operator(dir: &Path, extra: &[&str]) -> Output {
    midori()
        .current_dir(dir)
        .args([
            "admin",
            "create-party",
            "--role",
            "operator",
            "--name",
            "Ops",
        ])
        .args(extra)
        .output()
        .unwrap()
}

/// A server on `data` listening on a free port; returns once it has said so, with what it
/// printed on stderr up to then.
struct Server {
    child: Child,
    banner: String,
}

impl Server {
    fn start(data: &Path) -> Server {
        let mut child = midori()
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut banner = String::new();
        let started = Instant::now();
        // The welcome ends with a blank line after the last hint.
        while started.elapsed() < START_TIMEOUT {
            let Some(Ok(line)) = lines.next() else { break };
            banner.push_str(&line);
            banner.push('\n');
            if banner.contains("midori is serving") && line.trim().is_empty() {
                break;
            }
        }
        // Keep draining stderr so that the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, banner }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_operator_command_run_from_the_wrong_directory_creates_nothing_and_says_why() {
    // Arrange
    let dir = scratch();

    // Act
    let output = create_operator(&dir.0, &[]);

    // Assert
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("there is no database at"), "{err}");
    assert!(err.contains("--init"), "{err}");
    assert!(output.stdout.is_empty(), "no API key may be handed out");
    assert!(!dir.0.join("data").exists(), "no data directory is created");
}

#[test]
fn init_creates_the_database_and_says_which_one_it_used() {
    // Arrange
    let dir = scratch();

    // Act
    let output = create_operator(&dir.0, &["--init"]);

    // Assert
    assert!(output.status.success(), "{}", stderr(&output));
    let db = dir.0.join("data").join("midori.db");
    assert!(db.is_file());
    assert!(
        stderr(&output).contains(&format!("database: sqlite://{}", db.display())),
        "{}",
        stderr(&output)
    );
    let created: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(created["api_key"].as_str().is_some_and(|k| !k.is_empty()));
    // And from then on, without --init, the same database is used.
    let again = create_operator(&dir.0, &[]);
    assert!(again.status.success(), "{}", stderr(&again));
}

#[test]
fn the_first_start_shows_the_docs_and_how_to_create_the_first_operator() {
    // Arrange
    let dir = scratch();
    let data = dir.0.join("data");

    // Act
    let server = Server::start(&data);

    // Assert
    let banner = &server.banner;
    assert!(banner.contains("/docs"), "{banner}");
    assert!(banner.contains("/openapi.json"), "{banner}");
    assert!(
        banner.contains(&format!(
            "admin create-party --data-dir {} --role operator",
            data.display()
        )),
        "{banner}"
    );
    drop(server);

    // Once there is an operator, the hint is gone.
    let created = create_operator(&dir.0, &["--data-dir", data.to_str().unwrap()]);
    assert!(created.status.success(), "{}", stderr(&created));
    let server = Server::start(&data);
    assert!(server.banner.contains("/docs"), "{}", server.banner);
    assert!(!server.banner.contains("create-party"), "{}", server.banner);
}

#[test]
fn a_second_server_on_the_same_sqlite_database_refuses_to_start() {
    // Arrange
    let dir = scratch();
    let data = dir.0.join("data");
    let first = Server::start(&data);
    assert!(
        first.banner.contains("midori is serving"),
        "{}",
        first.banner
    );

    // Act
    let second = midori()
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();

    // Assert
    assert_eq!(second.status.code(), Some(1));
    let err = stderr(&second);
    assert!(
        err.contains(&format!(
            "another midori (pid {}) is already serving",
            first.child.id()
        )),
        "{err}"
    );
    assert!(!err.contains("midori is serving"), "{err}");
}

#[test]
fn keygen_over_an_existing_file_says_so_once_and_keeps_the_key() {
    // Arrange
    let dir = scratch();
    let key: PathBuf = dir.0.join("issuer.jwk");
    assert!(
        midori()
            .args(["keygen", "--out"])
            .arg(&key)
            .output()
            .unwrap()
            .status
            .success()
    );
    let before = std::fs::read(&key).unwrap();

    // Act
    let output = midori()
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();

    // Assert
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert_eq!(err.matches("exists").count(), 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(std::fs::read(&key).unwrap(), before);
}
