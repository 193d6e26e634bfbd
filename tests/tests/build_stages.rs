//! Multi-stage builds and the rest of the Dockerfile, end to end: stages,
//! `--target`, `COPY --from`, SHELL, VOLUME, HEALTHCHECK, ONBUILD, `-q`,
//! `--label`, `--iidfile`, `--cache-from`, `--add-host`, `.dockerignore`.
//! Where a dockerd answers (`WHALE_TEST_DOCKERD`, else the default
//! socket), its classic builder builds the same Dockerfile and the image
//! configs are compared; without one that part is skipped, saying so.

use std::path::{Path, PathBuf};
use std::process::Command;
use whale_e2e::{docker_cli, is_hex, run_command, Out, World, DEFAULT_TIMEOUT};

/// A context dir under the world's base.
fn context(w: &World, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = w.base().join(name);
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }
    dir
}

fn build(w: &World, ctx: &Path, extra: &[&str]) -> Out {
    let mut args = vec!["build", "--network", "none"];
    args.extend_from_slice(extra);
    let ctx = ctx.to_str().unwrap();
    args.push(ctx);
    w.whale_timeout(&args, std::time::Duration::from_secs(120))
}

fn config(w: &World, image: &str) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(&w.inspect_f("{{json .Config}}", image)).expect("Config is JSON");
    v
}

/// The socket of a dockerd that answers `/_ping` and has busybox, and the
/// docker CLI, or why not.
fn dockerd() -> Result<(PathBuf, PathBuf), String> {
    let cli = docker_cli().ok_or("no docker CLI installed")?;
    Ok((whale_e2e::dockerd::answering_socket()?, cli))
}

/// `docker ARGS` against that dockerd with the classic builder.
fn docker(sock: &Path, cli: &Path, config_dir: &Path, args: &[&str]) -> Out {
    let mut cmd = Command::new(cli);
    cmd.arg("-H")
        .arg(format!("unix://{}", sock.display()))
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .env("DOCKER_CONFIG", config_dir)
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT");
    run_command(cmd, None, std::time::Duration::from_secs(180))
}

/// Step lines (`Step 3/9 : FROM ...`) of a build's output.
fn steps(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.starts_with("Step "))
        .map(String::from)
        .collect()
}

