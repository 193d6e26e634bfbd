//! A reference as a registry sees it: which registry, which repository,
//! which tag or digest, with Docker's rules (the first component names a
//! registry when it has a `.` or a `:`, or is `localhost`; anything else is
//! on Docker Hub, which whale cannot reach here).

use super::RegistryError;
use whale_formats::reference::parse_tag;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    /// `host[:port]`.
    pub registry: String,
    /// The repository path on the registry (`busybox`, `class/whalesay`).
    pub repository: String,
    /// The tag, unless the reference is by digest.
    pub tag: Option<String>,
    /// `sha256:<64 hex>` when pulled by digest.
    pub digest: Option<String>,
}

/// Docker Hub's names for itself.
const HUB: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

impl RemoteRef {
    /// Parse `name[:tag][@sha256:...]`; a name on Docker Hub is refused with
    /// what to do instead.
    pub fn parse(s: &str) -> Result<RemoteRef, RegistryError> {
        let bad = |reason: String| RegistryError::BadReference {
            reference: s.to_string(),
            reason,
        };
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => {
                let hex = d.strip_prefix("sha256:").unwrap_or("");
                if hex.len() != 64
                    || !hex
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                {
                    return Err(bad(format!(
                        "the digest {d:?} is not sha256: followed by 64 lowercase hex digits"
                    )));
                }
                (n, Some(d.to_string()))
            }
            None => (s, None),
        };
        // The grammar (and its messages) are formats::reference's.
        let checked = parse_tag(name).map_err(|e| bad(e.reason))?;
        let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
        let has_tag = name[last_slash..].contains(':');
        let (path, tag) = checked.rsplit_once(':').unwrap_or((&checked, "latest"));
        let first = name.split('/').next().unwrap_or("");
        let names_registry = name.contains('/')
            && (first.contains('.') || first.contains(':') || first == "localhost");
        let (registry, repository) = if names_registry {
            let repo = path.split_once('/').map(|(_, r)| r).unwrap_or(path);
            (first.to_string(), repo.to_string())
        } else {
            ("docker.io".to_string(), path.to_string())
        };
        if HUB.contains(&registry.as_str()) {
            // Said with Docker's familiar name (`busybox:latest`, not
            // `docker.io/library/busybox:latest`), as `docker pull` says it.
            let familiar = repository.strip_prefix("library/").unwrap_or(&repository);
            let reference = match &digest {
                Some(d) if !has_tag => format!("{familiar}@{d}"),
                Some(d) => format!("{familiar}:{tag}@{d}"),
                None => format!("{familiar}:{tag}"),
            };
            return Err(RegistryError::NoHub { reference });
        }
        let tag = match (&digest, has_tag) {
            (Some(_), false) => None,
            _ => Some(tag.to_string()),
        };
        Ok(RemoteRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`, as tags and RepoDigests name it.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The tag or digest to ask the registry for.
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// `name:tag` when the reference has a tag.
    pub fn tagged(&self) -> Option<String> {
        self.tag.as_ref().map(|t| format!("{}:{t}", self.name()))
    }

    /// As Docker prints it back: `name:tag` or `name@digest`.
    pub fn display(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("{}@{d}", self.name()),
            (None, Some(t)) => format!("{}:{t}", self.name()),
            (None, None) => self.name(),
        }
    }
}

/// The host part of `host[:port]` (`[::1]:5000` -> `::1`).
pub fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(registry)
}

/// Loopback registries are reached over plain HTTP, as Docker does.
pub fn is_loopback(registry: &str) -> bool {
    let host = host_of(registry);
    if host == "localhost" {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_a_registry_as_docker_does() {
        let r = RemoteRef::parse("127.0.0.1:5000/busybox").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "busybox");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(r.reference(), "latest");
        assert_eq!(r.tagged().unwrap(), "127.0.0.1:5000/busybox:latest");
        let r = RemoteRef::parse("localhost:5000/class/whalesay:v2").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("localhost:5000", "class/whalesay")
        );
        assert_eq!(r.tag.as_deref(), Some("v2"));
        let d = format!("sha256:{}", "a".repeat(64));
        let r = RemoteRef::parse(&format!("reg.example.com/x@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.reference(), d);
        assert_eq!(r.display(), format!("reg.example.com/x@{d}"));
    }

    #[test]
    fn hub_and_bad_references_are_refused_clearly() {
        for hub in [
            "busybox",
            "library/busybox:1",
            "docker.io/library/busybox",
            "someone/app",
        ] {
            let e = RemoteRef::parse(hub).unwrap_err().to_string();
            assert!(e.contains("Docker Hub"), "{hub}: {e}");
        }
        let e = RemoteRef::parse("docker.io/library/busybox").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("pull access denied for busybox:latest:"),
            "{e}"
        );
        assert!(e.to_string().contains("whale bootstrap busybox"), "{e}");
        assert!(RemoteRef::parse("127.0.0.1:5000/BusyBox").is_err());
        assert!(RemoteRef::parse("127.0.0.1:5000/b@sha256:12").is_err());
    }

    #[test]
    fn loopback_hosts() {
        for r in [
            "127.0.0.1:5000",
            "127.1.2.3",
            "localhost:5000",
            "[::1]:5000",
            "localhost",
        ] {
            assert!(is_loopback(r), "{r}");
        }
        for r in ["10.0.0.1:5000", "reg.example.com", "[fe80::1]:5000"] {
            assert!(!is_loopback(r), "{r}");
        }
    }
}
