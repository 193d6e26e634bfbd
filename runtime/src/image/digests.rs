//! RepoDigests: `name@sha256:<manifest digest>` references an image gets
//! when it is pulled from or pushed to a registry, kept in
//! `repodigests.json` (`{"127.0.0.1:5000/busybox@sha256:...": "sha256:<id>"}`).
//! They resolve like tags (`run`, `inspect`, `rmi` by digest), show in
//! `inspect`'s RepoDigests and `images --digests`, and go with the image.

use super::{io_err, Image, ImageError, Removed, Store};
use crate::fsutil::write_json_atomic;
use std::collections::BTreeMap;
use std::fs;

const FILE: &str = "repodigests.json";

/// `name@sha256:<64 hex>`, checked; the name as the store spells names.
pub fn parse_digest_ref(reference: &str) -> Result<String, ImageError> {
    let bad = |why: &str| {
        ImageError::BadInput(format!(
            "invalid reference format: {why} (in {reference:?}); a digest reference is NAME@sha256:<64 hex digits>"
        ))
    };
    let (name, digest) = reference.split_once('@').ok_or_else(|| bad("no @"))?;
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| bad("the digest is not sha256:"))?;
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(bad("the digest is not 64 lowercase hex digits"));
    }
    let tagged = super::parse_tag(name)?;
    let name = tagged.rsplit_once(':').map(|(n, _)| n).unwrap_or(&tagged);
    Ok(format!("{name}@{digest}"))
}

impl Store {
    fn read_digests(&self) -> Result<BTreeMap<String, String>, ImageError> {
        let p = self.root.join(FILE);
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| ImageError::Corrupt(format!("{}: {e}", p.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(io_err("read", &p)(e)),
        }
    }

    fn write_digests(&self, m: &BTreeMap<String, String>) -> Result<(), ImageError> {
        let p = self.root.join(FILE);
        write_json_atomic(&p, m).map_err(io_err("write", &p))
    }

    /// Record that `name@digest` is image `image_id` (replacing what it was).
    pub fn add_repo_digest(
        &self,
        name: &str,
        digest: &str,
        image_id: &str,
    ) -> Result<(), ImageError> {
        let key = parse_digest_ref(&format!("{name}@{digest}"))?;
        let _g = self.lock()?;
        let mut m = self.read_digests()?;
        m.insert(key, image_id.to_string());
        self.write_digests(&m)
    }

    /// The image's RepoDigests, sorted.
    pub fn repo_digests(&self, image_id: &str) -> Vec<String> {
        self.read_digests()
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, id)| id == image_id)
            .map(|(k, _)| k)
            .collect()
    }

    /// The image `name@sha256:...` names.
    pub(super) fn resolve_digest(&self, reference: &str) -> Result<Image, ImageError> {
        let key = parse_digest_ref(reference)?;
        let id = self
            .read_digests()?
            .get(&key)
            .cloned()
            .ok_or_else(|| ImageError::NotFound(reference.to_string()))?;
        self.resolve(&id)
            .map_err(|_| ImageError::NotFound(reference.to_string()))
    }

    /// `rmi name@sha256:...`: drop that reference; the image goes too when
    /// nothing else names it.
    pub(super) fn remove_digest(
        &self,
        reference: &str,
        force: bool,
        in_use: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Removed>, ImageError> {
        let image = self.resolve_digest(reference)?;
        let key = parse_digest_ref(reference)?;
        let others = self.repo_digests(&image.id).len() > 1 || !image.repo_tags.is_empty();
        if !others {
            if in_use(&image.id) && !force {
                return Err(ImageError::Conflict(format!(
                    "conflict: unable to remove repository reference {reference:?} (must force) - a container is using its referenced image {}",
                    image.short_id()
                )));
            }
            if !in_use(&image.id) {
                // remove() untags the digests (this one among them) and deletes.
                return self.remove(&image.id, force, in_use);
            }
        }
        let _g = self.lock()?;
        let mut m = self.read_digests()?;
        m.remove(&key);
        self.write_digests(&m)?;
        Ok(vec![Removed::Untagged(key)])
    }

    /// Under the lock, when an image is deleted: its digests go, each an `Untagged`.
    pub(super) fn drop_digests_locked(&self, image_id: &str) -> Vec<Removed> {
        let Ok(mut m) = self.read_digests() else {
            return Vec::new();
        };
        let gone: Vec<String> = m
            .iter()
            .filter(|(_, id)| id.as_str() == image_id)
            .map(|(k, _)| k.clone())
            .collect();
        if gone.is_empty() {
            return Vec::new();
        }
        m.retain(|_, id| id != image_id);
        if self.write_digests(&m).is_err() {
            return Vec::new();
        }
        gone.into_iter().map(Removed::Untagged).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_references_are_checked() {
        let d = format!("sha256:{}", "0a".repeat(32));
        assert_eq!(
            parse_digest_ref(&format!("127.0.0.1:5000/bb@{d}")).unwrap(),
            format!("127.0.0.1:5000/bb@{d}")
        );
        assert!(parse_digest_ref("bb@sha256:12").is_err());
        assert!(parse_digest_ref(&format!("bb@md5:{}", "0".repeat(64))).is_err());
        assert!(parse_digest_ref(&format!("BB@{d}")).is_err());
    }
}
