//! The image store end to end: import, resolve, layer dirs, tag, remove,
//! garbage collection, reopening, concurrency, and the busybox bootstrap.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::sync::Arc;

use whale::image::{ImageError, Removed, Store};
use whale_cli::bootstrap::{busybox_rootfs_tar, changes_for, BaseImage};

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_690_000_000);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn never(_: &str) -> bool {
    false
}

fn count(dir: &Path) -> usize {
    fs::read_dir(dir).unwrap().count()
}

#[test]
fn import_resolve_layers_and_remove() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let tar = tar_of(&[("etc/motd", b"hello\n"), ("bin/tool", b"#!/bin/sh\n")]);
    let changes = vec![
        r#"CMD ["sh"]"#.to_string(),
        "ENV PATH=/bin".to_string(),
        "WORKDIR /srv".to_string(),
    ];
    let img = store
        .import_rootfs(&tar[..], Some("demo"), &changes, "")
        .unwrap();
    assert_eq!(img.repo_tags, ["demo:latest"]);
    assert_eq!(img.size, 16);
    assert_eq!(img.config.config.cmd, Some(vec!["sh".to_string()]));
    assert_eq!(img.config.config.working_dir, "/srv");
    assert_eq!(img.config.os, "linux");
    assert!(matches!(
        img.config.architecture.as_str(),
        "amd64" | "arm64"
    ));
    assert_eq!(img.config.history.len(), 1);
    assert_eq!(
        img.config.history[0].comment.as_deref(),
        Some("Imported from -")
    );
    assert_eq!(
        img.created, 1_690_000_000,
        "dated by the newest file in the tar"
    );

    // The id is the sha256 of the stored config bytes.
    use sha2::Digest;
    let bytes = store.config_bytes(&img).unwrap();
    assert_eq!(
        img.id,
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)))
    );

    for reference in [
        "demo".to_string(),
        "demo:latest".to_string(),
        "docker.io/library/demo:latest".to_string(),
        img.id.clone(),
        img.hex().to_string(),
        img.short_id().to_string(),
        format!("sha256:{}", &img.hex()[..5]),
    ] {
        assert_eq!(store.resolve(&reference).unwrap().id, img.id, "{reference}");
    }
    assert!(matches!(
        store.resolve("demo:v2"),
        Err(ImageError::NotFound(_))
    ));

    let dirs = store.layer_dirs(&img).unwrap();
    assert_eq!(dirs.len(), 1);
    assert_eq!(fs::read(dirs[0].join("etc/motd")).unwrap(), b"hello\n");
    let diff_hex = img.config.rootfs.diff_ids[0]
        .trim_start_matches("sha256:")
        .to_string();
    // Written once: no blob, and the tar replays byte for byte.
    assert_eq!(count(&root.path().join("blobs/sha256")), 0);
    let mut replayed = Vec::new();
    let mut lt = store.layer_tar(&img.config.rootfs.diff_ids[0]).unwrap();
    assert_eq!(lt.len, tar.len() as u64);
    std::io::Read::read_to_end(&mut lt, &mut replayed).unwrap();
    assert_eq!(replayed, tar, "the layer's tar is the tar itself");

    // A second image sharing the layer (same tar, other changes).
    let other = store
        .import_rootfs(
            &tar[..],
            Some("demo:other"),
            &["CMD [\"true\"]".to_string()],
            "custom",
        )
        .unwrap();
    assert_ne!(other.id, img.id);
    assert_eq!(other.config.rootfs.diff_ids, img.config.rootfs.diff_ids);
    assert_eq!(count(&root.path().join("layers")), 1);
    assert_eq!(store.list().unwrap().len(), 2);

    // Removing one keeps the shared layer...
    let removed = store.remove("demo", false, &never).unwrap();
    assert_eq!(
        removed,
        [
            Removed::Untagged("demo:latest".into()),
            Removed::Deleted(img.id.clone())
        ]
    );
    assert!(dirs[0].join("etc/motd").exists());
    assert!(matches!(
        store.resolve(&img.id),
        Err(ImageError::NotFound(_))
    ));
    // ...removing the last user collects it, blob included.
    let removed = store.remove(&other.id, false, &never).unwrap();
    assert_eq!(
        removed,
        [
            Removed::Untagged("demo:other".into()),
            Removed::Deleted(other.id.clone()),
            Removed::Deleted(format!("sha256:{diff_hex}")),
        ]
    );
    assert_eq!(count(&root.path().join("blobs/sha256")), 0);
    assert_eq!(count(&root.path().join("layers")), 0);
    assert_eq!(count(&root.path().join("configs")), 0);
    assert!(store.list().unwrap().is_empty());

    // The JSON shape Docker's DELETE /images returns.
    assert_eq!(
        serde_json::to_string(&removed[0]).unwrap(),
        r#"{"Untagged":"demo:other"}"#
    );
}

