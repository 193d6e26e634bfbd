//! The build cache's memory: which image was built from which.
//!
//! Docker keeps an image's parent in its metadata; whale keeps it beside the
//! image store:
//!
//! ```text
//! <root>/image/build/parent/<child hex>            "sha256:<parent hex>" (written atomically)
//! <root>/image/build/children/<parent hex>/<child hex>   empty marker files
//! ```
//!
//! A step is a cache hit when a child of the current image exists whose
//! last history entry was `created_by` this step's text. Because ADD/COPY
//! put the sha256 of their content into that text (`COPY file:<hash> in
//! /dst`), changing a file's content misses and touching it does not.

use crate::image::{Image, ImageError, Store};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

fn dir(store: &Store) -> PathBuf {
    store.root().join("build")
}

fn hex(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap_or(id)
}

fn io_err(action: &str, path: &Path) -> impl FnOnce(io::Error) -> ImageError {
    let action = action.to_string();
    let path = path.to_path_buf();
    move |source| ImageError::Io {
        action,
        path,
        source,
    }
}

fn valid_hex(h: &str) -> bool {
    h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Record that `child` was built on top of `parent`.
pub fn record_parent(store: &Store, child: &str, parent: &str) -> Result<(), ImageError> {
    let (c, p) = (hex(child), hex(parent));
    if !valid_hex(c) || !valid_hex(p) {
        return Err(ImageError::BadInput(format!(
            "image ids must be sha256:<64 hex>, got {child:?} and {parent:?}"
        )));
    }
    let pdir = dir(store).join("parent");
    fs::create_dir_all(&pdir).map_err(io_err("create directory", &pdir))?;
    let pfile = pdir.join(c);
    crate::fsutil::write_atomic(&pfile, format!("sha256:{p}").as_bytes())
        .map_err(io_err("write", &pfile))?;
    let cdir = dir(store).join("children").join(p);
    fs::create_dir_all(&cdir).map_err(io_err("create directory", &cdir))?;
    let marker = cdir.join(c);
    fs::write(&marker, b"").map_err(io_err("write", &marker))
}

/// The image `id` was built on, if whale built it and the parent still exists.
pub fn parent_of(store: &Store, id: &str) -> Option<String> {
    let h = hex(id);
    if !valid_hex(h) {
        return None;
    }
    let s = fs::read_to_string(dir(store).join("parent").join(h)).ok()?;
    let p = s.trim().to_string();
    store.resolve(&p).ok().map(|i| i.id)
}

/// Images built directly on `parent` that still exist.
pub fn children_of(store: &Store, parent: &str) -> Vec<Image> {
    let h = hex(parent);
    if !valid_hex(h) {
        return Vec::new();
    }
    let Ok(rd) = fs::read_dir(dir(store).join("children").join(h)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !valid_hex(&name) {
            continue;
        }
        if let Ok(img) = store.resolve(&format!("sha256:{name}")) {
            out.push(img);
        }
    }
    // Newest first: when two children match, the newest build wins.
    out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
    out
}

/// True when some existing image was built on `id` (Docker hides such
/// untagged intermediate images from `docker images`).
pub fn has_children(store: &Store, id: &str) -> bool {
    !children_of(store, id).is_empty()
}

/// The cached result of a step: a child of `parent` whose newest history
/// entry says `created_by` and agrees on whether it made a layer.
pub fn lookup(store: &Store, parent: &Image, created_by: &str, empty_layer: bool) -> Option<Image> {
    children_of(store, &parent.id).into_iter().find(|child| {
        let h = &child.config.history;
        let layers_ok = child.config.rootfs.diff_ids.len()
            == parent.config.rootfs.diff_ids.len() + usize::from(!empty_layer)
            && child.config.rootfs.diff_ids[..parent.config.rootfs.diff_ids.len()]
                == parent.config.rootfs.diff_ids[..];
        layers_ok
            && h.len() == parent.config.history.len() + 1
            && h.last().is_some_and(|last| {
                last.created_by.as_deref() == Some(created_by) && last.empty_layer == empty_layer
            })
    })
}

/// Forget the links of a removed image (its own parent file; its children
/// keep pointing at it and are skipped when it is gone).
pub fn forget(store: &Store, id: &str) {
    let h = hex(id);
    if !valid_hex(h) {
        return;
    }
    let pfile = dir(store).join("parent").join(h);
    if let Ok(p) = fs::read_to_string(&pfile) {
        let _ = fs::remove_file(dir(store).join("children").join(hex(p.trim())).join(h));
    }
    let _ = fs::remove_file(pfile);
}
