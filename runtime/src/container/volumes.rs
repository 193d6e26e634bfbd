//! Volumes: named and anonymous, the `local` driver only. Each lives under
//! `<root>/volumes/<name>/`: its files in `_data` (what containers mount)
//! and what `volume inspect` shows in `volume.json` (written atomically).
//! The root stays 0700: containers reach `_data` through their mounts,
//! never by walking the host path.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Docker's rule for a local volume's name.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("create {0}: \"{0}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path")]
    InvalidName(String),
    #[error("get {0}: no such volume")]
    NotFound(String),
    #[error("remove {name}: volume is in use - [{}]", .ids.join(", "))]
    InUse { name: String, ids: Vec<String> },
    #[error("{0}")]
    Invalid(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

fn io_err(context: String) -> impl FnOnce(std::io::Error) -> VolumeError {
    move |source| VolumeError::Io { context, source }
}

/// What `volume.json` keeps.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct VolumeMeta {
    pub created_at: String,
    #[serde(default)]
    pub labels: HashMap<String, String>,
    /// Made for one container (`-v /path`, an image's VOLUME): `rm -v`
    /// and `--rm` remove it with the container.
    #[serde(default)]
    pub anonymous: bool,
}

#[derive(Debug, Clone)]
pub struct Volume {
    pub name: String,
    pub meta: VolumeMeta,
    /// `<root>/volumes/<name>/_data`.
    pub mountpoint: PathBuf,
}

#[derive(Debug)]
pub struct Volumes {
    dir: PathBuf,
    /// Serialises create and remove, so two creates of one name make one.
    lock: Mutex<()>,
}

impl Volumes {
    pub fn open(root: &Path) -> Result<Volumes, VolumeError> {
        let dir = root.join("volumes");
        std::fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        Ok(Volumes {
            dir,
            lock: Mutex::new(()),
        })
    }

    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("_data")
    }

    pub fn get(&self, name: &str) -> Result<Volume, VolumeError> {
        if !is_valid_name(name) {
            return Err(VolumeError::NotFound(name.to_string()));
        }
        let meta_path = self.dir.join(name).join("volume.json");
        let bytes = std::fs::read(&meta_path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                VolumeError::NotFound(name.to_string())
            } else {
                VolumeError::Io {
                    context: format!("reading {}", meta_path.display()),
                    source: e,
                }
            }
        })?;
        let meta = serde_json::from_slice(&bytes).map_err(|e| VolumeError::Io {
            context: format!("reading {}", meta_path.display()),
            source: std::io::Error::other(e),
        })?;
        Ok(Volume {
            name: name.to_string(),
            meta,
            mountpoint: self.data_dir(name),
        })
    }

    /// The volume `name` (a new anonymous one when None), made if missing:
    /// as Docker, creating an existing volume returns it unchanged.
    /// The bool says whether it was made now.
    pub fn create(
        &self,
        name: Option<&str>,
        labels: HashMap<String, String>,
    ) -> Result<(Volume, bool), VolumeError> {
        let anonymous = name.is_none();
        let name = match name {
            Some(n) if !is_valid_name(n) => return Err(VolumeError::InvalidName(n.to_string())),
            Some(n) => n.to_string(),
            None => super::new_id(),
        };
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        match self.get(&name) {
            Ok(v) => return Ok((v, false)),
            Err(VolumeError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let data = self.data_dir(&name);
        std::fs::create_dir_all(&data).map_err(io_err(format!("creating {}", data.display())))?;
        let meta = VolumeMeta {
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            labels,
            anonymous,
        };
        let meta_path = self.dir.join(&name).join("volume.json");
        crate::fsutil::write_json_atomic(&meta_path, &meta)
            .map_err(io_err(format!("writing {}", meta_path.display())))?;
        Ok((
            Volume {
                name,
                meta,
                mountpoint: data,
            },
            true,
        ))
    }

    /// Every volume, by name.
    pub fn list(&self) -> Vec<Volume> {
        let mut out: Vec<Volume> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| self.get(n).ok()))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Remove `name` and its data; `users` are the containers that mount
    /// it (a volume in use stays).
    pub fn remove(&self, name: &str, users: Vec<String>) -> Result<(), VolumeError> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.get(name)?;
        if !users.is_empty() {
            return Err(VolumeError::InUse {
                name: name.to_string(),
                ids: users,
            });
        }
        // The metadata goes first: a half-removed volume is no volume.
        let dir = self.dir.join(name);
        let meta_path = dir.join("volume.json");
        std::fs::remove_file(&meta_path)
            .map_err(io_err(format!("removing {}", meta_path.display())))?;
        std::fs::remove_dir_all(&dir).map_err(io_err(format!("removing {}", dir.display())))
    }
}

/// dockerd's `mount` events when a container starts (`mount`), or its
/// `unmount` events when it stops, one per volume it mounts.
pub fn mount_events<E: super::Engine + ?Sized>(e: &E, c: &super::Container, mount: bool) {
    let id = c.id().to_string();
    for m in &c.record.mounts {
        let Some(name) = m.volume_name() else {
            continue;
        };
        if mount {
            e.volume_event(
                name,
                "mount",
                &[
                    ("container", id.clone()),
                    ("destination", m.destination.clone()),
                    ("propagation", m.propagation.clone()),
                    ("read/write", m.rw.to_string()),
                ],
            );
        } else {
            e.volume_event(name, "unmount", &[("container", id.clone())]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule() {
        for ok in ["ab", "my-vol_1.x", "0a"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["a", "", "../x", "a/b", ".a", "-a", "a b", "..", "x\0"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn create_get_list_remove() {
        let t = tempfile::tempdir().unwrap();
        let v = Volumes::open(t.path()).unwrap();
        let (a, made) = v.create(Some("data"), HashMap::new()).unwrap();
        assert!(made && a.mountpoint.is_dir() && !a.meta.anonymous);
        assert!(!v.create(Some("data"), HashMap::new()).unwrap().1);
        let (anon, _) = v.create(None, HashMap::new()).unwrap();
        assert!(anon.meta.anonymous && anon.name.len() == 64);
        assert_eq!(v.list().len(), 2);
        assert!(matches!(
            v.create(Some("../etc"), HashMap::new()),
            Err(VolumeError::InvalidName(_))
        ));
        assert!(matches!(
            v.remove("data", vec!["abc".into()]),
            Err(VolumeError::InUse { .. })
        ));
        v.remove("data", vec![]).unwrap();
        assert!(matches!(v.get("data"), Err(VolumeError::NotFound(_))));
        assert!(matches!(v.get("../x"), Err(VolumeError::NotFound(_))));
    }
}
