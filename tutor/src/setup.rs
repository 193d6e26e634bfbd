//! Getting a machine ready for lessons (`setup`, and the first `lesson`)
//! and saying what is wrong with it (`doctor`).

use crate::engine::{Engine, EngineKind};
use crate::lesson::LoadedLesson;
use crate::render::Style;
use bollard::query_parameters::BuildImageOptions;
use bollard::Docker;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error("image {image} is missing on docker: `tutor/scripts/dockerd-for-lessons.sh start DIR` imports busybox into a private dockerd (or `docker import` a root file system as {image})")]
    MissingOnDocker { image: String },
    #[error("image {image} has no build context: expected {dir}/Dockerfile")]
    NoContext { image: String, dir: PathBuf },
    #[error("building {image} failed: {detail}")]
    Build { image: String, detail: String },
    #[error("cannot pack build context {dir}: {source}")]
    Pack {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Base images whale makes without a registry.
pub fn bootstrap_name(image: &str) -> Option<&'static str> {
    match image.split(':').next().unwrap_or(image) {
        "busybox" => Some("busybox"),
        "debian" => Some("debian"),
        _ => None,
    }
}

/// Images a lesson requires (requirement words like "network" are not).
pub fn required_images(lesson: &LoadedLesson) -> Vec<String> {
    lesson
        .lesson
        .requires
        .iter()
        .map(|r| r.get_ref().clone())
        .filter(|r| !["network", "docker-only", "whale-only"].contains(&r.as_str()))
        .collect()
}

