//! The docker-archive format of `docker save` / `docker load` (Docker 1.10
//! and later): `manifest.json` (`[{"Config", "RepoTags", "Layers"}]`), one
//! `<id>.json` config per image, one `<v1 id>/layer.tar` per layer (plus
//! the legacy `VERSION`, `json` and `repositories` files, written for old
//! readers and ignored on load).
//!
//! A loaded archive comes from outside and is treated as hostile. `load`
//! never writes an archive entry by its name: it reads the archive three
//! times, and writes only layers (through the store's checked extraction)
//! and configs (by their sha256), into temps, committed all at once:
//!
//! 1. scan the headers (`tarscan`: bounded PAX/long-name records, no
//!    sparse files, known types only), allowing only files, directories and
//!    symlinks with clean relative names, each name once; bound the entry
//!    count and bytes; read `manifest.json` (bounded);
//! 2. check the manifest before anything is written: its shape, the tag
//!    count and every tag's grammar, that each config and layer it names is
//!    a file of the archive (legacy symlinks are followed inside the name
//!    table, never on disk) within the size limits;
//! 3. read the archive again: each named layer goes to `prepare_layer`
//!    (received, scanned, unpacked into temps), each config into the
//!    scratch dir;
//! 4. check every config (JSON, layers rootfs) and that each layer's
//!    sha256 is the diff_id the config expects;
//! 5. `commit_images`: layers, configs and all tags, with one write of the
//!    tag index, under the store lock.
//!
//! A refusal or failure at any step drops the temps; a killed load leaves
//! temps named by its pid, removed when the store next opens.

use super::limits::exceeded;
use super::staging::{PreparedLayer, StagedImage};
use super::tarscan::{scan, ScanLimits, Scanned};
use super::{Image, ImageError, Store};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

/// One image of `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManifestEntry {
    pub config: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    pub layers: Vec<String>,
}

/// An image `load` put in the store, with the tags the archive gave it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub image: Image,
    pub tags: Vec<String>,
}

fn bad(msg: String) -> ImageError {
    ImageError::BadInput(msg)
}

fn write_err(e: io::Error) -> ImageError {
    ImageError::Write(e)
}

// ---------------------------------------------------------------- save

fn tar_file(
    tar: &mut tar::Builder<impl Write>,
    name: &str,
    data: &[u8],
    mtime: u64,
) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, name, data)
}

fn tar_dir(tar: &mut tar::Builder<impl Write>, name: &str, mtime: u64) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_mode(0o755);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Directory);
    tar.append_data(&mut h, name, io::empty())
}

/// The v1 layer id Docker's save uses for a layer dir: a digest of the
/// chain so far, so equal layers at different positions stay apart.
pub fn v1_id(parent: &str, diff_id: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(format!("{parent}\n{diff_id}").as_bytes()))
}

