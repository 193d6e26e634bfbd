//! Adapters between the daemon and the other rooms (image store, shim client,
//! cgroups). Everything the daemon needs from them goes through this file, so
//! a contract change touches one place.
//!
//! The `temp_*` modules are TEMP until the image and shim rooms land on
//! `main`: they only make the daemon compile and answer "not found" /
//! "unavailable". At merge, delete them and point the `pub use` lines at the
//! real modules.

pub use temp_image::{Image, ImageError, Removed, Store as ImageStore};
pub use temp_shim as shim_client;

/// `sha256:<hex>` id of an image.
pub fn image_id(image: &Image) -> String {
    image.id.clone()
}

pub fn image_config(image: &Image) -> &crate::image::config::ImageConfig {
    &image.config
}

pub fn image_tags(image: &Image) -> Vec<String> {
    image.repo_tags.clone()
}

pub fn image_size(image: &Image) -> i64 {
    image.size as i64
}

pub fn image_is_not_found(e: &ImageError) -> bool {
    e.status_code() == 404
}

/// The HTTP status Docker uses for an image store error.
pub fn image_status(e: &ImageError) -> hyper::StatusCode {
    hyper::StatusCode::from_u16(e.status_code()).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR)
}

/// Untagged / Deleted entries of `DELETE /images/{name}`.
pub fn removed_item(r: &Removed) -> bollard::models::ImageDeleteResponseItem {
    match r {
        Removed::Untagged(t) => bollard::models::ImageDeleteResponseItem {
            untagged: Some(t.clone()),
            deleted: None,
        },
        Removed::Deleted(id) => bollard::models::ImageDeleteResponseItem {
            untagged: None,
            deleted: Some(id.clone()),
        },
    }
}

/// PIDs (host view) of every process in the container's cgroup.
pub fn container_pids(cgroup_path: &str) -> std::io::Result<Vec<i32>> {
    temp_cgroup::container_pids(cgroup_path)
}

/// Remove a container's cgroup left behind by a shim that died.
pub fn remove_container_cgroup(cgroup_path: &str) -> std::io::Result<()> {
    temp_cgroup::remove_container_cgroup(cgroup_path)
}

// TEMP until the image room lands.
mod temp_image {
    use crate::image::config::ImageConfig;
    use std::io::Read;
    use std::path::{Path, PathBuf};

    #[derive(Debug, Clone)]
    pub struct Image {
        pub id: String,
        pub config: ImageConfig,
        pub repo_tags: Vec<String>,
        pub size: u64,
        pub created: i64,
    }

    #[derive(Debug, Clone)]
    pub enum Removed {
        Untagged(String),
        Deleted(String),
    }

    #[derive(Debug, thiserror::Error)]
    pub enum ImageError {
        #[error("No such image: {0}")]
        NotFound(String),
        #[error("{0}")]
        Conflict(String),
        #[error("the image store is not available in this build")]
        Unavailable,
    }

    impl ImageError {
        pub fn status_code(&self) -> u16 {
            match self {
                ImageError::NotFound(_) => 404,
                ImageError::Conflict(_) => 409,
                ImageError::Unavailable => 500,
            }
        }
    }

    #[derive(Debug)]
    pub struct Store;

    impl Store {
        pub fn open(_root: &Path) -> Result<Store, ImageError> {
            Ok(Store)
        }
        pub fn resolve(&self, reference: &str) -> Result<Image, ImageError> {
            Err(ImageError::NotFound(normalize(reference)))
        }
        pub fn list(&self) -> Result<Vec<Image>, ImageError> {
            Ok(Vec::new())
        }
        pub fn layer_dirs(&self, _image: &Image) -> Result<Vec<PathBuf>, ImageError> {
            Err(ImageError::Unavailable)
        }
        pub fn import_rootfs(
            &self,
            _tar: impl Read,
            _reference: Option<&str>,
            _changes: &[String],
            _comment: &str,
        ) -> Result<Image, ImageError> {
            Err(ImageError::Unavailable)
        }
        pub fn tag(&self, source: &str, _target: &str) -> Result<(), ImageError> {
            Err(ImageError::NotFound(normalize(source)))
        }
        pub fn remove(
            &self,
            reference: &str,
            _force: bool,
            _in_use: &dyn Fn(&str) -> bool,
        ) -> Result<Vec<Removed>, ImageError> {
            Err(ImageError::NotFound(normalize(reference)))
        }
    }

    fn normalize(r: &str) -> String {
        if r.contains(':') {
            r.to_string()
        } else {
            format!("{r}:latest")
        }
    }
}

// TEMP until the shim room lands.
pub mod temp_shim {
    use crate::shim::protocol::{Exit, Ready, Request, Started, Status};
    use std::path::Path;

    #[derive(Debug, thiserror::Error)]
    pub enum ShimError {
        #[error("the shim is not available in this build")]
        Unavailable,
    }

    impl ShimError {
        pub fn exit_code(&self) -> i32 {
            125
        }
    }

    pub struct SpawnedShim {
        pub ready: Ready,
    }

    pub async fn spawn(_container_dir: &Path) -> Result<SpawnedShim, ShimError> {
        Err(ShimError::Unavailable)
    }
    impl SpawnedShim {
        pub async fn start(self) -> Result<Started, ShimError> {
            Err(ShimError::Unavailable)
        }
    }
    pub async fn connect(
        _socket: &Path,
        _req: &Request,
    ) -> Result<tokio::net::UnixStream, ShimError> {
        Err(ShimError::Unavailable)
    }
    pub async fn wait(_socket: &Path) -> Result<Exit, ShimError> {
        Err(ShimError::Unavailable)
    }
    pub async fn signal(_socket: &Path, _signal: i32) -> Result<(), ShimError> {
        Err(ShimError::Unavailable)
    }
    pub async fn resize(_socket: &Path, _rows: u16, _cols: u16) -> Result<(), ShimError> {
        Err(ShimError::Unavailable)
    }
    pub async fn status(_socket: &Path) -> Result<Status, ShimError> {
        Err(ShimError::Unavailable)
    }
}

// TEMP until the linux room lands.
mod temp_cgroup {
    pub fn container_pids(_cgroup_path: &str) -> std::io::Result<Vec<i32>> {
        Ok(Vec::new())
    }
    pub fn remove_container_cgroup(_cgroup_path: &str) -> std::io::Result<()> {
        Ok(())
    }
}
