//! The `whaletutor` binary as a student meets it: doctor with no daemon,
//! lint's exit code, and a lesson in watch mode on a real terminal (rexpect)
//! advancing when the step is solved from "another terminal".

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use whaletutor::runner;
use whaletutor::verify::Sandbox;

const BIN: &str = env!("CARGO_BIN_EXE_whaletutor");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn doctor_without_a_daemon_says_how_to_start_it() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("absent.sock");
    let out = Command::new(BIN)
        .args(["-H", &format!("unix://{}", sock.display()), "doctor"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for item in [
        "root",
        "overlayfs",
        "namespaces",
        "cgroups",
        "engine",
        "images",
    ] {
        assert!(text.contains(item), "doctor did not report {item}: {text}");
    }
    assert!(text.contains("Start it with `whale"), "{text}");
    assert!(text.contains(&sock.display().to_string()), "{text}");
}

#[test]
fn lint_exits_1_on_broken_lessons_and_0_on_the_course() {
    let broken = repo().join("tests/fixtures/lessons/unknown-top-key.toml");
    let out = Command::new(BIN).arg("lint").arg(&broken).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("unknown-top-key.toml:6:1: unknown field `colour`"),
        "{text}"
    );
    let out = Command::new(BIN)
        .args(["--lessons-dir"])
        .arg(repo().join("lessons"))
        .arg("lint")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lesson_advances_when_the_step_is_solved_elsewhere() {
    let mut sb = Sandbox::whale().await.expect("sandbox daemon");
    let engine = sb.engine.clone();
    let progress = sb.path().join("progress.toml");
    let result = async {
        let mut cmd = Command::new(BIN);
        cmd.args(["--lessons-dir"])
            .arg(repo().join("lessons"))
            .args(["lesson", "1"])
            .envs(engine.env())
            .env("WHALETUTOR_PROGRESS", &progress)
            .env("NO_COLOR", "1");
        let mut p = rexpect::session::spawn_command(cmd, Some(60_000)).expect("spawn whaletutor");
        // The first run bootstraps busybox into the empty sandbox.
        p.exp_string("step 1/4").expect("step 1 shown");
        p.send("h").unwrap();
        p.flush().unwrap();
        p.exp_string("Hint 1/3").expect("hint shown");
        let (code, out) = runner::sh(
            &engine,
            "whale run --name hello busybox:latest echo hello from busybox",
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(code, 0, "{out}");
        let t0 = Instant::now();
        p.exp_string("step 2/4").expect("advanced to step 2");
        let took = t0.elapsed();
        eprintln!("advanced {took:?} after the container ran");
        assert!(took < Duration::from_secs(3), "took {took:?}");
        p.send("n").unwrap();
        p.flush().unwrap();
        p.exp_string("Not yet").expect("n refuses an unsolved step");
        p.send("q").unwrap();
        p.flush().unwrap();
        p.exp_eof().expect("q quits");
        let saved = std::fs::read_to_string(&progress).unwrap();
        assert!(saved.contains("step = \"shell\""), "{saved}");
        assert!(saved.contains("done = [\"images\"]"), "{saved}");
    }
    .await;
    sb.shutdown().await;
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    assert!(!mounts.contains(&sb.path().display().to_string()));
    result
}
