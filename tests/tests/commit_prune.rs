//! `commit`, `image prune`, `system prune` and `network ls/inspect`, over
//! the API, with the stock docker CLI, and beside a real dockerd when one
//! answers.

use std::path::PathBuf;
use whale_e2e::{docker_cli, run_command, World};

/// A real dockerd's socket, when one answers `/_ping` (never just a file).
fn dockerd() -> Option<PathBuf> {
    whale_e2e::dockerd::socket_or_skip()
}

/// `docker ARGS` against the real dockerd at `sock`.
fn real_docker(sock: &std::path::Path, args: &[&str]) -> whale_e2e::Out {
    let mut cmd = std::process::Command::new(docker_cli().expect("docker CLI"));
    cmd.args(args)
        .env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .env_remove("DOCKER_CONTEXT");
    run_command(cmd, None, std::time::Duration::from_secs(60))
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn image_ids(w: &World) -> Vec<String> {
    let r = w.api("GET", "/images/json?all=1", None);
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn commit_adds_one_layer_with_the_changes_config_and_history() {
    let w = World::with_busybox();
    w.whale_ok(&[
        "run",
        "--name",
        "c1",
        "busybox",
        "sh",
        "-c",
        "echo hi > /hello && test -e /bin/wget && rm /bin/wget",
    ]);
    let base = w.api("GET", "/images/busybox/json", None).json();
    let q = format!(
        "/commit?container=c1&repo=verbs-commit&tag=1&comment=msg&author=me&changes={}&changes={}",
        enc(r#"CMD ["cat","/hello"]"#),
        enc("ENV A=b")
    );
    let r = w.api("POST", &q, None);
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["Id"].as_str().unwrap().to_string();
    assert!(id.starts_with("sha256:"), "{id}");
    let img = w.api("GET", "/images/verbs-commit:1/json", None).json();
    assert_eq!(img["Id"], id);
    let base_layers = base["RootFS"]["Layers"].as_array().unwrap().len();
    assert_eq!(
        img["RootFS"]["Layers"].as_array().unwrap().len(),
        base_layers + 1,
        "{img}"
    );
    assert_eq!(img["Author"], "me");
    assert_eq!(img["Comment"], "msg");
    assert_eq!(img["Config"]["Cmd"], serde_json::json!(["cat", "/hello"]));
    let env = img["Config"]["Env"].to_string();
    assert!(env.contains("A=b") && env.contains("PATH="), "{env}");
    let hist = w.api("GET", "/images/verbs-commit:1/history", None).json();
    let top = &hist[0];
    assert_eq!(top["Comment"], "msg", "{hist}");
    assert!(
        top["CreatedBy"]
            .as_str()
            .unwrap()
            .starts_with("sh -c echo hi"),
        "{hist}"
    );
    assert!(top["Size"].as_i64().unwrap() > 0, "{hist}");
    // The new image runs with the container's changes: the file, the deletion.
    assert_eq!(w.whale_ok(&["run", "--rm", "verbs-commit:1"]).out(), "hi");
    let gone = w.whale_ok(&[
        "run",
        "--rm",
        "verbs-commit:1",
        "sh",
        "-c",
        "test -e /bin/wget && echo there || echo gone; echo $A",
    ]);
    assert_eq!(gone.lines(), ["gone", "b"]);
}

#[test]
fn commit_refuses_what_it_does_not_do_and_leaves_nothing() {
    let w = World::with_busybox();
    w.whale_ok(&["create", "--name", "c1", "busybox", "true"]);
    let before = image_ids(&w);
    let r = w.api("POST", "/commit?container=nosuch", None);
    assert_eq!(r.status, 404, "{}", r.text());
    let r = w.api(
        "POST",
        &format!(
            "/commit?container=c1&changes={}",
            enc("SHELL [\"/bin/ash\"]")
        ),
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("SHELL"), "{}", r.text());
    let r = w.api("POST", "/commit?container=c1", Some(r#"{"Cmd":["sh"]}"#));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("Cmd") && r.text().contains("changes"),
        "{}",
        r.text()
    );
    let r = w.api("POST", "/commit?container=c1&repo=Bad:Name", None);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        image_ids(&w),
        before,
        "a refused commit must not leave an image"
    );
    // An empty body and `null` (what clients send for no config) are fine;
    // a container that changed nothing commits an empty layer.
    let r = w.api("POST", "/commit?container=c1", Some("null"));
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["Id"].as_str().unwrap().to_string();
    let hist = w.api("GET", &format!("/images/{id}/history"), None).json();
    assert_eq!(hist[0]["Size"], 0, "{hist}");
}

#[test]
fn commit_pauses_a_running_container_and_leaves_it_running() {
    let w = World::with_busybox();
    w.run_d(&[
        "--name",
        "busy",
        "busybox",
        "sh",
        "-c",
        "while true; do date > /now.tmp && mv /now.tmp /now; sleep 0.05; done",
    ]);
    w.wait_for_top("busy", "sleep");
    let r = w.api("POST", "/commit?container=busy&repo=verbs-paused", None);
    assert_eq!(r.status, 201, "{}", r.text());
    let st = w.inspect("busy");
    assert_eq!(st["State"]["Running"], true, "{st}");
    assert_eq!(st["State"]["Paused"], false, "{st}");
    let out = w.whale_ok(&["run", "--rm", "verbs-paused", "cat", "/now"]);
    assert!(out.out().contains("UTC"), "{out}");
    // Still writing after the thaw.
    let a = w.whale_ok(&["exec", "busy", "cat", "/now"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = w.whale_ok(&["exec", "busy", "cat", "/now"]);
    assert_ne!(a.out(), b.out(), "the container stayed frozen after commit");
    let r = w.api("POST", "/commit?container=busy&pause=0", None);
    assert_eq!(r.status, 201, "{}", r.text());
    w.whale_ok(&["rm", "-f", "busy"]);
}

#[test]
fn image_prune_removes_dangling_then_unused_with_filters() {
    let w = World::with_busybox();
    w.whale_ok(&[
        "run",
        "--name",
        "c1",
        "busybox",
        "sh",
        "-c",
        "echo 1 > /one",
    ]);
    let dangling = w.api("POST", "/commit?container=c1", None).json()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = w.api(
        "POST",
        &format!(
            "/commit?container=c1&repo=verbs-kept&changes={}",
            enc("LABEL keep=yes")
        ),
        None,
    );
    let kept = r.json()["Id"].as_str().unwrap().to_string();
    let r = w.api("POST", "/images/prune", None);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let deleted: Vec<String> = v["ImagesDeleted"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["Deleted"].as_str().map(String::from))
        .collect();
    assert!(deleted.contains(&dangling), "{v}");
    assert!(!deleted.contains(&kept), "{v}");
    let ids = image_ids(&w);
    assert!(!ids.contains(&dangling) && ids.contains(&kept), "{ids:?}");
    // -a: unused images go, but not the one a container uses (busybox), nor
    // one a label filter excludes.
    let f = enc(r#"{"dangling":["false"],"label!":["keep=yes"]}"#);
    let v = w
        .api("POST", &format!("/images/prune?filters={f}"), None)
        .json();
    assert!(
        v["ImagesDeleted"]
            .as_array()
            .is_none_or(|a| a.iter().all(|i| i["Deleted"] != kept.as_str())),
        "{v}"
    );
    assert!(image_ids(&w).contains(&kept));
    let f = enc(r#"{"dangling":["false"],"until":["2000-01-01T00:00:00Z"]}"#);
    let v = w
        .api("POST", &format!("/images/prune?filters={f}"), None)
        .json();
    assert!(
        image_ids(&w).contains(&kept),
        "until excludes newer images: {v}"
    );
    let f = enc(r#"{"dangling":["false"]}"#);
    let v = w
        .api("POST", &format!("/images/prune?filters={f}"), None)
        .json();
    assert!(v["SpaceReclaimed"].as_i64().unwrap() > 0, "{v}");
    let ids = image_ids(&w);
    assert!(!ids.contains(&kept), "{ids:?}");
    assert_eq!(ids.len(), 1, "busybox stays: c1 uses it: {ids:?}");
    let r = w.api(
        "POST",
        &format!("/images/prune?filters={}", enc(r#"{"bogus":["x"]}"#)),
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn docker_cli_commit_history_and_system_prune_match_dockerd() {
    let Some(_) = docker_cli() else {
        eprintln!("SKIPPED: no docker CLI");
        return;
    };
    let w = World::with_busybox();
    let script = "echo hi > /hello";
    w.docker(&["run", "--name", "c1", "busybox", "sh", "-c", script])
        .unwrap()
        .success();
    w.docker(&[
        "commit",
        "-m",
        "msg",
        "-a",
        "me",
        "-c",
        "CMD [\"cat\",\"/hello\"]",
        "c1",
        "verbs-cli:1",
    ])
    .unwrap()
    .success();
    assert_eq!(
        w.docker(&["run", "--rm", "verbs-cli:1"])
            .unwrap()
            .success()
            .out(),
        "hi"
    );
    let fmt = [
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Comment}}",
        "verbs-cli:1",
    ];
    let ours = w.docker(&fmt).unwrap().success();
    let net = w
        .docker(&[
            "network",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}}",
        ])
        .unwrap()
        .success();
    assert_eq!(net.lines(), ["host host local", "none null local"]);
    let refused = w.docker(&["network", "create", "verbs-net"]).unwrap();
    assert!(
        !refused.ok() && refused.stderr.contains("no bridges"),
        "{refused}"
    );
    let prune = w.docker(&["system", "prune", "-f"]).unwrap().success();
    assert!(prune.stdout.contains("Total reclaimed space"), "{prune}");
    assert!(
        w.whale_ok(&["ps", "-a", "-q"]).out().is_empty(),
        "system prune removes stopped containers"
    );
    if let Some(sock) = dockerd() {
        let name = format!("verbs-commit-{}", std::process::id());
        let image = format!("verbs-commit-img-{}:1", std::process::id());
        real_docker(
            &sock,
            &[
                "run",
                "--network",
                "none",
                "--name",
                &name,
                "busybox",
                "sh",
                "-c",
                script,
            ],
        )
        .success();
        real_docker(
            &sock,
            &[
                "commit",
                "-m",
                "msg",
                "-a",
                "me",
                "-c",
                "CMD [\"cat\",\"/hello\"]",
                &name,
                &image,
            ],
        )
        .success();
        let mut f = fmt.to_vec();
        *f.last_mut().unwrap() = &image;
        let theirs = real_docker(&sock, &f);
        real_docker(&sock, &["rm", "-f", &name]);
        real_docker(&sock, &["rmi", &image]);
        assert_eq!(ours.lines()[0], theirs.success().lines()[0]);
        let their_net = real_docker(
            &sock,
            &["network", "inspect", "none", "--format", "{{json .}}"],
        )
        .success();
        let our_net = w
            .docker(&["network", "inspect", "none", "--format", "{{json .}}"])
            .unwrap()
            .success();
        let keys = |s: &str| {
            let v: serde_json::Value = serde_json::from_str(s.trim()).unwrap();
            v.as_object().unwrap().keys().cloned().collect::<Vec<_>>()
        };
        assert_eq!(keys(our_net.out()), keys(their_net.out()));
    }
}

#[test]
fn whale_commit_verb_tags_and_applies_changes() {
    let w = World::with_busybox();
    w.whale_ok(&[
        "run",
        "--name",
        "c1",
        "busybox",
        "sh",
        "-c",
        "echo made > /made",
    ]);
    let id = w.whale_ok(&[
        "commit",
        "-m",
        "by whale",
        "-a",
        "me",
        "-c",
        "CMD cat /made",
        "-c",
        "WORKDIR /tmp",
        "c1",
        "verbs-whale",
    ]);
    assert!(id.out().starts_with("sha256:"), "{id}");
    assert_eq!(w.whale_ok(&["run", "--rm", "verbs-whale"]).out(), "made");
    assert_eq!(
        w.whale_ok(&["run", "--rm", "verbs-whale:latest", "pwd"])
            .out(),
        "/tmp"
    );
    let bad = w.whale(&["commit", "-c", "SHELL [\"/bin/ash\"]", "c1"]);
    assert!(!bad.ok() && bad.stderr.contains("SHELL"), "{bad}");
    w.whale_ok(&[
        "commit",
        "-c",
        "VOLUME /data",
        "-c",
        "ONBUILD RUN true",
        "c1",
        "verbs-vol",
    ]);
    assert_eq!(
        w.whale_ok(&[
            "inspect",
            "-f",
            "{{json .Config.Volumes}} {{json .Config.OnBuild}}",
            "verbs-vol"
        ])
        .out(),
        r#"{"/data":{}} ["RUN true"]"#
    );
    w.whale_ok(&["commit", "--pause=false", "c1"]);
}

#[test]
fn whale_prune_and_network_verbs() {
    let w = World::with_busybox();
    w.whale_ok(&["run", "--name", "c1", "busybox", "true"]);
    let dangling = w.whale_ok(&["commit", "c1"]).out().to_string();
    let out = w.whale_ok(&["image", "prune", "-f"]);
    assert!(
        out.stdout.contains(&format!("deleted: {dangling}")),
        "{out}"
    );
    assert!(out.stdout.contains("Total reclaimed space:"), "{out}");
    // --volumes takes the anonymous volumes no container uses, not the
    // named ones, nor one a container still holds.
    w.whale_ok(&["run", "--name", "anon", "-v", "/data", "busybox", "true"]);
    w.whale_ok(&[
        "run", "-d", "--name", "holder", "-v", "/kept", "busybox", "sleep", "100",
    ]);
    w.whale_ok(&["volume", "create", "named"]);
    let before = w.whale_ok(&["volume", "ls", "-q"]).lines().len();
    assert_eq!(before, 3, "two anonymous volumes and one named");
    let out = w.whale_ok(&["system", "prune", "-f", "--volumes"]);
    assert!(out.stdout.contains("Deleted Volumes:"), "{out}");
    let left = w.whale_ok(&["volume", "ls", "-q"]);
    assert_eq!(left.lines().len(), 2, "{left}");
    assert!(left.lines().contains(&"named"), "{left}");
    w.whale_ok(&["rm", "-f", "-v", "holder"]);
    // The prune above took c1 too: one stopped container for the next.
    w.whale_ok(&["run", "--name", "c2", "busybox", "true"]);
    let out = w.whale_ok(&["system", "prune", "-f", "-a"]);
    assert!(
        out.stdout.contains("Deleted Containers:")
            && out.stdout.contains("untagged: busybox:latest"),
        "{out}"
    );
    assert!(w.whale_ok(&["images", "-q"]).out().is_empty());
    let ls = w.whale_ok(&["network", "ls"]);
    assert_eq!(ls.lines().len(), 3, "{ls}");
    assert!(
        ls.lines()[0].starts_with("NETWORK ID     NAME      DRIVER    SCOPE"),
        "{ls}"
    );
    assert_eq!(
        w.whale_ok(&["network", "ls", "--format", "{{.Name}}:{{.Driver}}"])
            .lines(),
        ["host:host", "none:null"]
    );
    assert_eq!(
        w.whale_ok(&["network", "inspect", "-f", "{{.Name}} {{.Scope}}", "host"])
            .out(),
        "host local"
    );
    for verb in [
        vec!["create", "verbs-n"],
        vec!["rm", "none"],
        vec!["connect", "none", "c1"],
        vec!["disconnect", "none", "c1"],
    ] {
        let mut args = vec!["network"];
        args.extend(verb.iter().copied());
        let r = w.whale(&args);
        assert!(
            !r.ok() && r.stderr.contains("not supported by whale"),
            "{r}"
        );
    }
    let r = w.whale(&["network", "inspect", "bridge"]);
    assert!(!r.ok() && r.stderr.contains("not found"), "{r}");
}
