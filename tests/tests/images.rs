//! Images from nothing: bootstrap, the `images` table, tag, rmi, import.

use std::process::Command;
use whale_e2e::{columns, is_hex, World};

#[test]
fn bootstrap_busybox_then_images_lists_it() {
    let w = World::new();
    w.whale_ok(&["bootstrap", "busybox"]);
    let out = w.whale_ok(&["images"]);
    let lines = out.lines();
    assert!(
        lines.len() >= 2,
        "`whale images` should print a header and a row:\n{out}"
    );
    assert_eq!(
        columns(lines[0]),
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        "header of `whale images`:\n{out}"
    );
    let row = lines[1..]
        .iter()
        .map(|l| columns(l))
        .find(|c| c.first().map(String::as_str) == Some("busybox"))
        .unwrap_or_else(|| panic!("no busybox row:\n{out}"));
    assert_eq!(row.len(), 5, "busybox row should have 5 columns:\n{out}");
    assert_eq!(row[1], "latest", "{out}");
    assert!(
        is_hex(&row[2], 12),
        "IMAGE ID should be 12 hex digits:\n{out}"
    );
    assert!(
        row[3].ends_with("ago"),
        "CREATED should read like `2 seconds ago`:\n{out}"
    );
    let size = &row[4];
    assert!(
        size.chars().next().is_some_and(|c| c.is_ascii_digit())
            && ["B", "kB", "MB", "GB"].iter().any(|u| size.ends_with(u)),
        "SIZE should read like `1.23MB`:\n{out}"
    );
}

#[test]
fn bootstrap_twice_keeps_one_image() {
    let w = World::with_busybox();
    let first = w.whale_ok(&["images", "-q"]).out().to_string();
    w.whale_ok(&["bootstrap", "busybox"]);
    let second = w.whale_ok(&["images", "-q"]).out().to_string();
    assert_eq!(first.lines().count(), 1, "images -q: {first:?}");
    assert_eq!(
        first, second,
        "a second bootstrap must give the same image id"
    );
}

#[test]
fn images_q_and_format() {
    let w = World::with_busybox();
    let q = w.whale_ok(&["images", "-q"]);
    assert_eq!(q.lines().len(), 1, "{q}");
    assert!(is_hex(q.out(), 12), "images -q prints short ids:\n{q}");
    let f = w.whale_ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert_eq!(f.out(), format!("busybox:latest {}", q.out()), "{f}");
    let id = w.inspect_f("{{.Id}}", "busybox");
    assert!(
        id.starts_with("sha256:") && is_hex(&id[7..], 64),
        "image Id: {id}"
    );
    assert!(id[7..].starts_with(q.out()));
}

#[test]
fn tag_and_rmi() {
    let w = World::with_busybox();
    w.whale_ok(&["tag", "busybox", "mybox:v1"]);
    let out = w.whale_ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{out}");
    let ids: Vec<&str> = lines.iter().filter_map(|l| l.split(' ').nth(1)).collect();
    assert_eq!(ids[0], ids[1], "a tag names the same image:\n{out}");
    assert!(out.stdout.contains("mybox:v1"), "{out}");
    w.whale_ok(&["run", "--rm", "mybox:v1", "true"]);
    let rmi = w.whale_ok(&["rmi", "mybox:v1"]);
    assert!(rmi.stdout.contains("Untagged: mybox:v1"), "{rmi}");
    let out = w.whale_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(out.out(), "busybox:latest", "{out}");
    let missing = w.whale(&["rmi", "nosuchimage"]);
    assert!(
        !missing.ok(),
        "rmi of a missing image must fail:\n{missing}"
    );
    assert!(missing.stderr.contains("nosuchimage"), "{missing}");
}

#[test]
fn rmi_of_an_image_in_use_is_refused() {
    let w = World::with_busybox();
    w.whale_ok(&["create", "--name", "user", "busybox", "true"]);
    let out = w.whale(&["rmi", "busybox"]);
    assert!(
        !out.ok(),
        "rmi of an image a container uses must fail without -f:\n{out}"
    );
    assert!(
        out.stderr.contains("conflict")
            || out.stderr.contains("being used")
            || out.stderr.contains("in use"),
        "{out}"
    );
}

#[test]
fn import_a_rootfs_tar() {
    let w = World::new();
    let rootfs = w.base().join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).expect("mkdir rootfs/bin");
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
        .expect("copy /bin/busybox (install busybox-static)");
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).expect("symlink");
    std::fs::write(rootfs.join("hello.txt"), "imported\n").expect("write");
    let tar = w.base().join("rootfs.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("run tar");
    assert!(status.success());
    let tar = tar.to_str().expect("utf-8 path");
    let out = w.whale_ok(&["import", tar, "mini"]);
    assert!(
        out.out().starts_with("sha256:"),
        "import prints the image id:\n{out}"
    );
    let cat = w.whale_ok(&[
        "run",
        "--rm",
        "mini",
        "/bin/sh",
        "-c",
        "/bin/busybox cat /hello.txt",
    ]);
    assert_eq!(cat.out(), "imported", "{cat}");
    let tags = w.whale_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(tags.out(), "mini:latest", "{tags}");
}

#[test]
fn bootstrap_debian() {
    if !std::path::Path::new("/usr/bin/mmdebstrap").exists() {
        eprintln!(
            "SKIPPED bootstrap_debian: mmdebstrap is not installed (apt-get install mmdebstrap)"
        );
        return;
    }
    let w = World::new();
    w.whale_timeout(
        &["bootstrap", "debian"],
        std::time::Duration::from_secs(600),
    )
    .success();
    let out = w.whale_ok(&[
        "run",
        "--rm",
        "debian:bookworm",
        "cat",
        "/etc/debian_version",
    ]);
    assert!(out.out().starts_with("12"), "{out}");
    let apt = w.whale_ok(&[
        "run",
        "--rm",
        "debian:bookworm",
        "sh",
        "-c",
        "command -v apt-get",
    ]);
    assert_eq!(apt.out(), "/usr/bin/apt-get", "{apt}");
}
