//! The course's images to and from a class registry, through an engine's
//! API (whale or dockerd alike): `push` tags each image as
//! `REGISTRY/name:tag` and pushes it; `pull` (`setup --from-registry`)
//! pulls each one and tags it with the name the lessons use. The extra
//! `REGISTRY/...` tag is removed both ways, so `images` shows what a
//! bootstrapped machine shows.

use super::{http, server, ClassError};
use crate::engine::Engine;
use crate::lesson::LoadedLesson;
use crate::setup;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    CreateImageOptions, PushImageOptions, RemoveImageOptions, TagImageOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use std::path::Path;
use std::time::Duration;
use whale_formats::reference::{familiar, with_default_tag};

/// `name:tag` split (a `host:port/` prefix keeps its colon).
fn split(image: &str) -> (String, String) {
    let full = with_default_tag(familiar(image));
    match full.rfind(':') {
        Some(i) if !full[i..].contains('/') => (full[..i].to_string(), full[i + 1..].to_string()),
        _ => (full, "latest".to_string()),
    }
}

/// The course image's name in the class registry: `REGISTRY/name:tag`.
pub fn registry_name(registry: &str, image: &str) -> (String, String) {
    let (name, tag) = split(image);
    (format!("{registry}/{name}"), tag)
}

/// Every image the lessons require, then, for each one the tutor builds,
/// the images its Dockerfile needs (what `setup` makes), once each.
pub fn course_images(lessons: &[&LoadedLesson], images_dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut todo: Vec<String> = Vec::new();
    for l in lessons {
        todo.extend(setup::required_images(l));
    }
    while let Some(i) = todo.first().cloned() {
        todo.remove(0);
        if out.iter().any(|o| split(o) == split(&i)) {
            continue;
        }
        let df = setup::context_dir(images_dir, &i).join("Dockerfile");
        if let Ok(text) = std::fs::read_to_string(df) {
            todo.extend(setup::dockerfile_bases(&text));
        }
        out.push(i);
    }
    out
}

/// The registry answers `/v2/`, or an error that says what to check.
pub fn check_reachable(registry: &str) -> Result<(), ClassError> {
    server::ping(registry)
        .map(|_| ())
        .map_err(|detail| ClassError::Unreachable {
            registry: registry.to_string(),
            detail,
        })
}

/// Whether the registry holds `image` (HEAD of its manifest).
fn in_registry(registry: &str, image: &str) -> Result<bool, ClassError> {
    let (name, tag) = split(image);
    let accept = [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ];
    let path = format!("/v2/{name}/manifests/{tag}");
    match http::request("HEAD", registry, &path, &accept, Duration::from_secs(10)) {
        Ok(a) if a.status == 200 => Ok(true),
        Ok(a) if a.status == 404 => Ok(false),
        Ok(a) => Err(ClassError::Unreachable {
            registry: registry.to_string(),
            detail: format!("HEAD {path} answered HTTP {}", a.status),
        }),
        Err(e) => Err(ClassError::Unreachable {
            registry: registry.to_string(),
            detail: format!("HEAD {path}: {e}"),
        }),
    }
}

/// An engine's refusal of plain HTTP for a registry it was not told about.
fn http_hint(registry: &str, detail: &str) -> String {
    if detail.contains("HTTPS") || detail.contains("https") || detail.contains("insecure") {
        format!(
            " (the class registry speaks plain HTTP: tell the engine it is an insecure registry, `whale daemon --insecure-registry {registry}`, or \"insecure-registries\": [\"{registry}\"] in /etc/docker/daemon.json for dockerd)"
        )
    } else {
        String::new()
    }
}

/// One image pushed: its name in the registry, the digest the engine
/// reported, and its layers as the engine's progress counted them.
pub struct Pushed {
    pub image: String,
    pub remote: String,
    pub digest: Option<String>,
    /// Layers uploaded (`Pushed`).
    pub uploaded: usize,
    /// Layers the registry had (`Layer already exists`, `Mounted from`).
    pub already: usize,
}

/// What the engine's push stream said.
#[derive(Default)]
struct PushOutcome {
    digest: Option<String>,
    uploaded: usize,
    already: usize,
}

