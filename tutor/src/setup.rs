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
    #[error("image {image} is missing on docker: `tutor/scripts/dockerd-for-lessons.sh start DIR` imports busybox:latest and debian:bookworm into a private dockerd (or `docker import` a root file system as {image})")]
    MissingOnDocker { image: String },
    #[error("image {image} has no build context: expected {dir}/Dockerfile{}", needed_by.as_ref().map(|n| format!(" (the Dockerfile of {n} needs it)")).unwrap_or_default())]
    NoContext {
        image: String,
        dir: PathBuf,
        needed_by: Option<String>,
    },
    #[error("the lesson images need each other in a circle: {0}; break it in lessons/images/*/Dockerfile")]
    Cycle(String),
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
        .filter(|r| !crate::requirements::is_word(r))
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
    ensure_named(engine, docker, &wanted, images_dir).await
}

/// Make each of `images` present (and, first, the images their
/// Dockerfiles need); returns what was made, in the order it was made.
pub async fn ensure_named(
    engine: &Engine,
    docker: &Docker,
    images: &[String],
    images_dir: &Path,
) -> Result<Vec<String>, SetupError> {
    let mut done = Vec::new();
    for image in images {
        ensure_image(
            engine,
            docker,
            image,
            images_dir,
            &mut Vec::new(),
            &mut done,
        )
        .await?;
    }
    Ok(done)
}

/// The directory of a lesson image's build context: `images_dir/<repository>`.
pub fn context_dir(images_dir: &Path, image: &str) -> PathBuf {
    images_dir.join(repository(image))
}

/// `name` of `name:tag` (a `host:port/` prefix keeps its colon).
fn repository(image: &str) -> &str {
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => &image[..i],
        _ => image,
    }
}

fn same_image(a: &str, b: &str) -> bool {
    let full = |s: &str| {
        if repository(s) == s {
            format!("{s}:latest")
        } else {
            s.to_string()
        }
    };
    full(a) == full(b)
}

/// Images a Dockerfile needs before it can be built: each `FROM` (but not
/// `scratch` nor an earlier stage) and each `COPY --from=` naming an image
/// rather than a stage. Names with build-arg variables are left out: only
/// the build knows their value.
pub fn dockerfile_bases(text: &str) -> Vec<String> {
    let mut stages: Vec<String> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    let add = |name: &str, stages: &[String], out: &mut Vec<String>| {
        let is_stage = stages.iter().any(|s| s.eq_ignore_ascii_case(name))
            || name.bytes().all(|b| b.is_ascii_digit());
        if !name.is_empty()
            && name != "scratch"
            && !name.contains('$')
            && !is_stage
            && !out.iter().any(|o| same_image(o, name))
        {
            out.push(name.to_string());
        }
    };
    // Continuation lines joined, comments dropped: enough to find FROM and
    // COPY flags (the engine's parser has the last word on the rest).
    let mut logical = String::new();
    let mut lines: Vec<String> = Vec::new();
    for raw in text.lines() {
        let t = raw.trim();
        if t.starts_with('#') {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            logical.push_str(head);
            logical.push(' ');
            continue;
        }
        logical.push_str(t);
        lines.push(std::mem::take(&mut logical));
    }
    lines.push(logical);
    for line in lines {
        let mut words = line.split_whitespace();
        let Some(kw) = words.next() else { continue };
        let rest: Vec<&str> = words.collect();
        if kw.eq_ignore_ascii_case("FROM") {
            let args: Vec<&str> = rest
                .iter()
                .copied()
                .filter(|w| !w.starts_with("--"))
                .collect();
            if let Some(name) = args.first() {
                add(name, &stages, &mut out);
            }
            if args.len() == 3 && args[1].eq_ignore_ascii_case("AS") {
                stages.push(args[2].to_string());
            }
        } else if kw.eq_ignore_ascii_case("COPY") {
            for w in rest.iter().take_while(|w| w.starts_with("--")) {
                if let Some(name) = w.strip_prefix("--from=") {
                    add(name, &stages, &mut out);
                }
            }
        }
    }
    out
}

