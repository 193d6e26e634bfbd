//! Check kinds against live engines: every kind on whale where whale serves
//! the endpoint (and a clear "engine lacks X" where it does not), and exec /
//! file / image-content checks against a real dockerd when one is given.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use whaletutor::checks::{evaluate, CheckError, Context, Outcome};
use whaletutor::engine::{Engine, EngineKind};
use whaletutor::lesson::Check;
use whaletutor::runner;
use whaletutor::verify::Sandbox;

fn check(toml_src: &str) -> Check {
    #[derive(serde::Deserialize)]
    struct W {
        check: Check,
    }
    toml::from_str::<W>(&format!("[check]\n{toml_src}\nfailure = \"nope\""))
        .expect("test check parses")
        .check
}

async fn eval(engine: &Engine, c: &Check) -> Result<Outcome, CheckError> {
    let docker = engine.connect().await.expect("engine answers");
    let answers = HashMap::new();
    let ctx = Context {
        docker: &docker,
        engine,
        quizzes: &[],
        answers: &answers,
    };
    evaluate(c, &ctx).await
}

fn sh(engine: &Engine, cmd: &str, want: i32) {
    let cmd = cmd.replace("CLI", engine.cli());
    let (code, out) = runner::sh(engine, &cmd, Duration::from_secs(60)).expect("command runs");
    assert_eq!(code, want, "`{cmd}`: {out}");
}

/// exec and file checks where the engine may not serve exec/archive yet:
/// they must either work or say exactly which endpoint is missing.
async fn exec_and_file_behave(engine: &Engine) {
    let cases = [
        ("kind = \"file\"\ncontainer = \"ck-run\"\npath = \"/etc/passwd\"\ncontents = \"root:x:0\"", true),
        ("kind = \"file\"\ncontainer = \"ck-run\"\npath = \"/nonexistent\"\nexists = true", false),
        ("kind = \"file\"\ncontainer = \"ck-run\"\npath = \"/nonexistent\"\nexists = false", true),
        ("kind = \"exec\"\ncontainer = \"ck-run\"\ncmd = [\"cat\", \"/etc/hostname\"]\nstdout = \"[0-9a-f]{12}\"", true),
        ("kind = \"exec\"\ncontainer = \"ck-run\"\ncmd = [\"false\"]\nexit_code = 0", false),
    ];
    for (src, want) in cases {
        match eval(engine, &check(src)).await {
            Ok(o) => assert_eq!(o.passed(), want, "{src}: {o:?}"),
            Err(CheckError::Unsupported { endpoint }) => {
                assert!(
                    endpoint.contains("/exec") || endpoint.contains("/archive"),
                    "{src}: {endpoint}"
                );
                eprintln!("{} lacks {endpoint}", engine.cli());
            }
            Err(e) => panic!("{src}: {e}"),
        }
    }
}

