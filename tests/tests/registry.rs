//! Images through a real registry: Debian's `docker-registry` on 127.0.0.1
//! (plain HTTP, as Docker allows for loopback). push -> rmi -> pull -> run
//! round-trips; a second push finds the layers there; the stock docker CLI
//! pulls through whale's daemon; a missing repository and an unreachable
//! registry fail clearly (exit 125 for `run`); a damaged blob is refused and
//! leaves nothing; Basic auth with `login`; `build FROM` pulls; a TLS-only
//! registry works over TLS; and, when a dockerd answers, each engine pulls
//! and runs what the other pushed.

use std::os::unix::fs::PermissionsExt;
use whale_e2e::dockerd::Dockerd;
use whale_e2e::registry::{htpasswd_line, Registry};
use whale_e2e::{run_command, World, DEFAULT_TIMEOUT};

/// `digest: sha256:... size: N` from a push's output.
fn pushed_digest(out: &str) -> String {
    out.lines()
        .find_map(|l| l.split("digest: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no `digest:` line in the push output:\n{out}"))
        .to_string()
}

#[test]
fn push_rmi_pull_run_round_trip() {
    let reg = Registry::start(None);
    let w = World::with_busybox();
    let image = format!("{}/e2e/busybox:1", reg.addr);
    w.whale_ok(&["tag", "busybox", &image]);

    let push = w.whale_ok(&["push", &image]);
    let out = push.out();
    assert!(
        out.contains(&format!(
            "The push refers to repository [{}/e2e/busybox]",
            reg.addr
        )),
        "{push}"
    );
    assert!(
        out.contains(": Preparing") && out.contains(": Pushed"),
        "{push}"
    );
    let digest = pushed_digest(out);
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{push}"
    );
    assert!(
        out.contains(&format!("1: digest: {digest} size: ")),
        "{push}"
    );

    // The registry has every layer now: nothing is uploaded again.
    let again = w.whale_ok(&["push", &image]);
    assert!(again.out().contains("Layer already exists"), "{again}");
    assert!(!again.out().contains(": Pushed"), "{again}");
    assert_eq!(pushed_digest(again.out()), digest, "{again}");

    w.whale_ok(&["rmi", &image, "busybox"]);
    let none = w.whale_ok(&["images", "-q"]);
    assert_eq!(
        none.out(),
        "",
        "the store is empty before the pull:\n{none}"
    );

    let pull = w.whale_ok(&["pull", &image]);
    let p = pull.out();
    assert!(p.contains("1: Pulling from e2e/busybox"), "{pull}");
    assert!(
        p.contains(": Pulling fs layer") && p.contains(": Pull complete"),
        "{pull}"
    );
    assert!(p.contains(&format!("Digest: {digest}")), "{pull}");
    assert!(
        p.contains(&format!("Status: Downloaded newer image for {image}")),
        "{pull}"
    );
    assert_eq!(p.lines().last(), Some(image.as_str()), "{pull}");

    // Layers already here are not fetched again.
    let pull2 = w.whale_ok(&["pull", &image]);
    assert!(pull2.out().contains(": Already exists"), "{pull2}");
    assert!(!pull2.out().contains("Pull complete"), "{pull2}");
    assert!(
        pull2
            .out()
            .contains(&format!("Status: Image is up to date for {image}")),
        "{pull2}"
    );

    let run = w.whale_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &image,
        "echo",
        "hello from the registry",
    ]);
    assert_eq!(run.out(), "hello from the registry", "{run}");

    // RepoDigests, images --digests, and the digest as a reference.
    let by_digest = format!("{}/e2e/busybox@{digest}", reg.addr);
    let inspect = w.inspect(&image);
    assert_eq!(
        inspect["RepoDigests"],
        serde_json::json!([by_digest.clone()]),
        "{inspect}"
    );
    let listed = w.whale_ok(&["images", "--digests"]);
    assert!(
        listed.lines()[0].contains("DIGEST") && listed.out().contains(&digest),
        "{listed}"
    );
    let run = w.whale_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &by_digest,
        "echo",
        "by digest",
    ]);
    assert_eq!(run.out(), "by digest", "{run}");
    let rmi = w.whale_ok(&["rmi", &by_digest]);
    assert!(
        rmi.out().contains(&format!("Untagged: {by_digest}")),
        "{rmi}"
    );
    let gone = w.whale(&["image", "inspect", &by_digest]);
    assert_eq!(gone.code(), Some(1), "{gone}");
}

