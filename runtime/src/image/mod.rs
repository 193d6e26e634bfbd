//! Content-addressed image store.
//!
//! ```text
//! <root>/image/
//!   blobs/sha256/<hex>        layer tars (uncompressed), named by sha256 = diff_id
//!   layers/<hex>/diff/        each layer unpacked once, shared by every image
//!   layers/<hex>/size         unpacked size in bytes
//!   configs/<hex>.json        image configs; image id = sha256 of these bytes
//!   repositories.json         tag index: {"busybox:latest": "sha256:<hex>"}
//! ```
//!
//! CONTRACT used by the daemon (api/container rooms):
//!
//! ```ignore
//! impl Store {
//!     pub fn open(image_root: &Path) -> Result<Store, ImageError>;
//!     /// `name` (= name:latest), `name:tag`, `sha256:<hex>`, `<hex>` or a unique id prefix.
//!     pub fn resolve(&self, reference: &str) -> Result<Image, ImageError>;   // NotFound -> 404
//!     pub fn list(&self) -> Result<Vec<Image>, ImageError>;
//!     /// Diff dirs of the image's layers, TOP-most first (overlay lowerdir order).
//!     pub fn layer_dirs(&self, image: &Image) -> Result<Vec<PathBuf>, ImageError>;
//!     /// Store a rootfs tar as a one-layer image, apply `changes` (Dockerfile
//!     /// lines: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE) and tag it.
//!     pub fn import_rootfs(&self, tar: impl Read, reference: Option<&str>, changes: &[String], comment: &str) -> Result<Image, ImageError>;
//!     pub fn tag(&self, source: &str, target: &str) -> Result<(), ImageError>;
//!     /// `docker rmi`: untag, and delete the image (and layers no one else uses)
//!     /// when its last tag goes; `in_use(image_id)` says a container needs it (409 unless force).
//!     pub fn remove(&self, reference: &str, force: bool, in_use: &dyn Fn(&str) -> bool) -> Result<Vec<Removed>, ImageError>;
//! }
//! ```

pub mod config;