/// Make `image` present: bootstrap it (whale's base images), or build it
/// from its context after making, first, every image its Dockerfile
/// needs. `path` is the chain of images being made (to name a cycle);
/// `done` collects what was made.
async fn ensure_image(
    engine: &Engine,
    docker: &Docker,
    image: &str,
    images_dir: &Path,
    path: &mut Vec<String>,
    done: &mut Vec<String>,
) -> Result<(), SetupError> {
    if image_present(docker, image).await {
        return Ok(());
    }
    if path.iter().any(|p| same_image(p, image)) {
        path.push(image.to_string());
        return Err(SetupError::Cycle(path.join(" -> ")));
    }
    let dir = context_dir(images_dir, image);
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).ok();
    match (bootstrap_name(image), dockerfile) {
        // Our own context wins over bootstrapping (and is the only way on
        // docker, which cannot bootstrap).
        (_, Some(text)) => {
            path.push(image.to_string());
            for base in dockerfile_bases(&text) {
                Box::pin(ensure_image(engine, docker, &base, images_dir, path, done)).await?;
            }
            path.pop();
            build(docker, image, &dir).await?;
        }
        (Some(base), None) => {
            if engine.kind == EngineKind::Docker {
                return Err(SetupError::MissingOnDocker {
                    image: image.to_string(),
                });
            }
            // A base image made before, on this machine, loads in seconds.
            if crate::base_cache::load(docker, image).await {
                done.push(format!("{image} (from the cache)"));
                return Ok(());
            }
            let pb = spinner(format!("whale bootstrap {base}"));
            let r = engine.whale(&["bootstrap", base]);
            pb.finish_and_clear();
            r?;
            crate::base_cache::save(docker, image).await;
        }
        (None, None) => {
            return Err(SetupError::NoContext {
                image: image.to_string(),
                dir,
                needed_by: path.last().cloned(),
            })
        }
    }
    done.push(image.to_string());
    Ok(())
}

/// Build `image` from a directory with a Dockerfile, over the API.
pub async fn build(docker: &Docker, image: &str, dir: &Path) -> Result<(), SetupError> {
    if !dir.join("Dockerfile").is_file() {
        return Err(SetupError::NoContext {
            image: image.to_string(),
            dir: dir.to_path_buf(),
            needed_by: None,
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
            // A dockerd without a bridge (the course's private one) can
            // only reach apt mirrors on the host network; whale's RUN
            // always uses it and ignores this.
            networkmode: Some("host".to_string()),
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

/// `doctor` reads this machine's /proc and /sys on purpose: it says whether
/// whale can run here (the tutor starts it on this machine), before any
/// engine exists to ask. Lesson checks never do: they ask the engine's API.
fn kernel_has_fs(name: &str) -> bool {
    std::fs::read_to_string("/proc/filesystems")
        .map(|s| s.lines().any(|l| l.split_whitespace().last() == Some(name)))
        .unwrap_or(false)
}

pub async fn doctor(engine: &Engine, lessons: &[LoadedLesson]) -> Vec<Finding> {
    let mut f = Vec::new();
    let root = nix::unistd::geteuid().is_root();
    let rootless = !root && engine.kind == EngineKind::Whale;
    f.push(Finding {
        item: "root",
        ok: true,
        detail: if root {
            "running as root: whale runs as root (a normal user runs it rootless)".into()
        } else if rootless {
            format!(
                "not root: whale runs rootless, in your own user namespace (its store under {}); below, what that needs",
                whale_args::root_dir(engine.root.clone()).display()
            )
        } else {
            "not root: the docker engine decides what you may do".into()
        },
    });
    if rootless {
        f.extend(crate::rootless::findings());
        let blocked: Vec<String> = lessons
            .iter()
            .filter_map(|l| {
                crate::requirements::blocker(
                    l,
                    crate::requirements::EngineCaps::guess(engine),
                    "whale",
                )
                .map(|b| format!("{} ({})", l.number(), b.short))
            })
            .collect();
        if !blocked.is_empty() {
            f.push(Finding {
                item: "lessons",
                ok: true,
                detail: format!(
                    "rootless, these lessons are skipped: {} (`whaletutor lesson N` says why and what enables them)",
                    blocked.join(", ")
                ),
            });
        }
    }
    f.extend(crate::tools::findings(engine));
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
                        format!("{i} missing: run `whaletutor setup` (in a class: `whaletutor setup --from-registry HOST:PORT`, the instructor's registry)")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_of_a_dockerfile() {
        let df = "# syntax comment\nFROM debian:bookworm\n\
                  COPY --from=busybox:latest /bin/busybox /usr/local/bin/\n\
                  COPY cowsay /usr/local/bin/\n";
        assert_eq!(dockerfile_bases(df), ["debian:bookworm", "busybox:latest"]);
        // Stages, scratch, variables and duplicates are not images to make.
        let df = "ARG BASE=x\nfrom --platform=linux/amd64 gcc AS build\nRUN make\n\
                  FROM scratch\nFROM $BASE\nCOPY --from=build /a /a\nCOPY --from=0 /b /b\n\
                  COPY --chown=1:1 \\\n  --from=busybox /bin/busybox /x\nFROM busybox:latest\n";
        assert_eq!(dockerfile_bases(df), ["gcc", "busybox"]);
    }

    #[test]
    fn context_dirs_drop_the_tag() {
        let d = Path::new("/l/images");
        assert_eq!(context_dir(d, "whalesay"), d.join("whalesay"));
        assert_eq!(context_dir(d, "whalesay:latest"), d.join("whalesay"));
        assert_eq!(context_dir(d, "reg:5000/x"), d.join("reg:5000/x"));
        assert!(same_image("busybox", "busybox:latest"));
        assert!(!same_image("debian", "debian:bookworm"));
    }
}