#[test]
fn remove_conflicts_and_force() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let img = store
        .import_rootfs(&tar_of(&[("a", b"1")])[..], Some("app:v1"), &[], "")
        .unwrap();
    store.tag("app:v1", "app:v2").unwrap();
    store.tag(&img.id, "registry:5000/team/app").unwrap();
    assert_eq!(
        store.resolve("app:v2").unwrap().repo_tags,
        ["app:v1", "app:v2", "registry:5000/team/app:latest"]
    );
    let used = |id: &str| id == img.id;

    // By id with several tags: 409 unless forced.
    let err = store.remove(img.short_id(), false, &never).unwrap_err();
    assert_eq!(err.status_code(), 409, "{err}");
    // By tag while other tags remain: just untag, even when in use.
    assert_eq!(
        store.remove("app:v2", false, &used).unwrap(),
        [Removed::Untagged("app:v2".into())]
    );
    store
        .remove("registry:5000/team/app", false, &used)
        .unwrap();
    // Last tag and in use: 409; forced: untagged, kept (a container needs it).
    let err = store.remove("app:v1", false, &used).unwrap_err();
    assert!(matches!(err, ImageError::Conflict(_)), "{err}");
    assert_eq!(
        store.remove("app:v1", true, &used).unwrap(),
        [Removed::Untagged("app:v1".into())]
    );
    let dangling = store.resolve(&img.id).unwrap();
    assert!(dangling.repo_tags.is_empty());
    assert!(store.layer_dirs(&dangling).unwrap()[0].join("a").exists());
    // By id while in use: refused even with force.
    assert_eq!(
        store
            .remove(&img.id, true, &used)
            .unwrap_err()
            .status_code(),
        409
    );
    // Once no container uses it, it goes.
    let removed = store.remove(&img.id, false, &never).unwrap();
    assert_eq!(removed.len(), 2);
    assert!(matches!(
        store.remove(&img.id, false, &never),
        Err(ImageError::NotFound(_))
    ));
    assert!(matches!(
        store.tag("nosuch", "x"),
        Err(ImageError::NotFound(_))
    ));
    assert!(matches!(
        store.tag(&img.id, "Bad:Name"),
        Err(ImageError::NotFound(_)) | Err(ImageError::InvalidReference { .. })
    ));
}

#[test]
fn index_survives_reopening_and_is_shared_between_handles() {
    let root = tempfile::tempdir().unwrap();
    let first = Store::open(root.path()).unwrap();
    let second = Store::open(root.path()).unwrap();
    let img = first
        .import_rootfs(&tar_of(&[("x", b"x")])[..], Some("keep:me"), &[], "")
        .unwrap();
    // Another handle (another process, for all it knows) sees the change.
    assert_eq!(second.resolve("keep:me").unwrap().id, img.id);
    second.tag("keep:me", "keep:too").unwrap();
    assert_eq!(first.resolve("keep:too").unwrap().id, img.id);
    drop(first);
    drop(second);
    let reopened = Store::open(root.path()).unwrap();
    let again = reopened.resolve("keep:me").unwrap();
    assert_eq!(again, reopened.resolve(&img.id).unwrap());
    assert_eq!(again.repo_tags, ["keep:me", "keep:too"]);
    assert_eq!(again.size, img.size);
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(root.path().join("repositories.json")).unwrap()).unwrap();
    assert_eq!(index["keep:me"], serde_json::Value::String(img.id.clone()));
}

#[test]
fn concurrent_imports_of_one_tar_end_in_one_blob() {
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(root.path()).unwrap());
    let files: Vec<(String, Vec<u8>)> = (0..200)
        .map(|i| {
            (
                format!("d{}/f{i}", i % 7),
                vec![b'a' + (i % 26) as u8; 1000 + i],
            )
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let tar = Arc::new(tar_of(&refs));
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let store = Arc::clone(&store);
            let tar = Arc::clone(&tar);
            std::thread::spawn(move || {
                store
                    .import_rootfs(&tar[..], Some(&format!("same:t{}", i % 2)), &[], "")
                    .map(|img| img.id)
            })
        })
        .collect();
    let ids: BTreeSet<String> = threads
        .into_iter()
        .map(|t| t.join().unwrap().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "same tar + same changes = same image");
    assert_eq!(count(&root.path().join("blobs/sha256")), 0);
    assert_eq!(
        count(&root.path().join("layers")),
        1,
        "temp layers left behind"
    );
    assert_eq!(
        count(&root.path().join("blobs")),
        1,
        "temp blobs left behind"
    );
    assert_eq!(count(&root.path().join("tmp")), 0, "temps left behind");
    assert_eq!(count(&root.path().join("configs")), 1);
    let img = store.resolve("same:t0").unwrap();
    assert_eq!(img.repo_tags, ["same:t0", "same:t1"]);
}