fn spinner(msg: String) -> ProgressBar {
    let pb = if std::io::stderr().is_terminal() {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(msg);
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

pub async fn image_present(docker: &Docker, image: &str) -> bool {
    docker.inspect_image(image).await.is_ok()
}

/// Make every image of `lessons` present on the engine: bootstrap base
/// images (whale), build the others from `images_dir/<name>`.
pub async fn ensure_images(
    engine: &Engine,
    docker: &Docker,
    lessons: &[&LoadedLesson],
    images_dir: &Path,
) -> Result<Vec<String>, SetupError> {
    let mut wanted: Vec<String> = Vec::new();
    for l in lessons {
        for i in required_images(l) {
            if !wanted.contains(&i) {
                wanted.push(i);
            }
        }
    }
    let mut done = Vec::new();
    for image in wanted {
        if image_present(docker, &image).await {
            continue;
        }
        if let Some(base) = bootstrap_name(&image) {
            if engine.kind == EngineKind::Docker {
                return Err(SetupError::MissingOnDocker { image });
            }
            let pb = spinner(format!("whale bootstrap {base}"));
            let r = engine.whale(&["bootstrap", base]);
            pb.finish_and_clear();
            r?;
        } else {
            build(docker, &image, &images_dir.join(&image)).await?;
        }
        done.push(image);
    }
    Ok(done)
}

/// Build `image` from a directory with a Dockerfile, over the API.
pub async fn build(docker: &Docker, image: &str, dir: &Path) -> Result<(), SetupError> {
    if !dir.join("Dockerfile").is_file() {
        return Err(SetupError::NoContext {
            image: image.to_string(),
            dir: dir.to_path_buf(),
        });
    }
    let pack = |source| SetupError::Pack {
        dir: dir.to_path_buf(),
        source,
    };
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_dir_all(".", dir).map_err(pack)?;
    let body = tar.into_inner().map_err(pack)?;
    let pb = spinner(format!("building {image}"));
    let mut s = docker.build_image(
        BuildImageOptions {
            t: Some(image.to_string()),
            rm: true,
            ..Default::default()
        },
        None,
        Some(bollard::body_full(bytes::Bytes::from(body))),
    );
    let mut last = String::new();
    while let Some(msg) = s.next().await {
        match msg {
            Ok(info) => {
                if let Some(e) = info.error_detail.and_then(|d| d.message) {
                    pb.finish_and_clear();
                    return Err(SetupError::Build {
                        image: image.into(),
                        detail: e,
                    });
                }
                if let Some(line) = info.stream {
                    let line = line.trim();
                    if line.starts_with("Step ") {
                        pb.set_message(format!("building {image}: {line}"));
                    }
                    if !line.is_empty() {
                        last = line.to_string();
                    }
                }
            }
            Err(e) => {
                pb.finish_and_clear();
                let missing = matches!(
                    &e,
                    bollard::errors::Error::DockerResponseServerError { status_code: 404, message }
                        if message.contains("page not found")
                );
                let detail = if missing {
                    "the engine does not serve POST /build yet (whale build is coming): build it on docker, or wait for `whale build`".to_string()
                } else if last.is_empty() {
                    e.to_string()
                } else {
                    format!("{e} (last output: {last})")
                };
                return Err(SetupError::Build {
                    image: image.into(),
                    detail,
                });
            }
        }
    }
    pb.finish_and_clear();
    Ok(())
}

/// One line of `doctor`: what, whether it is fine, what to do if not.
pub struct Finding {
    pub item: &'static str,
    pub ok: bool,
    pub detail: String,
}

fn kernel_has_fs(name: &str) -> bool {
    std::fs::read_to_string("/proc/filesystems")
        .map(|s| s.lines().any(|l| l.split_whitespace().last() == Some(name)))
        .unwrap_or(false)
}

pub async fn doctor(engine: &Engine, lessons: &[LoadedLesson]) -> Vec<Finding> {
    let mut f = Vec::new();
    let root = nix::unistd::geteuid().is_root();
    f.push(Finding {
        item: "root",
        ok: root || engine.kind == EngineKind::Docker,
        detail: if root {
            "running as root".into()
        } else {
            "not root: whale needs root; run `sudo whaletutor ...`".into()
        },
    });
    let overlay = kernel_has_fs("overlay");
    f.push(Finding {
        item: "overlayfs",
        ok: overlay,
        detail: if overlay {
            "the kernel has overlay".into()
        } else {
            "no overlay in /proc/filesystems: `modprobe overlay`".into()
        },
    });
    let ns = ["mnt", "pid", "uts", "ipc", "net", "cgroup"];
    let missing: Vec<&str> = ns
        .iter()
        .copied()
        .filter(|n| !Path::new(&format!("/proc/self/ns/{n}")).exists())
        .collect();
    f.push(Finding {
        item: "namespaces",
        ok: missing.is_empty(),
        detail: if missing.is_empty() {
            format!("{} available", ns.join(", "))
        } else {
            format!(
                "missing {}: use a kernel with them enabled",
                missing.join(", ")
            )
        },
    });
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let v1 =
        Path::new("/sys/fs/cgroup/memory").exists() || Path::new("/sys/fs/cgroup/cpu").exists();
    f.push(Finding {
        item: "cgroups",
        ok: v1 || v2,
        detail: match (v1, v2) {
            (_, true) => "cgroup v2 (unified)".into(),
            (true, false) if Path::new("/sys/fs/cgroup/unified").exists() => {
                "cgroup v1 (hybrid: v1 controllers, v2 at /sys/fs/cgroup/unified)".into()
            }
            (true, false) => "cgroup v1 (legacy)".into(),
            _ => "no cgroup hierarchy under /sys/fs/cgroup: mount cgroup2 there".into(),
        },
    });
    if engine.kind == EngineKind::Whale {
        let w = crate::engine::whale_bin();
        f.push(Finding {
            item: "whale binary",
            ok: w.is_ok(),
            detail: match w {
                Ok(p) => p.display().to_string(),
                Err(e) => e.to_string(),
            },
        });
    }
    match engine.connect().await {
        Ok(docker) => {
            let version = docker
                .version()
                .await
                .ok()
                .and_then(|v| v.version)
                .unwrap_or_else(|| "?".into());
            f.push(Finding {
                item: "engine",
                ok: true,
                detail: format!("{} {version} at {}", engine.cli(), engine.socket.display()),
            });
            let mut wanted: Vec<String> = Vec::new();
            for l in lessons {
                for i in required_images(l) {
                    if !wanted.contains(&i) {
                        wanted.push(i);
                    }
                }
            }
            for i in wanted {
                let present = image_present(&docker, &i).await;
                f.push(Finding {
                    item: "image",
                    ok: present,
                    detail: if present {
                        format!("{i} present")
                    } else {
                        format!("{i} missing: run `whaletutor setup`")
                    },
                });
            }
        }
        Err(e) => {
            f.push(Finding {
                item: "engine",
                ok: false,
                detail: e.to_string(),
            });
            f.push(Finding {
                item: "images",
                ok: false,
                detail: "unknown until the engine answers; then `whaletutor setup` makes what is missing".into(),
            });
        }
    }
    f
}

pub fn render_findings(findings: &[Finding], style: Style) -> String {
    let mut out = String::new();
    for x in findings {
        let mark = if x.ok {
            style.good("ok ")
        } else {
            style.bad("NO ")
        };
        out.push_str(&format!("{mark} {:<13} {}\n", x.item, x.detail));
    }
    out
}
