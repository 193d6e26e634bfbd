//! `verify`: prove each lesson in a sandbox. Reset, setup, then for every
//! step: each check must FAIL, the solve script runs, each check must PASS.
//! A check that passes before its solve is an error unless the lesson says
//! why (`passes_before_solve`).

use crate::checks::Outcome;
use crate::engine::{Engine, EngineError, EngineKind};
use crate::lesson::LoadedLesson;
use crate::requirements::{self, EngineCaps};
use crate::runner::{self, CheckResult};
use crate::setup;
use crate::solve::{Player, Terminals};
use crate::template;
use bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};
use bollard::Docker;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot make the sandbox: {0}")]
    Sandbox(std::io::Error),
    #[error("the sandbox daemon did not answer within 15 s at {socket}: {detail}")]
    DaemonStart { socket: String, detail: String },
}

/// A whale daemon of our own: its own root dir and socket, stopped (with
/// every container it ran) when dropped.
pub struct Sandbox {
    pub engine: Engine,
    dir: tempfile::TempDir,
    daemon: Option<Child>,
}

impl Sandbox {
    pub async fn whale() -> Result<Sandbox, VerifyError> {
        Sandbox::whale_with(&[]).await
    }

    /// A sandbox whose daemon gets `extra` options too (a class registry's
    /// `--insecure-registry`).
    pub async fn whale_with(extra: &[&str]) -> Result<Sandbox, VerifyError> {
        let dir = tempfile::Builder::new()
            .prefix("whaletutor-verify-")
            .tempdir()
            .map_err(VerifyError::Sandbox)?;
        let root = dir.path().join("root");
        let socket = dir.path().join("whale.sock");
        let bin = crate::engine::whale_bin()?;
        let log =
            std::fs::File::create(dir.path().join("daemon.log")).map_err(VerifyError::Sandbox)?;
        let log2 = log.try_clone().map_err(VerifyError::Sandbox)?;
        let child = std::process::Command::new(bin)
            .arg("daemon")
            .arg("--root")
            .arg(&root)
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(extra)
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(VerifyError::Sandbox)?;
        let sb = Sandbox {
            engine: Engine {
                kind: EngineKind::Whale,
                socket: socket.clone(),
                root: Some(root),
            },
            dir,
            daemon: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match sb.engine.connect().await {
                Ok(_) => return Ok(sb),
                Err(e) if Instant::now() > deadline => {
                    let log = std::fs::read_to_string(sb.dir.path().join("daemon.log"))
                        .unwrap_or_default();
                    return Err(VerifyError::DaemonStart {
                        socket: socket.display().to_string(),
                        detail: format!("{e}; daemon log: {}", log.trim()),
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Remove every container, stop the daemon, unmount leftovers.
    pub async fn shutdown(&mut self) {
        if let Ok(d) = self.engine.connect().await {
            remove_all_containers(&d).await;
        }
        self.stop_daemon();
    }

    fn stop_daemon(&mut self) {
        if self.daemon.is_some() {
            // Containers outlive their daemon (their shims hold them): on
            // the way out (also after a failed test) remove them first.
            if let Ok(ids) = self.engine.whale(&["ps", "-aq"]) {
                let ids: Vec<&str> = ids.split_whitespace().collect();
                if !ids.is_empty() {
                    let mut args = vec!["rm", "-f"];
                    args.extend(ids);
                    let _ = self.engine.whale(&args);
                }
            }
        }
        if let Some(mut c) = self.daemon.take() {
            let pid = nix::unistd::Pid::from_raw(c.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match c.try_wait() {
                    Ok(Some(_)) => break,
                    _ if Instant::now() > deadline => {
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                    _ => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        if self.engine.rootless() {
            if let Some(root) = &self.engine.root {
                crate::rootless::remove_store(root);
            }
        }
        unmount_under(self.dir.path());
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop_daemon();
    }
}

async fn remove_all_containers(d: &Docker) {
    if let Ok(list) = d
        .list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        }))
        .await
    {
        for c in list {
            if let Some(id) = c.id {
                let _ = d
                    .remove_container(
                        &id,
                        Some(RemoveContainerOptions {
                            force: true,
                            ..Default::default()
                        }),
                    )
                    .await;
            }
        }
    }
}

/// Lazily unmount anything still mounted below `dir`, deepest first.
///
/// This reads the host's mount table on purpose: `dir` is the root of a
/// whale daemon that verify started on this machine, and this cleans up
/// after it once it is gone, so no engine is left to ask.
pub fn unmount_under(dir: &Path) {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return;
    };
    let prefix = dir.display().to_string();
    let mut targets: Vec<String> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|t| t.replace("\\040", " "))
        .filter(|t| t.starts_with(&prefix))
        .collect();
    targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
    for t in targets {
        let _ = nix::mount::umount2(t.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// One row of the verify table.
#[derive(Debug, Clone)]
pub struct Row {
    pub lesson: String,
    pub steps: usize,
    pub checks: usize,
    pub pass: usize,
    pub fail: usize,
    pub time: Duration,
    pub problems: Vec<String>,
    /// Steps not played on this engine, each with the reason (a step's
    /// `requires` the engine lacks): said, never counted as passed.
    pub skipped: Vec<String>,
}

impl Row {
    pub fn ok(&self) -> bool {
        self.fail == 0 && self.problems.is_empty()
    }
}

fn describe(r: &CheckResult) -> String {
    match &r.outcome {
        Ok(Outcome::Pass) => "passed".into(),
        Ok(Outcome::Fail { failure, seen }) => format!("failed: {failure} (seen: {seen})"),
        Err(e) => format!("error: {e}"),
    }
}

/// Verify one lesson against `engine`.
pub async fn verify_lesson(
    engine: &Engine,
    docker: &Docker,
    lesson: &LoadedLesson,
    images_dir: &Path,
) -> Row {
    let start = Instant::now();
    let mut row = Row {
        lesson: format!("{:02} {}", lesson.number(), lesson.id()),
        steps: lesson.lesson.steps.len(),
        checks: 0,
        pass: 0,
        fail: 0,
        time: Duration::ZERO,
        problems: Vec::new(),
        skipped: Vec::new(),
    };
    let only = |word: &str| lesson.lesson.requires.iter().any(|r| r.get_ref() == word);
    let skip = match engine.kind {
        EngineKind::Whale => only("docker-only"),
        EngineKind::Docker => only("whale-only"),
    };
    if skip {
        row.lesson.push_str(" (skipped: not for this engine)");
        return row;
    }
    let caps = EngineCaps::of(engine, docker).await;
    if let Some(b) = requirements::blocker(lesson, caps, engine.cli()) {
        row.lesson.push_str(&format!(" (skipped: {})", b.short));
        return row;
    }
    let workdir = match tempfile::Builder::new()
        .prefix("whaletutor-work-")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => {
            row.problems.push(format!("cannot make a work dir: {e}"));
            row.fail += 1;
            return row;
        }
    };
    runner::reset(engine, docker, lesson).await;
    if let Err(e) = setup::ensure_images(engine, docker, &[lesson], images_dir).await {
        row.problems.push(format!("setup: {e}"));
        row.fail += 1;
        row.time = start.elapsed();
        return row;
    }
    for cmd in &lesson.lesson.setup {
        let cmd = template::render_for(cmd.get_ref(), engine).unwrap_or_default();
        match runner::sh(engine, &cmd, Duration::from_secs(120)) {
            Ok((0, _)) => {}
            Ok((code, out)) => row
                .problems
                .push(format!("setup `{cmd}` exited with {code}: {}", out.trim())),
            Err(e) => row.problems.push(format!("setup `{cmd}`: {e}")),
        }
    }
    let mut player = Player {
        engine,
        docker,
        workdir: workdir.path(),
        terminals: Terminals::default(),
        answers: Default::default(),
    };
    'steps: for (i, s) in lesson.lesson.steps.iter().enumerate() {
        let step = s.get_ref();
        let sid = step.id.get_ref();
        if let Some(reason) = missing_requirement(engine, docker, step).await {
            row.skipped.push(format!("step {sid} skipped: {reason}"));
            continue;
        }
        let before = runner::check_step(docker, engine, step, &player.answers).await;
        row.checks += before.len();
        let mut good = vec![true; before.len()];
        for (k, r) in before.iter().enumerate() {
            let check = step.checks[k].get_ref();
            let may_pass = check.passes_before_solve().is_some();
            match &r.outcome {
                Ok(Outcome::Fail { .. }) => {}
                Ok(Outcome::Pass) if may_pass => {}
                Ok(Outcome::Pass) => {
                    good[k] = false;
                    row.problems.push(format!(
                        "step {sid}: check {} ({}) passes before the step is solved: it cannot fail (add passes_before_solve with a reason if that is intended)",
                        k + 1,
                        r.kind
                    ));
                }
                Err(e) => {
                    good[k] = false;
                    row.problems
                        .push(format!("step {sid}: check {} ({}): {e}", k + 1, r.kind));
                }
            }
        }
        if step.solve.is_none() {
            row.problems.push(format!(
                "step {sid}: no [step.solve]: verify cannot play it"
            ));
            row.fail += before.len();
            break 'steps;
        }
        if let Err(e) = player.play(step).await {
            row.problems.push(format!("step {sid}: solve: {e}"));
            row.fail += before.len();
            break 'steps;
        }
        // State may settle a moment after the script (a container exits).
        let deadline = Instant::now() + Duration::from_secs(10);
        let after = loop {
            let after = runner::check_step(docker, engine, step, &player.answers).await;
            if runner::all_pass(&after) || Instant::now() > deadline {
                break after;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        for (k, r) in after.iter().enumerate() {
            if !r.passed() {
                good[k] = false;
                row.problems.push(format!(
                    "step {sid}: check {} ({}) after solve: {}",
                    k + 1,
                    r.kind,
                    describe(r)
                ));
            }
        }
        for g in &good {
            if *g {
                row.pass += 1;
            } else {
                row.fail += 1;
            }
        }
        if !runner::all_pass(&after) {
            // Later steps build on this one: stop here.
            let rest: usize = lesson.lesson.steps[i + 1..]
                .iter()
                .map(|s| s.get_ref().checks.len())
                .sum();
            if rest > 0 {
                row.problems
                    .push(format!("{rest} check(s) of later steps not run"));
            }
            break;
        }
    }
    player.terminals.close();
    runner::reset(engine, docker, lesson).await;
    row.time = start.elapsed();
    row
}

/// Why `engine` cannot play `step` (a word of its `requires` it lacks), or
/// None when it can.
async fn missing_requirement(
    engine: &Engine,
    docker: &Docker,
    step: &crate::lesson::Step,
) -> Option<String> {
    for word in &step.requires {
        if word.get_ref() == "published-ports" && engine.kind == EngineKind::Docker {
            // Docker publishes a port through its bridge network; without
            // one (dockerd --bridge=none, the course's private daemon) `-p`
            // is accepted and nothing listens.
            if docker.inspect_network("bridge", None).await.is_err() {
                return Some(
                    "it needs published ports (-p), and this Docker engine has no bridge network (dockerd --bridge=none accepts -p and publishes nothing)".into(),
                );
            }
        }
    }
    None
}

/// The table `verify` prints.
pub fn render_table(rows: &[Row], show_time: bool) -> String {
    let mut out = String::new();
    let w = rows
        .iter()
        .map(|r| r.lesson.len())
        .max()
        .unwrap_or(6)
        .max(6);
    out.push_str(&format!(
        "{:<w$}  {:>5}  {:>6}  {:>4}  {:>4}  {:>7}\n",
        "LESSON", "STEPS", "CHECKS", "PASS", "FAIL", "TIME"
    ));
    for r in rows {
        let time = if show_time {
            format!("{:.1}s", r.time.as_secs_f64())
        } else {
            "-".to_string()
        };
        out.push_str(&format!(
            "{:<w$}  {:>5}  {:>6}  {:>4}  {:>4}  {:>7}\n",
            r.lesson, r.steps, r.checks, r.pass, r.fail, time
        ));
    }
    for r in rows {
        for p in r.skipped.iter().chain(&r.problems) {
            out.push_str(&format!("{}: {p}\n", r.lesson));
        }
    }
    let bad = rows.iter().filter(|r| !r.ok()).count();
    out.push_str(&if bad == 0 {
        format!("verify: {} lesson(s) ok\n", rows.len())
    } else {
        format!("verify: {bad} of {} lesson(s) FAILED\n", rows.len())
    });
    out
}

/// Verify lessons; on whale in a fresh sandbox daemon, on docker against
/// the given engine. Returns the rows.
pub async fn run(
    engine: &Engine,
    lessons: &[&LoadedLesson],
    images_dir: &Path,
) -> Result<Vec<Row>, VerifyError> {
    run_with(engine, lessons, images_dir, None).await
}

/// `verify --from-registry`: as [`run`], each lesson's images pulled from
/// the class registry first (so nothing is made in the sandbox; an image
/// the registry lacks fails that lesson, named).
pub async fn run_from_registry(
    engine: &Engine,
    lessons: &[&LoadedLesson],
    images_dir: &Path,
    registry: &str,
) -> Result<Vec<Row>, VerifyError> {
    run_with(engine, lessons, images_dir, Some(registry)).await
}

async fn run_with(
    engine: &Engine,
    lessons: &[&LoadedLesson],
    images_dir: &Path,
    registry: Option<&str>,
) -> Result<Vec<Row>, VerifyError> {
    let mut sandbox = None;
    let engine = match engine.kind {
        EngineKind::Whale => {
            // The class registry speaks plain HTTP: say so for one that is
            // not on loopback.
            let extra: Vec<&str> = match registry {
                Some(r) if !crate::class::images::is_loopback(r) => {
                    vec!["--insecure-registry", r]
                }
                _ => Vec::new(),
            };
            let sb = Sandbox::whale_with(&extra).await?;
            let e = sb.engine.clone();
            sandbox = Some(sb);
            e
        }
        EngineKind::Docker => engine.clone(),
    };
    let result = async {
        let docker = engine.connect().await?;
        let mut rows = Vec::new();
        for l in lessons {
            if let Some(r) = registry {
                let wanted = setup::required_images(l);
                if let Err(e) = crate::class::images::pull(&docker, r, &wanted, |_| {}).await {
                    rows.push(Row {
                        lesson: format!("{:02} {}", l.number(), l.id()),
                        steps: l.lesson.steps.len(),
                        checks: 0,
                        pass: 0,
                        fail: 1,
                        time: Duration::ZERO,
                        problems: vec![format!("--from-registry: {e}")],
                        skipped: Vec::new(),
                    });
                    continue;
                }
            }
            rows.push(verify_lesson(&engine, &docker, l, images_dir).await);
        }
        Ok::<_, VerifyError>(rows)
    }
    .await;
    if let Some(mut sb) = sandbox {
        sb.shutdown().await;
    }
    result
}

pub fn default_images_dir(lessons_dir: &Path) -> PathBuf {
    lessons_dir.join("images")
}