#[test]
fn missing_repository_unreachable_registry_and_hub_names_fail_clearly() {
    let reg = Registry::start(None);
    let w = World::new();
    let missing = format!("{}/e2e/nope", reg.addr);

    let pull = w.whale(&["pull", &missing]);
    assert_eq!(pull.code(), Some(1), "{pull}");
    assert!(
        pull.stderr
            .contains(&format!("manifest for {missing}:latest not found")),
        "{pull}"
    );

    // docker: "Unable to find image ... locally", the daemon's error, 125.
    let run = w.whale(&["run", "--rm", &missing, "true"]);
    assert_eq!(run.code(), Some(125), "{run}");
    assert!(
        run.stderr
            .contains(&format!("Unable to find image '{missing}:latest' locally")),
        "{run}"
    );
    assert!(run.stderr.contains("not found"), "{run}");

    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let unreachable = w.whale(&["pull", &format!("127.0.0.1:{closed}/e2e/x")]);
    assert_eq!(unreachable.code(), Some(1), "{unreachable}");
    assert!(
        unreachable
            .stderr
            .contains(&format!("registry 127.0.0.1:{closed} is unreachable")),
        "{unreachable}"
    );

    let hub = w.whale(&["pull", "busybox"]);
    assert_eq!(hub.code(), Some(1), "{hub}");
    assert!(hub.stderr.contains("Docker Hub"), "{hub}");
    assert!(hub.stderr.contains("HOST:PORT/NAME"), "{hub}");
}

#[test]
fn a_damaged_blob_is_refused_and_the_pull_leaves_nothing() {
    let reg = Registry::start(None);
    let w = World::with_busybox();
    let image = format!("{}/e2e/damaged:1", reg.addr);
    w.whale_ok(&["tag", "busybox", &image]);
    w.whale_ok(&["push", &image]);
    let manifest = w.api("GET", &format!("/distribution/{image}/json"), None);
    assert_eq!(manifest.status, 200, "{}", manifest.text());
    w.whale_ok(&["rmi", &image, "busybox"]);

    // Damage the layer blob on the registry's disk (same length).
    let layers_dir = reg.dir.join("data/docker/registry/v2/blobs/sha256");
    let mut damaged = 0;
    for shard in std::fs::read_dir(&layers_dir)
        .expect("registry blobs")
        .flatten()
    {
        for blob in std::fs::read_dir(shard.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let data = blob.path().join("data");
            let bytes = std::fs::read(&data).unwrap_or_default();
            // The gzip layer, not the config or the manifest (JSON).
            if bytes.starts_with(&[0x1f, 0x8b]) {
                let mut bad = bytes.clone();
                let mid = bad.len() / 2;
                bad[mid] ^= 0xff;
                std::fs::write(&data, bad).expect("damage the blob");
                damaged += 1;
            }
        }
    }
    assert_eq!(damaged, 1, "one gzip layer blob in the registry");

    let pull = w.whale(&["pull", &image]);
    assert_eq!(pull.code(), Some(1), "{pull}");
    assert!(pull.stderr.contains("refusing it"), "{pull}");
    let images = w.whale_ok(&["images", "-q"]);
    assert_eq!(images.out(), "", "no image after a refused pull:\n{images}");
    for dir in ["image/layers", "image/configs", "image/tmp"] {
        let left: Vec<_> = std::fs::read_dir(w.root().join(dir))
            .map(|r| r.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{dir} after a refused pull: {left:?}");
    }
}

#[test]
fn basic_auth_login_push_pull_logout() {
    let reg = Registry::start(Some(&htpasswd_line("student", "s3cret pass")));
    let w = World::with_busybox();
    let config = w.base().join("docker-config");
    std::fs::create_dir_all(&config).expect("config dir");
    let whale = |args: &[&str], stdin: Option<&str>| {
        let mut cmd = w.whale_command(args);
        cmd.env("DOCKER_CONFIG", &config);
        run_command(cmd, stdin.map(str::as_bytes), DEFAULT_TIMEOUT)
    };
    let image = format!("{}/class/busybox:1", reg.addr);
    whale(&["tag", "busybox", &image], None).success();

    let denied = whale(&["push", &image], None);
    assert_eq!(denied.code(), Some(1), "{denied}");
    assert!(denied.stderr.contains("unauthorized"), "{denied}");
    assert!(
        denied.stderr.contains(&format!("whale login {}", reg.addr)),
        "{denied}"
    );

    let wrong = whale(
        &["login", "-u", "student", "--password-stdin", &reg.addr],
        Some("wrong\n"),
    );
    assert_ne!(wrong.code(), Some(0), "{wrong}");
    assert!(wrong.stderr.contains("401"), "{wrong}");
    assert!(!config.join("config.json").exists(), "no credentials saved");

    let login = whale(
        &["login", "-u", "student", "--password-stdin", &reg.addr],
        Some("s3cret pass\n"),
    )
    .success();
    assert_eq!(login.out(), "Login Succeeded", "{login}");
    let file = config.join("config.json");
    let mode = std::fs::metadata(&file)
        .expect("config.json")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "credentials file mode");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
    assert!(saved["auths"][&reg.addr]["auth"].is_string(), "{saved}");

    whale(&["push", &image], None).success();
    whale(&["rmi", &image, "busybox"], None).success();
    whale(&["pull", &image], None).success();
    let run = whale(
        &["run", "--rm", "--network", "none", &image, "echo", "authed"],
        None,
    )
    .success();
    assert_eq!(run.out(), "authed", "{run}");

    let logout = whale(&["logout", &reg.addr], None).success();
    assert!(
        logout
            .out()
            .contains(&format!("Removing login credentials for {}", reg.addr)),
        "{logout}"
    );
    whale(&["rmi", &image], None).success();
    let anon = whale(&["pull", &image], None);
    assert_eq!(anon.code(), Some(1), "{anon}");
    assert!(anon.stderr.contains("unauthorized"), "{anon}");
}

