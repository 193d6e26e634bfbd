//! Image references: `name`, `name:tag`, `registry:5000/name:tag`,
//! `sha256:<hex>`, `<hex>` and id prefixes, with Docker's grammar and its
//! "familiar" normalization (`docker.io/library/busybox` is `busybox`).

/// A reference that breaks Docker's grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid reference format: {reason} (in {reference:?})")]
pub struct InvalidReference {
    pub reference: String,
    pub reason: String,
}

/// What a reference string asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A tag in the index, stored as `name:tag` (familiar form).
    Tag(String),
    /// A full image id, as `sha256:<64 hex>`.
    Id(String),
    /// `sha256:<hex prefix>`: only ever an id prefix.
    IdPrefix(String),
}

/// How to look a string up: by tag first and, when the string is also a
/// plausible id prefix, by id prefix after (Docker's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub primary: Reference,
    /// Lowercase hex prefix to try when the tag does not exist.
    pub prefix_fallback: Option<String>,
}

fn invalid(reference: &str, reason: impl Into<String>) -> InvalidReference {
    InvalidReference {
        reference: reference.to_string(),
        reason: reason.into(),
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parse a reference used to FIND an image.
pub fn parse_lookup(s: &str) -> Result<Lookup, InvalidReference> {
    if let Some(hex) = s.strip_prefix("sha256:") {
        if !is_hex(hex) || hex.len() > 64 {
            return Err(invalid(
                s,
                "an image id is sha256: followed by up to 64 lowercase hex digits",
            ));
        }
        let primary = if hex.len() == 64 {
            Reference::Id(s.to_string())
        } else {
            Reference::IdPrefix(hex.to_string())
        };
        return Ok(Lookup {
            primary,
            prefix_fallback: None,
        });
    }
    if s.len() == 64 && is_hex(s) {
        return Ok(Lookup {
            primary: Reference::Id(format!("sha256:{s}")),
            prefix_fallback: None,
        });
    }
    let tag = parse_tag(s)?;
    Ok(Lookup {
        primary: Reference::Tag(tag),
        prefix_fallback: is_hex(s).then(|| s.to_string()),
    })
}

/// Parse a reference used to NAME an image (tag target): must be a name,
/// optionally with a tag; returns the familiar `name:tag`.
pub fn parse_tag(s: &str) -> Result<String, InvalidReference> {
    if s.is_empty() {
        return Err(invalid(s, "the reference is empty"));
    }
    if s.contains('@') {
        return Err(invalid(
            s,
            "digest references (name@sha256:...) are not supported; use name:tag or the image id",
        ));
    }
    // The tag separator is the last ':' after the last '/', so that
    // `registry:5000/name` keeps its port.
    let last_slash = s.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match s[last_slash..].rfind(':') {
        Some(i) => (&s[..last_slash + i], &s[last_slash + i + 1..]),
        None => (s, "latest"),
    };
    check_tag(s, tag)?;
    let name = familiar_name(s, name)?;
    if name.len() > 255 {
        return Err(invalid(
            s,
            "repository name must not be longer than 255 characters",
        ));
    }
    Ok(format!("{name}:{tag}"))
}

fn check_tag(full: &str, tag: &str) -> Result<(), InvalidReference> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            full,
            format!("tag {tag:?} must be 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'"),
        ))
    }
}

/// Validate `[domain/]path` and drop Docker Hub's implied parts.
fn familiar_name(full: &str, name: &str) -> Result<String, InvalidReference> {
    let mut parts: Vec<&str> = name.split('/').collect();
    let has_domain = parts.len() > 1
        && (parts[0].contains('.')
            || parts[0].contains(':')
            || parts[0] == "localhost"
            || parts[0].bytes().any(|b| b.is_ascii_uppercase()));
    let domain = if has_domain {
        let d = parts.remove(0);
        check_domain(full, d)?;
        Some(d)
    } else {
        None
    };
    for comp in &parts {
        check_path_component(full, comp)?;
    }
    let hub = matches!(domain, None | Some("docker.io") | Some("index.docker.io"));
    if hub && parts.len() == 2 && parts[0] == "library" {
        parts.remove(0);
    }
    let path = parts.join("/");
    Ok(match domain {
        Some(d) if !hub => format!("{d}/{path}"),
        _ => path,
    })
}

