//! `whale build` end to end: a daemon in a temp root, busybox bootstrapped
//! into it, real RUN containers. Needs root (namespaces, overlay, cgroups).

#[path = "daemon_common/mod.rs"]
mod common;

use common::Daemon;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

const CHILD: &str = "build_daemon_child";

#[test]
fn build_daemon_child() {
    common::child_main();
}

struct World {
    d: Daemon,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let d = Daemon::start(CHILD);
        let w = World {
            d,
            dir: tempfile::tempdir().expect("temp dir"),
        };
        let out = w.whale(&["bootstrap", "busybox"]);
        assert!(out.status.success(), "bootstrap: {}", text(&out.stderr));
        w
    }

    fn whale(&self, args: &[&str]) -> Output {
        self.whale_in(self.dir.path(), args)
    }

    fn whale_in(&self, cwd: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_whale"))
            .arg("-H")
            .arg(&self.d.sock)
            .args(args)
            .current_dir(cwd)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("running whale")
    }

    fn ctx(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::create_dir_all(&p).unwrap();
        for (f, content) in files {
            let fp = p.join(f);
            std::fs::create_dir_all(fp.parent().unwrap()).unwrap();
            std::fs::write(fp, content).unwrap();
        }
        p
    }

    fn build(&self, ctx: &Path, tag: &str) -> Output {
        self.whale(&["build", "-t", tag, ctx.to_str().unwrap()])
    }

    fn inspect(&self, image: &str) -> serde_json::Value {
        self.d.get(&format!("/images/{image}/json")).json()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed ({:?}):\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

const DOCKERFILE: &str = "FROM busybox\n\
# a comment line\n\
RUN echo one > /one #v1\n\
ADD data.txt /data/\n\
RUN cat /data/data.txt > /copy\n\
CMD [\"cat\", \"/copy\"]\n";

#[test]
fn layers_cache_hits_and_busting() {
    let w = World::new();
    let ctx = w.ctx(
        "app",
        &[("Dockerfile", DOCKERFILE), ("data.txt", "first\n")],
    );
    let out = ok(&w.build(&ctx, "app"));
    assert!(out.contains("Step 1/5 : FROM busybox"), "{out}");
    assert!(out.contains("Step 2/5 : RUN echo one > /one #v1"), "{out}");
    assert_eq!(count(&out, " ---> Using cache"), 0, "{out}");
    assert_eq!(count(&out, " ---> Running in "), 2, "{out}");
    assert_eq!(count(&out, "Removing intermediate container "), 2, "{out}");
    assert!(out.contains("Successfully tagged app:latest"), "{out}");
    let built = out
        .lines()
        .find_map(|l| l.strip_prefix("Successfully built "))
        .expect("built line")
        .to_string();
    assert_eq!(built.len(), 12);
    let img = w.inspect("app");
    assert!(img["Id"].as_str().unwrap().contains(&built));
    // busybox's layer + RUN + ADD + RUN.
    assert_eq!(img["RootFS"]["Layers"].as_array().unwrap().len(), 4);
    assert_eq!(ok(&w.whale(&["run", "--rm", "app"])), "first\n");
    // The intermediate containers are gone.
    assert_eq!(
        w.d.get("/containers/json?all=1").json(),
        serde_json::json!([])
    );

    // A full rebuild is all cache, and fast.
    let t = Instant::now();
    let out = ok(&w.build(&ctx, "app"));
    let took = t.elapsed();
    assert_eq!(count(&out, " ---> Using cache"), 4, "{out}");
    assert!(
        out.contains(&format!("Successfully built {built}")),
        "{out}"
    );
    assert!(took.as_millis() < 1000, "cached rebuild took {took:?}");

    // Touching the ADDed file changes nothing.
    let f = std::fs::File::options()
        .write(true)
        .open(ctx.join("data.txt"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
        .unwrap();
    let out = ok(&w.build(&ctx, "app"));
    assert_eq!(count(&out, " ---> Using cache"), 4, "{out}");

    // New content busts the ADD and everything after it.
    std::fs::write(ctx.join("data.txt"), "second\n").unwrap();
    let out = ok(&w.build(&ctx, "app"));
    assert_eq!(count(&out, " ---> Using cache"), 1, "{out}");
    assert_eq!(count(&out, " ---> Running in "), 1, "{out}");
    assert_eq!(ok(&w.whale(&["run", "--rm", "app"])), "second\n");

    // A changed comment on the RUN line busts it and every later step.
    let df2 = DOCKERFILE.replace("#v1", "#v2");
    std::fs::write(ctx.join("Dockerfile"), df2).unwrap();
    let out = ok(&w.build(&ctx, "app"));
    assert_eq!(count(&out, " ---> Using cache"), 0, "{out}");
    assert_eq!(count(&out, " ---> Running in "), 2, "{out}");

    // --no-cache runs everything again.
    let out = ok(&w.whale(&["build", "--no-cache", "-t", "app", ctx.to_str().unwrap()]));
    assert_eq!(count(&out, " ---> Using cache"), 0, "{out}");

    // History: newest first, Docker's created-by words, <missing> never for
    // images whale built.
    let h = w.d.get("/images/app/history").json();
    let h = h.as_array().unwrap();
    assert_eq!(h.len(), 5);
    assert_eq!(
        h[0]["CreatedBy"],
        "/bin/sh -c #(nop)  CMD [\"cat\" \"/copy\"]"
    );
    assert_eq!(h[0]["Size"], 0);
    assert_eq!(h[1]["CreatedBy"], "/bin/sh -c cat /data/data.txt > /copy");
    assert!(h[2]["CreatedBy"]
        .as_str()
        .unwrap()
        .starts_with("/bin/sh -c #(nop) ADD file:"));
    assert_eq!(h[2]["Size"], 7);
    assert_eq!(h[3]["CreatedBy"], "/bin/sh -c echo one > /one #v2");
    for item in h {
        assert!(
            item["Id"].as_str().unwrap().starts_with("sha256:"),
            "{item}"
        );
    }
    assert_eq!(h[0]["Tags"], serde_json::json!(["app:latest"]));
    let cli = ok(&w.whale(&["history", "app"]));
    assert!(cli.starts_with("IMAGE          CREATED"), "{cli}");
    assert!(
        cli.contains("/bin/sh -c #(nop)  CMD [\"cat\" \"/copy\"]"),
        "{cli}"
    );
    let q = ok(&w.whale(&["history", "-q", "app"]));
    assert_eq!(q.lines().count(), 5);

    // Intermediate images are hidden from `images` but not from `images -a`.
    let listed = ok(&w.whale(&["images", "-q"]));
    let all = ok(&w.whale(&["images", "-a", "-q"]));
    assert!(all.lines().count() > listed.lines().count() + 3);
}

#[test]
fn failing_run_reports_the_command_and_code() {
    let w = World::new();
    let ctx = w.ctx(
        "bad",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo before && exit 3\nRUN echo never\n",
        )],
    );
    let out = w.build(&ctx, "bad");
    assert_eq!(out.status.code(), Some(1));
    let so = text(&out.stdout);
    assert!(so.contains("before"), "{so}");
    assert!(!so.contains("never\n ---> "), "{so}");
    assert!(
        text(&out.stderr)
            .contains("The command '/bin/sh -c echo before && exit 3' returned a non-zero code: 3"),
        "{}",
        text(&out.stderr)
    );
    // The raw API: errorDetail with the code.
    let tar = tar_of(&[("Dockerfile", b"FROM busybox\nRUN exit 7\n".as_slice())]);
    let r = post_tar(&w.d, "/build?t=bad2", &tar);
    let last = r.trim_end().lines().last().unwrap().to_string();
    let v: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(v["errorDetail"]["code"], 7);
    assert_eq!(
        v["error"],
        "The command '/bin/sh -c exit 7' returned a non-zero code: 7"
    );
    // Parse errors name the file and line.
    let ctx = w.ctx("parse", &[("Dockerfile", "FROM busybox\n\nBOGUS x\n")]);
    let out = w.build(&ctx, "p");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Dockerfile:3: unknown instruction: BOGUS"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn network_modes_of_run_steps() {
    let w = World::new();
    let ctx = w.ctx(
        "net",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN grep -c : /proc/net/dev > /ifaces\nCMD [\"cat\", \"/ifaces\"]\n",
        )],
    );
    let dir = ctx.to_str().unwrap();
    // none: a network namespace of its own, with only loopback.
    ok(&w.whale(&["build", "--network", "none", "-t", "netnone", dir]));
    assert_eq!(ok(&w.whale(&["run", "--rm", "netnone"])).trim(), "1");
    // host (and the default): the host's interfaces. The cache does not key
    // on the network (nor does Docker's), hence --no-cache.
    let host = std::fs::read_to_string("/proc/net/dev").unwrap();
    let host_ifaces = host.lines().filter(|l| l.contains(':')).count();
    for mode in ["host", "default"] {
        ok(&w.whale(&[
            "build",
            "--no-cache",
            "--network",
            mode,
            "-t",
            "nethost",
            dir,
        ]));
        let n = ok(&w.whale(&["run", "--rm", "nethost"]));
        assert_eq!(n.trim(), host_ifaces.to_string(), "--network {mode}");
    }
    // Modes whale has no way to honour are refused, naming the mode.
    let out = w.whale(&["build", "--network", "container:web", dir]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("container:web") && err.contains("none"),
        "{err}"
    );
}

