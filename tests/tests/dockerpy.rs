//! docker-py, the Python SDK, against whale: `tests/python` (pytest) run
//! with DOCKER_HOST on a private daemon, and the same suite against dockerd
//! when one answers, so every call it makes is one that works on Docker.
//!
//! Needs python3 with `docker` (7.2.0, pinned in .ci/run) and `pytest`;
//! SKIPS when they are missing. `WHALE_TEST_PYTHON` names another
//! interpreter (a venv), `WHALE_TEST_DOCKERD` another dockerd socket.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use whale_e2e::{http_unix, run_command, workspace_dir, Out, World};

const SUITE_TIMEOUT: Duration = Duration::from_secs(600);

fn python() -> String {
    std::env::var("WHALE_TEST_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// docker-py's version when python has it and pytest, else why not.
fn docker_py() -> Result<String, String> {
    let mut cmd = Command::new(python());
    cmd.args(["-c", "import docker, pytest; print(docker.__version__)"]);
    let out = run_command(cmd, None, Duration::from_secs(60));
    if out.ok() {
        Ok(out.stdout.trim().to_string())
    } else {
        Err(format!(
            "{} cannot import docker and pytest ({}); .ci/run installs them: \
             python3 -m pip install pytest docker==7.2.0",
            python(),
            out.stderr.lines().last().unwrap_or("no output")
        ))
    }
}

fn run_suite(docker_host: &str) -> Out {
    let mut cmd = Command::new(python());
    cmd.args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rxs"])
        .arg(workspace_dir().join("tests/python"))
        .env("DOCKER_HOST", docker_host)
        // Nothing written into the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .env_remove("DOCKER_CONTEXT");
    run_command(cmd, None, SUITE_TIMEOUT)
}

/// A dockerd that answers `/_ping` (not just a socket file) and has
/// busybox:latest, or why not.
fn dockerd() -> Result<PathBuf, String> {
    let sock = PathBuf::from(
        std::env::var("WHALE_TEST_DOCKERD")
            .map(|s| s.trim_start_matches("unix://").to_string())
            .unwrap_or_else(|_| "/var/run/docker.sock".to_string()),
    );
    match http_unix(&sock, "GET", "/_ping", None) {
        Ok(r) if r.status == 200 => {}
        Ok(r) => {
            return Err(format!(
                "{} answered /_ping with {}",
                sock.display(),
                r.status
            ))
        }
        Err(e) => return Err(format!("no dockerd answers on {}: {e}", sock.display())),
    }
    let r = http_unix(&sock, "GET", "/images/busybox:latest/json", None)
        .map_err(|e| format!("asking {} for busybox:latest: {e}", sock.display()))?;
    if r.status != 200 {
        return Err(format!(
            "dockerd on {} has no busybox:latest",
            sock.display()
        ));
    }
    Ok(sock)
}

fn assert_passed(out: &Out, engine: &str, log: Option<&Path>) {
    eprintln!("{}", out.stdout);
    let tail = log
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|l| {
            l.lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    assert!(
        out.ok(),
        "docker-py's suite failed against {engine}:\n{out}\n--- daemon log (tail)\n{tail}"
    );
    assert!(out.stdout.contains(" passed"), "{out}");
}

#[test]
fn docker_py_works_against_whale() {
    let version = match docker_py() {
        Ok(v) => v,
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
    if version != "7.2.0" {
        eprintln!("note: docker-py {version}, the suite is written against 7.2.0");
    }
    let w = World::with_busybox();
    let out = run_suite(&w.host());
    assert_passed(&out, "whale", Some(&w.daemon_log()));
}

#[test]
fn the_same_suite_passes_against_dockerd() {
    if let Err(why) = docker_py() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let sock = match dockerd() {
        Ok(s) => s,
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
    let out = run_suite(&format!("unix://{}", sock.display()));
    assert_passed(&out, "dockerd", None);
}
