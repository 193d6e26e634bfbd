//! Tests of `extract`: hostile entries refused, metadata kept, round trips.

use super::*;
use std::os::unix::fs::FileTypeExt;

/// A raw header whose name is written byte for byte, bypassing the tar
/// crate's own refusal of `..` and absolute paths.
fn raw_header(name: &[u8], kind: EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(size);
    h.set_mtime(1_700_000_000);
    h
}

struct Tb(tar::Builder<Vec<u8>>);
impl Tb {
    fn new() -> Self {
        Tb(tar::Builder::new(Vec::new()))
    }
    fn file(mut self, name: &str, data: &[u8]) -> Self {
        let mut h = raw_header(name.as_bytes(), EntryType::Regular, data.len() as u64);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }
    fn dir(mut self, name: &str) -> Self {
        let mut h = raw_header(name.as_bytes(), EntryType::Directory, 0);
        h.set_mode(0o755);
        h.set_cksum();
        self.0.append(&h, io::empty()).unwrap();
        self
    }
    fn link(mut self, name: &str, kind: EntryType, target: &str) -> Self {
        let mut h = raw_header(name.as_bytes(), kind, 0);
        h.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
        h.set_cksum();
        self.0.append(&h, io::empty()).unwrap();
        self
    }
    fn node(mut self, name: &str, kind: EntryType) -> Self {
        let mut h = raw_header(name.as_bytes(), kind, 0);
        h.set_cksum();
        self.0.append(&h, io::empty()).unwrap();
        self
    }
    fn bytes(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

fn refused(tar: Vec<u8>, entry: &str, why: &str) {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let dest = dir.path().join("dest");
    fs::create_dir(&dest).unwrap();
    match extract_layer(&tar[..], &dest) {
        Err(ExtractError::Unsafe { entry: e, reason }) => {
            assert_eq!(e, entry);
            assert!(reason.contains(why), "reason {reason:?} lacks {why:?}");
        }
        other => panic!("expected a refusal of {entry}, got {other:?}"),
    }
    assert_eq!(
        fs::read_dir(&outside).unwrap().count(),
        0,
        "wrote outside the target"
    );
}

#[test]
fn refuses_dotdot() {
    refused(
        Tb::new().file("../outside/x", b"evil").bytes(),
        "../outside/x",
        "`..`",
    );
    refused(
        Tb::new().file("a/../../outside/x", b"e").bytes(),
        "a/../../outside/x",
        "`..`",
    );
}

#[test]
fn strips_leading_slash_and_dot() {
    let dir = tempfile::tempdir().unwrap();
    let tar = Tb::new()
        .file("/etc/abs", b"1")
        .file("./etc/dot", b"2")
        .bytes();
    extract_layer(&tar[..], dir.path()).unwrap();
    assert_eq!(fs::read(dir.path().join("etc/abs")).unwrap(), b"1");
    assert_eq!(fs::read(dir.path().join("etc/dot")).unwrap(), b"2");
}

#[test]
fn refuses_path_through_symlink() {
    // The symlink points at the sibling "outside" dir; writing through it escapes.
    refused(
        Tb::new()
            .link("esc", EntryType::Symlink, "../outside")
            .file("esc/x", b"evil")
            .bytes(),
        "esc/x",
        "symlink \"esc\"",
    );
    refused(
        Tb::new()
            .link("abs", EntryType::Symlink, "/")
            .dir("abs/tmp")
            .bytes(),
        "abs/tmp",
        "symlink \"abs\"",
    );
}

#[test]
fn refuses_escaping_hardlinks() {
    refused(
        Tb::new()
            .link("h", EntryType::Link, "../outside/secret")
            .bytes(),
        "h",
        "`..`",
    );
    refused(
        Tb::new()
            .link("s", EntryType::Symlink, "../outside")
            .link("h", EntryType::Link, "s/secret")
            .bytes(),
        "h",
        "symlink \"s\"",
    );
    refused(
        Tb::new().link("h", EntryType::Link, "missing").bytes(),
        "h",
        "not in this layer",
    );
    refused(
        Tb::new().dir("d").link("h", EntryType::Link, "d").bytes(),
        "h",
        "directory",
    );
}

#[test]
fn refuses_devices_and_fifos() {
    refused(
        Tb::new().node("dev/sda", EntryType::Block).bytes(),
        "dev/sda",
        "device",
    );
    refused(
        Tb::new().node("dev/mem", EntryType::Char).bytes(),
        "dev/mem",
        "device",
    );
    refused(
        Tb::new().node("pipe", EntryType::Fifo).bytes(),
        "pipe",
        "fifo",
    );
}

#[test]
fn replaced_symlink_is_not_followed() {
    // A later file entry over an earlier symlink replaces the link.
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("dest");
    fs::create_dir(&dest).unwrap();
    fs::write(dir.path().join("victim"), b"keep").unwrap();
    let tar = Tb::new()
        .link("f", EntryType::Symlink, "../victim")
        .file("f", b"new")
        .bytes();
    extract_layer(&tar[..], &dest).unwrap();
    assert_eq!(fs::read(dir.path().join("victim")).unwrap(), b"keep");
    assert_eq!(fs::read(dest.join("f")).unwrap(), b"new");
    assert!(fs::symlink_metadata(dest.join("f")).unwrap().is_file());
}

#[test]
fn whiteouts_and_opaque_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let tar = Tb::new()
        .dir("etc")
        .file("etc/.wh.gone", b"")
        .dir("var/cache")
        .file("var/cache/.wh..wh..opq", b"")
        .file("var/.wh..wh.plnk", b"")
        .bytes();
    extract_layer(&tar[..], dir.path()).unwrap();
    let wh = fs::symlink_metadata(dir.path().join("etc/gone")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert!(!dir.path().join("etc/.wh.gone").exists());
    assert_eq!(
        xattr::get(
            dir.path().join("var/cache"),
            crate::linux::userns::opaque_xattr()
        )
        .unwrap()
        .as_deref(),
        Some(&b"y"[..])
    );
    assert!(fs::symlink_metadata(dir.path().join("var/.wh..wh.plnk")).is_err());
    assert!(fs::symlink_metadata(dir.path().join("var/cache/.wh..wh..opq")).is_err());
}

#[test]
fn tar_smuggled_overlay_xattrs_are_dropped() {
    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([
        ("SCHILY.xattr.trusted.overlay.opaque", &b"y"[..]),
        ("SCHILY.xattr.user.note", &b"hi"[..]),
    ])
    .unwrap();
    let mut h = raw_header(b"d", EntryType::Directory, 0);
    h.set_cksum();
    b.append(&h, io::empty()).unwrap();
    let tar = b.into_inner().unwrap();
    let dir = tempfile::tempdir().unwrap();
    extract_layer(&tar[..], dir.path()).unwrap();
    let d = dir.path().join("d");
    assert_eq!(
        xattr::get(&d, crate::linux::userns::opaque_xattr()).unwrap(),
        None
    );
    assert_eq!(
        xattr::get(&d, "user.note").unwrap().as_deref(),
        Some(&b"hi"[..])
    );
}

#[test]
fn preserves_metadata_and_roundtrips_through_write_layer_tar() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(EntryType::Directory);
    h.set_mode(0o1777);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h.set_size(0);
    b.append_data(&mut h, "tmp", io::empty()).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(EntryType::Regular);
    h.set_mode(0o4755);
    h.set_uid(1000);
    h.set_gid(1001);
    h.set_mtime(1_500_000_000);
    h.set_size(5);
    b.append_data(&mut h, "bin/prog", &b"hello"[..]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(EntryType::Link);
    h.set_mtime(1_500_000_000);
    h.set_size(0);
    b.append_link(&mut h, "bin/alias", "bin/prog").unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(EntryType::Symlink);
    h.set_mtime(1_400_000_000);
    h.set_size(0);
    b.append_link(&mut h, "bin/sym", "prog").unwrap();
    b.append_data(
        &mut raw_header(b"gone-file", EntryType::Regular, 0),
        ".wh.gone",
        io::empty(),
    )
    .unwrap();
    let tar = b.into_inner().unwrap();

    let stats = extract_layer(&tar[..], &src).unwrap();
    assert_eq!(stats.size, 5);
    assert_eq!(stats.newest_mtime, 1_700_000_000);
    let m = fs::metadata(src.join("tmp")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o1777);
    assert_eq!(m.mtime(), 1_600_000_000);
    let p = fs::metadata(src.join("bin/prog")).unwrap();
    assert_eq!(p.mode() & 0o7777, 0o4755);
    assert_eq!(p.mtime(), 1_500_000_000);
    if crate::linux::fs::euid_is_root() {
        assert_eq!((p.uid(), p.gid()), (1000, 1001));
    }
    let a = fs::metadata(src.join("bin/alias")).unwrap();
    assert_eq!(a.ino(), p.ino(), "hard link not preserved");
    assert_eq!(
        fs::read_link(src.join("bin/sym")).unwrap(),
        Path::new("prog")
    );
    assert_eq!(
        fs::symlink_metadata(src.join("bin/sym")).unwrap().mtime(),
        1_400_000_000
    );
    xattr::set(src.join("tmp"), crate::linux::userns::opaque_xattr(), b"y").unwrap();

    // Back to a tar, twice: identical bytes, and it unpacks to the same tree.
    let mut t1 = Vec::new();
    let s1 = write_layer_tar(&src, &mut t1).unwrap();
    let mut t2 = Vec::new();
    write_layer_tar(&src, &mut t2).unwrap();
    assert_eq!(t1, t2, "layer tar is not deterministic");
    assert!(s1.skipped.is_empty());
    let names: Vec<String> = tar::Archive::new(&t1[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "bin",
            "bin/alias",
            "bin/prog",
            "bin/sym",
            ".wh.gone",
            "tmp",
            "tmp/.wh..wh..opq"
        ]
    );
    let copy = dir.path().join("copy");
    fs::create_dir(&copy).unwrap();
    extract_layer(&t1[..], &copy).unwrap();
    assert!(fs::symlink_metadata(copy.join("gone"))
        .unwrap()
        .file_type()
        .is_char_device());
    assert_eq!(
        xattr::get(copy.join("tmp"), crate::linux::userns::opaque_xattr())
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );
    let p2 = fs::metadata(copy.join("bin/prog")).unwrap();
    assert_eq!(
        p2.ino(),
        fs::metadata(copy.join("bin/alias")).unwrap().ino()
    );
    assert_eq!(p2.mode() & 0o7777, 0o4755);
}
