//! `verify` against a real whale daemon in its own sandbox (temp root and
//! socket, removed with every container afterwards). Needs root and the
//! `whale` binary (`cargo test --workspace` builds it; WHALE_BIN overrides).

use std::path::PathBuf;
use whaletutor::engine::{Engine, EngineKind};
use whaletutor::lesson;
use whaletutor::verify;

fn lessons_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../lessons")
}

fn whale_engine() -> Engine {
    // verify::run makes its own sandbox daemon; this only names the kind.
    Engine {
        kind: EngineKind::Whale,
        socket: PathBuf::from("/nonexistent"),
        root: None,
    }
}

fn no_whale_mounts_left(tag: &str) {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let left: Vec<&str> = mounts.lines().filter(|l| l.contains(tag)).collect();
    assert!(left.is_empty(), "mounts left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_course_lesson_verifies_on_whale() {
    let lessons = lesson::load_dir(&lessons_dir()).expect("lessons load");
    let chosen: Vec<_> = lessons.iter().collect();
    let rows = verify::run(&whale_engine(), &chosen, &lessons_dir().join("images"))
        .await
        .expect("verify runs");
    let table = verify::render_table(&rows, false);
    assert!(rows.iter().all(verify::Row::ok), "{table}");
    insta::assert_snapshot!("verify_course_table", table);
    no_whale_mounts_left("whaletutor-verify-");
}

const CANNOT_FAIL: &str = r#"
format_version = 1
id = "cannot-fail"
number = 1
title = "A check that cannot fail"
summary = "verify must refuse it"
requires = ["busybox"]

[[step]]
id = "only"
title = "Run something"
text = "Run `{{ cli }} run --name cf-one busybox true`."
explain = "ok"
  [[step.check]]
  kind = "image"
  name = "busybox"
  exists = true
  failure = "busybox is missing"

  [[step.check]]
  kind = "container"
  name = "cf-one"
  exit_code = 0
  failure = "cf-one did not run"

  [step.solve]
  script = [ { run = "{{ cli }} run --name cf-one busybox true" } ]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_cannot_fail_makes_verify_fail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("01-cannot-fail.toml");
    std::fs::write(&path, CANNOT_FAIL).unwrap();
    let l = lesson::load(&path).expect("the lesson itself is well formed");
    let rows = verify::run(&whale_engine(), &[&l], dir.path())
        .await
        .expect("verify runs");
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert!(!r.ok(), "verify accepted a check that cannot fail");
    assert_eq!((r.checks, r.pass, r.fail), (2, 1, 1));
    assert!(
        r.problems[0].contains("check 1 (image) passes before the step is solved"),
        "{:?}",
        r.problems
    );
    // The same lesson with the reason given verifies.
    let fixed = CANNOT_FAIL.replace(
        "failure = \"busybox is missing\"",
        "failure = \"busybox is missing\"\n  passes_before_solve = \"setup provides it\"",
    );
    std::fs::write(&path, fixed).unwrap();
    let l = lesson::load(&path).unwrap();
    let rows = verify::run(&whale_engine(), &[&l], dir.path())
        .await
        .unwrap();
    assert!(rows[0].ok(), "{}", verify::render_table(&rows, false));
    no_whale_mounts_left("whaletutor-verify-");
}

/// In verify's sandbox the engine listens on a temp socket: `{{ socket }}`
/// in solve commands and host checks is that socket, and host commands
/// reach the sandbox engine with `{{ cli }}` too.
const SOCKET: &str = r#"
format_version = 1
id = "socket"
number = 1
title = "The sandbox socket"
summary = "solve and host checks reach the engine verify runs"
requires = ["busybox"]

