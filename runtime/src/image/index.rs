//! The store's in-memory index: every image by id, the tags, the layers'
//! sizes; and the lookup of a reference (tag, id, or id prefix) in it.
//!
//! It is read from disk in full once, when the store opens. After that
//! every change the store makes (under its lock) updates it in place
//! (`insert_layer`, `insert_image`, `set_tag`, ...) and records the store's
//! stamp as it is after the change; a full reload happens only when the
//! stamp on disk differs from the recorded one, i.e. when another process
//! changed the store (or a change failed half-way, which clears the stamp).
//! So the cost of a change does not grow with the number of images: a
//! build among 900 images reads no config but its own.

use super::{diff_hex, io_err, Image, ImageConfig, ImageError};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::Path;
use whale_formats::reference::{parse_lookup, Reference};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    pub(super) repo: Option<(u64, i64, i64, u64)>,
    pub(super) configs: (i64, i64),
    pub(super) layers: (i64, i64),
}

#[derive(Debug, Clone, Copy)]
pub(super) struct LayerMeta {
    pub(super) size: u64,
    pub(super) newest_mtime: u64,
}

#[derive(Debug, Default)]
pub(super) struct Index {
    pub(super) stamp: Option<Stamp>,
    pub(super) images: BTreeMap<String, Image>,
    pub(super) tags: BTreeMap<String, String>,
    pub(super) layers: HashMap<String, LayerMeta>,
}

impl Index {
    /// A layer now in the store.
    pub(super) fn insert_layer(&mut self, hex: &str, meta: LayerMeta) {
        self.layers.insert(hex.to_string(), meta);
    }

    /// An image now in the store (its config file written); its size is
    /// the sum of its layers', its tags those already pointing at it.
    pub(super) fn insert_image(&mut self, id: &str, config: ImageConfig) {
        let size = config
            .rootfs
            .diff_ids
            .iter()
            .filter_map(|d| self.layers.get(diff_hex(d).ok()?))
            .map(|m| m.size)
            .sum();
        let created = config
            .created
            .as_deref()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
            .map(|t| t.timestamp())
            .unwrap_or(0);
        let repo_tags = self
            .tags
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect();
        self.images.insert(
            id.to_string(),
            Image {
                id: id.to_string(),
                config,
                repo_tags,
                size,
                created,
            },
        );
    }

    /// Point `tag` at `id`, moving it off the image it named before.
    pub(super) fn set_tag(&mut self, tag: &str, id: &str) {
        if let Some(old) = self.tags.insert(tag.to_string(), id.to_string()) {
            if let Some(img) = self.images.get_mut(&old) {
                img.repo_tags.retain(|t| t != tag);
            }
        }
        if let Some(img) = self.images.get_mut(id) {
            if let Err(at) = img.repo_tags.binary_search_by(|t| t.as_str().cmp(tag)) {
                img.repo_tags.insert(at, tag.to_string());
            }
        }
    }

    pub(super) fn remove_tag(&mut self, tag: &str) {
        if let Some(old) = self.tags.remove(tag) {
            if let Some(img) = self.images.get_mut(&old) {
                img.repo_tags.retain(|t| t != tag);
            }
        }
    }

    pub(super) fn remove_image(&mut self, id: &str) {
        self.images.remove(id);
    }

    pub(super) fn remove_layer(&mut self, hex: &str) {
        self.layers.remove(hex);
    }
}

pub(super) fn image_of(idx: &Index, id: &str) -> Result<Image, ImageError> {
    idx.images
        .get(id)
        .cloned()
        .ok_or_else(|| ImageError::NotFound(id.to_string()))
}

/// Find `reference` in the index: `(image id, found by id rather than tag)`.
pub(super) fn find(idx: &Index, reference: &str) -> Result<(String, bool), ImageError> {
    let lookup = parse_lookup(reference)?;
    match lookup.primary {
        Reference::Tag(tag) => {
            if let Some(id) = idx.tags.get(&tag).filter(|id| idx.images.contains_key(*id)) {
                return Ok((id.clone(), false));
            }
            match lookup.prefix_fallback {
                Some(p) => find_prefix(idx, &p).map_err(|e| match e {
                    ImageError::NotFound(_) => ImageError::NotFound(tag),
                    e => e,
                }),
                None => Err(ImageError::NotFound(tag)),
            }
        }
        Reference::Id(id) => {
            if idx.images.contains_key(&id) {
                Ok((id, true))
            } else {
                Err(ImageError::NotFound(reference.to_string()))
            }
        }
        Reference::IdPrefix(p) => find_prefix(idx, &p).map_err(|e| match e {
            ImageError::NotFound(_) => ImageError::NotFound(reference.to_string()),
            e => e,
        }),
    }
}

pub(super) fn find_prefix(idx: &Index, prefix: &str) -> Result<(String, bool), ImageError> {
    let start = format!("sha256:{prefix}");
    let matches: Vec<&String> = idx
        .images
        .range(start.clone()..)
        .take_while(|(k, _)| k.starts_with(&start))
        .map(|(k, _)| k)
        .take(2)
        .collect();
    match matches.as_slice() {
        [] => Err(ImageError::NotFound(prefix.to_string())),
        [one] => Ok(((*one).clone(), true)),
        _ => Err(ImageError::Ambiguous {
            prefix: prefix.to_string(),
            count: idx.images.keys().filter(|k| k.starts_with(&start)).count(),
        }),
    }
}

pub(super) fn read_tags(root: &Path) -> Result<BTreeMap<String, String>, ImageError> {
    let p = root.join("repositories.json");
    match fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| ImageError::Corrupt(format!("{} is not a tag index: {e}", p.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(io_err("read", &p)(e)),
    }
}

pub(super) fn read_layer_meta(dir: &Path) -> Option<LayerMeta> {
    let num = |name: &str| -> Option<u64> {
        fs::read_to_string(dir.join(name)).ok()?.trim().parse().ok()
    };
    Some(LayerMeta {
        size: num("size")?,
        newest_mtime: num("newest-mtime").unwrap_or(0),
    })
}

pub(super) fn load_index(root: &Path) -> Result<Index, ImageError> {
    let mut idx = Index {
        tags: read_tags(root)?,
        ..Default::default()
    };
    let layers = root.join("layers");
    for e in fs::read_dir(&layers)
        .map_err(io_err("read", &layers))?
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if diff_hex(&name).is_err() {
            continue;
        }
        if let Some(meta) = read_layer_meta(&e.path()) {
            idx.layers.insert(name, meta);
        }
    }
    let configs = root.join("configs");
    for e in fs::read_dir(&configs)
        .map_err(io_err("read", &configs))?
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(hex) = name.strip_suffix(".json").filter(|h| diff_hex(h).is_ok()) else {
            continue;
        };
        // A config that vanished or does not parse is skipped: one damaged
        // image must not make every other one unreachable.
        let Ok(bytes) = fs::read(e.path()) else {
            continue;
        };
        let Ok(config) = serde_json::from_slice::<ImageConfig>(&bytes) else {
            continue;
        };
        idx.insert_image(&format!("sha256:{hex}"), config);
    }
    Ok(idx)
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