/// History lines, content hashes (whale's and Docker's differ) masked.
fn history(created_by: &str) -> Vec<String> {
    created_by
        .lines()
        .map(|l| {
            l.split(' ')
                .map(|w| match w.split_once(':') {
                    Some((k, h)) if ["file", "dir", "multi"].contains(&k) && h.len() == 64 => {
                        format!("{k}:<hash>")
                    }
                    _ => w.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

const STAGES: &str = r#"ARG BASE=busybox:latest
ARG GREETING=hello
FROM $BASE AS builder
ARG GREETING
RUN echo "$GREETING" > /greeting && mkdir -p /out/sub && echo x > /out/sub/f && echo oops >&2
FROM builder AS second
SHELL ["/bin/sh", "-ec"]
RUN echo second > /second
FROM busybox:latest
COPY --from=second /greeting /second /app/
COPY --from=0 /out /out
VOLUME /data ["/logs"]
VOLUME ["/cache"]
HEALTHCHECK --interval=5s --timeout=3s --start-period=1s --retries=4 CMD wget -q localhost || exit 1
ONBUILD RUN echo triggered > /onbuild
ONBUILD LABEL child=yes
STOPSIGNAL SIGTERM
EXPOSE 8080
CMD ["cat", "/app/greeting"]
"#;

#[test]
fn a_multi_stage_dockerfile_gives_docker_s_image_config() {
    let w = World::with_busybox();
    let ctx = context(&w, "stages", &[("Dockerfile", STAGES)]);
    let out = build(&w, &ctx, &["-t", "stages:1", "--label", "extra=1"]).success();
    // RUN's stderr is in the build stream, coloured as Docker colours it.
    assert!(out.stdout.contains("\u{1b}[91moops\n"), "{out}");
    let cfg = config(&w, "stages:1");
    assert_eq!(
        cfg["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "wget -q localhost || exit 1"],
            "Interval": 5_000_000_000u64, "Timeout": 3_000_000_000u64,
            "StartPeriod": 1_000_000_000u64, "Retries": 4}),
        "{cfg}"
    );
    assert_eq!(
        cfg["Volumes"],
        serde_json::json!({"/data": {}, "[/logs]": {}, "/cache": {}})
    );
    assert_eq!(
        cfg["OnBuild"],
        serde_json::json!(["RUN echo triggered > /onbuild", "LABEL child=yes"])
    );
    assert_eq!(cfg["Labels"], serde_json::json!({"extra": "1"}));
    // SHELL belongs to the stage that set it.
    assert!(cfg.get("Shell").is_none(), "{cfg}");
    let run = w.whale_ok(&["run", "--rm", "stages:1"]);
    assert_eq!(run.out(), "hello");
    let run = w.whale_ok(&[
        "run",
        "--rm",
        "stages:1",
        "sh",
        "-c",
        "cat /app/second /out/sub/f",
    ]);
    assert_eq!(run.out(), "second\nx");
    // The second stage ran with SHELL's shell.
    let hist = w.whale_ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "stages:1",
    ]);
    assert!(!hist.stdout.contains("-ec"), "{hist}");
    // Every step again: all from the cache, the same image.
    let again = build(&w, &ctx, &["-t", "stages:1", "--label", "extra=1"]).success();
    assert_eq!(
        again.stdout.matches(" ---> Using cache").count(),
        15,
        "{again}"
    );
    assert!(!again.stdout.contains("Running in"), "{again}");

    let (sock, cli) = match dockerd() {
        Ok(d) => d,
        Err(why) => {
            eprintln!("SKIP the comparison with Docker: {why}");
            return;
        }
    };
    let tag = format!("whale-builder-stages-{}:1", std::process::id());
    let dcfg = w.base().join("docker-config");
    std::fs::create_dir_all(&dcfg).unwrap();
    let ctx_s = ctx.to_str().unwrap();
    let d = docker(
        &sock,
        &cli,
        &dcfg,
        &[
            "build",
            "--network",
            "none",
            "-t",
            &tag,
            "--label",
            "extra=1",
            ctx_s,
        ],
    );
    let dconfig = docker(
        &sock,
        &cli,
        &dcfg,
        &["image", "inspect", "--format", "{{json .Config}}", &tag],
    );
    let dhist = docker(
        &sock,
        &cli,
        &dcfg,
        &["history", "--no-trunc", "--format", "{{.CreatedBy}}", &tag],
    );
    let _ = docker(&sock, &cli, &dcfg, &["rmi", "-f", &tag]);
    // The classic builder keeps the other stages' results as untagged
    // images: remove ours (recognised by their last step), no one else's.
    let dangling = docker(
        &sock,
        &cli,
        &dcfg,
        &["images", "-q", "--no-trunc", "--filter", "dangling=true"],
    );
    for id in dangling.stdout.lines() {
        let top = docker(
            &sock,
            &cli,
            &dcfg,
            &["history", "--no-trunc", "--format", "{{.CreatedBy}}", id],
        );
        if top.stdout.lines().next() == Some("/bin/sh -ec echo second > /second") {
            let _ = docker(&sock, &cli, &dcfg, &["rmi", id]);
        }
    }
    let d = d.success();
    assert_eq!(
        steps(&out.stdout),
        steps(&d.stdout),
        "whale:\n{out}\ndocker:\n{d}"
    );
    let dcfg_json: serde_json::Value = serde_json::from_str(dconfig.success().out()).unwrap();
    assert_eq!(cfg, dcfg_json, "whale's image config, then Docker's");
    assert_eq!(history(&hist.stdout), history(&dhist.success().stdout));
}

#[test]
fn target_builds_the_named_stage_and_skips_what_it_does_not_need() {
    let w = World::with_busybox();
    let df = "FROM busybox AS base\nRUN echo base > /base && mkdir /d && touch /d/gone /d/kept && chown 1000:1001 /d/kept\nFROM busybox AS broken\nRUN echo never-built && exit 3\nFROM base AS app\nRUN echo app > /app && rm /d/gone\nFROM busybox\nCOPY --from=app /app /base /\nCOPY --from=app /d /d\n";
    let ctx = context(&w, "target", &[("Dockerfile", df)]);
    // The broken stage is needed by nothing: it is not built.
    let out = build(&w, &ctx, &["-t", "final:1"]).success();
    assert!(!out.stdout.contains("never-built"), "{out}");
    let all = w.whale_ok(&["run", "--rm", "final:1", "cat", "/app", "/base"]);
    assert_eq!(all.out(), "app\nbase");
    // A directory from a stage is what the stage sees: a file its last
    // layer deleted (a whiteout) is not copied.
    let d = w.whale_ok(&["run", "--rm", "final:1", "ls", "/d"]);
    assert_eq!(d.out(), "kept");
    // ...and its owner is kept, as Docker keeps it.
    let d = w.whale_ok(&["run", "--rm", "final:1", "stat", "-c", "%u:%g", "/d/kept"]);
    assert_eq!(d.out(), "1000:1001");
    // --target: that stage's image, what follows it never runs.
    let iid = w.base().join("iid");
    let out = build(
        &w,
        &ctx,
        &[
            "--target",
            "app",
            "-t",
            "app:1",
            "--iidfile",
            iid.to_str().unwrap(),
        ],
    )
    .success();
    assert!(!out.stdout.contains("COPY --from"), "{out}");
    let id = w.inspect_f("{{.Id}}", "app:1");
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), id);
    let run = w.whale_ok(&["run", "--rm", "app:1", "cat", "/base", "/app"]);
    assert_eq!(run.out(), "base\napp");
    // A stage that fails fails the build when it is the target.
    let out = build(&w, &ctx, &["--target", "broken"]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(out.stderr.contains("returned a non-zero code: 3"), "{out}");
    // An unknown target is named.
    let out = build(&w, &ctx, &["--target", "nope"]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(
        out.stderr.contains("failed to reach build target nope"),
        "{out}"
    );
    // -q: the image id, one line, nothing else.
    let q = build(&w, &ctx, &["-q", "--target", "app"]).success();
    assert_eq!(q.stdout, format!("{id}\n"), "{q}");
    assert!(is_hex(&id[7..], 64));
}

#[test]
fn a_child_image_runs_the_onbuild_triggers() {
    let w = World::with_busybox();
    let parent = context(
        &w,
        "parent",
        &[(
            "Dockerfile",
            "FROM busybox\nONBUILD RUN echo triggered > /onbuild\nONBUILD LABEL child=yes\n",
        )],
    );
    build(&w, &parent, &["-t", "parent:1"]).success();
    // The parent itself ran nothing.
    let ls = w.whale(&["run", "--rm", "parent:1", "cat", "/onbuild"]);
    assert_ne!(ls.code(), Some(0), "{ls}");
    let child = context(
        &w,
        "child",
        &[("Dockerfile", "FROM parent:1\nRUN cat /onbuild\n")],
    );
    let out = build(&w, &child, &["-t", "child:1"]).success();
    assert!(
        out.stdout.contains("# Executing 2 build triggers\n"),
        "{out}"
    );
    assert!(out.stdout.contains("triggered"), "{out}");
    let cfg = config(&w, "child:1");
    assert_eq!(cfg["Labels"], serde_json::json!({"child": "yes"}), "{cfg}");
    // Triggers fire once: the child does not pass them on.
    assert!(cfg.get("OnBuild").is_none_or(|o| o.is_null()), "{cfg}");
}

/// A one-file HTTP server on 127.0.0.1 whose content and Last-Modified the
/// test changes; it serves until the test process ends.
struct FileServer {
    url: String,
    state: std::sync::Arc<std::sync::Mutex<(Vec<u8>, String)>>,
}

impl FileServer {
    fn start() -> FileServer {
        use std::io::{BufRead, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = std::sync::Arc::new(std::sync::Mutex::new((Vec::new(), String::new())));
        let s2 = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let mut r = std::io::BufReader::new(conn);
                let mut first = String::new();
                let _ = r.read_line(&mut first);
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                        break;
                    }
                }
                let (body, modified) = s2.lock().unwrap().clone();
                let mut conn = r.into_inner();
                let resp = if first.contains("/data.txt") {
                    let mut h = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\nLast-Modified: {modified}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    h.extend_from_slice(&body);
                    h
                } else {
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_vec()
                };
                let _ = conn.write_all(&resp);
            }
        });
        FileServer {
            url: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    fn set(&self, body: &str, modified: &str) {
        *self.state.lock().unwrap() = (body.as_bytes().to_vec(), modified.to_string());
    }
}