fn check_domain(full: &str, d: &str) -> Result<(), InvalidReference> {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    let port_ok = match port {
        None => true,
        Some(p) => !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()),
    };
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(invalid(
            full,
            format!("registry {d:?} is not a host name with an optional :port"),
        ))
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn check_path_component(full: &str, comp: &str) -> Result<(), InvalidReference> {
    if comp.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(invalid(full, "repository name must be lowercase"));
    }
    let b = comp.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut ok = !b.is_empty() && alnum(b[0]) && alnum(b[b.len() - 1]);
    let mut i = 0;
    while ok && i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &comp[start..i];
        ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
    }
    if ok {
        Ok(())
    } else {
        Err(invalid(
            full,
            format!("repository name component {comp:?} must be lowercase letters and digits, separated by '.', '_', '__' or '-'"),
        ))
    }
}

/// Docker Hub's implied prefixes dropped (`docker.io/library/busybox` ->
/// `busybox`), as Docker prints references back; no validation.
pub fn familiar(r: &str) -> &str {
    let r = r.strip_prefix("docker.io/").unwrap_or(r);
    r.strip_prefix("library/").unwrap_or(r)
}

/// `busybox` -> `busybox:latest`: a reference with its implied tag spelled
/// out, as Docker's messages and tag lists show it; ids and digests are
/// left alone. No validation: this is for messages and comparisons.
pub fn with_default_tag(r: &str) -> String {
    if r.starts_with("sha256:") || r.contains('@') {
        return r.to_string();
    }
    let last = r.rsplit('/').next().unwrap_or(r);
    if last.contains(':') {
        r.to_string()
    } else {
        format!("{r}:latest")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str) -> String {
        parse_tag(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn names_and_tags() {
        assert_eq!(tag("busybox"), "busybox:latest");
        assert_eq!(tag("busybox:1.36"), "busybox:1.36");
        assert_eq!(tag("library/busybox"), "busybox:latest");
        assert_eq!(tag("docker.io/library/debian:bookworm"), "debian:bookworm");
        assert_eq!(tag("docker.io/me/app:v1"), "me/app:v1");
        assert_eq!(tag("registry:5000/name:tag"), "registry:5000/name:tag");
        assert_eq!(tag("registry:5000/name"), "registry:5000/name:latest");
        assert_eq!(tag("localhost/a/b_c-d.e"), "localhost/a/b_c-d.e:latest");
        assert_eq!(tag("a__b---c"), "a__b---c:latest");
    }

    #[test]
    fn bad_references() {
        for bad in [
            "",
            "Busybox",
            "bus box",
            "a:",
            "a:-x",
            "a/",
            "/a",
            "a//b",
            "-a",
            "a_",
            "a...b",
            "x@sha256:00",
            "a:b:c",
        ] {
            assert!(
                matches!(parse_tag(bad), Err(InvalidReference { .. })),
                "{bad:?} accepted"
            );
        }
        let msg = parse_tag("Busybox").unwrap_err().to_string();
        assert!(msg.contains("lowercase"), "{msg}");
    }

    #[test]
    fn lookups() {
        let hex = "a".repeat(64);
        assert_eq!(
            parse_lookup(&hex).unwrap().primary,
            Reference::Id(format!("sha256:{hex}"))
        );
        assert_eq!(
            parse_lookup(&format!("sha256:{hex}")).unwrap().primary,
            Reference::Id(format!("sha256:{hex}"))
        );
        assert_eq!(
            parse_lookup("sha256:abc").unwrap().primary,
            Reference::IdPrefix("abc".into())
        );
        let l = parse_lookup("abc123").unwrap();
        assert_eq!(l.primary, Reference::Tag("abc123:latest".into()));
        assert_eq!(l.prefix_fallback.as_deref(), Some("abc123"));
        assert_eq!(parse_lookup("busybox").unwrap().prefix_fallback, None);
        assert!(parse_lookup("sha256:xyz").is_err());
    }

    #[test]
    fn spelled_out_like_docker() {
        assert_eq!(with_default_tag("nosuch"), "nosuch:latest");
        assert_eq!(with_default_tag("a/b:1"), "a/b:1");
        assert_eq!(
            with_default_tag("localhost:5000/a"),
            "localhost:5000/a:latest"
        );
        assert_eq!(with_default_tag("sha256:abc"), "sha256:abc");
        assert_eq!(familiar("docker.io/library/busybox:1"), "busybox:1");
        assert_eq!(familiar("docker.io/me/app"), "me/app");
    }
}
