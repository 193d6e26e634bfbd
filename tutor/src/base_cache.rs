//! Base images made once per machine, not once per engine: after `whale
//! bootstrap` makes `debian:bookworm` (about 30 s with mmdebstrap) or
//! `busybox`, the tutor keeps it as a docker-archive in a cache directory,
//! and the next engine that lacks it (each `verify` sandbox, a store made
//! anew) loads that file (`POST /images/load`, a few seconds) instead of
//! bootstrapping again. Loading gives the same image ID: the archive holds
//! the config and layers as they were.
//!
//! The cache is `$WHALETUTOR_CACHE`, else `$XDG_CACHE_HOME/whaletutor`,
//! else `~/.cache/whaletutor`; an archive older than a week is made again
//! (Debian's packages move on).

use bollard::query_parameters::ImportImageOptions;
use bollard::Docker;
use futures_util::StreamExt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long an archive is used before the image is bootstrapped again.
const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The cache directory, if there is a place for one.
pub fn dir() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = env("WHALETUTOR_CACHE") {
        return Some(PathBuf::from(d));
    }
    let base = env("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("whaletutor"))
}

/// The archive of `image` in `dir`: `base-images/debian_bookworm.tar`.
pub fn archive(dir: &Path, image: &str) -> PathBuf {
    // `busybox` and `busybox:latest` are one image: one archive.
    let tagged = if image.rsplit('/').next().is_some_and(|n| n.contains(':')) {
        image.to_string()
    } else {
        format!("{image}:latest")
    };
    let name: String = tagged
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join("base-images").join(format!("{name}.tar"))
}

fn fresh(path: &Path) -> bool {
    path.metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < MAX_AGE)
}

/// Load `image` from its archive; false (and nothing changed) when there
/// is no fresh archive or the engine refused it: then bootstrap.
pub async fn load(docker: &Docker, image: &str) -> bool {
    let Some(path) = dir().map(|d| archive(&d, image)) else {
        return false;
    };
    if !fresh(&path) {
        return false;
    }
    let Ok(bytes) = std::fs::read(&path) else {
        return false;
    };
    let mut s = docker.import_image(
        ImportImageOptions {
            quiet: true,
            ..Default::default()
        },
        bollard::body_full(bytes::Bytes::from(bytes)),
        None,
    );
    while let Some(msg) = s.next().await {
        match msg {
            Ok(info) if info.error_detail.is_none() => {}
            _ => return false,
        }
    }
    crate::setup::image_present(docker, image).await
}

/// Keep `image` (just bootstrapped) for the next engine. Best effort: a
/// cache that cannot be written costs only time. Written to a temp file
/// and renamed, so a half-written archive is never loaded.
pub async fn save(docker: &Docker, image: &str) {
    let Some(path) = dir().map(|d| archive(&d, image)) else {
        return;
    };
    let Some(parent) = path.parent() else { return };
    if std::fs::create_dir_all(parent).is_err() {
        return;
    }
    let Ok(mut tmp) = tempfile::NamedTempFile::new_in(parent) else {
        return;
    };
    let mut s = docker.export_image(image);
    while let Some(chunk) = s.next().await {
        match chunk {
            Ok(c) if tmp.write_all(&c).is_ok() => {}
            _ => return,
        }
    }
    if tmp.as_file().sync_all().is_ok() {
        let _ = tmp.persist(&path);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn archive_names_are_plain_file_names() {
        let d = std::path::Path::new("/c");
        assert_eq!(
            super::archive(d, "debian:bookworm"),
            std::path::Path::new("/c/base-images/debian_bookworm.tar")
        );
        assert_eq!(
            super::archive(d, "busybox"),
            super::archive(d, "busybox:latest")
        );
        assert_eq!(
            super::archive(d, "../x/busybox"),
            std::path::Path::new("/c/base-images/.._x_busybox_latest.tar")
        );
    }
}
