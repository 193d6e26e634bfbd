//! ADD and COPY: sources from the build context, from a URL (ADD), or from
//! an image or an earlier build stage (`COPY --from`), staged as a layer.
//! The cache key is the sha256 of what is copied, never mtimes.

use super::dockerfile::CopySpec;
use super::steps::{advance, cached, commit_layer, State};
use super::{context, io_err, url, BuildError, Message, Session};
use crate::image::{Image, ImageError};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub(super) fn copy_step(
    s: &mut Session<'_, '_>,
    st: &mut State,
    spec: &CopySpec,
    is_add: bool,
) -> Result<(), BuildError> {
    let what = if is_add { "ADD" } else { "COPY" };
    let dest = st.subst_word(&spec.dest)?;
    let owner = context::parse_chown(spec.chown.as_deref())?;
    let layers = match &st.image {
        Some(img) => s.b.store.layer_dirs(img)?,
        None => Vec::new(),
    };
    // Scratch for downloads and for files taken out of another image; the
    // sources are gathered first: their content is part of the cache key.
    let work = s.b.scratch.join(format!("copy-{}", rand::random::<u64>()));
    let result = (|| {
        let from = match &spec.from {
            Some(f) => Some(from_image(s, st, f)?),
            None => None,
        };
        let mut sources: Vec<(PathBuf, Option<String>)> = Vec::new();
        for (n, src) in spec.sources.iter().enumerate() {
            let src = st.subst_word(src)?;
            if src.starts_with("http://") || src.starts_with("https://") {
                if !is_add {
                    return Err(BuildError::Invalid(format!(
                        "COPY cannot fetch a URL ({src}); use ADD"
                    )));
                }
                let dir = work.join(format!("url-{n}"));
                fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
                let name = url::file_name(&src);
                let path = dir.join(&name);
                url::fetch(&src, &path)?;
                sources.push((path, Some(name)));
            } else if let Some((label, img)) = &from {
                for p in sources_in_image(s, img, label, &src, &work.join(format!("from-{n}")))? {
                    sources.push((p, None));
                }
            } else {
                for p in context::find_sources(s.b.context, &src)? {
                    sources.push((p, None));
                }
            }
        }
        let paths: Vec<PathBuf> = sources.iter().map(|(p, _)| p.clone()).collect();
        // COPY --from keeps the owners, so they are part of the key.
        let keep_owners = from.is_some() && spec.chown.is_none();
        let mut hash = context::hash_sources(&paths, keep_owners)?;
        // Docker writes a download's checksum bare: `ADD <hex> in /dst`.
        if sources.len() == 1 && sources[0].1.is_some() {
            hash = hash.trim_start_matches("file:").to_string();
        }
        let chown_note = spec
            .chown
            .as_deref()
            .map(|c| format!("--chown={c} "))
            .unwrap_or_default();
        let created_by = st.nop(&format!("{what} {chown_note}{hash} in {dest} "));
        let run = st.config.config.clone();
        if let Some(hit) = cached(s, st, &created_by, false, &run)? {
            (s.emit)(Message::Stream(" ---> Using cache\n".into()));
            return Ok(hit);
        }
        let stage_root = work.join("stage");
        fs::create_dir_all(&stage_root).map_err(io_err("create directory", &stage_root))?;
        let stage = context::Stage {
            root: stage_root.clone(),
            layers: &layers,
            owner: if keep_owners { None } else { Some(owner) },
        };
        stage_sources(st, &stage, &sources, &dest, is_add, what)?;
        commit_layer(s, st, &stage_root, created_by)
    })();
    let _ = fs::remove_dir_all(&work);
    advance(s, st, result?)
}

/// `--from=NAME`: an earlier stage (by name or index), else an image.
fn from_image(s: &Session<'_, '_>, st: &State, from: &str) -> Result<(String, Image), BuildError> {
    let name = st.subst_word(from)?;
    if let Some(img) = s.stage_image(&name) {
        return Ok((format!("build stage {name}"), img));
    }
    let img = s.b.store.resolve(&name).map_err(|e| match e {
        ImageError::NotFound(_) => BuildError::Invalid(format!(
            "COPY --from={name}: there is no earlier build stage named {name} and no image {name} here; name a stage (FROM image AS {name}) or make the image with `whale bootstrap`, `whale load` or `whale build` first"
        )),
        other => BuildError::Image(other),
    })?;
    Ok((format!("image {name}"), img))
}

/// The paths `src` names in `img`, taken out of its layers into `root`
/// (hard links: layers are never written), so the context's own lookup,
/// globbing and hashing work on them.
fn sources_in_image(
    s: &Session<'_, '_>,
    img: &Image,
    label: &str,
    src: &str,
    root: &Path,
) -> Result<Vec<PathBuf>, BuildError> {
    let layers = s.b.store.layer_dirs(img)?;
    let (dir, last) = match src.trim_end_matches('/').rsplit_once('/') {
        Some((d, l)) => (d.to_string(), l.to_string()),
        None => (String::new(), src.to_string()),
    };
    let wildcard = last.contains(['*', '?', '[']);
    let rel = if wildcard {
        let mut r = context::resolve_in_image(&layers, &format!("/{dir}"), true);
        r.push(last.clone());
        r
    } else {
        context::resolve_in_image(&layers, src, true)
    };
    let take = if wildcard {
        &rel[..rel.len() - 1]
    } else {
        &rel[..]
    };
    if context::lookup_in_layers(&layers, take).is_none() {
        return Err(BuildError::Invalid(format!(
            "COPY failed: stat {src}: file does not exist in {label}"
        )));
    }
    let dest = root.join(take.iter().collect::<PathBuf>());
    if !dest.exists() {
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
        }
        materialize(&layers, &mut take.to_vec(), &dest)?;
    }
    Ok(context::find_sources(root, &format!("/{}", rel.join("/")))?)
}