/// Write the images (with the tags they were asked by) as a docker-archive.
pub fn write_archive(
    store: &Store,
    wanted: &[(Image, Vec<String>)],
    out: impl Write,
) -> Result<(), ImageError> {
    let mut tar = tar::Builder::new(out);
    let mut manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut written: HashSet<String> = HashSet::new();
    for (img, tags) in wanted {
        let mtime = img.created.max(0) as u64;
        let mut parent = String::new();
        let mut layers = Vec::new();
        for diff in &img.config.rootfs.diff_ids {
            let id = v1_id(&parent, diff);
            let path = format!("{id}/layer.tar");
            if written.insert(id.clone()) {
                tar_dir(&mut tar, &format!("{id}/"), mtime).map_err(write_err)?;
                tar_file(&mut tar, &format!("{id}/VERSION"), b"1.0", mtime).map_err(write_err)?;
                let mut v1 = serde_json::json!({ "id": id, "created": "1970-01-01T00:00:00Z" });
                if !parent.is_empty() {
                    v1["parent"] = serde_json::Value::String(parent.clone());
                }
                tar_file(
                    &mut tar,
                    &format!("{id}/json"),
                    v1.to_string().as_bytes(),
                    mtime,
                )
                .map_err(write_err)?;
                let mut layer = store.layer_tar(diff)?;
                let len = layer.len;
                let mut h = tar::Header::new_gnu();
                h.set_size(len);
                h.set_mode(0o644);
                h.set_mtime(mtime);
                h.set_entry_type(tar::EntryType::Regular);
                // Exactly the recorded size; then read on to the end, where
                // a replayed tar checks its sha256 against the diff_id.
                tar.append_data(&mut h, &path, (&mut layer).take(len))
                    .map_err(write_err)?;
                let mut rest = [0u8; 1];
                if layer.read(&mut rest).map_err(write_err)? != 0 {
                    return Err(write_err(io::Error::other(format!(
                        "layer {diff} is longer than its recorded {len} bytes"
                    ))));
                }
            }
            layers.push(path);
            parent = id;
        }
        let cfg_name = format!("{}.json", img.hex());
        if written.insert(cfg_name.clone()) {
            let bytes = store.config_bytes(img)?;
            tar_file(&mut tar, &cfg_name, &bytes, mtime).map_err(write_err)?;
        }
        for t in tags {
            if let Some((repo, tag)) = t.rsplit_once(':') {
                repositories
                    .entry(repo.to_string())
                    .or_default()
                    .insert(tag.to_string(), parent.clone());
            }
        }
        manifest.push(ManifestEntry {
            config: cfg_name,
            repo_tags: (!tags.is_empty()).then(|| tags.clone()),
            layers,
        });
    }
    let m = serde_json::to_vec(&manifest).map_err(|e| write_err(io::Error::other(e)))?;
    tar_file(&mut tar, "manifest.json", &m, 0).map_err(write_err)?;
    if !repositories.is_empty() {
        let r = serde_json::to_vec(&repositories).map_err(|e| write_err(io::Error::other(e)))?;
        tar_file(&mut tar, "repositories", &r, 0).map_err(write_err)?;
    }
    tar.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(write_err)?;
    Ok(())
}

// ---------------------------------------------------------------- load

/// The archive at `path`, gunzipped when it is gzip.
fn open_archive(path: &Path) -> Result<Box<dyn Read>, ImageError> {
    let f = File::open(path).map_err(super::io_err("open", path))?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let head = r.fill_buf().map_err(super::io_err("read", path))?;
    if head.is_empty() {
        return Err(bad("the image archive is empty (0 bytes)".into()));
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(Box::new(flate2::bufread::MultiGzDecoder::new(r)));
    }
    if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
        || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || head.starts_with(b"BZh")
    {
        return Err(bad(
            "the image archive is xz, zstd or bzip2 compressed; whale loads plain or gzip tars: decompress it first".into(),
        ));
    }
    Ok(Box::new(r))
}

/// An archive entry's name as a clean relative path (`a/b`), refusing
/// `..` and absolute names: a docker-archive has neither.
fn clean_name(raw: &[u8]) -> Result<String, ImageError> {
    if raw.len() > MAX_NAME {
        return Err(bad(format!(
            "the image archive has an entry name of {} bytes; a docker-archive's are short (at most {MAX_NAME})",
            raw.len()
        )));
    }
    let shown = String::from_utf8_lossy(raw);
    if raw.starts_with(b"/") {
        return Err(bad(format!(
            "the image archive has an absolute entry name {shown:?}: refused"
        )));
    }
    let comps = super::extract::clean_entry_path(raw).map_err(|r| {
        bad(format!(
            "the image archive's entry {shown:?} is refused: {r}"
        ))
    })?;
    let parts: Vec<String> = comps
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    Ok(parts.join("/"))
}

/// The longest entry name or symlink target a load archive may have
/// (PATH_MAX): the scan keeps every name, so names are bounded.
const MAX_NAME: usize = 4096;

