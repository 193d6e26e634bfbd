//! `whale cp`: copy files between a container and the host, as docker does,
//! over `GET`/`HEAD`/`PUT /containers/{id}/archive` (tar streams).
//!
//! docker's naming rules: `cp C:/opt/app /tmp/x` makes `/tmp/x/app` when
//! `/tmp/x` is a directory, and `/tmp/x` itself (a copy named x) when it
//! does not exist; the same both ways. `-` is a tar stream on stdout/stdin.

use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use bollard::query_parameters::{
    ContainerArchiveInfoOptions, DownloadFromContainerOptions, UploadToContainerOptions,
};
use futures_util::StreamExt;

use super::{client, CliError, CliResult};
use whale_args::Cli;
use whale_args::CpArgs;

/// `CONTAINER:PATH` (a colon before any slash), or a host path.
fn split_container(arg: &str) -> Option<(&str, &str)> {
    let (c, p) = arg.split_once(':')?;
    (!c.is_empty() && !c.contains('/')).then_some((c, p))
}

pub async fn cp(cli: &Cli, args: &CpArgs) -> CliResult {
    match (split_container(&args.src), split_container(&args.dest)) {
        (Some((c, src)), None) => copy_out(cli, c, src, &args.dest, args.follow_link).await,
        (None, Some((c, dest))) => copy_in(cli, &args.src, c, dest).await,
        (Some(_), Some(_)) => Err(CliError::Usage(
            "copying between containers is not supported".into(),
        )),
        (None, None) => Err(CliError::Usage(
            "must specify at least one container source".into(),
        )),
    }
}

async fn copy_out(cli: &Cli, container: &str, src: &str, dest: &str, follow: bool) -> CliResult {
    let client = client(cli).await?;
    let mut path = absolute_in_container(src);
    if follow && !path.ends_with('/') {
        path.push_str("/.");
    }
    let mut stream = client.docker.download_from_container(
        container,
        Some(DownloadFromContainerOptions { path: path.clone() }),
    );
    if dest == "-" {
        let mut out = io::stdout().lock();
        while let Some(chunk) = stream.next().await {
            out.write_all(&chunk?)
                .map_err(|e| CliError::Other(format!("writing the archive: {e}")))?;
        }
        return out
            .flush()
            .map_err(|e| CliError::Other(format!("writing the archive: {e}")));
    }
    // The tar streams into a blocking extractor through a channel: big
    // directories never sit in memory whole.
    let (tx, rx) = std::sync::mpsc::sync_channel::<bytes::Bytes>(16);
    let dest = PathBuf::from(dest);
    let src_name = Path::new(src.trim_end_matches("/."))
        .file_name()
        .map(|n| n.to_os_string());
    let extract = tokio::task::spawn_blocking(move || {
        extract_to_host(ChannelReader::new(rx), &dest, src_name.as_deref())
    });
    let mut failed = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) => {
                if tx.send(b).is_err() {
                    break; // the extractor stopped; it says why
                }
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    drop(tx);
    if let Some(e) = failed {
        let _ = extract.await;
        return Err(e.into());
    }
    extract
        .await
        .map_err(|e| CliError::Other(format!("extracting: {e}")))?
}

async fn copy_in(cli: &Cli, src: &str, container: &str, dest: &str) -> CliResult {
    let client = client(cli).await?;
    let docker = &client.docker;
    let dest = absolute_in_container(dest);
    let (dir, tar) = if src == "-" {
        let mut tar = Vec::new();
        io::stdin()
            .read_to_end(&mut tar)
            .map_err(|e| CliError::Other(format!("reading the archive on stdin: {e}")))?;
        (dest, tar)
    } else {
        let src_path = PathBuf::from(src);
        let meta = std::fs::symlink_metadata(&src_path).map_err(|e| {
            CliError::Other(format!("could not find the file {src} on the host: {e}"))
        })?;
        // Into an existing directory under the source's own name, or as
        // the destination's name in its parent.
        let info = docker
            .get_container_archive_info(
                container,
                Some(ContainerArchiveInfoOptions { path: dest.clone() }),
            )
            .await;
        let dest_is_dir = matches!(&info, Ok(i) if i.file_mode & (1 << 31) != 0);
        let (dir, name) = if dest_is_dir {
            let name = src_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| ".".into());
            (dest.clone(), name)
        } else {
            if dest.ends_with('/') {
                return Err(CliError::Other(format!(
                    "destination directory {dest} does not exist in {container}"
                )));
            }
            if meta.is_dir() && info.is_ok() {
                return Err(CliError::Other(format!(
                    "cannot copy a directory to the file {dest} in {container}"
                )));
            }
            let p = Path::new(&dest);
            let parent = p
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|| "/".into());
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (parent, name)
        };
        let tar = tokio::task::spawn_blocking(move || tar_of(&src_path, &name))
            .await
            .map_err(|e| CliError::Other(format!("packing {src}: {e}")))?
            .map_err(|e| CliError::Other(format!("packing {src}: {e}")))?;
        (dir, tar)
    };
    docker
        .upload_to_container(
            container,
            Some(UploadToContainerOptions {
                path: dir,
                ..Default::default()
            }),
            bollard::body_full(tar.into()),
        )
        .await?;
    Ok(())
}

