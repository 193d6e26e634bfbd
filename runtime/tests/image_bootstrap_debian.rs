//! `debian:bookworm` from mmdebstrap and the host's mirrors. Needs the
//! Debian mirror the host uses and ~20 s, so it runs on request:
//! `cargo test --test image_bootstrap_debian -- --ignored`.

use std::fs;
use std::process::Command;

use whale::image::Store;
use whale_cli::bootstrap::{changes_for, debian_rootfs_tar, BaseImage};

#[test]
#[ignore = "downloads Debian packages from the host's mirror (~20 s)"]
fn debian_bootstrap_imports_and_apt_works_inside() {
    let work = tempfile::tempdir().unwrap();
    let tar = work.path().join("rootfs.tar");
    let mut lines = Vec::new();
    debian_rootfs_tar("bookworm", &tar, |l| lines.push(l.to_string())).unwrap();
    assert!(
        lines.iter().any(|l| l.contains("mirrors: deb ")),
        "{lines:?}"
    );
    assert!(lines.len() > 5, "progress lines: {lines:?}");

    let store = Store::open(&work.path().join("image")).unwrap();
    let file = fs::File::open(&tar).unwrap();
    let img = store
        .import_rootfs(
            file,
            Some("debian:bookworm"),
            &changes_for(BaseImage::Debian),
            "",
        )
        .unwrap();
    assert_eq!(img.config.config.cmd, Some(vec!["bash".to_string()]));
    assert!(
        img.size > 50_000_000 && img.size < 400_000_000,
        "size {}",
        img.size
    );
    let diff = store.layer_dirs(&img).unwrap().remove(0);
    assert!(diff.join("usr/bin/apt-get").exists());
    let sources = fs::read_to_string(diff.join("etc/apt/sources.list")).unwrap();
    assert!(sources.contains(" bookworm main"), "{sources}");

    // apt in the image reaches the same mirror: refresh its lists in a
    // chroot of a copy (the layer itself must stay untouched).
    let copy = work.path().join("chroot");
    let st = Command::new("cp")
        .arg("-a")
        .arg(&diff)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(st.success());
    // A container gets /dev from the engine; this chroot needs /dev/null
    // (apt runs gpgv with its output there).
    let st = Command::new("mknod")
        .arg(copy.join("dev/null"))
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    assert!(st.success());
    fs::set_permissions(
        copy.join("dev/null"),
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    let out = Command::new("chroot")
        .arg(&copy)
        .args(["apt-get", "-q", "update"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "apt-get update in the image failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("chroot")
        .arg(&copy)
        .args([
            "apt-get",
            "-q",
            "install",
            "-y",
            "--no-install-recommends",
            "-s",
            "cowsay",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