#[test]
fn deletions_become_whiteouts_and_opaque_dirs() {
    let w = World::new();
    let ctx = w.ctx(
        "wh",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN mkdir -p /d/sub && echo x > /d/sub/f && echo y > /d/g\n\
             RUN rm /etc/group && rm -rf /d && mkdir /d && echo only > /d/new\n",
        )],
    );
    ok(&w.build(&ctx, "wh"));
    let out = ok(&w.whale(&[
        "run",
        "--rm",
        "wh",
        "sh",
        "-c",
        "ls /d; test -e /etc/group && echo group-still-there; cat /etc/passwd | head -1",
    ]));
    assert_eq!(out.lines().next(), Some("new"), "{out}");
    assert!(!out.contains("sub"), "{out}");
    assert!(!out.contains("group-still-there"), "{out}");
    assert!(out.contains("root:"), "{out}");
    // The step's layer has the opaque marker and the whiteout.
    let img = w.inspect("wh");
    let top = img["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let store = whale::image::Store::open(&w.d.root.join("image")).unwrap();
    let mut a = tar::Archive::new(store.layer_tar(&top).unwrap());
    let names: Vec<String> = a
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.contains(&"etc/.wh.group".to_string()), "{names:?}");
    assert!(names.contains(&"d/.wh..wh..opq".to_string()), "{names:?}");
    // The runtime's mountpoint stubs are not part of the step.
    assert!(
        !names
            .iter()
            .any(|n| n == "etc/hosts" || n == "etc/resolv.conf" || n == "proc"),
        "{names:?}"
    );
}