/// Paths in a container are absolute; docker reads `c:file` as `/file`.
fn absolute_in_container(p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

/// A tar of `src` (a file, a symlink or a whole directory) named `name`.
fn tar_of(src: &Path, name: &str) -> io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    let meta = std::fs::symlink_metadata(src)?;
    if meta.is_dir() {
        b.append_dir_all(name, src)?;
    } else {
        b.append_path_with_name(src, name)?;
    }
    b.into_inner()
}

/// Unpack the archive of one file or directory (its entries named after
/// the source: `app`, `app/...`) to `dest` with docker's naming rules.
/// Entries must stay inside the destination: no `..`, no absolute names,
/// and nothing written through a symlink the archive itself made.
fn extract_to_host(tar: impl Read, dest: &Path, src_name: Option<&std::ffi::OsStr>) -> CliResult {
    let err = |what: String| CliError::Other(what);
    let (root, rename) = match std::fs::metadata(dest) {
        Ok(m) if m.is_dir() => (dest.to_path_buf(), None),
        Ok(_) => (
            dest.parent().unwrap_or(Path::new(".")).to_path_buf(),
            dest.file_name().map(|n| n.to_os_string()),
        ),
        Err(_) => {
            if dest.as_os_str().to_string_lossy().ends_with('/') {
                return Err(err(format!(
                    "destination directory {} does not exist",
                    dest.display()
                )));
            }
            let parent = match dest.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if !parent.is_dir() {
                return Err(err(format!(
                    "no such directory on the host: {}",
                    parent.display()
                )));
            }
            (parent, dest.file_name().map(|n| n.to_os_string()))
        }
    };
    let mut archive = tar::Archive::new(tar);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    let entries = archive
        .entries()
        .map_err(|e| err(format!("reading the archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| err(format!("reading the archive: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| err(format!("reading the archive: {e}")))?
            .into_owned();
        let mut rel = PathBuf::new();
        for (i, c) in name.components().enumerate() {
            match c {
                Component::Normal(part) => match (&rename, i, src_name) {
                    (Some(new), 0, _) => rel.push(new),
                    _ => rel.push(part),
                },
                Component::CurDir => {}
                _ => {
                    return Err(err(format!(
                        "the archive names {} outside the destination",
                        name.display()
                    )))
                }
            }
        }
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = root.join(&rel);
        // Refuse to write through a symlink the copy itself made.
        let mut cur = root.clone();
        for c in rel.parent().into_iter().flat_map(|p| p.components()) {
            cur.push(c);
            if std::fs::symlink_metadata(&cur).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(err(format!(
                    "{} goes through the symlink {}",
                    name.display(),
                    cur.display()
                )));
            }
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| err(format!("creating {}: {e}", parent.display())))?;
        }
        entry
            .unpack(&target)
            .map_err(|e| err(format!("writing {}: {e}", target.display())))?;
    }
    Ok(())
}

/// `Read` over the chunks of a channel (the archive as it arrives).
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<bytes::Bytes>,
    cur: bytes::Bytes,
}

impl ChannelReader {
    fn new(rx: std::sync::mpsc::Receiver<bytes::Bytes>) -> Self {
        ChannelReader {
            rx,
            cur: bytes::Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.recv() {
                Ok(b) => self.cur = b,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_are_recognised_as_docker_does() {
        assert_eq!(
            split_container("web:/etc/hosts"),
            Some(("web", "/etc/hosts"))
        );
        assert_eq!(split_container("web:file"), Some(("web", "file")));
        assert_eq!(split_container("./a:b"), None);
        assert_eq!(split_container("/tmp/x"), None);
        assert_eq!(split_container("-"), None);
    }

    #[test]
    fn extraction_follows_dockers_naming_rules() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("app");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/f"), "data").unwrap();
        let tar = tar_of(&src, "app").unwrap();
        // Into an existing directory: dest/app.
        let into = t.path().join("into");
        std::fs::create_dir(&into).unwrap();
        extract_to_host(&tar[..], &into, Some("app".as_ref())).unwrap();
        assert_eq!(
            std::fs::read_to_string(into.join("app/sub/f")).unwrap(),
            "data"
        );
        // To a new name: the copy is called that.
        let renamed = t.path().join("renamed");
        extract_to_host(&tar[..], &renamed, Some("app".as_ref())).unwrap();
        assert_eq!(
            std::fs::read_to_string(renamed.join("sub/f")).unwrap(),
            "data"
        );
        // A trailing slash means "this directory", which must exist.
        let missing = format!("{}/", t.path().join("missing").display());
        assert!(extract_to_host(&tar[..], Path::new(&missing), None).is_err());
    }

    #[test]
    fn an_archive_cannot_write_through_its_own_symlink() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "evil", &outside).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "evil/x", &b"x"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let dest = t.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        assert!(extract_to_host(&tar[..], &dest, None).is_err());
        assert!(!outside.join("x").exists());
    }
}