#[test]
fn busybox_bootstrap_imports_deterministically() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let mut tar = Vec::new();
    busybox_rootfs_tar(&mut tar).unwrap();
    let changes = changes_for(BaseImage::Busybox);
    let img = store
        .import_rootfs(&tar[..], Some("busybox"), &changes, "")
        .unwrap();
    assert_eq!(img.config.config.cmd, Some(vec!["sh".to_string()]));
    assert!(img.size > 500_000, "size {}", img.size);
    let diff = &store.layer_dirs(&img).unwrap()[0];
    let sh = fs::symlink_metadata(diff.join("bin/sh")).unwrap();
    let bb = fs::symlink_metadata(diff.join("bin/busybox")).unwrap();
    assert_eq!(sh.ino(), bb.ino(), "applets are hard links to busybox");
    assert_eq!(
        fs::metadata(diff.join("tmp")).unwrap().mode() & 0o7777,
        0o1777
    );
    assert_eq!(
        fs::metadata(diff.join("root")).unwrap().mode() & 0o7777,
        0o700
    );
    assert!(fs::read_to_string(diff.join("etc/passwd"))
        .unwrap()
        .contains("nobody:x:65534"));
    // `sh` really runs from the layer (static binary, no loader needed).
    let out = std::process::Command::new(diff.join("bin/sh"))
        .args(["-c", "echo from-layer"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from-layer\n");

    let mut again = Vec::new();
    busybox_rootfs_tar(&mut again).unwrap();
    let img2 = store
        .import_rootfs(&again[..], Some("busybox"), &changes, "")
        .unwrap();
    assert_eq!(img2.id, img.id);
    assert_eq!(store.list().unwrap().len(), 1, "no dangling duplicate");
}

#[test]
fn whiteout_layers_import_and_clean_up() {
    // A layer with a whiteout and an opaque dir stacks on a base image; the
    // temp dir (device nodes, xattrs) must still be removable.
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let base = store
        .add_layer(&tar_of(&[("etc/a", b"a"), ("etc/b", b"b")])[..])
        .unwrap();
    let top = store
        .add_layer(
            &tar_of(&[
                ("etc/.wh.a", b""),
                ("var/.wh..wh..opq", b""),
                ("etc/c", b"c"),
            ])[..],
        )
        .unwrap();
    let config = whale::image::ImageConfig {
        architecture: "amd64".into(),
        os: "linux".into(),
        rootfs: whale::image::RootFs {
            kind: "layers".into(),
            diff_ids: vec![base.diff_id.clone(), top.diff_id.clone()],
        },
        ..Default::default()
    };
    let img = store.create_image(&config, Some("stacked:1")).unwrap();
    assert_eq!(img.size, 3);
    let dirs = store.layer_dirs(&img).unwrap();
    assert!(fs::canonicalize(&dirs[0]).unwrap().ends_with(format!(
        "{}/diff",
        top.diff_id.trim_start_matches("sha256:")
    )));
    let wh = fs::symlink_metadata(dirs[0].join("etc/a")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    assert_eq!(
        xattr::get(dirs[0].join("var"), "trusted.overlay.opaque")
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );

    // Unknown layers are refused.
    let mut bad = config.clone();
    bad.rootfs
        .diff_ids
        .push(format!("sha256:{}", "0".repeat(64)));
    assert_eq!(
        store.create_image(&bad, None).unwrap_err().status_code(),
        400
    );
    // Unsafe layers are refused with the entry named, and leave nothing.
    let mut evil = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..11].copy_from_slice(b"../escape.x");
    h.set_size(0);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    evil.append(&h, std::io::empty()).unwrap();
    let err = store
        .import_rootfs(&evil.into_inner().unwrap()[..], Some("evil"), &[], "")
        .unwrap_err();
    assert_eq!(err.status_code(), 400);
    assert!(err.to_string().contains("../escape.x"), "{err}");
    assert_eq!(count(&root.path().join("layers")), 2);
    assert!(!root.path().parent().unwrap().join("escape.x").exists());

    store.remove("stacked:1", false, &never).unwrap();
    assert_eq!(count(&root.path().join("layers")), 0);
    let path = root.path().to_path_buf();
    drop(store);
    root.close().unwrap();
    assert!(!path.exists());
}

#[test]
fn store_is_shareable_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
    assert_send_sync::<ImageError>();
}