#[test]
fn build_from_and_the_docker_cli_pull_through_whale() {
    let reg = Registry::start(None);
    let w = World::with_busybox();
    let base = format!("{}/e2e/base:1", reg.addr);
    w.whale_ok(&["tag", "busybox", &base]);
    w.whale_ok(&["push", &base]);
    w.whale_ok(&["rmi", &base, "busybox"]);

    let ctx = w.base().join("ctx");
    std::fs::create_dir_all(&ctx).expect("ctx");
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {base}\nRUN echo built > /built\n"),
    )
    .expect("Dockerfile");
    let build = w.whale_ok(&["build", "-t", "e2e-built", ctx.to_str().expect("utf-8")]);
    assert!(build.out().contains("Pull complete"), "{build}");
    let run = w.whale_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "e2e-built",
        "cat",
        "/built",
    ]);
    assert_eq!(run.out(), "built", "{run}");

    if whale_e2e::docker_cli().is_none() {
        eprintln!("SKIP the docker CLI part: the docker CLI is not installed");
        return;
    }
    w.whale_ok(&["rmi", &base]);
    let pulled = w.docker(&["pull", &base]).expect("docker").success();
    assert!(
        pulled
            .out()
            .contains(&format!("Status: Downloaded newer image for {base}")),
        "{pulled}"
    );
    assert!(pulled.out().contains("Digest: sha256:"), "{pulled}");
    let listed = w
        .docker(&[
            "images",
            "--digests",
            "--format",
            "{{.Repository}} {{.Digest}}",
        ])
        .expect("docker")
        .success();
    assert!(
        listed
            .out()
            .contains(&format!("{}/e2e/base sha256:", reg.addr)),
        "{listed}"
    );
    let missing = w
        .docker(&["run", "--rm", &format!("{}/e2e/nope", reg.addr)])
        .expect("docker");
    assert_eq!(missing.code(), Some(125), "{missing}");
    assert!(missing.stderr.contains("not found"), "{missing}");
}

