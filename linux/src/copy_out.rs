//! `GET|HEAD /containers/{id}/archive` and `GET /containers/{id}/export`
//! (`whale cp CONTAINER:SRC DEST`, `whale export`): a tar of a container's
//! files as the container sees them, made where no racing process in the
//! container can point it at the host's files.
//!
//! It runs in a short-lived process of its own (`whale copy-out SPEC`,
//! spawned by the daemon, single-threaded), because it changes its root the
//! way `copy-in` does: into a running container's root (`/proc/PID/root`,
//! with the container's own mounts), or into its overlay mounted in a
//! private mount namespace when it is not running; for an export, into a
//! detached copy of the overlay alone (no mounts over it). Inside that root
//! the path is opened with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`
//! and the tree is walked with `*at` calls on directory fds that never
//! follow a symlink: a directory swapped for a symlink mid-walk is read as
//! the symlink it has become.
//!
//! Output on stdout: one JSON line ([`Head`]), then the tar, if asked for.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use serde::{Deserialize, Serialize};

pub use super::container_root::Target;
use super::container_root::{enter, View};
use super::openat2::{open_entry, open_in_root, read_link_at};

/// Linux's limit on symlinks followed while resolving one path.
const MAX_SYMLINKS: usize = 40;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CopyOut {
    pub what: What,
    pub target: Target,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum What {
    /// The file or directory at `path` (a trailing `/` or `/.` follows a
    /// final symlink); its stat, and its tar when `tar`.
    Path { path: String, tar: bool },
    /// The whole root file system, without what is mounted over it.
    Export,
}

/// The first line of the helper's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Head {
    Stat(PathStat),
    NotFound,
    Failed(String),
}

/// What Docker's `X-Docker-Container-Path-Stat` says, in the kernel's words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathStat {
    /// The requested path's last component (`/` for the root).
    pub name: String,
    pub size: u64,
    /// `st_mode`.
    pub mode: u32,
    pub mtime: i64,
    pub mtime_nsec: i64,
    /// For a symlink: where it leads, resolved inside the container.
    pub link_target: String,
}

/// `whale copy-out SPEC-JSON`. Returns the exit code; what went wrong is
/// on stderr (and in the [`Head`] when it happened before the tar).
pub fn main(args: Vec<OsString>) -> i32 {
    let Some(spec) = crate::copy_in::helper_spec::<CopyOut>(&args, "copy-out", "> archive.tar")
    else {
        return 1;
    };
    let stdout = io::stdout().lock();
    let mut out = io::BufWriter::with_capacity(256 * 1024, stdout);
    let code = match run(&spec, &mut out) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("whale copy-out: {e}");
            1
        }
    };
    if let Err(e) = out.flush() {
        eprintln!("whale copy-out: {e}");
        return 1;
    }
    code
}

fn write_head(out: &mut impl Write, head: &Head) -> io::Result<()> {
    let mut line = serde_json::to_vec(head).map_err(io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)
}

fn run(spec: &CopyOut, out: &mut impl Write) -> io::Result<()> {
    let export = matches!(spec.what, What::Export);
    let view = if export { View::RootMount } else { View::Files };
    if let Err(e) = enter(&spec.target, view) {
        let msg = format!("cannot enter the container's file system: {e}");
        write_head(out, &Head::Failed(msg.clone()))?;
        return Err(io::Error::other(msg));
    }
    let root = File::open("/")?;
    match &spec.what {
        What::Export => {
            let meta = root.metadata()?;
            write_head(out, &Head::Stat(stat_of("/", &meta, String::new())))?;
            let mut t = Tarrer::new(out);
            t.children(root.as_fd(), Path::new(""))?;
            t.finish()
        }
        What::Path { path, tar } => {
            let found = match resolve(root.as_fd(), path) {
                Ok(Some(f)) => f,
                Ok(None) => return write_head(out, &Head::NotFound),
                Err(e) => {
                    let msg = format!("resolving {path}: {e}");
                    write_head(out, &Head::Failed(msg.clone()))?;
                    return Err(io::Error::other(msg));
                }
            };
            let link_target = if found.meta.file_type().is_symlink() {
                link_target(root.as_fd(), path)
            } else {
                String::new()
            };
            write_head(
                out,
                &Head::Stat(stat_of(&found.name, &found.meta, link_target)),
            )?;
            if !*tar {
                return Ok(());
            }
            let top = tar_top(&found.name);
            let mut t = Tarrer::new(out);
            t.entry(found.dir.as_fd(), &found.entry, &top)?;
            t.finish()
        }
    }
}

