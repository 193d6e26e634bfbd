//! The index is updated in place by changes, reloaded only when another
//! handle changed the disk, and never loses or half-writes a change.

use super::super::{ImageError, Store};
use std::collections::BTreeMap;
use std::fs;
use std::sync::Arc;

fn tar_with(name: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_mode(0o644);
    h.set_mtime(1_650_000_000);
    h.set_size(1);
    b.append_data(&mut h, name, &b"x"[..]).unwrap();
    b.into_inner().unwrap()
}

fn import(store: &Store, name: &str, tag: Option<&str>) -> String {
    store
        .import_rootfs(&tar_with(name)[..], tag, &[], "")
        .unwrap()
        .id
}

fn tags_on_disk(root: &std::path::Path) -> BTreeMap<String, String> {
    serde_json::from_slice(&fs::read(root.join("repositories.json")).unwrap()).unwrap()
}

#[test]
fn a_change_does_not_reread_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let ids: Vec<String> = (0..30)
        .map(|i| import(&store, &format!("f{i}"), None))
        .collect();
    // Spoil one config in place: its directory's mtime does not move, so
    // only a full reload would read it (and drop the image it cannot parse).
    let spoiled = &ids[7];
    let p = dir
        .path()
        .join("configs")
        .join(format!("{}.json", &spoiled[7..]));
    fs::write(&p, b"not json").unwrap();
    let new = import(&store, "new", Some("new:1"));
    store.tag(&ids[3], "three:1").unwrap();
    store.remove(&ids[4], false, &|_| false).unwrap();
    let listed: Vec<String> = store.list().unwrap().into_iter().map(|i| i.id).collect();
    assert!(listed.contains(spoiled), "the index was read again in full");
    assert!(listed.contains(&new));
    assert!(!listed.contains(&ids[4]));
    assert_eq!(listed.len(), 30);
    assert_eq!(store.resolve("three:1").unwrap().id, ids[3]);
    assert_eq!(store.resolve("new:1").unwrap().repo_tags, ["new:1"]);
    // A fresh handle reads the disk, and the disk says the same (the
    // spoiled config aside).
    let other = Store::open(dir.path()).unwrap();
    assert_eq!(other.list().unwrap().len(), 29);
    assert_eq!(other.resolve("three:1").unwrap().id, ids[3]);
}

#[test]
fn concurrent_changes_from_two_handles_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(Store::open(dir.path()).unwrap());
    let b = Arc::new(Store::open(dir.path()).unwrap());
    let base = import(&a, "base", Some("base:1"));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = if t % 2 == 0 { a.clone() } else { b.clone() };
            let base = base.clone();
            std::thread::spawn(move || {
                for i in 0..15 {
                    store.tag(&base, &format!("t{t}:{i}")).unwrap();
                    import(&store, &format!("t{t}-{i}"), Some(&format!("img{t}:{i}")));
                    if i % 3 == 0 {
                        store
                            .remove(&format!("t{t}:{i}"), false, &|_| false)
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let expected: usize = 1 + 4 * (15 - 5) + 4 * 15;
    assert_eq!(tags_on_disk(dir.path()).len(), expected);
    for s in [&a, &b] {
        let img = s.resolve("base:1").unwrap();
        assert_eq!(img.repo_tags.len(), 1 + 4 * 10, "{:?}", img.repo_tags);
        assert_eq!(s.list().unwrap().len(), 1 + 4 * 15);
        assert_eq!(s.resolve("img3:14").unwrap().repo_tags, ["img3:14"]);
        assert!(matches!(
            s.resolve("t0:3").unwrap_err(),
            ImageError::NotFound(_)
        ));
    }
}

#[test]
fn a_crash_mid_write_leaves_the_old_index() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let store = Store::open(dir.path()).unwrap();
        import(&store, "a", Some("a:1"))
    };
    let before = fs::read(dir.path().join("repositories.json")).unwrap();
    // A writer killed before its rename leaves only its temp file.
    fs::write(
        dir.path().join(".repositories.json.tmp.999999.0"),
        &before[..before.len() / 2],
    )
    .unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.resolve("a:1").unwrap().id, id);
    // A refused change changes nothing, on disk or in memory.
    let err = store
        .create_image_from_bytes(
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#,
            Some("b:1"),
        )
        .unwrap_err();
    assert_eq!(err.status_code(), 400, "{err}");
    assert!(store.resolve("b:1").is_err());
    assert_eq!(store.list().unwrap().len(), 1);
    assert_eq!(
        fs::read(dir.path().join("repositories.json")).unwrap(),
        before
    );
}

#[test]
fn the_layer_past_the_limit_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let layer = store.add_layer(&tar_with("f")[..]).unwrap();
    let mut config = store.resolve(&import(&store, "f", None)).unwrap().config;
    config.rootfs.diff_ids = vec![layer.diff_id.clone(); super::super::MAX_IMAGE_LAYERS];
    store.create_image(&config, Some("deep:ok")).unwrap();
    config.rootfs.diff_ids.push(layer.diff_id);
    let err = store.create_image(&config, Some("deep:no")).unwrap_err();
    assert_eq!(err.status_code(), 400);
    let msg = err.to_string();
    assert!(
        msg.contains("500 layers") && msg.contains("limit is 499"),
        "{msg}"
    );
    assert!(store.resolve("deep:no").is_err());
}