/// Follow `name` through the archive's symlinks (legacy `docker save`
/// links duplicate layers to their first copy), in the name table only,
/// to a regular file entry. A link may not point at an absolute path or
/// above the archive's root.
fn resolve<'a>(
    files: &'a HashMap<String, Scanned>,
    name: &str,
) -> Result<(String, &'a Scanned), ImageError> {
    let mut cur: Vec<String> = clean_name(name.as_bytes())?
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    'hops: for _ in 0..16 {
        // The first component of the path that is a symlink, if any.
        for i in 1..=cur.len() {
            let prefix = cur[..i].join("/");
            let Some(e) = files.get(&prefix).filter(|e| e.kind == b'2') else {
                continue;
            };
            let target =
                String::from_utf8_lossy(e.link.as_deref().unwrap_or_default()).into_owned();
            if target.starts_with('/') {
                return Err(bad(format!(
                    "{name:?} in the image archive goes through {prefix:?}, a symlink to an absolute path"
                )));
            }
            let mut next: Vec<String> = cur[..i - 1].to_vec();
            for c in target.split('/') {
                match c {
                    "" | "." => {}
                    ".." => {
                        if next.pop().is_none() {
                            return Err(bad(format!(
                                "{name:?} in the image archive goes through {prefix:?}, a symlink out of the archive"
                            )));
                        }
                    }
                    c => next.push(c.to_string()),
                }
            }
            next.extend_from_slice(&cur[i..]);
            cur = next;
            continue 'hops;
        }
        let key = cur.join("/");
        return match files.get(&key) {
            Some(e) if e.is_file() => Ok((key, e)),
            Some(_) => Err(bad(format!("{name:?} in the image archive is not a file"))),
            None => Err(bad(format!(
                "the image archive lacks {name:?}, which its manifest.json names"
            ))),
        };
    }
    Err(bad(format!(
        "{name:?} in the image archive is a chain of too many symlinks"
    )))
}

/// Docker's messages for an archive that is not a docker-archive.
const NO_MANIFEST: &str = "the archive has no manifest.json: whale loads the docker-archive format of `docker save` (Docker 1.10 and later)";