#[test]
fn add_url_is_cached_by_content_and_takes_last_modified() {
    let w = World::with_busybox();
    let srv = FileServer::start();
    let df = format!(
        "FROM busybox\nADD {}/data.txt /d/\nRUN stat -c '%a %Y' /d/data.txt && cat /d/data.txt\n",
        srv.url
    );
    let ctx = context(&w, "url", &[("Dockerfile", &df)]);
    srv.set("one\n", "Sat, 03 Feb 2001 04:05:06 GMT");
    let first = build(&w, &ctx, &["-t", "url:1"]).success();
    assert!(first.stdout.contains("600 981173106\none\n"), "{first}");
    // The same content (even with another date): the cached layer.
    srv.set("one\n", "Sun, 04 Feb 2001 04:05:06 GMT");
    let second = build(&w, &ctx, &["-t", "url:1"]).success();
    assert_eq!(
        second.stdout.matches(" ---> Using cache").count(),
        2,
        "{second}"
    );
    // Changed content: downloaded into a new layer, and what follows reruns.
    srv.set("two\n", "Mon, 05 Feb 2001 04:05:06 GMT");
    let third = build(&w, &ctx, &["-t", "url:1"]).success();
    assert_eq!(
        third.stdout.matches(" ---> Using cache").count(),
        0,
        "{third}"
    );
    assert!(third.stdout.contains("600 981345906\ntwo\n"), "{third}");
    // A URL that cannot be fetched is named in the error.
    let bad = context(
        &w,
        "url404",
        &[(
            "Dockerfile",
            &format!("FROM busybox\nADD {}/nope.txt /d/\n", srv.url),
        )],
    );
    let out = build(&w, &bad, &[]);
    assert_eq!(out.code(), Some(1), "{out}");
    assert!(
        out.stderr.contains(&format!("{}/nope.txt", srv.url)) && out.stderr.contains("404"),
        "{out}"
    );
}