/// Lay out `rel` as the image sees it (its layers merged, whiteouts and
/// opaque directories honoured) at `dest`.
fn materialize(layers: &[PathBuf], rel: &mut Vec<String>, dest: &Path) -> Result<(), BuildError> {
    let Some((path, m)) = context::lookup_in_layers(layers, rel) else {
        return Ok(());
    };
    if !m.is_dir() {
        if fs::hard_link(&path, dest).is_err() {
            // Another file system: copy instead (a symlink stays one).
            if m.file_type().is_symlink() {
                let t = fs::read_link(&path).map_err(io_err("read link", &path))?;
                std::os::unix::fs::symlink(t, dest).map_err(io_err("create symlink", dest))?;
            } else {
                fs::copy(&path, dest).map_err(io_err("copy to", dest))?;
                let _ = std::os::unix::fs::lchown(dest, Some(m.uid()), Some(m.gid()));
            }
        }
        return Ok(());
    }
    fs::create_dir(dest).map_err(io_err("create directory", dest))?;
    let mut names = BTreeSet::new();
    for layer in layers {
        let p = layer.join(rel.iter().collect::<PathBuf>());
        match fs::symlink_metadata(&p) {
            Ok(lm) if lm.is_dir() => {
                for e in fs::read_dir(&p)
                    .map_err(io_err("read directory", &p))?
                    .flatten()
                {
                    names.insert(e.file_name().to_string_lossy().into_owned());
                }
                let opaque = xattr::get(&p, crate::linux::userns::opaque_xattr())
                    .ok()
                    .flatten();
                if opaque.as_deref() == Some(b"y") {
                    break;
                }
            }
            // A file or a whiteout here hides the lower layers.
            Ok(_) => break,
            Err(_) => continue,
        }
    }
    for n in names {
        rel.push(n.clone());
        let r = materialize(layers, rel, &dest.join(&n));
        rel.pop();
        r?;
    }
    // Mode, owner and mtime last: a read-only dir must first be filled.
    fs::set_permissions(dest, fs::Permissions::from_mode(m.mode() & 0o7777))
        .map_err(io_err("set the mode of", dest))?;
    let _ = std::os::unix::fs::lchown(dest, Some(m.uid()), Some(m.gid()));
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(m.mtime().max(0) as u64);
    let _ = fs::File::open(dest).and_then(|f| f.set_modified(t));
    Ok(())
}

fn stage_sources(
    st: &State,
    stage: &context::Stage<'_>,
    sources: &[(PathBuf, Option<String>)],
    dest: &str,
    is_add: bool,
    what: &str,
) -> Result<(), BuildError> {
    let abs_dest = if dest.starts_with('/') {
        dest.to_string()
    } else {
        let wd = if st.config.config.working_dir.is_empty() {
            "/"
        } else {
            st.config.config.working_dir.as_str()
        };
        format!("{}/{}", wd.trim_end_matches('/'), dest)
    };
    let dest_is_dir_syntax =
        dest.ends_with('/') || dest == "." || dest.ends_with("/.") || sources.len() > 1;
    let resolved = context::resolve_in_image(stage.layers, &abs_dest, true);
    let dest_exists_as_dir =
        context::lookup_in_layers(stage.layers, &resolved).is_some_and(|(_, m)| m.is_dir());
    if sources.len() > 1 && !dest.ends_with('/') && !dest_exists_as_dir {
        return Err(BuildError::Invalid(format!(
            "When using {what} with more than one source file, the destination must be a directory and end with a /"
        )));
    }
    for (src, url_name) in sources {
        let m = fs::symlink_metadata(src).map_err(io_err("stat", src))?;
        if m.is_dir() {
            let d = stage.ensure_dir(&resolved)?;
            stage.copy_tree(src, &d)?;
            continue;
        }
        if is_add && url_name.is_none() {
            if let Some(gzip) = context::archive_kind(src) {
                let d = stage.ensure_dir(&resolved)?;
                context::extract_archive(src, gzip, &d)?;
                continue;
            }
        }
        let name = url_name.clone().unwrap_or_else(|| {
            src.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let (dir, file) = if dest_is_dir_syntax || dest_exists_as_dir {
            (resolved.clone(), name.clone())
        } else {
            match resolved.split_last() {
                Some((last, parent)) => (parent.to_vec(), last.clone()),
                None => (Vec::new(), name.clone()),
            }
        };
        let d = stage.ensure_dir(&dir)?;
        let target = d.join(&file);
        if fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
            return Err(BuildError::Invalid(format!(
                "{what}: cannot copy file {name} over the directory {}",
                target.display()
            )));
        }
        stage.copy_tree(src, &target)?;
        if url_name.is_some() {
            fs::set_permissions(&target, fs::Permissions::from_mode(0o600))
                .map_err(io_err("set the mode of", &target))?;
        }
    }
    Ok(())
}
