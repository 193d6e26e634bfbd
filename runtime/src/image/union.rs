//! `docker export`: the union of a container's layers as one tar, by
//! overlay's rules, read from the layer dirs (no mount needed).

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Write the union of `layers` (top-most first, overlay semantics:
/// whiteouts hide, opaque dirs stop, upper entries win) as one tar.
pub fn write_union_tar(layers: &[PathBuf], out: impl Write) -> io::Result<()> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let mut links = HashMap::new();
    union_dir(&mut tar, layers, Path::new(""), &mut links)?;
    tar.into_inner()?.flush()
}

fn is_whiteout(m: &fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

fn union_dir(
    tar: &mut tar::Builder<impl Write>,
    layers: &[PathBuf],
    rel: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> io::Result<()> {
    // Which layers contribute to this directory: from the top down to the
    // first one where it is opaque or not a directory.
    let mut contributing = Vec::new();
    for l in layers {
        let p = l.join(rel);
        match fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {
                contributing.push(l.clone());
                if xattr::get(&p, "trusted.overlay.opaque")
                    .ok()
                    .flatten()
                    .as_deref()
                    == Some(b"y")
                {
                    break;
                }
            }
            Ok(_) => break,
            Err(_) => {}
        }
    }
    let mut names: BTreeMap<OsString, ()> = BTreeMap::new();
    for l in &contributing {
        if let Ok(rd) = fs::read_dir(l.join(rel)) {
            for e in rd.flatten() {
                names.insert(e.file_name(), ());
            }
        }
    }
    for name in names.keys() {
        let child = rel.join(name);
        // The top-most layer having the name decides what it is.
        let Some((top_idx, m)) = contributing
            .iter()
            .enumerate()
            .find_map(|(i, l)| fs::symlink_metadata(l.join(&child)).ok().map(|m| (i, m)))
        else {
            continue;
        };
        if is_whiteout(&m) {
            continue;
        }
        let abs = contributing[top_idx].join(&child);
        if m.is_dir() {
            tar.append_path_with_name(&abs, &child)?;
            union_dir(tar, &contributing[top_idx..], &child, links)?;
        } else if m.is_file() && m.nlink() > 1 {
            // Hard links (busybox's applets) travel once, then as links.
            match links.get(&(m.dev(), m.ino())) {
                Some(first) => {
                    let mut h = tar::Header::new_gnu();
                    h.set_metadata(&m);
                    h.set_entry_type(tar::EntryType::Link);
                    h.set_size(0);
                    tar.append_link(&mut h, &child, first)?;
                }
                None => {
                    links.insert((m.dev(), m.ino()), child.clone());
                    tar.append_path_with_name(&abs, &child)?;
                }
            }
        } else if m.is_file() || m.file_type().is_symlink() {
            tar.append_path_with_name(&abs, &child)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_tar_follows_overlay_rules() {
        let d = tempfile::tempdir().unwrap();
        let (top, low) = (d.path().join("top"), d.path().join("low"));
        fs::create_dir_all(low.join("etc")).unwrap();
        fs::create_dir_all(low.join("opq")).unwrap();
        fs::write(low.join("etc/gone"), "x").unwrap();
        fs::write(low.join("etc/kept"), "low").unwrap();
        fs::write(low.join("opq/hidden"), "x").unwrap();
        fs::create_dir_all(top.join("etc")).unwrap();
        fs::create_dir_all(top.join("opq")).unwrap();
        fs::write(top.join("etc/kept"), "top").unwrap();
        fs::write(top.join("opq/new"), "n").unwrap();
        fs::hard_link(top.join("opq/new"), top.join("opq/new2")).unwrap();
        xattr::set(top.join("opq"), "trusted.overlay.opaque", b"y").unwrap();
        super::super::extract::make_whiteout(&top.join("etc/gone")).unwrap();
        let mut buf = Vec::new();
        write_union_tar(&[top, low], &mut buf).unwrap();
        let mut a = tar::Archive::new(&buf[..]);
        let mut seen = BTreeMap::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let mut s = String::new();
            io::Read::read_to_string(&mut e, &mut s).unwrap();
            seen.insert(e.path().unwrap().display().to_string(), s);
        }
        let names: Vec<&str> = seen.keys().map(String::as_str).collect();
        assert_eq!(names, ["etc", "etc/kept", "opq", "opq/new", "opq/new2"]);
        assert_eq!(seen["opq/new2"], "", "the second name is a hard link entry");
        assert_eq!(seen["etc/kept"], "top");
    }
}
