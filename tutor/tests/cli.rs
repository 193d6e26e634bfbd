//! The `whaletutor` binary as a student meets it: doctor with no daemon,
//! lint's exit code, a lesson in watch mode on a real terminal (rexpect)
//! advancing when the step is solved from "another terminal" (after the
//! student declines the offered `whale` link), and `--demo` showing each
//! command and its output; a closed pipe ends `list` quietly.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use whaletutor::runner;
use whaletutor::verify::Sandbox;

const BIN: &str = env!("CARGO_BIN_EXE_whaletutor");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A frozen busybox course: these tests are about the tutor, not about
/// what the real lessons say.
fn fixture_course() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/course")
}

/// A PATH without `whale` on any machine (no /usr/local/bin, where a
/// developer may have linked it), so the tutor offers the link.
const PATH_WITHOUT_WHALE: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

#[test]
fn doctor_without_a_daemon_says_how_to_start_it() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("absent.sock");
    let out = Command::new(BIN)
        .args(["-H", &format!("unix://{}", sock.display()), "doctor"])
        .env("NO_COLOR", "1")
        .env_remove("DOCKER_HOST")
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
            .arg(fixture_course())
            .args(["lesson", "1"])
            .envs(engine.env())
            .env("WHALETUTOR_PROGRESS", &progress)
            .env("WHALETUTOR_LINK_DIR", sb.path())
            .env("PATH", PATH_WITHOUT_WHALE)
            .env("NO_COLOR", "1")
            .env_remove("DOCKER_HOST");
        let mut p = rexpect::session::spawn_command(cmd, Some(60_000)).expect("spawn whaletutor");
        // Offered once; "no" leaves the machine alone and says how instead.
        p.exp_string("[y/N]").expect("the link is offered");
        p.send_line("n").unwrap();
        p.exp_string("Not linked.").expect("a no is taken");
        p.exp_string("export PATH=")
            .expect("the manual line is shown");
        assert!(!sb.path().join("whale").exists(), "linked without consent");
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
        assert!(saved.contains("link_offered = true"), "{saved}");
        assert!(saved.contains("step = \"shell\""), "{saved}");
        assert!(saved.contains("done = [\"images\"]"), "{saved}");
    }
    .await;
    sb.shutdown().await;
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    assert!(!mounts.contains(&sb.path().display().to_string()));
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_hint_and_reset_touch_only_the_lesson() {
    let mut sb = Sandbox::whale().await.expect("sandbox daemon");
    let engine = sb.engine.clone();
    let progress = sb.path().join("progress.toml");
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("--lessons-dir")
            .arg(fixture_course())
            .args(args)
            .envs(engine.env())
            .env("WHALETUTOR_PROGRESS", &progress)
            .env("NO_COLOR", "1")
            .env_remove("DOCKER_HOST")
            .output()
            .expect("whaletutor runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        engine.whale(&["bootstrap", "busybox"]).expect("bootstrap");
        let (code, out) = run(&["check", "2"]);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("No running container `sleeper`"), "{out}");
        let (_, out) = run(&["hint"]);
        assert!(out.contains("Hint 1/2: `-d` runs the container"), "{out}");
        let (_, out) = run(&["hint"]);
        assert!(out.contains("Hint 2/2"), "{out}");
        let sh = |c: &str| {
            let (code, out) = runner::sh(&engine, c, Duration::from_secs(30)).unwrap();
            assert_eq!(code, 0, "{c}: {out}");
        };
        sh("whale run -d --name sleeper busybox sleep 1000");
        sh("whale run -d --name bystander busybox sleep 1000");
        let (code, out) = run(&["check"]);
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("PID 1"), "{out}");
        let (_, out) = run(&["progress"]);
        assert!(
            out.contains("pid-one              1/4 steps  at step `host-view`"),
            "{out}"
        );
        let (code, out) = run(&["reset", "2"]);
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("removed container sleeper"), "{out}");
        let left = engine
            .whale(&["ps", "-a", "--format", "{{.Names}}"])
            .unwrap();
        assert_eq!(left.trim(), "bystander", "reset removed more than its own");
        let (_, out) = run(&["progress"]);
        assert!(
            out.contains("pid-one              0/4 steps  not started"),
            "{out}"
        );
    }));
    sb.shutdown().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_shows_each_command_and_its_output() {
    let mut sb = Sandbox::whale().await.expect("sandbox daemon");
    let engine = sb.engine.clone();
    let progress = sb.path().join("progress.toml");
    // Asked before: a demo for a class goes straight to the lesson.
    std::fs::write(&progress, "link_offered = true\n").unwrap();
    let result = async {
        let mut cmd = Command::new(BIN);
        cmd.args(["--lessons-dir"])
            .arg(fixture_course())
            .args(["lesson", "1", "--demo"])
            .envs(engine.env())
            .env("WHALETUTOR_PROGRESS", &progress)
            .env("WHALETUTOR_LINK_DIR", sb.path())
            .env("PATH", PATH_WITHOUT_WHALE)
            .env("NO_COLOR", "1")
            .env_remove("DOCKER_HOST");
        let mut p = rexpect::session::spawn_command(cmd, Some(120_000)).expect("spawn whaletutor");
        let (shown, _) = p
            .exp_regex("Lesson 1 complete")
            .expect("the demo plays the lesson to its end");
        assert!(!shown.contains("[y/N]"), "asked twice:\n{shown}");
        for want in [
            // A command as typed, then what it printed.
            "$ whale run --name hello busybox:latest echo hello from busybox\r\nhello from busybox",
            "$ whale run -it --name first busybox sh (in a second terminal)",
            "(types id in that terminal)",
            // The terminal's own text, as the student would see it.
            "uid=0(root)",
            "(presses Ctrl-P Ctrl-Q in that terminal)",
        ] {
            assert!(shown.contains(want), "no {want:?} in the demo:\n{shown}");
        }
        // The solve script's regexes are not shown.
        assert!(!shown.contains("uid=0\\(root\\)"), "{shown}");
        assert!(!shown.contains("(wait for"), "{shown}");
    }
    .await;
    sb.shutdown().await;
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    assert!(!mounts.contains(&sb.path().display().to_string()));
    result
}

