//! `events`: filters, `since`/`until` (a future `until` waits), the message
//! shape (with the legacy status/id/from fields) and the docker CLI's
//! `--format` templates against whale, beside a real dockerd when one answers.

use std::path::PathBuf;
use std::time::{Duration, Instant};
use whale_e2e::{docker_cli, run_command, World};

fn dockerd() -> Option<PathBuf> {
    whale_e2e::dockerd::socket_or_skip()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The events of a `run --rm` with a label, then a tag, through `docker
/// events --format` against the daemon `host`.
fn life_cycle(docker: &dyn Fn(&[&str]) -> whale_e2e::Out, name: &str, tag: &str) -> Vec<String> {
    let since = now().to_string();
    docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--name",
        name,
        "--label",
        "verbs=1",
        "busybox",
        "true",
    ])
    .success();
    docker(&["tag", "busybox:latest", tag]).success();
    docker(&["rmi", tag]).success();
    let until = (now() + 1).to_string();
    let out = docker(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=container",
        "--filter",
        &format!("container={name}"),
        "--filter",
        "label=verbs=1",
        "--format",
        "{{.Type}} {{.Action}} {{.Status}} {{.From}} {{.Actor.Attributes.name}} {{len .ID}}",
    ])
    .success();
    let mut lines: Vec<String> = out.lines().iter().map(|l| l.to_string()).collect();
    let img = docker(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=image",
        "--filter",
        "event=tag",
        "--format",
        "{{json .}}",
    ])
    .success();
    for l in img.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        lines.push(format!(
            "{} {} {:?} {}",
            v["Action"],
            v["Actor"]["Attributes"]["name"],
            keys,
            v["id"] == v["Actor"]["ID"]
        ));
    }
    lines
}

#[test]
fn docker_events_format_filters_and_shape_match_dockerd() {
    if docker_cli().is_none() {
        eprintln!("SKIPPED: no docker CLI");
        return;
    }
    let w = World::with_busybox();
    let ours = life_cycle(&|a| w.docker(a).unwrap(), "verbs-ev", "verbs-ev-tag:1");
    assert!(
        ours.iter()
            .any(|l| l == "container start start busybox verbs-ev 64"),
        "{ours:#?}"
    );
    assert!(
        ours.iter()
            .any(|l| l.starts_with("\"tag\" \"verbs-ev-tag:1\"")),
        "{ours:#?}"
    );
    if let Some(sock) = dockerd() {
        let real = |a: &[&str]| {
            let mut cmd = std::process::Command::new(docker_cli().unwrap());
            cmd.args(a)
                .env("DOCKER_HOST", format!("unix://{}", sock.display()))
                .env_remove("DOCKER_CONTEXT");
            run_command(cmd, None, Duration::from_secs(60))
        };
        let name = format!("verbs-ev-{}", std::process::id());
        let theirs = life_cycle(
            &real,
            &name,
            &format!("verbs-ev-tag-{}:1", std::process::id()),
        );
        let norm = |v: &[String], n: &str, t: &str| -> Vec<String> {
            v.iter()
                .map(|l| l.replace(t, "TAG").replace(n, "NAME"))
                .collect()
        };
        assert_eq!(
            norm(&ours, "verbs-ev", "verbs-ev-tag:1"),
            norm(
                &theirs,
                &name,
                &format!("verbs-ev-tag-{}:1", std::process::id())
            )
        );
    }
}

#[test]
fn a_future_until_waits_then_ends_and_until_alone_replays() {
    let w = World::with_busybox();
    w.whale_ok(&["create", "--name", "c1", "busybox", "true"]);
    let until = now() + 2;
    let t = Instant::now();
    let r = w.api("GET", &format!("/events?until={until}"), None);
    let waited = t.elapsed();
    assert_eq!(r.status, 200);
    assert!(
        waited >= Duration::from_millis(900),
        "returned after {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(10),
        "returned after {waited:?}"
    );
    // With `until` alone, the buffered events up to it come first (moby does so).
    let text = r.text();
    assert!(text.contains(r#""Action":"create""#), "{text}");
    let r = w.api("GET", "/events?since=0&until=1", None);
    assert_eq!(r.status, 200);
    assert!(r.text().trim().is_empty(), "{}", r.text());
    let r = w.api(
        "GET",
        "/events?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D",
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = w.api("GET", "/events?since=soon", None);
    assert_eq!(r.status, 400, "{}", r.text());
}
