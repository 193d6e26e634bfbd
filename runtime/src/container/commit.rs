//! `docker commit`: a container's changes (its overlay upper dir) become one
//! layer on top of its image, and its config (with `--change` lines applied)
//! the new image's config, with one history entry as Docker writes it.

use super::{trace, Container, ContainerError, Engine};
use crate::image::config::{History, ImageConfig, RunConfig};
use crate::image::{Image, ImageError};
use bollard::models::ContainerConfig;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// What `POST /commit` asks for, beside the container.
#[derive(Debug, Default, Clone)]
pub struct CommitOptions {
    /// `repo[:tag]`, already joined; None leaves the image untagged.
    pub reference: Option<String>,
    pub comment: String,
    pub author: String,
    /// Dockerfile lines (`CMD ["sh"]`, `ENV A=b`...), applied in order.
    pub changes: Vec<String>,
    /// Freeze the container while its layer is read (Docker's default).
    pub pause: bool,
}

/// The part of a container's config an image keeps: the container's own
/// settings over the image's (its VOLUME, HEALTHCHECK, ONBUILD and SHELL
/// carry on, as Docker's commit keeps them).
fn run_config_of(cfg: &ContainerConfig, image: &RunConfig) -> RunConfig {
    let mut volumes = image.volumes.clone().unwrap_or_default();
    for v in cfg.volumes.iter().flatten() {
        volumes.insert(v.clone(), serde_json::json!({}));
    }
    RunConfig {
        cmd: cfg.cmd.clone(),
        entrypoint: cfg.entrypoint.clone(),
        env: cfg.env.clone(),
        working_dir: cfg.working_dir.clone().unwrap_or_default(),
        user: cfg.user.clone().unwrap_or_default(),
        labels: cfg
            .labels
            .as_ref()
            .filter(|l| !l.is_empty())
            .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        exposed_ports: cfg
            .exposed_ports
            .as_ref()
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.iter()
                    .map(|k| (k.clone(), serde_json::json!({})))
                    .collect::<BTreeMap<_, _>>()
            }),
        stop_signal: cfg.stop_signal.clone().filter(|s| !s.is_empty()),
        volumes: (!volumes.is_empty()).then_some(volumes),
        healthcheck: image.healthcheck.clone(),
        on_build: image.on_build.clone(),
        shell: image.shell.clone(),
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none())
}

/// Commit `c`. The changes are checked before any layer is written, so a
/// bad `--change` line leaves nothing behind.
pub async fn commit<E: Engine>(
    e: &Arc<E>,
    c: &Arc<Container>,
    opts: CommitOptions,
) -> Result<Image, ContainerError> {
    let base = e
        .images()
        .resolve(&c.record.image_id)
        .map_err(ContainerError::Image)?;
    let mut config: ImageConfig = base.config.clone();
    let mut run = run_config_of(&c.record.config, &base.config.config);
    crate::image::changes::apply_changes(&mut run, &opts.changes).map_err(ContainerError::Image)?;
    if let Some(r) = &opts.reference {
        crate::image::check_tag(r).map_err(ContainerError::Image)?;
    }
    let _guard = c.op_lock.lock().await;
    let cgroup = super::cgroup_path(c.id());
    // A container the user paused stays paused: commit neither freezes nor
    // thaws it.
    let mut frozen =
        opts.pause && c.state().running() && !crate::linux::cgroup::container_frozen(&cgroup);
    if frozen {
        let cg = cgroup.clone();
        let done =
            tokio::task::spawn_blocking(move || crate::linux::cgroup::freeze_container(&cg, true))
                .await
                .map_err(|err| ContainerError::Invalid(format!("pausing: {err}")))?;
        match done {
            Ok(()) => {}
            // It exited meanwhile (`commit` right after `start` of a short
            // command, as docker-py's tests do) and its cgroup went with
            // it: nothing runs to pause, the upper dir is final.
            // (Gone before the freeze was written, or while its state was
            // read back.)
            Err(
                crate::linux::cgroup::CgroupError::Write { source, .. }
                | crate::linux::cgroup::CgroupError::Read { source, .. },
            ) if source.kind() == std::io::ErrorKind::NotFound => {
                frozen = false;
            }
            Err(err) => {
                return Err(ContainerError::Invalid(format!(
                    "pausing the container for commit: {err} (commit with --pause=false to read it running)"
                )))
            }
        }
    }
    let upper = c.paths.upper();
    let e2 = e.clone();
    let layer = tokio::task::spawn_blocking(move || -> Result<Option<String>, ImageError> {
        if is_empty_dir(&upper) {
            return Ok(None);
        }
        let layer = e2.images().add_layer_from_dir(&upper)?;
        Ok(Some(layer.diff_id))
    })
    .await;
    if frozen {
        let cg = cgroup.clone();
        let thawed =
            tokio::task::spawn_blocking(move || crate::linux::cgroup::freeze_container(&cg, false))
                .await;
        if !matches!(thawed, Ok(Ok(()))) {
            eprintln!(
                "whale daemon: thawing {} after commit failed: {thawed:?}",
                c.record.name
            );
        }
    }
    let layer = layer
        .map_err(|err| ContainerError::Invalid(format!("committing: {err}")))?
        .map_err(ContainerError::Image)?;
    let ts = now();
    config.created = Some(ts.clone());
    config.author = Some(opts.author.clone()).filter(|a| !a.is_empty());
    config.comment = Some(opts.comment.clone()).filter(|a| !a.is_empty());
    config.config = run;
    // Docker's history line is the container's Cmd, joined by spaces.
    let created_by = c.record.config.cmd.clone().unwrap_or_default().join(" ");
    config.history.push(History {
        created: Some(ts),
        created_by: Some(created_by),
        comment: config.comment.clone(),
        author: config.author.clone(),
        empty_layer: layer.is_none(),
    });
    if let Some(d) = layer {
        config.rootfs.diff_ids.push(d);
    }
    trace(|| format!("commit {}", c.id()));
    e.images()
        .create_image(&config, opts.reference.as_deref())
        .map_err(ContainerError::Image)
}
