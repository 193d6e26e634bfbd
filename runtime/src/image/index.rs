//! The store's in-memory index: every image by id, the tags, the layers'
//! sizes, loaded from disk once and kept while the store's stamp (the
//! mtimes of its dirs and tag file) says nothing changed; and the lookup of
//! a reference (tag, id, or id prefix) in it.

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
        let id = format!("sha256:{hex}");
        let size = config
            .rootfs
            .diff_ids
            .iter()
            .filter_map(|d| idx.layers.get(diff_hex(d).ok()?))
            .map(|m| m.size)
            .sum();
        let created = config
            .created
            .as_deref()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
            .map(|t| t.timestamp())
            .unwrap_or(0);
        let repo_tags = idx
            .tags
            .iter()
            .filter(|(_, v)| **v == id)
            .map(|(k, _)| k.clone())
            .collect();
        idx.images.insert(
            id.clone(),
            Image {
                id,
                config,
                repo_tags,
                size,
                created,
            },
        );
    }
    Ok(idx)
}
