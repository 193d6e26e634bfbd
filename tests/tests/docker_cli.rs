//! The stock Docker CLI talks to whale's daemon.

use std::collections::BTreeSet;
use whale_e2e::{docker_cli, World};

fn skip() -> bool {
    if docker_cli().is_none() {
        eprintln!("SKIPPED: no docker CLI at /usr/local/bin/docker or /usr/bin/docker (apt-get install docker.io)");
        return true;
    }
    false
}

/// (short id, name) pairs from a `ps -a` table: ID first, NAMES last.
fn id_names(table: &str) -> BTreeSet<(String, String)> {
    table
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let id = l.split_whitespace().next()?.to_string();
            let name = l.split_whitespace().last()?.to_string();
            Some((id, name))
        })
        .collect()
}

#[test]
fn docker_ps_a_lists_the_same_containers() {
    if skip() {
        return;
    }
    let w = World::with_busybox();
    w.run_d(&["--name", "alive", "busybox", "sleep", "1000"]);
    w.whale_ok(&["run", "--name", "test01", "busybox", "sh"]);
    w.whale_ok(&["create", "--name", "fresh", "busybox", "true"]);
    let ours = w.whale_ok(&["ps", "-a"]);
    let theirs = w.docker(&["ps", "-a"]).expect("docker").success();
    let a = id_names(&ours.stdout);
    assert_eq!(a.len(), 3, "{ours}");
    assert_eq!(
        a,
        id_names(&theirs.stdout),
        "whale:\n{ours}\ndocker:\n{theirs}"
    );
    let st = w
        .docker(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
        .expect("docker")
        .success();
    assert!(st.stdout.contains("test01 Exited (0)"), "{st}");
    assert!(st.stdout.contains("alive Up "), "{st}");
    assert!(st.stdout.contains("fresh Created"), "{st}");
}

#[test]
fn docker_inspect_images_version() {
    if skip() {
        return;
    }
    let w = World::with_busybox();
    w.whale(&["run", "--name", "ex", "busybox", "sh", "-c", "exit 3"])
        .expect_code(3);
    let code = w
        .docker(&["inspect", "-f", "{{.State.ExitCode}}", "ex"])
        .expect("docker")
        .success();
    assert_eq!(code.out(), "3", "{code}");
    let images = w
        .docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .expect("docker")
        .success();
    assert_eq!(images.out(), "busybox:latest", "{images}");
    let version = w
        .docker(&["version", "--format", "{{.Server.Os}}"])
        .expect("docker")
        .success();
    assert_eq!(version.out(), "linux", "{version}");
}

#[test]
fn docker_lifecycle_verbs() {
    if skip() {
        return;
    }
    let w = World::with_busybox();
    let created = w
        .docker(&["create", "--name", "dc", "busybox", "sleep", "1000"])
        .expect("docker")
        .success();
    assert!(created.out().len() == 64, "{created}");
    w.docker(&["start", "dc"]).expect("docker").success();
    assert!(w.ps_line(false, "dc").is_some_and(|l| l.contains("Up ")));
    w.docker(&["stop", "-t", "1", "dc"])
        .expect("docker")
        .success();
    let waited = w.docker(&["wait", "dc"]).expect("docker").success();
    assert_eq!(waited.out(), "137", "{waited}");
    w.docker(&["rm", "dc"]).expect("docker").success();
    assert!(w.ps_line(true, "dc").is_none());
}

#[test]
fn docker_cp_both_ways() {
    if skip() {
        return;
    }
    let w = World::with_busybox();
    let src = w.base().join("cp-src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("sub/f"), "from the host\n").unwrap();
    w.run_d(&["--name", "dcp", "busybox", "sleep", "1000"]);
    // docker's own tar and HEAD/PUT requests.
    w.docker(&["cp", src.to_str().unwrap(), "dcp:/tmp"])
        .expect("docker")
        .success();
    let cat = w.whale_ok(&["exec", "dcp", "cat", "/tmp/cp-src/sub/f"]);
    assert_eq!(cat.stdout, "from the host\n");
    let back = w.base().join("cp-back");
    w.docker(&["cp", "dcp:/tmp/cp-src", back.to_str().unwrap()])
        .expect("docker")
        .success();
    assert_eq!(
        std::fs::read_to_string(back.join("sub/f")).unwrap(),
        "from the host\n"
    );
    w.whale_ok(&["rm", "-f", "dcp"]);
}