/// Push every course image of `lessons` to `registry` through the engine,
/// first making (as `setup` does) any that is missing.
pub async fn push(
    engine: &Engine,
    docker: &Docker,
    registry: &str,
    lessons: &[&LoadedLesson],
    images_dir: &Path,
    mut report: impl FnMut(&str),
) -> Result<Vec<Pushed>, ClassError> {
    check_reachable(registry)?;
    let images = course_images(lessons, images_dir);
    setup::ensure_named(engine, docker, &images, images_dir).await?;
    let mut out = Vec::new();
    for image in &images {
        let (repo, tag) = registry_name(registry, image);
        let remote = format!("{repo}:{tag}");
        report(&format!("pushing {image} as {remote}"));
        docker
            .tag_image(
                image,
                Some(TagImageOptions {
                    repo: Some(repo.clone()),
                    tag: Some(tag.clone()),
                }),
            )
            .await
            .map_err(|e| ClassError::Push {
                image: image.clone(),
                registry: registry.to_string(),
                detail: format!("cannot tag it {remote}: {e}"),
            })?;
        let pushed = push_one(docker, registry, &repo, &tag).await;
        // The extra tag goes whatever happened.
        untag(docker, &remote).await;
        let done = pushed.map_err(|detail| ClassError::Push {
            image: image.clone(),
            registry: registry.to_string(),
            detail,
        })?;
        out.push(Pushed {
            image: with_default_tag(familiar(image)),
            remote,
            digest: done.digest,
            uploaded: done.uploaded,
            already: done.already,
        });
    }
    Ok(out)
}

/// Push one tag; the digest of the pushed manifest comes from the engine's
/// last status line (`latest: digest: sha256:... size: N`).
async fn push_one(
    docker: &Docker,
    registry: &str,
    repo: &str,
    tag: &str,
) -> Result<PushOutcome, String> {
    // dockerd wants an X-Registry-Auth header even for a registry without
    // auth: an empty one.
    let mut s = docker.push_image(
        repo,
        Some(PushImageOptions {
            tag: Some(tag.to_string()),
            ..Default::default()
        }),
        Some(DockerCredentials::default()),
    );
    let mut done = PushOutcome::default();
    while let Some(msg) = s.next().await {
        match msg {
            Ok(info) => {
                if let Some(e) = info.error_detail.and_then(|d| d.message) {
                    let hint = http_hint(registry, &e);
                    return Err(format!("{e}{hint}"));
                }
                if let Some(st) = info.status {
                    if let Some(d) = st.split("digest: ").nth(1) {
                        done.digest = d.split_whitespace().next().map(str::to_string);
                    } else if st == "Pushed" {
                        done.uploaded += 1;
                    } else if st == "Layer already exists" || st.starts_with("Mounted from") {
                        done.already += 1;
                    }
                }
            }
            Err(e) => {
                let e = e.to_string();
                let hint = http_hint(registry, &e);
                return Err(format!("{e}{hint}"));
            }
        }
    }
    Ok(done)
}

async fn untag(docker: &Docker, name: &str) {
    let _ = docker
        .remove_image(
            name,
            Some(RemoveImageOptions {
                noprune: true,
                ..Default::default()
            }),
            None,
        )
        .await;
}

/// Make each of `images` present from the class registry: pull
/// `REGISTRY/name:tag`, tag it `name:tag`. Images already present are
/// kept. Returns what was pulled. Nothing is bootstrapped or built: an
/// image the registry lacks is an error naming it and what to do.
pub async fn pull(
    docker: &Docker,
    registry: &str,
    images: &[String],
    mut report: impl FnMut(&str),
) -> Result<Vec<String>, ClassError> {
    check_reachable(registry)?;
    let mut wanted = Vec::new();
    for image in images {
        if setup::image_present(docker, image).await {
            continue;
        }
        // Every one is looked up before any is pulled: a class registry
        // missing images is said once, with all of them.
        if !in_registry(registry, image)? {
            return Err(ClassError::NotInRegistry {
                registry: registry.to_string(),
                image: with_default_tag(familiar(image)),
            });
        }
        wanted.push(image.clone());
    }
    for image in &wanted {
        let (repo, tag) = registry_name(registry, image);
        let remote = format!("{repo}:{tag}");
        report(&format!("pulling {remote}"));
        let mut s = docker.create_image(
            Some(CreateImageOptions {
                from_image: Some(repo.clone()),
                tag: Some(tag.clone()),
                ..Default::default()
            }),
            None,
            None,
        );
        let mut failed = None;
        while let Some(msg) = s.next().await {
            match msg {
                Ok(info) => {
                    if let Some(e) = info.error_detail.and_then(|d| d.message) {
                        failed = Some(e);
                        break;
                    }
                }
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
            }
        }
        if let Some(e) = failed {
            let hint = http_hint(registry, &e);
            return Err(ClassError::Pull {
                image: image.clone(),
                registry: registry.to_string(),
                detail: format!("{e}{hint}"),
            });
        }
        let (name, tag) = split(image);
        docker
            .tag_image(
                &remote,
                Some(TagImageOptions {
                    repo: Some(name),
                    tag: Some(tag),
                }),
            )
            .await
            .map_err(|e| ClassError::Pull {
                image: image.clone(),
                registry: registry.to_string(),
                detail: format!("pulled, but cannot tag it {image}: {e}"),
            })?;
        untag(docker, &remote).await;
    }
    Ok(wanted)
}