/// Load the docker-archive (plain or gzip tar) at `path` into `store`;
/// `scratch` is an empty dir for the configs on their way (see the module
/// doc for the steps and what each refuses).
pub fn load(store: &Store, path: &Path, scratch: &Path) -> Result<Vec<Loaded>, ImageError> {
    let lim = store.limits();
    let scan_limits = ScanLimits {
        what: "the image archive",
        entries: lim.archive_entries,
        entries_var: "WHALE_MAX_ARCHIVE_ENTRIES",
        bytes: lim.load_bytes,
        bytes_var: "WHALE_MAX_LOAD_BYTES",
    };

    // 1. Headers, names, the manifest.
    let mut files: HashMap<String, Scanned> = HashMap::new();
    let mut manifest_bytes: Option<Vec<u8>> = None;
    scan(open_archive(path)?, &scan_limits, |e, data| {
        let name = clean_name(&e.path)?;
        if e.link.as_ref().is_some_and(|l| l.len() > MAX_NAME) {
            return Err(bad(format!(
                "the image archive's entry {name:?} has a link target over {MAX_NAME} bytes"
            )));
        }
        // Nothing lives under a symlink of the archive (docker save never
        // writes such a path): name the entry rather than let it dangle.
        let mut prefix = name.as_str();
        while let Some((parent, _)) = prefix.rsplit_once('/') {
            if files.get(parent).is_some_and(|p| p.kind == b'2') {
                return Err(bad(format!(
                    "the image archive's entry {name:?} lies under its symlink {parent:?}: refused"
                )));
            }
            prefix = parent;
        }
        match e.kind {
            b'5' => {
                if files.get(&name).is_some_and(|o| o.kind != b'5') {
                    return Err(bad(format!(
                        "the image archive has {name:?} twice (as a directory and not)"
                    )));
                }
                files.insert(name, e.clone());
                return Ok(());
            }
            b'0' | b'\0' | b'7' | b'2' => {}
            k => {
                return Err(bad(format!(
                    "the image archive has {} entry {name:?}: a docker-archive holds only files, directories and symlinks",
                    match k {
                        b'1' => "a hard link",
                        b'3' | b'4' => "a device node",
                        b'6' => "a fifo",
                        _ => "an unexpected",
                    }
                )))
            }
        }
        if name.is_empty() {
            return Err(bad("the image archive has a file entry for its root".into()));
        }
        if files.contains_key(&name) {
            return Err(bad(format!(
                "the image archive has two entries named {name:?}: refused (which one would be meant?)"
            )));
        }
        if e.is_file() && e.size > lim.layer_bytes {
            return Err(exceeded(
                &format!("the archive's file {name:?} ({} bytes)", e.size),
                lim.layer_bytes,
                "WHALE_MAX_LAYER_BYTES",
            ));
        }
        if name == "manifest.json" {
            if !e.is_file() {
                return Err(bad("the archive's manifest.json is not a file".into()));
            }
            if e.size > lim.manifest_bytes {
                return Err(exceeded(
                    &format!("the archive's manifest.json ({} bytes)", e.size),
                    lim.manifest_bytes,
                    "WHALE_MAX_MANIFEST_BYTES",
                ));
            }
            let mut v = Vec::with_capacity(e.size as usize);
            data.take(e.size)
                .read_to_end(&mut v)
                .map_err(|err| bad(format!("reading the archive's manifest.json: {err}")))?;
            if v.len() as u64 != e.size {
                return Err(bad(
                    "the image archive is truncated in its manifest.json".into()
                ));
            }
            manifest_bytes = Some(v);
        }
        files.insert(name, e.clone());
        Ok(())
    })?;

    // 2. The manifest, before anything is written.
    let manifest_bytes = manifest_bytes.ok_or_else(|| bad(NO_MANIFEST.into()))?;
    let manifest: Vec<ManifestEntry> = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| bad(format!("the archive's manifest.json is invalid: {e}")))?;
    drop(manifest_bytes);
    if manifest.is_empty() {
        return Err(bad("the archive's manifest.json lists no image".into()));
    }
    let tag_count: u64 = manifest
        .iter()
        .map(|m| m.repo_tags.as_ref().map_or(0, |t| t.len() as u64))
        .sum();
    if tag_count > lim.load_tags {
        return Err(exceeded(
            &format!("the archive's tag count ({tag_count})"),
            lim.load_tags,
            "WHALE_MAX_LOAD_TAGS",
        ));
    }
    struct Plan {
        config: String,
        layers: Vec<String>,
        tags: Vec<String>,
    }
    let mut plans = Vec::new();
    let mut want_configs: HashSet<String> = HashSet::new();
    let mut want_layers: HashSet<String> = HashSet::new();
    for m in &manifest {
        let mut tags = Vec::new();
        for t in m.repo_tags.iter().flatten() {
            let tag = super::parse_tag(t).map_err(|e| {
                bad(format!(
                    "the archive's manifest.json has an invalid tag {t:?}: {e}"
                ))
            })?;
            tags.push(tag);
        }
        let (config, c) = resolve(&files, &m.config)
            .map_err(|e| bad(format!("the image config {:?}: {e}", m.config)))?;
        if c.size > lim.config_bytes {
            return Err(exceeded(
                &format!("the image config {:?} ({} bytes)", m.config, c.size),
                lim.config_bytes,
                "WHALE_MAX_CONFIG_BYTES",
            ));
        }
        // Before any layer is unpacked: an image too deep to run is refused
        // now, not after its layers were received.
        if m.layers.len() > super::MAX_IMAGE_LAYERS {
            return Err(bad(format!(
                "the image {:?} of the archive has {} layers; whale's limit is {}: overlayfs stacks at most 500 layers and a container adds one of its own",
                m.repo_tags.iter().flatten().next().unwrap_or(&m.config),
                m.layers.len(),
                super::MAX_IMAGE_LAYERS
            )));
        }
        let mut layers = Vec::new();
        for l in &m.layers {
            let (name, _) = resolve(&files, l).map_err(|e| bad(format!("the layer {l:?}: {e}")))?;
            want_layers.insert(name.clone());
            layers.push(name);
        }
        want_configs.insert(config.clone());
        plans.push(Plan {
            config,
            layers,
            tags,
        });
    }
    drop(manifest);

    // 3. Layers into temps, configs into the scratch dir.
    let mut prepared: Vec<PreparedLayer> = Vec::new();
    let mut layer_hex: HashMap<String, String> = HashMap::new();
    let mut config_files: HashMap<String, std::path::PathBuf> = HashMap::new();
    let mut archive = tar::Archive::new(open_archive(path)?);
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("the image archive is unreadable: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("the image archive is unreadable: {e}")))?;
        if !matches!(
            entry.header().entry_type(),
            tar::EntryType::Regular | tar::EntryType::Continuous
        ) {
            continue;
        }
        let name = clean_name(&entry.path_bytes())?;
        if want_layers.contains(&name) && !layer_hex.contains_key(&name) {
            let p = store.prepare_layer(&mut entry).map_err(|e| match e {
                ImageError::BadInput(m) => bad(format!("layer {name}: {m}")),
                ImageError::Layer(x) => bad(format!("layer {name}: {x}")),
                other => other,
            })?;
            layer_hex.insert(name.clone(), p.hex.clone());
            if !prepared.iter().any(|q| q.hex == p.hex) {
                prepared.push(p);
            }
        }
        if want_configs.contains(&name) && !config_files.contains_key(&name) {
            let mut v = Vec::new();
            (&mut entry)
                .take(lim.config_bytes + 1)
                .read_to_end(&mut v)
                .map_err(|e| bad(format!("reading the image config {name}: {e}")))?;
            if v.len() as u64 > lim.config_bytes {
                return Err(exceeded(
                    &format!("the image config {name:?}"),
                    lim.config_bytes,
                    "WHALE_MAX_CONFIG_BYTES",
                ));
            }
            let p = scratch.join(format!("config-{}", config_files.len()));
            fs::write(&p, &v).map_err(super::io_err("write", &p))?;
            config_files.insert(name, p);
        }
    }

    // 4. Configs against layers.
    let mut staged = Vec::new();
    for plan in &plans {
        let p = config_files.get(&plan.config).ok_or_else(|| {
            bad(format!(
                "the archive lacks the image config {}",
                plan.config
            ))
        })?;
        let bytes = fs::read(p).map_err(super::io_err("read", p))?;
        let cfg = super::parse_config(&bytes)
            .map_err(|e| bad(format!("image config {} is invalid: {e}", plan.config)))?;
        if cfg.rootfs.diff_ids.len() != plan.layers.len() {
            return Err(bad(format!(
                "image config {} lists {} layers but the manifest has {}",
                plan.config,
                cfg.rootfs.diff_ids.len(),
                plan.layers.len()
            )));
        }
        for (want, l) in cfg.rootfs.diff_ids.iter().zip(&plan.layers) {
            let hex = layer_hex
                .get(l)
                .ok_or_else(|| bad(format!("the archive lacks layer {l}")))?;
            if want.strip_prefix("sha256:") != Some(hex.as_str()) {
                return Err(bad(format!(
                    "layer {l} has content sha256:{hex} but the image config expects {want}: the archive is damaged"
                )));
            }
        }
        staged.push(StagedImage {
            config_json: bytes,
            tags: plan.tags.clone(),
        });
    }

    // 5. All at once.
    let images = store.commit_images(prepared, &staged)?;
    Ok(images
        .into_iter()
        .zip(staged)
        .map(|(image, s)| Loaded {
            image,
            tags: s.tags,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn v1_ids_depend_on_position() {
        assert_ne!(super::v1_id("", "sha256:a"), super::v1_id("x", "sha256:a"));
        assert_eq!(super::v1_id("", "sha256:a").len(), 64);
    }
}
