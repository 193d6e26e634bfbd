//! `contains_file`: whether an image holds a path, read the way `docker cp`
//! reads it. Exporting the whole image (`GET /images/{name}/get`) took about
//! a second for lesson 8's Debian image; a container created from the image
//! (never started) and a `HEAD /containers/{id}/archive?path=` reads one
//! stat instead. The answer is cached by image ID: an ID names the content,
//! so the answer for an (ID, path) never changes, and a watched lesson
//! (which checks on every engine event) does not create a container for
//! each check, whose own events would wake it again.

use super::{api_err, body, not_found, CheckError};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{DownloadFromContainerOptions, RemoveContainerOptions};
use bollard::Docker;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Answers by (image ID, path).
fn cache() -> &'static Mutex<HashMap<(String, String), bool>> {
    static CACHE: OnceLock<Mutex<HashMap<(String, String), bool>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Whether the image `id` (an image ID, so the cache stays right) has
/// `path` in its file system.
pub(super) async fn contains(docker: &Docker, id: &str, path: &str) -> Result<bool, CheckError> {
    let key = (id.to_string(), path.to_string());
    if let Some(known) = cache().lock().ok().and_then(|c| c.get(&key).copied()) {
        return Ok(known);
    }
    let found = probe(docker, id, path).await?;
    if let Ok(mut c) = cache().lock() {
        c.insert(key, found);
    }
    Ok(found)
}

/// Create a container of the image (no network, never started), stat
/// `path` in it, remove it, whatever the stat said.
async fn probe(docker: &Docker, id: &str, path: &str) -> Result<bool, CheckError> {
    let created = docker
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            ContainerCreateBody {
                image: Some(id.to_string()),
                // An image without CMD cannot be created without one; this
                // one never runs.
                cmd: Some(vec!["true".into()]),
                labels: Some(HashMap::from([(
                    "whaletutor.probe".to_string(),
                    "contains_file".to_string(),
                )])),
                host_config: Some(HostConfig {
                    network_mode: Some("none".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .map_err(api_err(
            "POST /containers/create",
            format!("a container of image {id} to look for {path}"),
        ))?;
    let found = stat(docker, &created.id, path).await;
    let _ = docker
        .remove_container(
            &created.id,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await;
    found
}

/// `HEAD /containers/{id}/archive?path=`: 200 when the path exists, 404
/// when not; no body either way. bollard has only the GET (which would tar
/// a whole directory), so the request's method is changed on the way out.
async fn stat(docker: &Docker, container: &str, path: &str) -> Result<bool, CheckError> {
    let head = docker.clone().with_request_modifier(|mut req| {
        if let Ok(head) = "HEAD".parse() {
            *req.method_mut() = head;
        }
        req
    });
    let answer = body(head.download_from_container(
        container,
        Some(DownloadFromContainerOptions { path: path.into() }),
    ))
    .await;
    match answer {
        Ok(_) => Ok(true),
        Err(e) if not_found(&e) => Ok(false),
        Err(e) => Err(api_err(
            "HEAD /containers/{id}/archive?path=",
            format!("stat of {path} in container {container}"),
        )(e)),
    }
}
