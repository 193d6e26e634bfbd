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

/// `cache_from` with an image whale did not build here (a loaded one, so
/// no parent links): Docker's classic builder takes the step from the
/// first named image whose layers and history continue `parent` and whose
/// next history entry is this step, and makes that step's image from it
/// (the named image itself when it is that step). `run` is the step's
/// run config. Returns the image and which source matched.
pub fn restore_from_history(
    store: &Store,
    parent: &Image,
    sources: &[Image],
    created_by: &str,
    empty_layer: bool,
    run: &crate::image::config::RunConfig,
) -> Result<Option<(Image, usize)>, ImageError> {
    let p = &parent.config;
    let n = p.history.len();
    for (i, target) in sources.iter().enumerate() {
        let t = &target.config;
        let continues = t.history.len() > n
            && t.history[..n] == p.history[..]
            && t.rootfs.diff_ids.len() >= p.rootfs.diff_ids.len()
            && t.rootfs.diff_ids[..p.rootfs.diff_ids.len()] == p.rootfs.diff_ids[..];
        let h = match t.history.get(n) {
            Some(h) if continues => h,
            _ => continue,
        };
        if h.created_by.as_deref() != Some(created_by) || h.empty_layer != empty_layer {
            continue;
        }
        if t.history.len() == n + 1 {
            record_parent(store, &target.id, &parent.id)?;
            return Ok(Some((target.clone(), i)));
        }
        let mut cfg = p.clone();
        cfg.architecture = t.architecture.clone();
        cfg.os = t.os.clone();
        cfg.author = t.author.clone();
        cfg.config = run.clone();
        cfg.created = h.created.clone();
        cfg.history.push(h.clone());
        if !empty_layer {
            let index = t.history[..n].iter().filter(|h| !h.empty_layer).count();
            let Some(layer) = t.rootfs.diff_ids.get(index) else {
                continue;
            };
            cfg.rootfs.diff_ids.push(layer.clone());
        }
        let img = store.create_image(&cfg, None)?;
        record_parent(store, &img.id, &parent.id)?;
        return Ok(Some((img, i)));
    }
    Ok(None)
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

/// After `removed` was deleted: delete the build's intermediate images
/// above it in the chain that nothing needs any more (untagged, no other
/// child, no container), as `docker rmi` does. What was removed, in
/// Docker's `Deleted:` order.
pub fn prune_parents(
    store: &Store,
    removed: &str,
    in_use: &dyn Fn(&str) -> bool,
) -> Vec<crate::image::Removed> {
    let mut out = Vec::new();
    let mut next = parent_of(store, removed);
    forget(store, removed);
    while let Some(p) = next {
        let Ok(img) = store.resolve(&p) else { break };
        if !img.repo_tags.is_empty() || has_children(store, &p) || in_use(&p) {
            break;
        }
        next = parent_of(store, &p);
        match store.remove(&p, false, in_use) {
            Ok(r) => out.extend(r),
            Err(_) => break,
        }
        forget(store, &p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::config::{History, ImageConfig, RootFs};

    fn image(store: &Store, history: &[&str], tag: Option<&str>) -> Image {
        let layer = store.add_layer(&tar_with("f")[..]).unwrap();
        let cfg = ImageConfig {
            architecture: "amd64".into(),
            os: "linux".into(),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: vec![layer.diff_id],
            },
            history: history
                .iter()
                .map(|h| History {
                    created_by: Some(h.to_string()),
                    empty_layer: true,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        store.create_image(&cfg, tag).unwrap()
    }

    fn tar_with(name: &str) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        b.append_data(&mut h, name, &b"x"[..]).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn lookup_matches_parent_and_created_by() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let base = image(&store, &["base"], Some("base:1"));
        let child = image(&store, &["base", "/bin/sh -c #(nop)  CMD [\"a\"]"], None);
        let other = image(&store, &["base", "/bin/sh -c #(nop)  CMD [\"b\"]"], None);
        record_parent(&store, &child.id, &base.id).unwrap();
        record_parent(&store, &other.id, &base.id).unwrap();
        assert_eq!(
            lookup(&store, &base, "/bin/sh -c #(nop)  CMD [\"a\"]", true).map(|i| i.id),
            Some(child.id.clone())
        );
        assert_eq!(
            lookup(&store, &base, "/bin/sh -c #(nop)  CMD [\"b\"]", true).map(|i| i.id),
            Some(other.id.clone())
        );
        // A different text, or a layer where there was none, misses.
        assert!(lookup(&store, &base, "/bin/sh -c #(nop)  CMD [\"c\"]", true).is_none());
        assert!(lookup(&store, &base, "/bin/sh -c #(nop)  CMD [\"a\"]", false).is_none());
        // Only children of this parent count.
        assert!(lookup(&store, &child, "/bin/sh -c #(nop)  CMD [\"b\"]", true).is_none());
        assert_eq!(parent_of(&store, &child.id), Some(base.id.clone()));
        assert!(has_children(&store, &base.id));
        assert!(!has_children(&store, &child.id));
        assert!(record_parent(&store, "nothex", &base.id).is_err());
    }

    #[test]
    fn removing_the_top_prunes_unneeded_intermediates() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let base = image(&store, &["base"], Some("base:1"));
        let mid = image(&store, &["base", "mid"], None);
        let top = image(&store, &["base", "mid", "top"], Some("top:1"));
        record_parent(&store, &mid.id, &base.id).unwrap();
        record_parent(&store, &top.id, &mid.id).unwrap();
        store.remove("top:1", false, &|_| false).unwrap();
        let pruned = prune_parents(&store, &top.id, &|_| false);
        assert!(pruned.contains(&crate::image::Removed::Deleted(mid.id.clone())));
        assert!(store.resolve(&mid.id).is_err());
        // The tagged base stays.
        assert!(store.resolve("base:1").is_ok());
    }
}