[[step]]
id = "curl"
title = "Create and start with curl"
text = "`curl --unix-socket {{ socket }}` ..."
explain = "ok"
  [[step.check]]
  kind = "container"
  name = "sock-one"
  running = true
  failure = "sock-one does not run"

  [[step.check]]
  kind = "host"
  command = "{{ cli }} inspect -f '{{.State.Running}} {{.Name}}' sock-one"
  stdout = '^true /sock-one\s*$'
  failure = "the host command does not see sock-one"

  [[step.check]]
  kind = "host"
  command = "curl -s --unix-socket {{ socket }} http://localhost/containers/sock-one/json"
  stdout = '"Running":true'
  failure = "curl on {{ socket }} does not see sock-one running"

  [step.solve]
  script = [
    { run = """curl -sf --unix-socket {{ socket }} -H 'Content-Type: application/json' -d '{"Image": "busybox", "Cmd": ["sleep", "60"]}' 'http://localhost/containers/create?name=sock-one'""" },
    { run = "curl -sf -X POST --unix-socket {{ socket }} http://localhost/containers/sock-one/start" },
  ]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_is_the_sandbox_socket_in_solve_and_host_checks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("01-socket.toml");
    std::fs::write(&path, SOCKET).unwrap();
    let l = lesson::load(&path).expect("the lesson is well formed");
    let rows = verify::run(&whale_engine(), &[&l], dir.path())
        .await
        .expect("verify runs");
    assert!(rows[0].ok(), "{}", verify::render_table(&rows, false));
    assert_eq!((rows[0].checks, rows[0].pass), (3, 3));
    no_whale_mounts_left("whaletutor-verify-");
}

/// A step that needs published ports: whale publishes through its own
/// proxy, so verify plays it (nothing skipped) and the port answers.
const PORTS: &str = r#"
format_version = 1
id = "ports"
number = 1
title = "A published port"
summary = "a step verify skips only on an engine that cannot publish"
requires = ["busybox"]
cleanup = ["{{ cli }} rm -f port-web"]

[[step]]
id = "web"
title = "A web server inside"
text = "`-p 127.0.0.1:8017:80`"
explain = "ok"
requires = ["published-ports"]
  [[step.check]]
  kind = "host"
  command = "curl -s --max-time 5 http://127.0.0.1:8017/passwd"
  stdout = '^root:'
  failure = "nothing answers on 127.0.0.1:8017"

  [step.solve]
  script = [
    { run = "{{ cli }} run -d --name port-web -p 127.0.0.1:8017:80 busybox httpd -f -p 80 -h /etc" },
  ]
"#;

/// Verify [`PORTS`] on `engine`: its row and the printed table.
async fn verify_ports_lesson(engine: &Engine) -> (verify::Row, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("01-ports.toml");
    std::fs::write(&path, PORTS).unwrap();
    let l = lesson::load(&path).expect("the lesson is well formed");
    let mut rows = verify::run(engine, &[&l], dir.path())
        .await
        .expect("verify runs");
    let table = verify::render_table(&rows, false);
    (rows.remove(0), table)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_needs_published_ports_is_played_on_whale() {
    let (r, table) = verify_ports_lesson(&whale_engine()).await;
    assert!(r.ok(), "{table}");
    assert!(r.skipped.is_empty(), "whale skipped a step: {table}");
    assert_eq!((r.checks, r.pass), (1, 1), "{table}");
    no_whale_mounts_left("whaletutor-verify-");
}

/// On Docker the step is played only where Docker can publish (a `bridge`
/// network); on a dockerd started with `--bridge=none` it is skipped and
/// the reason is printed, never passed silently. Runs against the dockerd
/// named by WHALE_TEST_DOCKERD only (it starts a container there): e.g.
/// `tutor/scripts/dockerd-for-lessons.sh start DIR`, then
/// `WHALE_TEST_DOCKERD=DIR/docker.sock`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_needs_published_ports_is_skipped_only_where_docker_cannot_publish() {
    let Ok(sock) = std::env::var("WHALE_TEST_DOCKERD") else {
        eprintln!("SKIP: WHALE_TEST_DOCKERD names no dockerd of the test's own");
        return;
    };
    let engine = Engine {
        kind: EngineKind::Docker,
        socket: PathBuf::from(sock.trim_start_matches("unix://")),
        root: None,
    };
    let docker = engine.connect().await.expect("WHALE_TEST_DOCKERD answers");
    let has_bridge = docker.inspect_network("bridge", None).await.is_ok();
    let (r, table) = verify_ports_lesson(&engine).await;
    assert!(r.ok(), "{table}");
    if has_bridge {
        assert!(r.skipped.is_empty(), "{table}");
        assert_eq!((r.checks, r.pass), (1, 1), "{table}");
    } else {
        assert_eq!(r.checks, 0, "{table}");
        assert!(
            table.contains("step web skipped: it needs published ports (-p), and this Docker engine has no bridge network"),
            "{table}"
        );
    }
}