#[test]
fn copy_from_an_image_takes_its_top_most_file() {
    let w = World::new();
    // `src` has /etc/motd in two layers: the top one must win.
    let src = w.ctx(
        "src",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo old > /etc/motd\nRUN echo new > /etc/motd && ln -s motd /etc/link\n",
        )],
    );
    ok(&w.build(&src, "src"));
    let ctx = w.ctx(
        "dst",
        &[(
            "Dockerfile",
            "FROM busybox\nCOPY --from=src /etc/link /got/motd\nCOPY --from=busybox:latest /bin/busybox /got/\n",
        )],
    );
    let out = ok(&w.build(&ctx, "dst"));
    assert_eq!(count(&out, " ---> Using cache"), 0, "{out}");
    let got = ok(&w.whale(&["run", "--rm", "dst", "sh", "-c", "cat /got/motd; ls /got"]));
    assert_eq!(got, "new\nbusybox\nmotd\n");
    // Same sources: the cache is used.
    let again = ok(&w.build(&ctx, "dst"));
    assert_eq!(count(&again, " ---> Using cache"), 2, "{again}");
    // A missing image and a missing file are refused by name.
    let bad = w.ctx(
        "bad",
        &[("Dockerfile", "FROM busybox\nCOPY --from=nosuch /a /b\n")],
    );
    let e = w.build(&bad, "bad");
    assert!(!e.status.success());
    assert!(
        text(&e.stdout).contains("no image nosuch") || text(&e.stderr).contains("no image nosuch")
    );
    std::fs::write(
        bad.join("Dockerfile"),
        "FROM busybox\nCOPY --from=src /nope /b\n",
    )
    .unwrap();
    let e = w.build(&bad, "bad");
    let all = text(&e.stdout) + &text(&e.stderr);
    assert!(
        !e.status.success() && all.contains("does not exist in image src"),
        "{all}"
    );
    // A directory comes as the image sees it: its layers merged.
    let dir = w.ctx(
        "dir",
        &[("Dockerfile", "FROM busybox\nCOPY --from=src /etc /b\n")],
    );
    ok(&w.build(&dir, "dir"));
    let got = ok(&w.whale(&["run", "--rm", "dir", "sh", "-c", "cat /b/motd /b/link"]));
    assert_eq!(got, "new\nnew\n");
}