#[test]
fn an_interrupted_build_tags_nothing_and_leaves_nothing() {
    let w = World::with_busybox();
    let ctx = context(
        &w,
        "cancel",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo started && sleep 300\n",
        )],
    );
    let mut cmd = w.whale_command(&[
        "build",
        "--network",
        "none",
        "-t",
        "cancel:1",
        ctx.to_str().unwrap(),
    ]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .stdin(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("started") {
                let _ = tx.send(());
            }
        }
    });
    let started = rx.recv_timeout(DEFAULT_TIMEOUT);
    // The client dies as a Ctrl-C would end it.
    let _ = child.kill();
    let _ = child.wait();
    assert!(started.is_ok(), "the RUN step never started");
    let scratch = w.root().join("build-tmp");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let ps = w.whale_ok(&["ps", "-aq"]);
        let leftovers: Vec<_> = std::fs::read_dir(&scratch)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        if ps.out().is_empty() && leftovers.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "after the client went away, still: containers {:?}, scratch {leftovers:?}",
            ps.out()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let images = w.whale_ok(&["images", "--format", "{{.Repository}}"]);
    assert!(!images.stdout.contains("cancel"), "{images}");
    assert!(w.container_ids_on_disk().is_empty());
}

#[test]
fn dockerignore_and_an_outside_dockerfile_never_enter_the_image() {
    let w = World::with_busybox();
    let ctx = context(
        &w,
        "ignore",
        &[
            ("Dockerfile", "FROM busybox\nCOPY . /ctx/\n"),
            (".dockerignore", "secret*\nDockerfile\n.dockerignore\n"),
            ("secret.txt", "s"),
            ("keep.txt", "k"),
        ],
    );
    build(&w, &ctx, &["-t", "ignore:1"]).success();
    let ls = w.whale_ok(&["run", "--rm", "ignore:1", "ls", "-A", "/ctx"]);
    assert_eq!(ls.out(), "keep.txt");
    // A Dockerfile from outside the context travels as .dockerfile.<hex>.
    let outside = context(
        &w,
        "elsewhere",
        &[("Dockerfile.other", "FROM busybox\nCOPY . /ctx/\n")],
    );
    let ctx2 = context(&w, "ctx2", &[("keep.txt", "k")]);
    let f = outside.join("Dockerfile.other");
    build(&w, &ctx2, &["-f", f.to_str().unwrap(), "-t", "outside:1"]).success();
    let ls = w.whale_ok(&["run", "--rm", "outside:1", "ls", "-A", "/ctx"]);
    assert_eq!(ls.out(), "keep.txt");
    // docker's own CLI sends that context cut short after its last entry
    // (no tar padding): whale reads it as dockerd does.
    let Some(cli) = docker_cli() else {
        eprintln!("SKIP the docker CLI part: no docker CLI installed");
        return;
    };
    let dcfg = w.base().join("docker-config");
    std::fs::create_dir_all(&dcfg).unwrap();
    let d = docker(
        w.socket(),
        &cli,
        &dcfg,
        &[
            "build",
            "--network",
            "none",
            "-f",
            f.to_str().unwrap(),
            "-t",
            "outside:2",
            ctx2.to_str().unwrap(),
        ],
    )
    .success();
    assert!(d.stdout.contains("Successfully tagged outside:2"), "{d}");
    let ls = w.whale_ok(&["run", "--rm", "outside:2", "ls", "-A", "/ctx"]);
    assert_eq!(ls.out(), "keep.txt");
}