#[test]
fn dockerd_and_whale_pull_what_the_other_pushed() {
    let Some(dockerd) = Dockerd::find("dockerd_and_whale_pull_what_the_other_pushed") else {
        return;
    };
    let reg = Registry::start(None);
    let w = World::with_busybox();
    let tag = format!("{}", std::process::id());
    let from_whale = format!("{}/registry-branch/from-whale:{tag}", reg.addr);
    let from_docker = format!("{}/registry-branch/from-docker:{tag}", reg.addr);
    struct Untag<'a>(&'a Dockerd, Vec<String>);
    impl Drop for Untag<'_> {
        fn drop(&mut self) {
            for i in &self.1 {
                let _ = self.0.docker(&["rmi", i]);
            }
        }
    }
    let _untag = Untag(&dockerd, vec![from_whale.clone(), from_docker.clone()]);

    // Docker pulls and runs what whale pushed (127.0.0.1 is an insecure
    // registry to dockerd by default).
    w.whale_ok(&["tag", "busybox", &from_whale]);
    w.whale_ok(&["push", &from_whale]);
    let pulled = dockerd.docker(&["pull", &from_whale]).success();
    assert!(pulled.out().contains("Digest: sha256:"), "{pulled}");
    let ran = dockerd
        .docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            &from_whale,
            "echo",
            "whale pushed me",
        ])
        .success();
    assert_eq!(ran.out(), "whale pushed me", "{ran}");

    // whale pulls and runs what Docker pushed.
    dockerd
        .docker(&["tag", "busybox:latest", &from_docker])
        .success();
    let pushed = dockerd.docker(&["push", &from_docker]).success();
    let digest = pushed_digest(pushed.out());
    let pull = w.whale_ok(&["pull", &from_docker]);
    assert!(pull.out().contains(&format!("Digest: {digest}")), "{pull}");
    let ran = w.whale_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &from_docker,
        "echo",
        "docker pushed me",
    ]);
    assert_eq!(ran.out(), "docker pushed me", "{ran}");

    // The same with a Debian base and a layer of Docker's own on top, when
    // dockerd has debian:bookworm (bench/registry.sh gives it whale's:
    // `whale save debian:bookworm | docker load`).
    if dockerd
        .docker(&["image", "inspect", "debian:bookworm"])
        .code()
        != Some(0)
    {
        eprintln!(
            "dockerd_and_whale_pull_what_the_other_pushed: no debian:bookworm in dockerd, \
             the Debian-based direction is skipped"
        );
        return;
    }
    let from_docker_debian = format!("{}/registry-branch/debian-from-docker:{tag}", reg.addr);
    let maker = format!("registry-debian-maker-{tag}");
    let _untag_debian = Untag(&dockerd, vec![from_docker_debian.clone()]);
    dockerd
        .docker(&[
            "run",
            "--name",
            &maker,
            "--network",
            "none",
            "debian:bookworm",
            "sh",
            "-c",
            "echo layered by docker > /marker",
        ])
        .success();
    let committed = dockerd.docker(&["commit", &maker, &from_docker_debian]);
    let _ = dockerd.docker(&["rm", "-f", &maker]);
    committed.success();
    let pushed = dockerd.docker(&["push", &from_docker_debian]).success();
    let digest = pushed_digest(pushed.out());
    let pull = w.whale_ok(&["pull", &from_docker_debian]);
    assert!(pull.out().contains(&format!("Digest: {digest}")), "{pull}");
    let ran = w.whale_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &from_docker_debian,
        "sh",
        "-c",
        "cat /marker; head -c 2 /etc/debian_version",
    ]);
    assert_eq!(ran.out(), "layered by docker\n12", "{ran}");
}

#[test]
fn a_tls_registry_on_loopback_is_spoken_to_over_tls() {
    // Docker's rule for insecure (loopback) registries: TLS without
    // verifying the certificate first, plain HTTP after. This registry
    // speaks only TLS, with a self-signed certificate.
    let reg = Registry::start_tls();
    // Plain HTTP gets a 400 or a reset, never the API.
    let plain = reg.get_status("/v2/");
    assert_ne!(plain, Some(200), "the registry refuses plain HTTP");
    let w = World::with_busybox();
    let image = format!("{}/e2e/tls:1", reg.addr);
    w.whale_ok(&["tag", "busybox", &image]);
    let push = w.whale_ok(&["push", &image]);
    assert!(push.out().contains(": Pushed"), "{push}");
    w.whale_ok(&["rmi", &image, "busybox"]);
    let pull = w.whale_ok(&["pull", &image]);
    assert!(pull.out().contains(": Pull complete"), "{pull}");
    let run = w.whale_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &image,
        "echo",
        "over tls",
    ]);
    assert_eq!(run.out(), "over tls", "{run}");
}