#[test]
fn metadata_instructions_env_workdir_user_args() {
    let w = World::new();
    let ctx = w.ctx(
        "meta",
        &[
            (
                "Dockerfile",
                "FROM busybox\nARG WHO=world\nENV GREETING=\"hello $WHO\" DIR=/srv\nWORKDIR $DIR\n\
                 COPY --chown=1000:1000 sub/ ./app/\nLABEL org.test=\"yes\"\nEXPOSE 8080 53/udp\n\
                 RUN echo \"$GREETING from $(pwd) as $WHO\" > out && ls -ln app\n\
                 USER 1000\nENTRYPOINT [\"cat\"]\nCMD [\"/srv/out\"]\n",
            ),
            ("sub/a.txt", "A"),
            ("ignored.log", "secret"),
            (".dockerignore", "*.log\n"),
        ],
    );
    let out = ok(&w.whale(&[
        "build",
        "--build-arg",
        "WHO=class",
        "-t",
        "meta",
        ctx.to_str().unwrap(),
    ]));
    assert!(out.contains("1000     1000"), "{out}");
    assert_eq!(
        ok(&w.whale(&["run", "--rm", "meta"])),
        "hello class from /srv as class\n"
    );
    let cfg = &w.inspect("meta")["Config"];
    assert_eq!(cfg["WorkingDir"], "/srv");
    assert_eq!(cfg["User"], "1000");
    assert_eq!(cfg["Labels"]["org.test"], "yes");
    assert_eq!(cfg["Entrypoint"], serde_json::json!(["cat"]));
    assert!(cfg["ExposedPorts"]["8080/tcp"].is_object());
    assert!(cfg["ExposedPorts"]["53/udp"].is_object());
    let env = cfg["Env"].as_array().unwrap();
    assert!(
        env.contains(&serde_json::json!("GREETING=hello class")),
        "{env:?}"
    );
    // The RUN's created-by records the build arg like Docker (|1 WHO=class).
    let h = w.d.get("/images/meta/history").json();
    assert!(h.as_array().unwrap().iter().any(|i| i["CreatedBy"]
        .as_str()
        .unwrap()
        .starts_with("|1 WHO=class /bin/sh -c echo")));
    // .dockerignore kept the log out of the context.
    let ctx2 = w.ctx(
        "meta2",
        &[
            ("Dockerfile", "FROM busybox\nCOPY . /ctx/\n"),
            ("keep.txt", "k"),
            ("drop.log", "d"),
            (".dockerignore", "*.log\n"),
        ],
    );
    ok(&w.build(&ctx2, "meta2"));
    let ls = ok(&w.whale(&["run", "--rm", "meta2", "ls", "-A", "/ctx"]));
    assert_eq!(ls, ".dockerignore\nDockerfile\nkeep.txt\n");
}

