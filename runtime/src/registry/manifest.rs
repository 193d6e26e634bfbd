//! Image manifests (Docker v2 schema 2, OCI) and manifest lists / OCI
//! indexes, from which the host's platform is chosen.

use super::client::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use super::RegistryError;
use serde::{Deserialize, Serialize};

pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub size: u64,
    pub digest: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image manifest: a config and layers, bottom first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(
        rename = "mediaType",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

#[derive(Debug, Clone, Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

/// What a manifest answer was.
pub enum Fetched {
    Image(Manifest),
    /// A list or index: the entry for this host, to fetch by digest.
    Pick(Descriptor),
}

/// Read a manifest answer of `media_type` (or, when the registry did not
/// say, of the `mediaType` inside).
pub fn parse(bytes: &[u8], media_type: &str, what: &str) -> Result<Fetched, RegistryError> {
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| RegistryError::Protocol(format!("the manifest of {what} is not JSON: {e}")))?;
    let inner = v.get("mediaType").and_then(|m| m.as_str()).unwrap_or("");
    let kind = if media_type.is_empty() || media_type == "application/json" {
        inner
    } else {
        media_type
    };
    let is_index = kind == DOCKER_LIST
        || kind == OCI_INDEX
        || (kind.is_empty() && v.get("manifests").is_some());
    if is_index {
        let idx: Index = serde_json::from_value(v).map_err(|e| {
            RegistryError::Protocol(format!("the manifest list of {what} is malformed: {e}"))
        })?;
        return pick(&idx.manifests, what).map(Fetched::Pick);
    }
    if kind == DOCKER_MANIFEST
        || kind == OCI_MANIFEST
        || (kind.is_empty() && v.get("layers").is_some())
    {
        let m: Manifest = serde_json::from_value(v).map_err(|e| {
            RegistryError::Protocol(format!("the manifest of {what} is malformed: {e}"))
        })?;
        if m.schema_version != 2 {
            return Err(RegistryError::Protocol(format!(
                "the manifest of {what} has schemaVersion {}; whale reads schema 2 and OCI manifests",
                m.schema_version
            )));
        }
        return Ok(Fetched::Image(m));
    }
    Err(RegistryError::Protocol(format!(
        "the manifest of {what} is of type {kind:?}; whale reads Docker schema 2 and OCI manifests and indexes (schema 1 is long deprecated: push the image again with a current client)"
    )))
}

/// The host's entry of a list: linux on this architecture (arm64's
/// variant v8 or none).
fn pick(entries: &[Descriptor], what: &str) -> Result<Descriptor, RegistryError> {
    let arch = crate::image::host_architecture();
    let fits = |d: &&Descriptor| {
        d.platform.as_ref().is_some_and(|p| {
            p.os == "linux"
                && p.architecture == arch
                && (arch != "arm64" || matches!(p.variant.as_deref(), None | Some("v8")))
        })
    };
    entries.iter().find(fits).cloned().ok_or_else(|| {
        let have: Vec<String> = entries
            .iter()
            .filter_map(|d| d.platform.as_ref())
            .map(|p| match &p.variant {
                Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                None => format!("{}/{}", p.os, p.architecture),
            })
            .collect();
        RegistryError::NotFound(format!(
            "no matching manifest for linux/{arch} in the manifest list entries of {what} (it has: {})",
            have.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_gives_the_hosts_platform() {
        let arch = crate::image::host_architecture();
        let list = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[
            {{"mediaType":"{DOCKER_MANIFEST}","size":1,"digest":"sha256:aa","platform":{{"architecture":"s390x","os":"linux"}}}},
            {{"mediaType":"{DOCKER_MANIFEST}","size":2,"digest":"sha256:bb","platform":{{"architecture":"{arch}","os":"linux"}}}}]}}"#
        );
        let Fetched::Pick(d) = parse(list.as_bytes(), DOCKER_LIST, "x").unwrap() else {
            panic!("a list is not an image")
        };
        assert_eq!(d.digest, "sha256:bb");
        let only_other = list.replace(
            &format!(r#""architecture":"{arch}""#),
            r#""architecture":"mips""#,
        );
        let e = parse(only_other.as_bytes(), "", "x")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("no matching manifest") && e.contains("linux/s390x"),
            "{e}"
        );
    }

    #[test]
    fn oci_and_schema1() {
        let m = r#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":3,"digest":"sha256:cc"},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","size":4,"digest":"sha256:dd"}]}"#;
        let Fetched::Image(m) = parse(m.as_bytes(), OCI_MANIFEST, "x").unwrap() else {
            panic!("an image is not a list")
        };
        assert_eq!(m.layers[0].digest, "sha256:dd");
        let s1 = r#"{"schemaVersion":1,"fsLayers":[]}"#;
        assert!(parse(
            s1.as_bytes(),
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
            "x"
        )
        .is_err());
    }
}