async fn common_checks(engine: &Engine) {
    sh(
        engine,
        "CLI run -d --name ck-run --label course=ck busybox sleep 300",
        0,
    );
    sh(engine, "CLI run --name ck-done busybox sh -c 'exit 3'", 3);
    let cases = [
        ("kind = \"container\"\nname = \"ck-run\"\nrunning = true\ntty = false\nimage = \"busybox\"", true),
        ("kind = \"container\"\nname = \"ck-run\"\nstatus = \"exited\"", false),
        ("kind = \"container\"\nlabel = \"course=ck\"\nrunning = true", true),
        ("kind = \"container\"\nlabel = \"course=other\"\nexists = true", false),
        ("kind = \"container\"\nname = \"ck-none\"\nexists = false", true),
        ("kind = \"container\"\nname = \"ck-run\"\npid1 = \"^sleep 300\"\ncmd = \"sleep 300\"", true),
        ("kind = \"container\"\nname = \"ck-done\"\nexit_code = 3\noom_killed = false", true),
        ("kind = \"container\"\nname = \"ck-done\"\nexit_code = 0", false),
        ("kind = \"process\"\ncontainer = \"ck-run\"\ncommand = \"^sleep\"\npid = 1", true),
        ("kind = \"process\"\ncontainer = \"ck-run\"\ncommand = \"^nginx\"\nrunning = false", true),
        ("kind = \"process\"\ncontainer = \"ck-run\"\ncommand = \"^nginx\"", false),
        ("kind = \"image\"\nname = \"busybox\"\nexists = true\nlayers = 1\ncmd = [\"sh\"]", true),
        ("kind = \"image\"\nname = \"busybox\"\nmin_layers = 2", false),
        // busybox is the only image: all of its bytes are its own.
        ("kind = \"image\"\nname = \"busybox\"\nmin_unique_bytes = 100000\nmax_unique_bytes = 100000000", true),
        ("kind = \"image\"\nname = \"busybox\"\nmin_unique_bytes = 100000000", false),
        ("kind = \"image\"\nname = \"busybox\"\nmax_unique_bytes = 1000", false),
        ("kind = \"image\"\nname = \"nothere:1\"\nexists = false", true),
        ("kind = \"image\"\nname = \"busybox\"\nshares_layers_with = \"busybox:latest\"\nmin_shared_layers = 1\nbased_on = \"busybox\"", true),
        ("kind = \"image\"\nname = \"busybox\"\nshares_layers_with = \"busybox\"\nmax_shared_layers = 0", false),
        ("kind = \"image\"\nname = \"busybox\"\nshares_layers_with = \"busybox\"\nmin_shared_layers = 1\nmax_shared_layers = 1", true),
        ("kind = \"host\"\ncommand = \"echo {{ cli }}\"\nstdout = \"^(whale|docker)\\n$\"", true),
        ("kind = \"host\"\ncommand = \"exit 2\"\nexit_code = 0", false),
        // The host command reaches the engine under test (a sandbox socket,
        // not the default one): `{{ cli }}` there sees ck-run.
        ("kind = \"host\"\ncommand = \"{{ cli }} inspect -f '{{.State.Running}}' ck-run\"\nstdout = \"^true\"", true),
        ("kind = \"any\"\nchecks = [ { kind = \"container\", name = \"ck-none\", exists = true, failure = \"a\" }, { kind = \"container\", name = \"ck-run\", running = true, failure = \"b\" } ]", true),
        ("kind = \"all\"\nchecks = [ { kind = \"container\", name = \"ck-none\", exists = true, failure = \"a\" }, { kind = \"container\", name = \"ck-run\", running = true, failure = \"b\" } ]", false),
    ];
    for (src, want) in cases {
        let o = eval(engine, &check(src))
            .await
            .unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(o.passed(), want, "{src}: {o:?}");
        if let Outcome::Fail { failure, .. } = o {
            assert_eq!(failure, "nope");
        }
    }
    // A failed host check shows what the command said on stderr.
    let failing = check(
        "kind = \"host\"\ncommand = \"echo 'strace: not found' >&2; exit 127\"\nexit_code = 0",
    );
    match eval(engine, &failing).await {
        Ok(Outcome::Fail { failure, .. }) => {
            assert_eq!(failure, "nope (the command said: `strace: not found`)")
        }
        o => panic!("a failing host check: {o:?}"),
    }
    // An image's file, read without exporting the image.
    for (src, want) in [
        (
            "kind = \"image\"\nname = \"busybox\"\ncontains_file = \"/bin/busybox\"",
            true,
        ),
        (
            "kind = \"image\"\nname = \"busybox\"\ncontains_file = \"/bin/\"",
            true,
        ),
        (
            "kind = \"image\"\nname = \"busybox\"\ncontains_file = \"/usr/bin/python3\"",
            false,
        ),
    ] {
        let o = eval(engine, &check(src))
            .await
            .unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(o.passed(), want, "{src}: {o:?}");
    }
    exec_and_file_behave(engine).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_on_whale() {
    let mut sb = Sandbox::whale().await.expect("sandbox daemon");
    let engine = sb.engine.clone();
    engine.whale(&["bootstrap", "busybox"]).expect("bootstrap");
    let r = tokio::spawn(async move { common_checks(&engine).await }).await;
    sb.shutdown().await;
    if let Err(e) = r {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Against a real dockerd with busybox (tutor/scripts/dockerd-for-lessons.sh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a dockerd: `tutor/scripts/dockerd-for-lessons.sh start DIR`, then WHALETUTOR_TEST_DOCKER_HOST=unix://DIR/docker.sock"]
async fn checks_on_docker() {
    let host = std::env::var("WHALETUTOR_TEST_DOCKER_HOST").expect("WHALETUTOR_TEST_DOCKER_HOST");
    let engine = Engine {
        kind: EngineKind::Docker,
        socket: PathBuf::from(host.trim_start_matches("unix://")),
        root: None,
    };
    let cleanup = |e: &Engine| {
        let _ = runner::sh(e, "docker rm -f ck-run ck-done", Duration::from_secs(30));
    };
    cleanup(&engine);
    let e2 = engine.clone();
    let r = tokio::spawn(async move {
        common_checks(&e2).await;
        // docker has exec and archive: these must really work there.
        for (src, want) in [
            ("kind = \"file\"\ncontainer = \"ck-done\"\npath = \"/etc/passwd\"\nexists = true", true),
            ("kind = \"exec\"\ncontainer = \"ck-run\"\ncmd = [\"id\", \"-u\"]\nstdout = \"^0\\n$\"\nexit_code = 0", true),
            ("kind = \"image\"\nname = \"busybox\"\ncontains_file = \"/bin/busybox\"", true),
            ("kind = \"image\"\nname = \"busybox\"\ncontains_file = \"/usr/bin/python3\"", false),
        ] {
            let o = eval(&e2, &check(src)).await.unwrap_or_else(|e| panic!("{src}: {e}"));
            assert_eq!(o.passed(), want, "{src}: {o:?}");
        }
    })
    .await;
    cleanup(&engine);
    if let Err(e) = r {
        std::panic::resume_unwind(e.into_panic());
    }
}