const BUILD_LESSON: &str = r#"
format_version = 1
id = "build-feedback"
number = 1
title = "A build is checked when it ends"
summary = "the tutor says what is missing without c"
requires = ["busybox"]

[[step]]
id = "build"
title = "Build an image with a file"
text = "Build `fh-built` with /wanted in it."
explain = "ok"
  [[step.check]]
  kind = "image"
  name = "fh-built"
  contains_file = "/wanted"
  failure = "fh-built has no /wanted yet"

  [step.solve]
  script = [ { run = "true" } ]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_that_ends_is_checked_without_pressing_c() {
    let mut sb = Sandbox::whale().await.expect("sandbox daemon");
    let engine = sb.engine.clone();
    let progress = sb.path().join("progress.toml");
    std::fs::write(&progress, "link_offered = true\n").unwrap();
    let lessons = sb.path().join("lessons");
    std::fs::create_dir_all(&lessons).unwrap();
    std::fs::write(lessons.join("01-build-feedback.toml"), BUILD_LESSON).unwrap();
    let ctx = sb.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo no > /other\n",
    )
    .unwrap();
    let result = async {
        let mut cmd = Command::new(BIN);
        cmd.arg("--lessons-dir")
            .arg(&lessons)
            .args(["lesson", "1"])
            .envs(engine.env())
            .env("WHALETUTOR_PROGRESS", &progress)
            .env("PATH", PATH_WITHOUT_WHALE)
            .env("NO_COLOR", "1")
            .env_remove("DOCKER_HOST");
        let mut p = rexpect::session::spawn_command(cmd, Some(60_000)).expect("spawn whaletutor");
        p.exp_string("step 1/1").expect("the step is shown");
        // A build that misses the point: the failure comes unasked.
        let build = |df: &str| {
            std::fs::write(ctx.join("Dockerfile"), df).unwrap();
            runner::sh(
                &engine,
                &format!("whale build -q -t fh-built {}", ctx.display()),
                Duration::from_secs(120),
            )
            .unwrap()
        };
        let (code, out) = build("FROM busybox\nRUN echo no > /other\n");
        assert_eq!(code, 0, "{out}");
        let (said, _) = p
            .exp_regex("fh-built has no /wanted yet")
            .expect("the failed check is said when the build ends, without c");
        assert!(said.contains("Not yet:"), "{said}");
        // The right build passes at once too.
        let (code, out) = build("FROM busybox\nRUN echo yes > /wanted\n");
        assert_eq!(code, 0, "{out}");
        p.exp_string("Lesson 1 complete")
            .expect("the good build passes");
    }
    .await;
    sb.shutdown().await;
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    assert!(!mounts.contains(&sb.path().display().to_string()));
    result
}

/// `whaletutor list | head -1`: the reader is gone before the tutor writes.
/// The pipe's read end is closed before the child starts, so every write
/// fails with EPIPE (deterministic, unlike racing a real `head`).
#[test]
fn a_reader_that_goes_away_ends_list_quietly() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::process::Stdio;
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints for pipe(2) to fill.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: pipe(2) just returned these two fds, owned by nobody else.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end);
    let out = Command::new(BIN)
        .args(["--lessons-dir"])
        .arg(repo().join("lessons"))
        .arg("list")
        .env("NO_COLOR", "1")
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "list panicked on a closed pipe: {stderr}"
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?} {stderr}",
        out.status
    );
}
