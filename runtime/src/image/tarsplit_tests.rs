//! A layer's tar comes back byte for byte from its tar-split and files,
//! whatever the tar's shape, and a damaged layer fails instead of lying.

use super::super::{extract, Store};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_mtime(1_650_000_000);
    h.set_size(size);
    h
}

/// A tar as other tools write them: PAX records, a long name, hard links,
/// a file given twice, a whiteout in the same layer, a directory replaced
/// by a symlink after a file in it, and 10 KiB record padding at the end.
fn awkward_tar() -> Vec<u8> {
    use tar::EntryType::*;
    let mut b = tar::Builder::new(Vec::new());
    #[allow(clippy::items_after_statements)]
    fn add(
        b: &mut tar::Builder<Vec<u8>>,
        kind: tar::EntryType,
        name: &str,
        data: &[u8],
        link: Option<&str>,
    ) {
        let mut h = header(kind, 0o644, data.len() as u64);
        match link {
            Some(l) => b.append_link(&mut h, name, l).unwrap(),
            None => b.append_data(&mut h, name, data).unwrap(),
        }
    }
    add(&mut b, Directory, "etc/", b"", None);
    add(&mut b, Regular, "etc/first", b"first version", None);
    add(&mut b, Link, "etc/hard", b"", Some("etc/first"));
    add(
        &mut b,
        Regular,
        "etc/first",
        b"second, longer version",
        None,
    );
    add(&mut b, Regular, "etc/gone", b"whited out later", None);
    add(&mut b, Regular, "etc/.wh.gone", b"", None);
    add(&mut b, Directory, "d/", b"", None);
    add(
        &mut b,
        Regular,
        "d/inner",
        b"in a directory that becomes a symlink",
        None,
    );
    add(&mut b, Symlink, "d", b"", Some("/etc"));
    let long = format!("{}/file", "n".repeat(150));
    add(&mut b, Regular, &long, &vec![7u8; 70_000], None);
    b.append_pax_extensions([("SCHILY.xattr.user.note", &b"hi"[..])])
        .unwrap();
    add(&mut b, Regular, "with-xattr", b"x", None);
    add(&mut b, Regular, "empty", b"", None);
    let mut tar = b.into_inner().unwrap();
    let padded = tar.len().div_ceil(10240) * 10240;
    tar.resize(padded, 0);
    tar
}

fn replay(store: &Store, diff_id: &str) -> std::io::Result<Vec<u8>> {
    let mut lt = store.layer_tar(diff_id).unwrap();
    let mut out = Vec::new();
    lt.read_to_end(&mut out)?;
    assert_eq!(out.len() as u64, lt.len);
    Ok(out)
}

#[test]
fn any_tar_replays_byte_for_byte_without_a_blob() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tar = awkward_tar();
    let layer = store.add_layer(&tar[..]).unwrap();
    assert_eq!(
        layer.diff_id,
        format!("sha256:{}", hex::encode(Sha256::digest(&tar)))
    );
    assert_eq!(
        fs::read_dir(dir.path().join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
    let hex = &layer.diff_id[7..];
    let diff = dir.path().join("layers").join(hex).join("diff");
    assert_eq!(
        fs::read(diff.join("etc/first")).unwrap(),
        b"second, longer version"
    );
    assert_eq!(fs::read(diff.join("etc/hard")).unwrap(), b"first version");
    assert!(fs::symlink_metadata(diff.join("d"))
        .unwrap()
        .file_type()
        .is_symlink());
    // The data of the replaced, whited-out and moved-under files was kept.
    let kept = dir.path().join("layers").join(hex).join("tar-split-keep");
    assert_eq!(fs::read_dir(&kept).unwrap().count(), 3);
    assert_eq!(replay(&store, &layer.diff_id).unwrap(), tar);
    // The split is small: headers, not data.
    let split = fs::metadata(dir.path().join("layers").join(hex).join("tar-split.gz")).unwrap();
    assert!(split.len() < 4096, "tar-split of {} bytes", split.len());
}

#[test]
fn a_directory_becomes_a_layer_in_one_pass_with_the_tar_it_would_give() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let src = dir.path().join("upper");
    fs::create_dir_all(src.join("a/b")).unwrap();
    fs::write(src.join("a/b/c"), vec![1u8; 300_000]).unwrap();
    fs::write(src.join("top"), b"top").unwrap();
    fs::hard_link(src.join("top"), src.join("top2")).unwrap();
    std::os::unix::fs::symlink("top", src.join("link")).unwrap();
    let mut tar = Vec::new();
    extract::write_layer_tar(&src, &mut tar).unwrap();
    let layer = store.add_layer_from_dir(&src).unwrap();
    assert_eq!(
        layer.diff_id,
        format!("sha256:{}", hex::encode(Sha256::digest(&tar)))
    );
    assert_eq!(layer.size, 300_003);
    assert_eq!(replay(&store, &layer.diff_id).unwrap(), tar);
    // The same dir again is the same layer, and no temp is left.
    assert_eq!(store.add_layer_from_dir(&src).unwrap(), layer);
    assert_eq!(
        fs::read_dir(dir.path().join("store/tmp")).unwrap().count(),
        0
    );
}

#[test]
fn a_damaged_layer_fails_the_replay_instead_of_giving_another_tar() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tar = awkward_tar();
    let layer = store.add_layer(&tar[..]).unwrap();
    let diff = dir
        .path()
        .join("layers")
        .join(&layer.diff_id[7..])
        .join("diff");
    let f = diff.join("with-xattr");
    fs::write(&f, b"y").unwrap();
    let err = replay(&store, &layer.diff_id).unwrap_err();
    assert!(err.to_string().contains("damaged"), "{err}");
    fs::write(&f, b"").unwrap();
    let err = replay(&store, &layer.diff_id).unwrap_err();
    assert!(err.to_string().contains("shorter than recorded"), "{err}");
    // A symlink planted on a referenced path is not followed.
    fs::remove_file(&f).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", &f).unwrap();
    assert!(replay(&store, &layer.diff_id).is_err());
}

#[test]
fn a_layer_of_an_older_store_is_read_from_its_blob() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tar = awkward_tar();
    let layer = store.add_layer(&tar[..]).unwrap();
    let hex = &layer.diff_id[7..];
    // As an older whale left it: a blob, no tar-split.
    fs::remove_file(dir.path().join("layers").join(hex).join("tar-split.gz")).unwrap();
    fs::write(dir.path().join("blobs/sha256").join(hex), &tar).unwrap();
    assert_eq!(replay(&store, &layer.diff_id).unwrap(), tar);
}

#[test]
fn a_directory_over_the_layer_limit_is_refused_naming_it_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let limits = super::super::Limits {
        layer_bytes: 100_000,
        ..Default::default()
    };
    let store = Store::open_with_limits(&dir.path().join("store"), limits).unwrap();
    let src = dir.path().join("upper");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("big"), vec![0u8; 4 << 20]).unwrap();
    let err = store.add_layer_from_dir(&src).unwrap_err();
    assert!(err.to_string().contains("WHALE_MAX_LAYER_BYTES"), "{err}");
    assert_eq!(
        fs::read_dir(dir.path().join("store/tmp")).unwrap().count(),
        0
    );
    assert_eq!(
        fs::read_dir(dir.path().join("store/layers"))
            .unwrap()
            .count(),
        0
    );
}
