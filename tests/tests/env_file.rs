//! `run --env-file` / `--label-file` in docker's file format, beside the
//! docker CLI's reading of the same files (against whale, and dockerd when
//! one answers).

use whale_e2e::{docker_cli, World};

const ENV_FILE: &str = "# comment\n\n  A=1\nB= spaced \nFROM_HOST\nNOT_SET_ANYWHERE\nC=x=y\n";

fn env_of(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| {
            ["A=", "B=", "C=", "FROM_HOST", "NOT_SET", "OVER="]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(String::from)
        .collect();
    v.sort();
    v
}

#[test]
fn env_file_and_label_file_as_docker_reads_them() {
    let w = World::with_busybox();
    let env = w.base().join("env.list");
    std::fs::write(&env, ENV_FILE).unwrap();
    let labels = w.base().join("labels.list");
    std::fs::write(&labels, "# labels\nteam=whale\nkeyonly\n").unwrap();
    let run = |cli: &dyn Fn(&[&str]) -> whale_e2e::Out, name: &str| {
        cli(&[
            "run",
            "--name",
            name,
            "--env-file",
            env.to_str().unwrap(),
            "-e",
            "OVER=flag",
            "--label-file",
            labels.to_str().unwrap(),
            "busybox",
            "env",
        ])
        .success()
    };
    std::env::set_var("FROM_HOST", "hostvalue");
    let ours = run(&|a| w.whale(a), "e1");
    assert_eq!(
        env_of(&ours.stdout),
        [
            "A=1",
            "B= spaced ",
            "C=x=y",
            "FROM_HOST=hostvalue",
            "OVER=flag"
        ],
        "{ours}"
    );
    let labels_json = w.inspect_f("{{json .Config.Labels}}", "e1");
    assert_eq!(labels_json, r#"{"team":"whale"}"#);
    let bad = w.base().join("bad.list");
    std::fs::write(&bad, "A B=1\n").unwrap();
    let r = w.whale(&[
        "run",
        "--rm",
        "--env-file",
        bad.to_str().unwrap(),
        "busybox",
        "true",
    ]);
    assert_eq!(r.code(), Some(125), "{r}");
    assert!(r.stderr.contains("whitespaces"), "{r}");
    let r = w.whale(&[
        "run",
        "--rm",
        "--env-file",
        "/nonexistent/env",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code(), Some(125), "{r}");
    assert!(r.stderr.contains("/nonexistent/env"), "{r}");
    if docker_cli().is_none() {
        eprintln!("SKIPPED the docker CLI comparison: no docker CLI");
        return;
    }
    let mut cmd = std::process::Command::new(docker_cli().unwrap());
    cmd.env("DOCKER_HOST", w.host())
        .env("FROM_HOST", "hostvalue")
        .args([
            "run",
            "--name",
            "e2",
            "--env-file",
            env.to_str().unwrap(),
            "-e",
            "OVER=flag",
            "--label-file",
            labels.to_str().unwrap(),
            "busybox",
            "env",
        ]);
    let theirs = whale_e2e::run_command(cmd, None, std::time::Duration::from_secs(60)).success();
    assert_eq!(env_of(&ours.stdout), env_of(&theirs.stdout));
    assert_eq!(w.inspect_f("{{json .Config.Labels}}", "e2"), labels_json);
}