/// A tar with raw entry names (so `..` and absolute names get through).
fn hostile_tar(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_old();
        {
            let old = h.as_old_mut();
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn post_tar(d: &Daemon, path: &str, tar: &[u8]) -> String {
    let f = d.dir.path().join(format!("body-{}.tar", rand_suffix()));
    std::fs::write(&f, tar).unwrap();
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "60", "--unix-socket"])
        .arg(&d.sock)
        .args([
            "-X",
            "POST",
            "-H",
            "Content-Type: application/x-tar",
            "--data-binary",
        ])
        .arg(format!("@{}", f.display()))
        .arg(format!("http://localhost{path}"))
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&f);
    text(&out.stdout)
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[test]
fn hostile_tars_are_refused_naming_the_entry() {
    let w = World::new();
    let canary = w.dir.path().join("outside");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            hostile_tar(&[(
                "../../../../../../../../tmp/whale-evil",
                tar::EntryType::Regular,
                "",
                b"x",
            )]),
            "../../../../../../../../tmp/whale-evil",
        ),
        (
            hostile_tar(&[
                ("link", tar::EntryType::Symlink, "/", b""),
                ("link/tmp/whale-evil", tar::EntryType::Regular, "", b"x"),
            ]),
            "link/tmp/whale-evil",
        ),
        (
            hostile_tar(&[("shadow", tar::EntryType::Link, "/etc/shadow", b"")]),
            "shadow",
        ),
    ];
    for (tar, entry) in &cases {
        // As a build context.
        let r = post_tar(&w.d, "/build?t=evil", tar);
        assert!(
            r.contains("errorDetail") && r.contains(entry),
            "context {entry}: {r}"
        );
        // As an ADDed archive.
        let ctx = w.ctx(
            &format!("add-{}", rand_suffix()),
            &[("Dockerfile", "FROM busybox\nADD evil.tar /x/\n")],
        );
        std::fs::write(ctx.join("evil.tar"), tar).unwrap();
        let out = w.build(&ctx, "evil");
        assert_eq!(out.status.code(), Some(1), "ADD {entry}");
        assert!(
            text(&out.stderr).contains(entry),
            "ADD {entry}: {}",
            text(&out.stderr)
        );
        // As an image archive for load.
        let f = w.dir.path().join("evil.tar");
        std::fs::write(&f, tar).unwrap();
        let out = w.whale(&["load", "-i", f.to_str().unwrap()]);
        assert_ne!(out.status.code(), Some(0), "load {entry}");
        assert!(
            text(&out.stderr).contains(entry),
            "load {entry}: {}",
            text(&out.stderr)
        );
        // As a rootfs for import.
        let out = w.whale(&["import", f.to_str().unwrap(), "evil:import"]);
        assert_ne!(out.status.code(), Some(0), "import {entry}");
        assert!(
            text(&out.stderr).contains(entry),
            "import {entry}: {}",
            text(&out.stderr)
        );
    }
    // An absolute name lands inside the target, as with Docker and GNU tar.
    let abs = hostile_tar(&[("/abs-evil", tar::EntryType::Regular, "", b"x")]);
    let ctx = w.ctx("abs", &[("Dockerfile", "FROM busybox\nADD evil.tar /x/\n")]);
    std::fs::write(ctx.join("evil.tar"), &abs).unwrap();
    ok(&w.build(&ctx, "abs"));
    assert_eq!(
        ok(&w.whale(&["run", "--rm", "abs", "cat", "/x/abs-evil"])),
        "x"
    );
    assert!(!Path::new("/tmp/whale-evil").exists());
    assert!(!Path::new("/abs-evil").exists());
    assert!(!canary.exists());
}