/// `--from-registry HOST:PORT` (a host name, an IPv4 address or `[v6]`,
/// and a port): the registry's address, as the engine will name it.
pub fn parse_registry(s: &str) -> Result<String, ClassError> {
    let bad = |reason: &str| ClassError::BadRegistry {
        registry: s.to_string(),
        reason: reason.to_string(),
    };
    let s2 = s.strip_prefix("http://").unwrap_or(s).trim_end_matches('/');
    if s2.contains("://") || s2.contains('/') {
        return Err(bad("give only the host and port, no scheme or path"));
    }
    let Some((host, port)) = s2.rsplit_once(':') else {
        return Err(bad("no port"));
    };
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(bad(
            "the port must be a number from 1 to 65535 after a host",
        ));
    }
    Ok(s2.to_string())
}

/// Whether a `host:port` registry is on this machine's loopback, where
/// engines speak plain HTTP to it unasked.
pub fn is_loopback(registry: &str) -> bool {
    let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Every `name:tag` the registry holds (its catalog and tag lists).
pub fn catalog(registry: &str) -> Result<Vec<String>, String> {
    let get = |path: &str| -> Result<serde_json::Value, String> {
        let a = http::request("GET", registry, path, &[], Duration::from_secs(5))
            .map_err(|e| format!("GET {path}: {e}"))?;
        if a.status != 200 {
            return Err(format!("GET {path}: HTTP {}", a.status));
        }
        serde_json::from_slice(&a.body).map_err(|e| format!("GET {path}: {e}"))
    };
    let cat = get("/v2/_catalog?n=1000")?;
    let mut out = Vec::new();
    for repo in cat["repositories"].as_array().into_iter().flatten() {
        let Some(repo) = repo.as_str() else { continue };
        let tags = get(&format!("/v2/{repo}/tags/list"))?;
        let mut tags: Vec<&str> = tags["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str())
            .collect();
        tags.sort();
        out.extend(tags.into_iter().map(|t| format!("{repo}:{t}")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_the_registry() {
        let r = "127.0.0.1:5000";
        assert_eq!(
            registry_name(r, "busybox"),
            ("127.0.0.1:5000/busybox".into(), "latest".into())
        );
        assert_eq!(
            registry_name(r, "debian:bookworm"),
            ("127.0.0.1:5000/debian".into(), "bookworm".into())
        );
        assert_eq!(
            registry_name(r, "docker.io/library/busybox:1.36"),
            ("127.0.0.1:5000/busybox".into(), "1.36".into())
        );
        assert_eq!(split("reg:5000/x"), ("reg:5000/x".into(), "latest".into()));
    }

    #[test]
    fn registry_addresses() {
        for (r, lo) in [
            ("127.0.0.1:5000", true),
            ("127.3.4.5:5000", true),
            ("localhost:5000", true),
            ("[::1]:5000", true),
            ("192.0.2.1:5000", false),
            ("class.example:5000", false),
        ] {
            assert_eq!(is_loopback(r), lo, "{r}");
        }
        assert_eq!(parse_registry("192.0.2.1:5000").unwrap(), "192.0.2.1:5000");
        assert_eq!(parse_registry("http://class:5000/").unwrap(), "class:5000");
        for bad in [
            "class",
            "class:0",
            ":5000",
            "https://class:5000",
            "class:5000/v2",
            "c:x",
        ] {
            let e = parse_registry(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--from-registry {bad}: ")), "{e}");
        }
    }
}
