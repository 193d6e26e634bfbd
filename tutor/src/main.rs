//! `whaletutor`: the command-line front of the tutor.

use anyhow::{bail, Context as _};
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use whaletutor::cli::{Cli, Verb};
use whaletutor::engine::{Engine, EngineKind};
use whaletutor::lesson::{self, LoadedLesson};
use whaletutor::progress::{self, Progress};
use whaletutor::render::Style;
use whaletutor::requirements::{self, EngineCaps};
use whaletutor::{runner, setup, verify, watch};

fn lessons_dir(cli: &Cli) -> PathBuf {
    if let Some(d) = &cli.lessons_dir {
        return d.clone();
    }
    let here = PathBuf::from("lessons");
    if here.is_dir() {
        return here;
    }
    // A build from a clone knows where its lessons are.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../lessons")
}

fn book_dir(out: Option<&Path>) -> PathBuf {
    if let Some(d) = out {
        return d.to_path_buf();
    }
    let here = PathBuf::from("book");
    if here.join("book.toml").is_file() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../book")
}

fn load_lessons(dir: &Path) -> anyhow::Result<Vec<LoadedLesson>> {
    Ok(lesson::load_dir(dir)?)
}

fn pick<'a>(
    lessons: &'a [LoadedLesson],
    key: Option<&str>,
    progress: &Progress,
) -> anyhow::Result<&'a LoadedLesson> {
    let key = match key {
        Some(k) => k.to_string(),
        None => match &progress.last {
            Some(l) => l.clone(),
            None => match lessons.first() {
                Some(l) => l.id().to_string(),
                None => bail!("there are no lessons"),
            },
        },
    };
    Ok(lesson::find(lessons, &key)?)
}

