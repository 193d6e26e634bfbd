//! The `class registry` verbs and `setup --from-registry`, as the
//! command line runs them: what each prints and its exit status.

use super::images;
use super::server::{self, RegistryDir};
use crate::cli::{ClassVerb, RegistryVerb};
use crate::engine::{Engine, EngineKind};
use crate::lesson::{self, LoadedLesson};
use crate::setup;
use anyhow::Context as _;
use bollard::Docker;
use std::path::Path;
use std::process::ExitCode;

/// The lessons named (all of them when none is).
fn chosen<'a>(
    lessons: &'a [LoadedLesson],
    keys: &[String],
) -> anyhow::Result<Vec<&'a LoadedLesson>> {
    if keys.is_empty() {
        return Ok(lessons.iter().collect());
    }
    Ok(keys
        .iter()
        .map(|k| lesson::find(lessons, k))
        .collect::<Result<_, _>>()?)
}

/// Whether the verb pushes through the engine (and so needs root on whale).
pub fn uses_engine(verb: &ClassVerb) -> bool {
    let ClassVerb::Registry { action } = verb;
    matches!(
        action,
        RegistryVerb::Push { .. } | RegistryVerb::Start { push: true, .. }
    )
}

/// `whaletutor class ...`.
pub async fn run(
    verb: &ClassVerb,
    engine: &Engine,
    lessons_dir: &Path,
) -> anyhow::Result<ExitCode> {
    let ClassVerb::Registry { action } = verb;
    match action {
        RegistryVerb::Start { dir, addr, push } => {
            let pid = RegistryDir::new(dir).start(addr)?;
            // Made now: named by its absolute path.
            let rd = RegistryDir::new(dir);
            let sa = server::parse_addr(addr)?;
            println!(
                "class registry started: pid {pid}, listening on {sa}, images in {}, log {}",
                rd.data().display(),
                rd.log().display()
            );
            match server::exposure_note(sa) {
                Some(note) => println!("{note}"),
                None => println!(
                    "Only this machine can reach it (a loopback address). For a class, start it on an address the students' machines reach, e.g. --addr 0.0.0.0:5000."
                ),
            }
            println!(
                "Stop it with `whaletutor class registry stop --dir {}`.",
                dir.display()
            );
            if *push {
                let docker = engine.ensure_running().await?;
                let target = server::local_addr(sa).to_string();
                push_course(engine, &docker, &target, lessons_dir, &[]).await?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RegistryVerb::Stop { dir } => {
            match RegistryDir::new(dir).stop()? {
                Some(pid) => println!(
                    "class registry stopped (pid {pid}); its images stay in {}",
                    RegistryDir::new(dir).data().display()
                ),
                None => println!("no class registry runs from {}", dir.display()),
            }
            Ok(ExitCode::SUCCESS)
        }
        RegistryVerb::Status { dir } => {
            let rd = RegistryDir::new(dir);
            let st = rd.status();
            let addr = st.addr.map(|a| a.to_string()).unwrap_or_else(|| "?".into());
            match (&st.pid, &st.answer) {
                (Some(pid), Ok(api)) => {
                    println!("running: pid {pid}, on {addr}, answering /v2/ ({api})");
                    let local = st.addr.map(server::local_addr).map(|a| a.to_string());
                    match local.as_deref().map(images::catalog) {
                        Some(Ok(list)) if list.is_empty() => {
                            println!(
                                "no images yet: `whaletutor class registry push --dir {}`",
                                dir.display()
                            )
                        }
                        Some(Ok(list)) => println!("{} image(s): {}", list.len(), list.join(", ")),
                        Some(Err(e)) => println!("cannot list its images: {e}"),
                        None => {}
                    }
                    Ok(ExitCode::SUCCESS)
                }
                (Some(pid), Err(e)) => {
                    println!(
                        "running (pid {pid}) but not answering: {e}; its log: {}",
                        rd.log().display()
                    );
                    Ok(ExitCode::from(1))
                }
                (None, _) => {
                    println!(
                        "not running from {}: `whaletutor class registry start --dir {}`",
                        dir.display(),
                        dir.display()
                    );
                    Ok(ExitCode::from(1))
                }
            }
        }
        RegistryVerb::Push { which, dir, addr } => {
            let target = match (dir, addr) {
                (Some(d), _) => {
                    let rd = RegistryDir::new(d);
                    let a = rd.addr().with_context(|| {
                        format!(
                            "no class registry config in {}: `whaletutor class registry start --dir {}` first",
                            d.display(),
                            d.display()
                        )
                    })?;
                    server::local_addr(a).to_string()
                }
                (None, Some(a)) => images::parse_registry(a)?,
                (None, None) => server::DEFAULT_ADDR.to_string(),
            };
            let docker = engine.ensure_running().await?;
            push_course(engine, &docker, &target, lessons_dir, which).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn push_course(
    engine: &Engine,
    docker: &Docker,
    registry: &str,
    lessons_dir: &Path,
    which: &[String],
) -> anyhow::Result<()> {
    let lessons = lesson::load_dir(lessons_dir)?;
    let chosen = chosen(&lessons, which)?;
    let pushed = images::push(
        engine,
        docker,
        registry,
        &chosen,
        &lessons_dir.join("images"),
        |m| eprintln!("{m}"),
    )
    .await?;
    for p in &pushed {
        println!(
            "pushed {} as {} ({}{} layer(s) uploaded, {} already there)",
            p.image,
            p.remote,
            p.digest
                .as_ref()
                .map(|d| format!("{d}, "))
                .unwrap_or_default(),
            p.uploaded,
            p.already
        );
    }
    println!(
        "{} course image(s) in the class registry {registry}. Students type:\n  sudo whaletutor setup --from-registry <this machine's address>:{}",
        pushed.len(),
        registry.rsplit(':').next().unwrap_or("5000")
    );
    Ok(())
}

/// `setup --from-registry`: pull the images of `lessons` from the class
/// registry; prints what it pulled.
pub async fn setup_from_registry(
    engine: &Engine,
    registry: &str,
    lessons: &[&LoadedLesson],
) -> anyhow::Result<()> {
    let registry = images::parse_registry(registry)?;
    // The class registry speaks plain HTTP, which an engine uses unasked
    // only on loopback. A whale daemon the tutor starts is told; one
    // already running keeps its options (the pull's error then says what
    // to do).
    let docker = if engine.kind == EngineKind::Whale && !images::is_loopback(&registry) {
        engine
            .start_whale_daemon(&["--insecure-registry", &registry])
            .await?
    } else {
        engine.ensure_running().await?
    };
    let docker = &docker;
    let mut wanted: Vec<String> = Vec::new();
    for l in lessons {
        for i in setup::required_images(l) {
            if !wanted.contains(&i) {
                wanted.push(i);
            }
        }
    }
    let pulled = images::pull(docker, &registry, &wanted, |m| eprintln!("{m}")).await?;
    if pulled.is_empty() {
        println!("every required image is present");
    } else {
        println!(
            "ready, from the class registry {registry}: {}",
            pulled.join(", ")
        );
    }
    Ok(())
}
