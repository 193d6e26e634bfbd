//! Copy-on-write: files written in a container land in its upper dir only.

use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use whale_e2e::World;

#[test]
fn writes_land_in_the_upper_dir_only() {
    let w = World::with_busybox();
    w.whale_ok(&[
        "run",
        "--name",
        "writer",
        "busybox",
        "sh",
        "-c",
        "echo data > /created.txt; rm /bin/ls",
    ]);
    let upper = w.inspect_f("{{.GraphDriver.Data.UpperDir}}", "writer");
    let upper = Path::new(&upper);
    assert!(
        upper.starts_with(w.root()),
        "UpperDir {} should be under the root",
        upper.display()
    );
    let created = std::fs::read_to_string(upper.join("created.txt")).unwrap_or_default();
    assert_eq!(created, "data\n", "created.txt in {}", upper.display());
    let whiteout = std::fs::symlink_metadata(upper.join("bin/ls")).expect("a whiteout for /bin/ls");
    assert!(
        whiteout.file_type().is_char_device(),
        "a deleted file is a 0/0 char device in the upper dir"
    );

    // Only the container's own changes: the engine's mount points (/proc,
    // /sys, /dev, /etc/hosts...) live in the init layer, as on Docker.
    let mut top: Vec<String> = std::fs::read_dir(upper)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["bin", "created.txt"], "in {}", upper.display());
    let lower = w.inspect_f("{{.GraphDriver.Data.LowerDir}}", "writer");
    let init = Path::new(lower.split(':').next().unwrap_or_default());
    assert!(init.ends_with("init"), "init layer first in {lower}");
    assert!(
        init.join("proc").is_dir() && init.join("etc/hosts").is_file(),
        "{lower}"
    );
    for dir in lower.split(':') {
        assert!(
            !Path::new(dir).join("created.txt").exists(),
            "the image layer {dir} was written to"
        );
    }
    let fresh = w.whale(&["run", "--rm", "busybox", "cat", "/created.txt"]);
    assert_eq!(
        fresh.code(),
        Some(1),
        "a new container must not see it:\n{fresh}"
    );
    w.whale_ok(&["run", "--rm", "busybox", "ls", "/"]);
    w.whale_ok(&["run", "--rm", "busybox", "sh", "-c", "test -e /bin/ls"]);
}

#[test]
fn restart_keeps_the_upper_dir() {
    let w = World::with_busybox();
    w.whale_ok(&[
        "run",
        "--name",
        "keeper",
        "busybox",
        "sh",
        "-c",
        "echo 1 >> /count; cat /count | wc -l",
    ]);
    w.whale_ok(&["start", "keeper"]);
    w.whale_ok(&["wait", "keeper"]);
    let logs = w.whale_ok(&["logs", "keeper"]);
    assert_eq!(logs.lines(), ["1", "2"], "{logs}");
}

#[test]
fn rm_deletes_the_container_dir() {
    let w = World::with_busybox();
    w.whale_ok(&["run", "--name", "tmp", "busybox", "sh", "-c", "echo x > /x"]);
    let id = w.inspect_f("{{.Id}}", "tmp");
    let upper = w.inspect_f("{{.GraphDriver.Data.UpperDir}}", "tmp");
    assert!(Path::new(&upper).join("x").exists());
    w.whale_ok(&["rm", "tmp"]);
    assert!(!Path::new(&upper).exists(), "rm removes the upper dir");
    w.assert_container_gone(&id);
}
