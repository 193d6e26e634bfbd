//! `logs --since/--until/--tail` as docker reads them (RFC 3339, unix
//! seconds, Go durations), with whale's CLI and the docker CLI, and the
//! same flags against a real dockerd when one answers.

use std::path::PathBuf;
use std::time::Duration;
use whale_e2e::{docker_cli, run_command, Out, World};

fn dockerd() -> Option<PathBuf> {
    whale_e2e::dockerd::socket_or_skip()
}

// The pause between the streams orders their lines: two pipes read at once
// may log either first.
const SCRIPT: &str = "echo early; sleep 0.3; echo early-err >&2; sleep 2.5; echo late";

/// The outputs of the same `logs` flags, given a way to run the CLI and
/// the container's name (it has run SCRIPT to its end).
fn outputs(cli: &dyn Fn(&[&str]) -> Out, name: &str) -> Vec<String> {
    let stamped = cli(&["logs", "-t", name]).success();
    let first = stamped.lines()[0]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let t = chrono::DateTime::parse_from_rfc3339(&first).unwrap();
    // A whole second between the streams whatever the first line's
    // fraction: early-err is logged before floor(t)+1.3, late after
    // floor(t)+2.8, so floor(t)+2 parts them on every run and engine.
    let mid_secs = t.timestamp() + 2;
    let mid = chrono::DateTime::from_timestamp(mid_secs, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mid_unix = mid_secs.to_string();
    let mut out = Vec::new();
    for args in [
        vec!["logs", "--since", &mid, name],
        vec!["logs", "--until", &mid, name],
        vec!["logs", "--since", &mid_unix, name],
        vec!["logs", "--since", "10m", name],
        vec!["logs", "--until", "10m", name],
        vec!["logs", "--tail", "1", name],
        vec!["logs", "--tail", "2", "--since", "1h", name],
        vec!["logs", "-n", "0", name],
    ] {
        let o = cli(&args).success();
        out.push(format!(
            "{}: out={:?} err={:?}",
            args[1..args.len() - 1]
                .join(" ")
                .replace(&mid, "MID")
                .replace(&mid_unix, "MIDUNIX"),
            o.stdout,
            o.stderr
        ));
    }
    let bad = cli(&["logs", "--since", "yesterday-ish", name]);
    out.push(format!("bad since fails: {}", !bad.ok()));
    out
}

#[test]
fn logs_since_until_tail_as_docker() {
    let w = World::with_busybox();
    w.whale_ok(&["run", "--name", "l1", "busybox", "sh", "-c", SCRIPT]);
    let ours = outputs(&|a| w.whale(a), "l1");
    assert!(ours[0].contains(r#"out="late\n" err="""#), "{ours:#?}");
    assert!(
        ours[1].contains(r#"out="early\n" err="early-err\n""#),
        "{ours:#?}"
    );
    assert!(ours[3].contains(r#"out="early\nlate\n""#), "{ours:#?}");
    assert!(ours[4].contains(r#"out="" err="""#), "{ours:#?}");
    assert!(ours[5].contains(r#"out="late\n" err="""#), "{ours:#?}");
    assert_eq!(ours.last().unwrap(), "bad since fails: true");
    if docker_cli().is_none() {
        eprintln!("SKIPPED the docker CLI part: no docker CLI");
        return;
    }
    let theirs_cli = outputs(&|a| w.docker(a).unwrap(), "l1");
    assert_eq!(ours, theirs_cli, "whale's CLI and docker's against whale");
    if let Some(sock) = dockerd() {
        let real = |a: &[&str]| {
            let mut cmd = std::process::Command::new(docker_cli().unwrap());
            cmd.args(a)
                .env("DOCKER_HOST", format!("unix://{}", sock.display()))
                .env_remove("DOCKER_CONTEXT");
            run_command(cmd, None, Duration::from_secs(60))
        };
        let name = format!("verbs-logs-{}", std::process::id());
        real(&[
            "run",
            "--network",
            "none",
            "--name",
            &name,
            "busybox",
            "sh",
            "-c",
            SCRIPT,
        ])
        .success();
        let theirs = outputs(&real, &name);
        real(&["rm", "-f", &name]);
        assert_eq!(ours, theirs, "whale vs dockerd");
    }
}
