//! `PUT /containers/{id}/archive` (`whale cp SRC CONTAINER:DEST`): unpack a
//! tar into a container's file system as the container sees it.
//!
//! It runs in a short-lived process of its own (`whale copy-in SPEC`,
//! spawned by the daemon, single-threaded), because it changes its root:
//! into a running container's root (`/proc/PID/root`, with the container's
//! own mounts), or, for a container that is not running, into its overlay
//! mounted in a private mount namespace that dies with the process (nothing
//! ever shows in the host's mount table). Inside that root no entry of the
//! archive, `..` or an absolute symlink, can reach the host's files.

use std::ffi::OsString;
use std::io;

use serde::{Deserialize, Serialize};

/// Exit codes the daemon maps to Docker's answers.
pub const EXIT_NO_DEST: i32 = 2;
pub const EXIT_NOT_DIR: i32 = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CopyIn {
    /// Absolute directory inside the container to unpack into.
    pub dest: String,
    pub target: Target,
}

pub use super::container_root::Target;

/// The JSON spec a copy helper (`whale copy-in`, `whale copy-out`) gets as
/// its one argument; `None` after saying on stderr what is wrong.
pub(crate) fn helper_spec<T: serde::de::DeserializeOwned>(
    args: &[OsString],
    role: &str,
    redirect: &str,
) -> Option<T> {
    match args
        .first()
        .map(|a| serde_json::from_slice::<T>(a.as_encoded_bytes()))
    {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            eprintln!("whale {role}: bad spec: {e}");
            None
        }
        None => {
            eprintln!("whale {role}: usage: whale {role} SPEC-JSON {redirect}");
            None
        }
    }
}

/// `whale copy-in SPEC-JSON`, the tar on stdin. Returns the exit code;
/// the reason of a failure goes to stderr.
pub fn main(args: Vec<OsString>) -> i32 {
    let Some(spec) = helper_spec::<CopyIn>(&args, "copy-in", "< archive.tar") else {
        return 1;
    };
    match run(&spec, io::stdin().lock()) {
        Ok(()) => 0,
        Err((code, msg)) => {
            eprintln!("{msg}");
            code
        }
    }
}

fn run(spec: &CopyIn, tar: impl io::Read) -> Result<(), (i32, String)> {
    super::container_root::enter(&spec.target, super::container_root::View::Writable)
        .map_err(|e| (1, format!("cannot enter the container's file system: {e}")))?;
    unpack(&spec.dest, tar)
}

/// Unpack into `dest`, which must be an existing directory (Docker's rule:
/// the caller names the parent and the archive carries the new name).
fn unpack(dest: &str, tar: impl io::Read) -> Result<(), (i32, String)> {
    match std::fs::metadata(dest) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err((
                EXIT_NOT_DIR,
                format!("extraction point is not a directory: {dest}"),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err((EXIT_NO_DEST, format!("no such directory: {dest}")))
        }
        Err(e) => return Err((1, format!("cannot use {dest}: {e}"))),
    }
    let mut archive = tar::Archive::new(tar);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    archive
        .unpack(dest)
        .map_err(|e| (1, format!("cannot unpack into {dest}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn unpacks_into_an_existing_dir_only() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().to_str().unwrap();
        unpack(d, &tar_of(&[("a/b.txt", b"hi")])[..]).unwrap();
        assert_eq!(std::fs::read(t.path().join("a/b.txt")).unwrap(), b"hi");
        let missing = t.path().join("nope");
        let (code, msg) = unpack(missing.to_str().unwrap(), &tar_of(&[])[..]).unwrap_err();
        assert_eq!(code, EXIT_NO_DEST, "{msg}");
        let file = t.path().join("a/b.txt");
        let (code, _) = unpack(file.to_str().unwrap(), &tar_of(&[])[..]).unwrap_err();
        assert_eq!(code, EXIT_NOT_DIR);
    }

    #[test]
    fn the_spec_travels_as_json() {
        let s = CopyIn {
            dest: "/tmp".into(),
            target: Target::Running { pid: 42 },
        };
        let j = serde_json::to_string(&s).unwrap();
        let back: CopyIn = serde_json::from_str(&j).unwrap();
        assert!(matches!(back.target, Target::Running { pid: 42 }));
    }
}