#[test]
fn build_parameters_whale_does_not_implement_are_refused() {
    let w = World::new();
    for (q, name) in [
        ("pull=1", "pull"),
        ("platform=linux/arm64", "platform"),
        ("cpuperiod=100000", "cpuperiod"),
        ("version=2", "version"),
        ("squash=1", "squash"),
    ] {
        let r = w.api("POST", &format!("/build?{q}"), None);
        assert_eq!(r.status, 400, "{q}: {}", r.text());
        let msg = r.json()["message"].as_str().unwrap_or("").to_string();
        assert!(
            msg.contains(name) && msg.contains("not supported"),
            "{q}: {msg}"
        );
    }
}

#[test]
fn cache_from_uses_only_the_named_images() {
    let w = World::with_busybox();
    let ctx = context(
        &w,
        "cf",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo built > /f\nCMD [\"cat\", \"/f\"]\n",
        )],
    );
    build(&w, &ctx, &["-t", "cf:1"]).success();
    // Named: its steps are the cache.
    let hit = build(&w, &ctx, &["--cache-from", "cf:1"]).success();
    assert_eq!(hit.stdout.matches(" ---> Using cache").count(), 2, "{hit}");
    // Another image named: cf:1's steps are not used.
    let miss = build(&w, &ctx, &["--cache-from", "busybox:latest"]).success();
    assert_eq!(
        miss.stdout.matches(" ---> Using cache").count(),
        0,
        "{miss}"
    );
    // A loaded image has no build chain here: its history is the cache.
    let id = w.inspect_f("{{.Id}}", "cf:1");
    let tar = w.base().join("cf.tar");
    w.whale_ok(&["save", "-o", tar.to_str().unwrap(), "cf:1"]);
    w.whale_ok(&["rmi", "cf:1"]);
    let images = w.whale_ok(&["images", "-aq"]);
    for img in images.lines() {
        // Removing one may have taken the next (its parent) with it.
        let tags = w.whale(&["inspect", "-f", "{{.RepoTags}}", img]);
        if tags.ok() && !tags.out().contains("busybox") {
            w.whale_ok(&["rmi", img]);
        }
    }
    assert_eq!(w.whale_ok(&["images", "-aq"]).lines().len(), 1);
    w.whale_ok(&["load", "-i", tar.to_str().unwrap()]);
    // Not named, it is no cache: whale (like Docker) links only what it built.
    let plain = build(&w, &ctx, &[]).success();
    assert_eq!(
        plain.stdout.matches(" ---> Using cache").count(),
        0,
        "{plain}"
    );
    let restored = build(&w, &ctx, &["--cache-from", "cf:1", "-t", "cf:2"]).success();
    assert_eq!(
        restored.stdout.matches(" ---> Using cache").count(),
        2,
        "{restored}"
    );
    assert_eq!(
        w.inspect_f("{{.Id}}", "cf:2"),
        id,
        "the last step is the named image"
    );
    let run = w.whale_ok(&["run", "--rm", "cf:2"]);
    assert_eq!(run.out(), "built");
}

#[test]
fn add_host_reaches_run_steps_and_undeclared_build_args_are_warned() {
    let w = World::with_busybox();
    let ctx = context(
        &w,
        "hosts",
        &[("Dockerfile", "FROM busybox\nRUN grep myhost /etc/hosts\n")],
    );
    let out = build(
        &w,
        &ctx,
        &["--add-host", "myhost:127.0.0.2", "--build-arg", "UNUSED=1"],
    )
    .success();
    assert!(out.stdout.contains("127.0.0.2\tmyhost"), "{out}");
    assert!(
        out.stdout
            .contains("[Warning] One or more build-args [UNUSED] were not consumed"),
        "{out}"
    );
    // `run --add-host` too, as Docker writes it.
    let run = w.whale_ok(&[
        "run",
        "--rm",
        "--add-host",
        "other:127.0.0.3",
        "busybox",
        "grep",
        "other",
        "/etc/hosts",
    ]);
    assert_eq!(run.out(), "127.0.0.3\tother");
    let bad = w.whale(&["run", "--rm", "--add-host", "x:notanip", "busybox", "true"]);
    assert_eq!(bad.code(), Some(125), "{bad}");
    assert!(bad.stderr.contains("x:notanip"), "{bad}");
    let bad = build(&w, &ctx, &["--add-host", "nocolon"]);
    assert_ne!(bad.code(), Some(0), "{bad}");
    assert!(bad.stderr.contains("nocolon"), "{bad}");
}
