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

#[test]
fn cp_into_and_out_of_running_and_stopped_containers() {
    let w = World::with_busybox();
    let src = w.base().join("app");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("sub/f"), "data\n").unwrap();
    let one = w.base().join("one.txt");
    std::fs::write(&one, "one\n").unwrap();

    // Running: through the container's own root and mounts.
    w.run_d(&["--name", "cp-run", "busybox", "sleep", "1000"]);
    w.whale_ok(&["cp", src.to_str().unwrap(), "cp-run:/tmp"]);
    w.whale_ok(&["cp", one.to_str().unwrap(), "cp-run:/etc/renamed.txt"]);
    let out = w.whale_ok(&[
        "exec",
        "cp-run",
        "cat",
        "/tmp/app/sub/f",
        "/etc/renamed.txt",
    ]);
    assert_eq!(out.stdout, "data\none\n");

    // Not running: its overlay, mounted privately by the helper.
    w.whale_ok(&[
        "create",
        "--name",
        "cp-stopped",
        "busybox",
        "cat",
        "/app/sub/f",
    ]);
    w.whale_ok(&["cp", src.to_str().unwrap(), "cp-stopped:/"]);
    let started = w.whale_ok(&["start", "-a", "cp-stopped"]);
    assert_eq!(started.stdout, "data\n");
    let diff = w.whale_ok(&["diff", "cp-stopped"]);
    assert!(diff.lines().contains(&"A /app/sub/f"), "{}", diff.out());

    // Out: into a directory, or as a new name.
    let into = w.base().join("into");
    std::fs::create_dir(&into).unwrap();
    w.whale_ok(&["cp", "cp-run:/tmp/app", into.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(into.join("app/sub/f")).unwrap(),
        "data\n"
    );
    let renamed = w.base().join("renamed.txt");
    w.whale_ok(&["cp", "cp-run:/etc/renamed.txt", renamed.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&renamed).unwrap(), "one\n");

    // Docker's errors, and nothing mounted on the host afterwards.
    let missing = w.whale(&["cp", one.to_str().unwrap(), "cp-run:/nope/x"]);
    assert_eq!(missing.code(), Some(1));
    assert!(
        missing
            .stderr
            .contains("Could not find the file /nope in container cp-run"),
        "{missing:?}"
    );
    w.whale_ok(&["rm", "-f", "cp-run", "cp-stopped"]);
    assert!(whale_e2e::proc_mounts_mentioning(w.root().to_str().unwrap()).is_empty());
}