/// The name of the top entry of a path's tar: its base name, `.` for the
/// root and for a path ending in `/.` (Docker's "the directory's contents").
fn tar_top(name: &str) -> PathBuf {
    PathBuf::from(if name == "/" { "." } else { name })
}

fn stat_of(name: &str, m: &fs::Metadata, link_target: String) -> PathStat {
    PathStat {
        name: name.to_string(),
        size: m.len(),
        mode: m.mode(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
        link_target,
    }
}

/// An entry found: `entry` in the directory `dir` (`.` for `dir` itself).
struct Found {
    dir: OwnedFd,
    entry: OsString,
    name: String,
    meta: fs::Metadata,
}

/// Resolve `path` in the root `root`. A trailing `/` or `/.` (or a last
/// component `..`) follows a final symlink; otherwise the last component
/// is the entry itself. `Ok(None)` when nothing is there.
fn resolve(root: BorrowedFd<'_>, path: &str) -> io::Result<Option<Found>> {
    let follow_last = path.ends_with('/') || path.ends_with("/.") || path == ".";
    let mut trimmed = path;
    loop {
        let t = trimmed
            .strip_suffix("/.")
            .or_else(|| trimmed.strip_suffix('/'))
            .unwrap_or(trimmed);
        if t == trimmed {
            break;
        }
        trimmed = t;
    }
    let p = Path::new(trimmed);
    let last = p.file_name();
    let name = if path.ends_with("/.") {
        ".".to_string()
    } else {
        Path::new(path)
            .components()
            .rfind(|c| matches!(c, std::path::Component::Normal(_)))
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_else(|| "/".to_string())
    };
    let absent =
        |e: &io::Error| matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR));
    let (dir, entry) = match last {
        Some(last) if !follow_last => {
            let parent = p.parent().unwrap_or(Path::new("/"));
            match open_in_root(root, parent, OFlag::O_PATH | OFlag::O_DIRECTORY) {
                Ok(fd) => (fd, last.to_os_string()),
                Err(e) if absent(&e) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        _ => {
            let whole = if trimmed.is_empty() { "/" } else { trimmed };
            match open_in_root(root, Path::new(whole), OFlag::O_PATH | OFlag::O_DIRECTORY) {
                Ok(fd) => (fd, OsString::from(".")),
                Err(e) if absent(&e) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    };
    let meta = match entry_meta(dir.as_fd(), &entry) {
        Ok(m) => m,
        Err(e) if absent(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(Found {
        dir,
        entry,
        name,
        meta,
    }))
}

/// The entry's own metadata (a symlink's, not its target's).
fn entry_meta(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<fs::Metadata> {
    let fd = if name == OsStr::new(".") {
        dir.try_clone_to_owned()?
    } else {
        open_entry(dir, name, OFlag::O_PATH)?
    };
    File::from(fd).metadata()
}

/// Where the symlink at `path` leads, as an absolute path inside the root
/// (for the stat header only: nothing is opened by it). Resolved one
/// component at a time with `*at` calls, `..` stopping at the root.
fn link_target(root: BorrowedFd<'_>, path: &str) -> String {
    let mut pending: Vec<OsString> = comps(Path::new(path));
    pending.reverse();
    let mut cur: Vec<OsString> = Vec::new();
    let mut hops = 0;
    while let Some(c) = pending.pop() {
        if c == ".." {
            cur.pop();
            continue;
        }
        let dir_path: PathBuf = std::iter::once(OsString::from("/"))
            .chain(cur.iter().cloned())
            .collect();
        let Ok(dir) = open_in_root(root, &dir_path, OFlag::O_PATH | OFlag::O_DIRECTORY) else {
            break;
        };
        match read_link_at(dir.as_fd(), &c) {
            Ok(t) if hops < MAX_SYMLINKS => {
                hops += 1;
                if Path::new(&t).is_absolute() {
                    cur.clear();
                }
                let mut t = comps(Path::new(&t));
                t.reverse();
                pending.extend(t);
            }
            _ => cur.push(c),
        }
    }
    let p: PathBuf = cur.iter().collect();
    format!("/{}", p.display())
}

fn comps(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_os_string()),
            std::path::Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// A tar made from directory fds.
struct Tarrer<W: Write> {
    tar: tar::Builder<W>,
    /// Hard links travel once, then as links to the first name.
    links: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> Tarrer<W> {
    fn new(out: W) -> Self {
        let mut tar = tar::Builder::new(out);
        tar.follow_symlinks(false);
        Tarrer {
            tar,
            links: HashMap::new(),
        }
    }

    fn finish(self) -> io::Result<()> {
        self.tar.into_inner()?.flush()
    }

    /// Every entry of the directory `dir`, sorted, under `prefix`.
    fn children(&mut self, dir: BorrowedFd<'_>, prefix: &Path) -> io::Result<()> {
        let mut d = nix::dir::Dir::openat(
            Some(dir.as_raw_fd()),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?;
        let mut names: Vec<OsString> = d
            .iter()
            .filter_map(Result::ok)
            .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
            .filter(|n| n != "." && n != "..")
            .collect();
        names.sort();
        for n in names {
            self.entry(dir, &n, &prefix.join(&n))?;
        }
        Ok(())
    }

    /// The entry `name` of `dir` as `tar_name`, and below it for a directory.
    /// An entry that vanishes or changes type while we look is left out.
    fn entry(&mut self, dir: BorrowedFd<'_>, name: &OsStr, tar_name: &Path) -> io::Result<()> {
        let Ok(meta) = entry_meta(dir, name) else {
            return Ok(());
        };
        let ft = meta.file_type();
        if ft.is_dir() {
            let fd = if name == OsStr::new(".") {
                open_in_root(dir, Path::new("."), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            } else {
                open_entry(dir, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            };
            let Ok(fd) = fd else { return Ok(()) };
            let meta = File::from(fd.try_clone()?).metadata()?;
            let mut h = header(&meta, tar::EntryType::Directory);
            self.tar.append_data(&mut h, tar_name, io::empty())?;
            return self.children(fd.as_fd(), tar_name);
        }
        if ft.is_file() {
            let Ok(fd) = open_entry(
                dir,
                name,
                OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY,
            ) else {
                return Ok(());
            };
            let file = File::from(fd);
            let meta = file.metadata()?;
            if !meta.is_file() {
                return Ok(());
            }
            if meta.nlink() > 1 {
                if let Some(first) = self.links.get(&(meta.dev(), meta.ino())) {
                    let mut h = header(&meta, tar::EntryType::Link);
                    h.set_size(0);
                    let first = first.clone();
                    return self.tar.append_link(&mut h, tar_name, first);
                }
                self.links
                    .insert((meta.dev(), meta.ino()), tar_name.to_path_buf());
            }
            let mut h = header(&meta, tar::EntryType::Regular);
            let size = meta.len();
            // Exactly `size` bytes, whatever the file does meanwhile.
            let data = file.take(size).chain(io::repeat(0)).take(size);
            return self.tar.append_data(&mut h, tar_name, data);
        }
        if ft.is_symlink() {
            let Ok(target) = read_link_at(dir, name) else {
                return Ok(());
            };
            let mut h = header(&meta, tar::EntryType::Symlink);
            return self.tar.append_link(&mut h, tar_name, target);
        }
        let kind = if ft.is_fifo() {
            tar::EntryType::Fifo
        } else if ft.is_char_device() {
            tar::EntryType::Char
        } else if ft.is_block_device() {
            tar::EntryType::Block
        } else {
            return Ok(()); // sockets do not travel in tars
        };
        let mut h = header(&meta, kind);
        let rdev = meta.rdev();
        h.set_device_major(((rdev >> 8) & 0xfff) as u32)?;
        h.set_device_minor(((rdev & 0xff) | ((rdev >> 12) & 0xfff00)) as u32)?;
        self.tar.append_data(&mut h, tar_name, io::empty())
    }
}

fn header(meta: &fs::Metadata, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
    h.set_entry_type(kind);
    if kind != tar::EntryType::Regular {
        h.set_size(0);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, File) {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::create_dir_all(r.join("bin")).unwrap();
        fs::write(r.join("etc/kept"), "kept").unwrap();
        fs::write(r.join("bin/busybox"), "bb").unwrap();
        fs::hard_link(r.join("bin/busybox"), r.join("bin/ls")).unwrap();
        symlink("/bin/busybox", r.join("bin/sh")).unwrap();
        symlink("../../../../etc", r.join("bin/up")).unwrap();
        let root = File::open(r).unwrap();
        (t, root)
    }

    fn tar_of(root: &File, path: &str) -> Vec<(String, String)> {
        let f = resolve(root.as_fd(), path).unwrap().unwrap();
        let top = tar_top(&f.name);
        let mut buf = Vec::new();
        let mut t = Tarrer::new(&mut buf);
        t.entry(f.dir.as_fd(), &f.entry, &top).unwrap();
        t.finish().unwrap();
        let mut a = tar::Archive::new(&buf[..]);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let mut s = String::new();
                let _ = e.read_to_string(&mut s);
                let link = e
                    .link_name()
                    .unwrap()
                    .map(|l| format!("->{}", l.display()))
                    .unwrap_or_default();
                (e.path().unwrap().display().to_string(), s + &link)
            })
            .collect()
    }

    #[test]
    fn tars_a_directory_under_its_base_name() {
        let (_t, root) = tree();
        let got = tar_of(&root, "/bin");
        assert_eq!(
            got,
            [
                ("bin".to_string(), String::new()),
                ("bin/busybox".into(), "bb".into()),
                ("bin/ls".into(), "->bin/busybox".into()),
                ("bin/sh".into(), "->/bin/busybox".into()),
                ("bin/up".into(), "->../../../../etc".into()),
            ]
        );
        assert_eq!(
            tar_of(&root, "/etc/kept"),
            [("kept".to_string(), "kept".to_string())]
        );
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let (_t, root) = tree();
        // Through a symlink in the middle, and `..` past the root.
        assert_eq!(
            tar_of(&root, "/bin/up/kept"),
            [("kept".to_string(), "kept".to_string())]
        );
        assert_eq!(tar_of(&root, "/../../etc/kept")[0].1, "kept");
        // The last symlink itself, unless the path ends in `/`.
        let f = resolve(root.as_fd(), "/bin/up").unwrap().unwrap();
        assert!(f.meta.file_type().is_symlink());
        assert_eq!(link_target(root.as_fd(), "/bin/up"), "/etc");
        assert_eq!(link_target(root.as_fd(), "/bin/sh"), "/bin/busybox");
        let got = tar_of(&root, "/bin/up/");
        assert_eq!(got[0].0, "up");
        assert_eq!(got[1], ("up/kept".to_string(), "kept".to_string()));
        assert!(resolve(root.as_fd(), "/nope").unwrap().is_none());
        assert!(resolve(root.as_fd(), "/etc/kept/x").unwrap().is_none());
        assert!(resolve(root.as_fd(), "/nope/x").unwrap().is_none());
    }

    #[test]
    fn the_root_is_a_directory_named_slash() {
        let (_t, root) = tree();
        let f = resolve(root.as_fd(), "/").unwrap().unwrap();
        assert_eq!(f.name, "/");
        assert!(f.meta.is_dir());
        let names: Vec<String> = tar_of(&root, "/").into_iter().map(|e| e.0).collect();
        assert!(names.contains(&"etc/kept".to_string()), "{names:?}");
    }

    #[test]
    fn the_spec_and_head_travel_as_json() {
        let s = CopyOut {
            what: What::Path {
                path: "/tmp".into(),
                tar: true,
            },
            target: Target::Running { pid: 42 },
        };
        let back: CopyOut = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert!(matches!(back.target, Target::Running { pid: 42 }));
        let mut line = Vec::new();
        write_head(&mut line, &Head::NotFound).unwrap();
        assert!(line.ends_with(b"\n"));
        let h: Head = serde_json::from_slice(&line).unwrap();
        assert_eq!(h, Head::NotFound);
    }
}