#[test]
fn save_load_roundtrip_export_and_df() {
    let w = World::new();
    let ctx = w.ctx(
        "s",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo saved > /saved\nCMD [\"cat\", \"/saved\"]\n",
        )],
    );
    ok(&w.build(&ctx, "saveme"));
    let id = w.inspect("saveme")["Id"].as_str().unwrap().to_string();
    let archive = w.dir.path().join("saveme.tar");
    ok(&w.whale(&["save", "-o", archive.to_str().unwrap(), "saveme"]));
    // docker-archive layout.
    let mut a = tar::Archive::new(std::fs::File::open(&archive).unwrap());
    let mut manifest = None;
    let mut names = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let n = e.path().unwrap().display().to_string();
        if n == "manifest.json" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            manifest = Some(serde_json::from_str::<serde_json::Value>(&s).unwrap());
        }
        names.push(n);
    }
    let m = manifest.expect("manifest.json");
    assert_eq!(m[0]["RepoTags"], serde_json::json!(["saveme:latest"]));
    assert_eq!(
        m[0]["Config"],
        format!("{}.json", id.strip_prefix("sha256:").unwrap())
    );
    assert_eq!(m[0]["Layers"].as_array().unwrap().len(), 2);
    assert!(names.contains(&"repositories".to_string()));
    // Remove it and load it back: same id, runs.
    ok(&w.whale(&["rmi", "saveme"]));
    let out = ok(&w.whale(&["load", "-i", archive.to_str().unwrap()]));
    assert_eq!(out, "Loaded image: saveme:latest\n");
    assert_eq!(w.inspect("saveme")["Id"], id);
    assert_eq!(ok(&w.whale(&["run", "--rm", "saveme"])), "saved\n");

    // export: the container's whole filesystem, its own changes included.
    ok(&w.whale(&["create", "--name", "ex", "saveme"]));
    let ex = w.dir.path().join("ex.tar");
    ok(&w.whale(&["export", "-o", ex.to_str().unwrap(), "ex"]));
    let mut a = tar::Archive::new(std::fs::File::open(&ex).unwrap());
    let names: Vec<String> = a
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.contains(&"saved".to_string()));
    assert!(
        names.contains(&"bin/busybox".to_string()) || names.iter().any(|n| n.starts_with("bin/"))
    );
    ok(&w.whale(&["rm", "ex"]));

    // system df: the busybox layer is shared, the RUN layer unique.
    let df = w.d.get("/system/df").json();
    let img = df["Images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["Id"] == id)
        .unwrap()
        .clone();
    let unique = img["Size"].as_i64().unwrap() - img["SharedSize"].as_i64().unwrap();
    assert_eq!(unique, 6, "{img}");
    let out = ok(&w.whale(&["system", "df", "-v"]));
    assert!(
        out.contains("SHARED SIZE   UNIQUE SIZE   CONTAINERS"),
        "{out}"
    );
    assert!(out.contains("saveme"), "{out}");

    // The image list's SharedSize counts as system df does: the build's
    // intermediate image (after the first RUN) does not make the image
    // built on it look shared.
    let two = w.ctx(
        "two",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo a > /a\nRUN echo b > /b\n",
        )],
    );
    ok(&w.build(&two, "two"));
    let two_id = w.inspect("two")["Id"].clone();
    let list = w.d.get("/images/json?shared-size=1").json();
    let e = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["Id"] == two_id)
        .unwrap()
        .clone();
    let unique = e["Size"].as_i64().unwrap() - e["SharedSize"].as_i64().unwrap();
    assert_eq!(unique, 4, "{e}");
}