/// Whale makes namespaces and mounts: as root, or as a normal user in a
/// user namespace of their own (rootless), with subordinate ids for the
/// course's images. Where this machine does not give a normal user that,
/// say so first, before anything touches the engine (else the student
/// reads a daemon's or mmdebstrap's failure minutes later).
fn need_root_or_userns(kind: EngineKind, verb: &str) -> anyhow::Result<()> {
    if kind != EngineKind::Whale || nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let ready = whaletutor::rootless::user_namespaces()
        .and_then(|_| whaletutor::rootless::subordinate_ids());
    if let Err(why) = ready {
        bail!(
            "`whaletutor {verb}` runs whale rootless for a normal user, in a user namespace, and {why}. \
             Or run it as root: `sudo whaletutor {verb} ...`"
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if only_prints(&cli.verb) {
        default_sigpipe();
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("whaletutor: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("whaletutor: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The verbs that print and exit, feeding no child process: a reader that
/// goes away (`whaletutor list | head -1`) ends them quietly, as it ends
/// `ls`. The others keep Rust's ignored SIGPIPE, so a child that exits
/// before reading its stdin is an error the tutor reports, not a silent
/// death mid-lesson.
fn only_prints(verb: &Verb) -> bool {
    matches!(
        verb,
        Verb::List | Verb::Progress | Verb::Hint { .. } | Verb::Lint { .. } | Verb::Doctor
    )
}

/// Rust starts with SIGPIPE ignored, so `println!` to a closed pipe panics
/// ("failed printing to stdout: Broken pipe") with a backtrace hint.
fn default_sigpipe() {
    // SAFETY: SIG_DFL is a valid disposition for SIGPIPE; no handler runs.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let style = Style::detect();
    let dir = lessons_dir(&cli);
    let kind = cli.engine.unwrap_or_else(|| {
        if std::env::var_os("DOCKER_HOST").is_some_and(|v| !v.is_empty()) {
            EngineKind::Docker
        } else {
            EngineKind::Whale
        }
    });
    let engine = Engine::select(kind, cli.host.as_deref())?;
    let ppath = progress::default_path(kind.name())?;
    match &cli.verb {
        Verb::Lesson { .. } => need_root_or_userns(kind, "lesson")?,
        Verb::Check { .. } => need_root_or_userns(kind, "check")?,
        Verb::Reset { .. } => need_root_or_userns(kind, "reset")?,
        Verb::Setup { .. } => need_root_or_userns(kind, "setup")?,
        Verb::Verify { .. } => need_root_or_userns(kind, "verify")?,
        Verb::Class { what } if whaletutor::class::command::uses_engine(what) => {
            need_root_or_userns(kind, "class registry push")?
        }
        _ => {}
    }
    match &cli.verb {
        Verb::Lint { files } => {
            let files = if files.is_empty() {
                let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
                    .with_context(|| format!("cannot list {}", dir.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                    .collect();
                v.sort();
                v
            } else {
                files.clone()
            };
            let diags = lesson::lint_files(&files);
            for d in &diags {
                println!("{d}");
            }
            if diags.is_empty() {
                println!("{} lesson file(s) ok", files.len());
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::from(1))
            }
        }
        Verb::List => {
            let lessons = load_lessons(&dir)?;
            let p = Progress::load(&ppath)?;
            print!("{}", watch::list(&lessons, &p, style));
            // An engine that answers says what it can do; else whale's
            // mode follows who runs it.
            let caps = match engine.connect().await {
                Ok(docker) => EngineCaps::of(&engine, &docker).await,
                Err(_) => EngineCaps::guess(&engine),
            };
            print!("{}", requirements::list_notes(&lessons, caps, engine.cli()));
            Ok(ExitCode::SUCCESS)
        }
        Verb::Progress => {
            let lessons = load_lessons(&dir)?;
            let p = Progress::load(&ppath)?;
            for l in &lessons {
                let lp = p.of(l);
                let state = if lp.completed {
                    "completed".to_string()
                } else if let Some(s) = &lp.step {
                    format!("at step `{s}`")
                } else {
                    "not started".to_string()
                };
                println!(
                    "{:>3}  {:<20} {}/{} steps  {state}",
                    l.number(),
                    l.id(),
                    p.done_count(l),
                    l.lesson.steps.len()
                );
            }
            println!("(progress file: {})", ppath.display());
            Ok(ExitCode::SUCCESS)
        }
        Verb::Hint { lesson } => {
            let lessons = load_lessons(&dir)?;
            let mut p = Progress::load(&ppath)?;
            let l = pick(&lessons, lesson.as_deref(), &p)?;
            let i = p.current_step(l);
            let step = runner::step(l, i);
            if step.hints.is_empty() {
                println!("No hints for step `{}`.", step.id.get_ref());
                return Ok(ExitCode::SUCCESS);
            }
            let e = p.entry(l);
            let n = (e.hints_shown + 1).min(step.hints.len());
            e.hints_shown = n;
            if e.step.is_none() {
                e.step = Some(step.id.get_ref().clone());
            }
            p.last = Some(l.id().to_string());
            p.save(&ppath)?;
            let h = whaletutor::template::render_for(step.hints[n - 1].get_ref(), &engine)?;
            print!(
                "{} {}",
                style.strong(&format!("Hint {n}/{}:", step.hints.len())),
                whaletutor::render::markdown(&h, style)
            );
            Ok(ExitCode::SUCCESS)
        }
        Verb::Check { lesson, verbose } => {
            let lessons = load_lessons(&dir)?;
            let mut p = Progress::load(&ppath)?;
            let l = pick(&lessons, lesson.as_deref(), &p)?;
            if p.of(l).completed {
                println!("Lesson {} is complete.", l.number());
                return Ok(ExitCode::SUCCESS);
            }
            if p.last.as_deref() != Some(l.id()) {
                p.last = Some(l.id().to_string());
                p.save(&ppath)?;
            }
            let docker = engine.connect().await?;
            let i = p.current_step(l);
            let step = runner::step(l, i);
            let results = runner::check_step(&docker, &engine, step, &p.of(l).answers).await;
            print!("{}", runner::render_failures(&results, style, *verbose));
            if runner::all_pass(&results) {
                println!("{}", runner::explain(l, i, &engine, style));
                p.advance(l, i);
                p.last = Some(l.id().to_string());
                p.save(&ppath)?;
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "Step {}/{} `{}` is not done yet.",
                    i + 1,
                    l.lesson.steps.len(),
                    step.id.get_ref()
                );
                Ok(ExitCode::from(1))
            }
        }
        Verb::Reset { lesson, all } => {
            let lessons = load_lessons(&dir)?;
            let mut p = Progress::load(&ppath)?;
            let targets: Vec<&LoadedLesson> = if *all {
                lessons.iter().collect()
            } else {
                vec![pick(&lessons, lesson.as_deref(), &p)?]
            };
            let docker = engine.connect().await?;
            for l in targets {
                let removed = runner::reset(&engine, &docker, l).await;
                p.lesson.remove(l.id());
                println!(
                    "lesson {} reset{}",
                    l.number(),
                    if removed.is_empty() {
                        String::new()
                    } else {
                        format!(": removed {}", removed.join(", "))
                    }
                );
            }
            p.save(&ppath)?;
            Ok(ExitCode::SUCCESS)
        }
        Verb::Book { out, check } => {
            let lessons = load_lessons(&dir)?;
            let book = book_dir(out.as_deref());
            let pages = whaletutor::book::generate(&lessons)?;
            if *check {
                let stale = whaletutor::book::stale(&book, &pages);
                for s in &stale {
                    println!("{s}");
                }
                if stale.is_empty() {
                    println!(
                        "the book in {} is up to date ({} generated pages)",
                        book.display(),
                        pages.len()
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                println!("re-generate it with `{}`", whaletutor::book::REGENERATE);
                return Ok(ExitCode::from(1));
            }
            let changed = whaletutor::book::write(&book, &pages)?;
            for c in &changed {
                println!("{}", c.display());
            }
            println!(
                "{} of {} generated pages changed in {}",
                changed.len(),
                pages.len(),
                book.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Verb::Doctor => {
            let lessons = load_lessons(&dir).unwrap_or_default();
            let f = setup::doctor(&engine, &lessons).await;
            print!("{}", setup::render_findings(&f, style));
            Ok(if f.iter().all(|x| x.ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Verb::Class { what } => whaletutor::class::command::run(what, &engine, &dir).await,
        Verb::Setup {
            which: keys,
            from_registry,
        } => {
            let lessons = load_lessons(&dir)?;
            let chosen: Vec<&LoadedLesson> = if keys.is_empty() {
                lessons.iter().collect()
            } else {
                keys.iter()
                    .map(|k| lesson::find(&lessons, k))
                    .collect::<Result<_, _>>()?
            };
            if let Some(registry) = from_registry {
                whaletutor::class::command::setup_from_registry(&engine, registry, &chosen).await?;
                return Ok(ExitCode::SUCCESS);
            }
            let docker = engine.ensure_running().await?;
            let made = setup::ensure_images(&engine, &docker, &chosen, &dir.join("images")).await?;
            if made.is_empty() {
                println!("every required image is present");
            } else {
                println!("ready: {}", made.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        Verb::Lesson {
            lesson: key,
            force,
            demo,
        } => {
            let lessons = load_lessons(&dir)?;
            let l = match key {
                Some(k) => lesson::find(&lessons, k)?,
                None => Progress::load(&ppath)?
                    .resume(&lessons)
                    .context("there are no lessons")?,
            };
            if let Some(note) = whaletutor::tools::whale_path_note(&engine) {
                whaletutor::tools::offer_link(&ppath, &note)?;
            }
            let docker = engine.ensure_running().await?;
            let caps = EngineCaps::of(&engine, &docker).await;
            if let Some(b) = requirements::blocker(l, caps, engine.cli()) {
                println!("{}", b.message);
                if let Some(next) = lessons.iter().find(|n| {
                    n.number() > l.number()
                        && requirements::blocker(n, caps, engine.cli()).is_none()
                }) {
                    println!(
                        "The next lesson that runs here: `whaletutor lesson {}`.",
                        next.number()
                    );
                }
                return Ok(ExitCode::from(1));
            }
            setup::ensure_images(&engine, &docker, &[l], &dir.join("images")).await?;
            // The lesson's own setup (lesson 9's loopback web server), as
            // verify runs it: each command is written to be run again.
            for cmd in &l.lesson.setup {
                let cmd = whaletutor::template::render_for(cmd.get_ref(), &engine)?;
                match runner::sh(&engine, &cmd, std::time::Duration::from_secs(120)) {
                    Ok((0, _)) => {}
                    Ok((code, out)) => eprintln!(
                        "warning: the lesson's setup `{cmd}` exited with {code}: {}",
                        out.trim()
                    ),
                    Err(e) => eprintln!("warning: the lesson's setup `{cmd}`: {e}"),
                }
            }
            watch::Watch {
                engine: &engine,
                docker,
                lessons: &lessons,
                lesson: l,
                progress_path: &ppath,
                force: *force,
                demo: *demo,
                style,
            }
            .run()
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Verb::Verify {
            which: keys,
            from_registry,
        } => {
            let lessons = load_lessons(&dir)?;
            let chosen: Vec<&LoadedLesson> = if keys.is_empty() {
                lessons.iter().collect()
            } else {
                keys.iter()
                    .map(|k| lesson::find(&lessons, k))
                    .collect::<Result<_, _>>()?
            };
            let rows = match from_registry {
                Some(r) => {
                    let r = whaletutor::class::images::parse_registry(r)?;
                    verify::run_from_registry(&engine, &chosen, &dir.join("images"), &r).await?
                }
                None => verify::run(&engine, &chosen, &dir.join("images")).await?,
            };
            print!("{}", verify::render_table(&rows, true));
            Ok(if rows.iter().all(verify::Row::ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
