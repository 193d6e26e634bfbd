//! The student's first hour: what stood in the way of a new user (issue
//! 15) stays out of it. What rootless needs is said first, in words; bare `lesson`
//! resumes; every command shown pastes as it is; progress is per engine.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use whaletutor::lesson;
use whaletutor::progress::{self, Progress};

const BIN: &str = env!("CARGO_BIN_EXE_whaletutor");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `nobody` has no subordinate ids: the tutor says, before anything else,
/// that whale runs rootless and what to ask an administrator for (or sudo).
#[test]
fn a_normal_user_without_subordinate_ids_is_told_what_to_ask_for_first() {
    if !nix::unistd::geteuid().is_root() {
        // Already not root: run as we are.
        eprintln!("not root: running the tutor as this user");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("--lessons-dir")
        .arg(repo().join("lessons"))
        .args(["lesson", "1"])
        .env("WHALETUTOR_PROGRESS", dir.path().join("p.toml"))
        .env("NO_COLOR", "1")
        .env_remove("DOCKER_HOST")
        .env_remove("WHALETUTOR_ENGINE");
    if nix::unistd::geteuid().is_root() {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let first = err.lines().next().unwrap_or_default();
    assert!(first.contains("runs whale rootless"), "{err}");
    assert!(first.contains("no subordinate ids"), "{err}");
    assert!(first.contains("sudo usermod --add-subuids"), "{err}");
    assert!(first.contains("sudo whaletutor lesson"), "{err}");
    assert!(!err.contains("os error"), "{err}");
}

#[test]
fn bare_lesson_resumes_where_the_student_stopped() {
    let lessons = lesson::load_dir(&repo().join("lessons")).unwrap();
    let mut p = Progress::default();
    assert_eq!(p.resume(&lessons).unwrap().number(), 1, "fresh: lesson 1");
    p.last = Some("pid-one".into());
    assert_eq!(p.resume(&lessons).unwrap().number(), 2, "the last one");
    p.entry(&lessons[1]).completed = true;
    assert_eq!(p.resume(&lessons).unwrap().number(), 3, "the next one");
    for l in &lessons[2..] {
        p.entry(l).completed = true;
    }
    assert_eq!(p.resume(&lessons).unwrap().number(), 1, "one left before");
}

#[test]
fn progress_is_kept_per_engine() {
    std::env::remove_var("WHALETUTOR_PROGRESS");
    let whale = progress::default_path("whale").unwrap();
    let docker = progress::default_path("docker").unwrap();
    assert_ne!(whale, docker);
    assert_eq!(whale.parent(), docker.parent());
    assert!(whale.ends_with("whaletutor/progress.toml"), "{whale:?}");
}

/// What `lesson` prints for a step is what a student pastes: every code
/// line of every step at column 0 and at most 80 wide, heredoc terminators
/// alone on their line. (Lint refuses lesson files that break this; here
/// the terminal rendering is held to it too.)
#[test]
fn every_command_shown_pastes_as_it_is() {
    let lessons = lesson::load_dir(&repo().join("lessons")).unwrap();
    let engine = whaletutor::engine::Engine::select(
        whaletutor::engine::EngineKind::Whale,
        Some("unix:///run/whale/whale.sock"),
    )
    .unwrap();
    let mut heredocs = 0;
    for l in &lessons {
        for i in 0..l.lesson.steps.len() {
            let shown =
                whaletutor::runner::render_step(l, i, &engine, whaletutor::render::Style::plain());
            let src =
                whaletutor::template::render(l.lesson.steps[i].get_ref().text.get_ref(), "whale")
                    .unwrap();
            for block in lesson::paste::code_blocks(&src) {
                for line in &block {
                    assert!(
                        line.chars().count() <= 80,
                        "lesson {} step {i}: {line}",
                        l.number()
                    );
                    if line.trim() == "EOF" {
                        heredocs += 1;
                    }
                }
            }
            for line in shown.lines() {
                assert_ne!(
                    line.trim_end(),
                    "    EOF",
                    "lesson {}: an indented EOF",
                    l.number()
                );
            }
            assert!(
                !shown
                    .lines()
                    .any(|s| s.starts_with(' ') && s.trim() == "EOF"),
                "lesson {} step {i} shows an indented heredoc terminator:\n{shown}",
                l.number()
            );
        }
    }
    assert!(
        heredocs >= 4,
        "the course's heredocs were not seen ({heredocs})"
    );
}

#[test]
fn doctor_names_every_tool_a_lesson_needs_with_its_apt_line() {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["-H", "unix:///nonexistent/whale.sock", "doctor"])
        .env("PATH", empty.path())
        .env("NO_COLOR", "1")
        .env_remove("EDITOR")
        .env_remove("VISUAL")
        .env_remove("DOCKER_HOST")
        .env_remove("WHALETUTOR_ENGINE")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for line in [
        "curl missing (lesson 5 talks to the daemon with it): `sudo apt-get install curl`",
        "strace missing (lesson 13 traces a container's process): `sudo apt-get install strace`",
        "tini missing (lesson 14 runs an init as PID 1): `sudo apt-get install tini`",
        "`sudo apt-get install python3-docker`",
        "no editor (Dockerfiles in lessons 7-11): `sudo apt-get install nano`",
        "`whale` is not on PATH: a new terminal says `command not found`. Run `sudo ln -sf ",
    ] {
        assert!(text.contains(line), "doctor did not say {line:?}:\n{text}");
    }
}
