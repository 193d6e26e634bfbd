//! Typed checks, evaluated against a live engine over the Docker API.
//! A check only reads state: inspect, top, logs, archive, exec of a
//! read-only command, image inspect/export, a host command.

mod image_file;

use crate::engine::Engine;
use crate::lesson::{
    Check, ContainerCheck, ExecCheck, FileCheck, HostCheck, ImageCheck, ProcessCheck, Quiz,
};
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerInspectResponse, ImageInspect};
use bollard::query_parameters::{
    DownloadFromContainerOptions, ListContainersOptions, LogsOptions, TopOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use regex::Regex;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("the engine does not serve {endpoint} yet, which this check needs")]
    Unsupported { endpoint: String },
    #[error("engine error during {what}: {source}")]
    Engine { what: String, source: BollardError },
    /// Nothing answers on the engine's socket: the daemon went away.
    /// [`crate::runner::check_step`] says how to start it again.
    #[error("the {engine} daemon is not running: {how}")]
    Gone { engine: &'static str, how: String },
    #[error("bad regex `{re}` in the lesson: {source}")]
    Regex { re: String, source: regex::Error },
    #[error("host command `{cmd}` could not run: {source}")]
    Host { cmd: String, source: std::io::Error },
    #[error("{0}")]
    Other(String),
}

/// The result of one check: pass, or fail with the lesson's message and
/// (for authors and `verify`) what was actually seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail { failure: String, seen: String },
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Pass)
    }
}

/// What a check may read besides the engine.
pub struct Context<'a> {
    pub docker: &'a Docker,
    /// The engine checked: `{{ cli }}`/`{{ socket }}` in host commands and
    /// failure messages, and the environment host commands run with.
    pub engine: &'a Engine,
    /// Quizzes of the current step and the student's answers by quiz id.
    pub quizzes: &'a [Quiz],
    pub answers: &'a HashMap<String, String>,
}

fn re(s: &str) -> Result<Regex, CheckError> {
    Regex::new(s).map_err(|source| CheckError::Regex {
        re: s.to_string(),
        source,
    })
}

fn status_of(e: &BollardError) -> Option<(u16, &str)> {
    match e {
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } => Some((*status_code, message.as_str())),
        _ => None,
    }
}

/// Whale answers "page not found" for routes it does not have.
fn unsupported(e: &BollardError) -> bool {
    matches!(status_of(e), Some((404, m)) if m.contains("page not found"))
        || matches!(status_of(e), Some((501, _)))
}

/// The socket refused or vanished: the daemon is gone, not the thing asked
/// about. Told apart so the student reads "not running", not hyper's jargon.
pub fn engine_gone(e: &BollardError) -> bool {
    match e {
        BollardError::HyperLegacyError { err } => err.is_connect(),
        BollardError::IOError { .. } | BollardError::SocketNotFoundError(_) => true,
        _ => false,
    }
}

fn engine_err(what: impl Into<String>) -> impl FnOnce(BollardError) -> CheckError {
    let what = what.into();
    move |source| {
        if engine_gone(&source) {
            CheckError::Gone {
                engine: "engine's",
                how: String::new(),
            }
        } else {
            CheckError::Engine { what, source }
        }
    }
}

/// An engine error as a check error: `Unsupported` naming `endpoint` when
/// the engine lacks the route, else an error while doing `what`.
fn api_err(endpoint: &str, what: impl Into<String>) -> impl FnOnce(BollardError) -> CheckError {
    let endpoint = endpoint.to_string();
    let what = what.into();
    move |e| {
        if unsupported(&e) {
            CheckError::Unsupported { endpoint }
        } else {
            engine_err(what)(e)
        }
    }
}

/// A 404 for the thing asked about, not for a route the engine lacks.
fn not_found(e: &BollardError) -> bool {
    !unsupported(e) && matches!(status_of(e), Some((404, _)))
}

/// The whole body of a streamed answer.
async fn body<B: AsRef<[u8]>>(
    s: impl futures_util::Stream<Item = Result<B, BollardError>>,
) -> Result<Vec<u8>, BollardError> {
    let mut s = std::pin::pin!(s);
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(chunk?.as_ref());
    }
    Ok(out)
}

fn render(text: &str, ctx: &Context<'_>) -> String {
    crate::template::render_for(text, ctx.engine).unwrap_or_else(|_| text.to_string())
}

type BoxFut<'a> = Pin<Box<dyn Future<Output = Result<Outcome, CheckError>> + Send + 'a>>;

/// Evaluate one check.
pub fn evaluate<'a>(check: &'a Check, ctx: &'a Context<'a>) -> BoxFut<'a> {
    Box::pin(async move {
        // A failed host command's stderr, for the student's failure line.
        let mut said = String::new();
        let seen = match check {
            Check::Container(c) => container(c, ctx).await?,
            Check::Process(p) => process(p, ctx).await?,
            Check::Exec(e) => exec(e, ctx).await?,
            Check::File(f) => file(f, ctx).await?,
            Check::Image(i) => image(i, ctx).await?,
            Check::Host(h) => host(h, ctx).await?.map(|(seen, stderr)| {
                said = stderr;
                seen
            }),
            Check::Quiz(q) => quiz(&q.quiz, ctx),
            Check::All(g) => {
                let mut r = None;
                for c in &g.checks {
                    if let Outcome::Fail { failure, seen } = evaluate(c, ctx).await? {
                        r = Some(format!("{failure} ({seen})"));
                        break;
                    }
                }
                r
            }
            Check::Any(g) => {
                let mut seen = Vec::new();
                let mut passed = false;
                for c in &g.checks {
                    match evaluate(c, ctx).await {
                        Ok(Outcome::Pass) => {
                            passed = true;
                            break;
                        }
                        Ok(Outcome::Fail { seen: s, .. }) => seen.push(s),
                        // One alternative the engine cannot answer must not
                        // hide another that it can.
                        Err(e) => seen.push(e.to_string()),
                    }
                }
                (!passed).then(|| seen.join("; "))
            }
        };
        Ok(match seen {
            None => Outcome::Pass,
            Some(seen) => Outcome::Fail {
                failure: format!("{}{said}", render(check.failure(), ctx)),
                seen,
            },
        })
    })
}

async fn inspect(
    docker: &Docker,
    name: &str,
) -> Result<Option<ContainerInspectResponse>, CheckError> {
    match docker.inspect_container(name, None).await {
        Ok(c) => Ok(Some(c)),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(api_err(
            "GET /containers/{id}/json",
            format!("inspect of container {name}"),
        )(e)),
    }
}

fn norm_image(s: &str) -> String {
    whale_formats::reference::with_default_tag(whale_formats::reference::familiar(s))
}

async fn container(c: &ContainerCheck, ctx: &Context<'_>) -> Result<Option<String>, CheckError> {
    let mut targets = Vec::new();
    if let Some(name) = &c.name {
        if let Some(i) = inspect(ctx.docker, name).await? {
            targets.push(i);
        }
    } else if let Some(label) = &c.label {
        let mut filters = HashMap::new();
        filters.insert("label".to_string(), vec![label.clone()]);
        let list = ctx
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .map_err(engine_err(format!("list of containers labelled {label}")))?;
        for s in list {
            if let Some(id) = s.id {
                if let Some(i) = inspect(ctx.docker, &id).await? {
                    targets.push(i);
                }
            }
        }
    }
    let what = match (&c.name, &c.label) {
        (Some(n), _) => format!("container {n}"),
        (_, Some(l)) => format!("containers labelled {l}"),
        _ => "container".into(),
    };
    if targets.is_empty() {
        return Ok(if c.exists == Some(false) {
            None
        } else {
            Some(format!("no {what}"))
        });
    }
    if c.exists == Some(false) {
        return Ok(Some(format!("{what} exists")));
    }
    let mut seen = Vec::new();
    for t in &targets {
        match container_one(c, t, ctx).await? {
            None => return Ok(None),
            Some(s) => seen.push(s),
        }
    }
    Ok(Some(seen.join("; ")))
}

async fn container_one(
    c: &ContainerCheck,
    i: &ContainerInspectResponse,
    ctx: &Context<'_>,
) -> Result<Option<String>, CheckError> {
    let name = i.name.as_deref().unwrap_or("?").trim_start_matches('/');
    let id = i.id.clone().unwrap_or_default();
    let state = i.state.clone().unwrap_or_default();
    let config = i.config.clone().unwrap_or_default();
    let status = state.status.map(|s| s.to_string()).unwrap_or_default();
    let running = state.running.unwrap_or(false);
    if let Some(want) = &c.status {
        if &status != want {
            return Ok(Some(format!("{name} is {status}")));
        }
    }
    if let Some(want) = c.running {
        if running != want {
            return Ok(Some(format!("{name} is {status}")));
        }
    }
    if let Some(want) = c.exit_code {
        let code = state.exit_code.unwrap_or(0);
        if running || status == "created" {
            return Ok(Some(format!("{name} has not exited (it is {status})")));
        }
        if code != want {
            return Ok(Some(format!("{name} exited with {code}")));
        }
    }
    if let Some(want) = c.tty {
        let got = config.tty.unwrap_or(false);
        if got != want {
            return Ok(Some(format!("{name} has tty = {got}")));
        }
    }
    if let Some(want) = c.open_stdin {
        let got = config.open_stdin.unwrap_or(false);
        if got != want {
            return Ok(Some(format!("{name} has open_stdin = {got}")));
        }
    }
    if let Some(want) = &c.image {
        let got = config.image.clone().unwrap_or_default();
        if norm_image(&got) != norm_image(want) {
            return Ok(Some(format!("{name} runs image {got}")));
        }
    }
    if let Some(want) = &c.cmd {
        let mut words = vec![i.path.clone().unwrap_or_default()];
        words.extend(i.args.clone().unwrap_or_default());
        let got = words.join(" ");
        // podman 4.3 repeats the command in Args (`true true`): its config's
        // entrypoint and cmd say what was asked, as on Docker.
        let mut asked = config.entrypoint.clone().unwrap_or_default();
        asked.extend(config.cmd.clone().unwrap_or_default());
        let want = re(want)?;
        if !want.is_match(&got) && !want.is_match(&asked.join(" ")) {
            return Ok(Some(format!("{name} runs `{got}`")));
        }
    }
    if let Some(want) = c.oom_killed {
        let got = state.oom_killed.unwrap_or(false);
        if got != want {
            return Ok(Some(format!("{name} has oom_killed = {got}")));
        }
    }
    if let Some(want) = &c.pid1 {
        if !running {
            return Ok(Some(format!("{name} is not running ({status})")));
        }
        let procs = top(ctx.docker, &id).await?;
        let first = pid1_of(&procs, i)
            .map(|p| p.cmd.clone())
            .unwrap_or_default();
        if !re(want)?.is_match(&first) {
            return Ok(Some(format!("PID 1 of {name} is `{first}`")));
        }
    }
    if let Some(want) = &c.logs {
        let out = logs(ctx.docker, &id).await?;
        if !re(want)?.is_match(&out) {
            let tail: String = out
                .lines()
                .rev()
                .take(3)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join(" | ");
            return Ok(Some(format!("output of {name} ends with: {}", tail.trim())));
        }
    }
    Ok(None)
}

async fn logs(docker: &Docker, id: &str) -> Result<String, CheckError> {
    let s = docker.logs(
        id,
        Some(LogsOptions {
            stdout: true,
            stderr: true,
            tail: "all".into(),
            ..Default::default()
        }),
    );
    let out = body(s.map(|chunk| chunk.map(|o| o.into_bytes())))
        .await
        .map_err(api_err(
            "GET /containers/{id}/logs",
            format!("logs of {id}"),
        ))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// One row of `/containers/{id}/top`.
pub struct Proc {
    pub pid: String,
    pub cmd: String,
}

async fn top(docker: &Docker, id: &str) -> Result<Vec<Proc>, CheckError> {
    let t = docker
        .top_processes(
            id,
            Some(TopOptions {
                ps_args: "-ef".into(),
            }),
        )
        .await
        .map_err(api_err("GET /containers/{id}/top", format!("top of {id}")))?;
    let mut titles = t.titles.unwrap_or_default();
    let mut rows = t.processes.unwrap_or_default();
    // podman 4.3 runs the image's own `ps` (busybox's ignores -ef) and
    // answers each line as one column: split titles on blanks and each row
    // into as many fields, the last one keeping the rest (the command line).
    if let [one] = titles.as_slice() {
        if one.split_whitespace().count() > 1 {
            titles = one.split_whitespace().map(str::to_string).collect();
            let n = titles.len();
            rows = rows
                .into_iter()
                .map(|r| split_row(&r.concat(), n))
                .collect();
        }
    }
    let col = |name: &str| titles.iter().position(|t| t == name);
    let pid_col = col("PID");
    let cmd_col = col("CMD").or_else(|| col("COMMAND"));
    let (Some(pc), Some(cc)) = (pid_col, cmd_col) else {
        return Err(CheckError::Other(format!(
            "top of {id} has no PID/CMD columns (titles {titles:?})"
        )));
    };
    Ok(rows
        .into_iter()
        .map(|row| Proc {
            pid: row.get(pc).cloned().unwrap_or_default(),
            cmd: row.get(cc).cloned().unwrap_or_default(),
        })
        .collect())
}

/// `line` as `n` blank-separated fields, the last one keeping its blanks.
fn split_row(line: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while out.len() + 1 < n {
        let Some(end) = rest.find(char::is_whitespace) else {
            break;
        };
        out.push(rest[..end].to_string());
        rest = rest[end..].trim_start();
    }
    out.push(rest.to_string());
    out
}

/// The row of a container's PID 1 in its `top`: the process whose host PID
/// inspect reports as `State.Pid` (the first row if the engine reports none).
fn pid1_of<'p>(procs: &'p [Proc], i: &ContainerInspectResponse) -> Option<&'p Proc> {
    let pid = i
        .state
        .as_ref()
        .and_then(|s| s.pid)
        .unwrap_or(0)
        .to_string();
    procs
        .iter()
        .find(|p| p.pid == pid)
        // podman's `top` gives the container's own PIDs.
        .or_else(|| procs.iter().find(|p| p.pid == "1"))
        .or_else(|| procs.first())
}

/// Whether a process whose command line matches `command` has PID `want`
/// inside the container's PID namespace. Asked over the API, never the
/// host's /proc: the engine may be on another machine, and `top` gives host
/// PIDs only. PID 1 is the process inspect names (`State.Pid`); any other
/// PID is read from the container's own /proc by exec (so the image needs
/// `cat`).
async fn has_pid_inside(
    docker: &Docker,
    i: &ContainerInspectResponse,
    procs: &[Proc],
    command: &Regex,
    want: u32,
) -> Result<bool, CheckError> {
    if want == 1 {
        return Ok(pid1_of(procs, i).is_some_and(|p| command.is_match(&p.cmd)));
    }
    let id = i.id.as_deref().unwrap_or_default();
    let cat = ["cat".to_string(), format!("/proc/{want}/cmdline")];
    let (cmdline, code) = exec_output(docker, id, &cat).await?;
    // /proc/PID/cmdline separates (and ends) the arguments with NULs; top
    // shows them separated by spaces.
    let cmdline = cmdline.replace('\0', " ");
    Ok(code == 0 && command.is_match(cmdline.trim_end()))
}

async fn process(p: &ProcessCheck, ctx: &Context<'_>) -> Result<Option<String>, CheckError> {
    let Some(i) = inspect(ctx.docker, &p.container).await? else {
        return Ok(Some(format!("no container {}", p.container)));
    };
    if !i.state.as_ref().and_then(|s| s.running).unwrap_or(false) {
        return Ok(if p.running {
            Some(format!("{} is not running", p.container))
        } else {
            None
        });
    }
    let procs = top(ctx.docker, i.id.as_deref().unwrap_or(&p.container)).await?;
    let r = re(&p.command)?;
    let matching: Vec<&Proc> = procs.iter().filter(|x| r.is_match(&x.cmd)).collect();
    let listing = || {
        procs
            .iter()
            .map(|x| x.cmd.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !p.running {
        return Ok((!matching.is_empty()).then(|| format!("running: {}", listing())));
    }
    if matching.is_empty() {
        return Ok(Some(format!("processes: {}", listing())));
    }
    if let Some(want) = p.pid {
        if !has_pid_inside(ctx.docker, &i, &procs, &r, want).await? {
            return Ok(Some(format!("`{}` is not PID {want} inside", p.command)));
        }
    }
    Ok(None)
}

async fn exec_output(
    docker: &Docker,
    container: &str,
    cmd: &[String],
) -> Result<(String, i64), CheckError> {
    use bollard::exec::{CreateExecOptions, StartExecResults};
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd.to_vec()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(api_err(
            "POST /containers/{id}/exec",
            format!("exec in {container}"),
        ))?;
    let started = docker.start_exec(&created.id, None).await.map_err(api_err(
        "POST /exec/{id}/start",
        format!("exec start in {container}"),
    ))?;
    let mut stdout = String::new();
    if let StartExecResults::Attached { mut output, .. } = started {
        while let Some(chunk) = output.next().await {
            match chunk {
                Ok(bollard::container::LogOutput::StdOut { message })
                | Ok(bollard::container::LogOutput::Console { message }) => {
                    stdout.push_str(&String::from_utf8_lossy(&message))
                }
                Ok(_) => {}
                Err(e) => return Err(engine_err(format!("exec output in {container}"))(e)),
            }
        }
    }
    let code = docker
        .inspect_exec(&created.id)
        .await
        .map_err(api_err(
            "GET /exec/{id}/json",
            format!("exec inspect in {container}"),
        ))?
        .exit_code
        .unwrap_or(-1);
    Ok((stdout, code))
}

async fn exec(e: &ExecCheck, ctx: &Context<'_>) -> Result<Option<String>, CheckError> {
    let Some(i) = inspect(ctx.docker, &e.container).await? else {
        return Ok(Some(format!("no container {}", e.container)));
    };
    if !i.state.as_ref().and_then(|s| s.running).unwrap_or(false) {
        return Ok(Some(format!("{} is not running", e.container)));
    }
    let (out, code) = exec_output(ctx.docker, &e.container, &e.cmd).await?;
    if let Some(want) = e.exit_code {
        if code != want {
            return Ok(Some(format!("`{}` exited with {code}", e.cmd.join(" "))));
        }
    }
    if let Some(want) = &e.stdout {
        if !re(want)?.is_match(&out) {
            return Ok(Some(format!(
                "`{}` printed `{}`",
                e.cmd.join(" "),
                out.trim()
            )));
        }
    }
    Ok(None)
}

/// The file at `path` in a container, via the archive endpoint (works on
/// stopped containers too). `None` when it does not exist.
async fn read_file(
    docker: &Docker,
    container: &str,
    path: &str,
) -> Result<Option<Vec<u8>>, CheckError> {
    let s = docker.download_from_container(
        container,
        Some(DownloadFromContainerOptions { path: path.into() }),
    );
    let tarball = match body(s).await {
        Ok(t) => t,
        Err(e) if not_found(&e) => return Ok(None),
        Err(e) => {
            return Err(api_err(
                "GET /containers/{id}/archive?path=",
                format!("archive of {path} in {container}"),
            )(e))
        }
    };
    let mut ar = tar::Archive::new(tarball.as_slice());
    let entries = ar
        .entries()
        .map_err(|e| CheckError::Other(format!("archive of {path}: {e}")))?;
    // The first entry is the path itself (a directory's children follow).
    let Some(entry) = entries.into_iter().next() else {
        return Ok(Some(Vec::new()));
    };
    let mut entry = entry.map_err(|e| CheckError::Other(format!("archive of {path}: {e}")))?;
    let mut data = Vec::new();
    if entry.header().entry_type().is_file() {
        std::io::Read::read_to_end(&mut entry, &mut data)
            .map_err(|e| CheckError::Other(format!("archive of {path}: {e}")))?;
    }
    Ok(Some(data))
}

async fn file(f: &FileCheck, ctx: &Context<'_>) -> Result<Option<String>, CheckError> {
    if inspect(ctx.docker, &f.container).await?.is_none() {
        return Ok(Some(format!("no container {}", f.container)));
    }
    let data = match read_file(ctx.docker, &f.container, &f.path).await {
        Ok(d) => d,
        // Engines without the archive endpoint: a running container can
        // still be asked with exec.
        Err(CheckError::Unsupported { endpoint: first }) => {
            match exec_output(ctx.docker, &f.container, &["cat".into(), f.path.clone()]).await {
                Ok((out, 0)) => Some(out.into_bytes()),
                Ok(_) => None,
                Err(CheckError::Unsupported { endpoint }) => {
                    return Err(CheckError::Unsupported {
                        endpoint: format!("{first} (or {endpoint})"),
                    })
                }
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    match (&data, f.exists) {
        (None, Some(true)) | (None, None) => {
            return Ok(Some(format!("{} has no {}", f.container, f.path)))
        }
        (Some(_), Some(false)) => return Ok(Some(format!("{} has {}", f.container, f.path))),
        _ => {}
    }
    if let (Some(want), Some(d)) = (&f.contents, &data) {
        let text = String::from_utf8_lossy(d);
        if !re(want)?.is_match(&text) {
            return Ok(Some(format!("{} contains `{}`", f.path, text.trim())));
        }
    }
    Ok(None)
}

async fn image_inspect(docker: &Docker, name: &str) -> Result<Option<ImageInspect>, CheckError> {
    match docker.inspect_image(name).await {
        Ok(i) => Ok(Some(i)),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(api_err(
            "GET /images/{name}/json",
            format!("inspect of image {name}"),
        )(e)),
    }
}

fn layers(i: &ImageInspect) -> Vec<String> {
    i.root_fs
        .as_ref()
        .and_then(|r| r.layers.clone())
        .unwrap_or_default()
}

async fn image(c: &ImageCheck, ctx: &Context<'_>) -> Result<Option<String>, CheckError> {
    let Some(i) = image_inspect(ctx.docker, &c.name).await? else {
        return Ok(if c.exists == Some(false) {
            None
        } else {
            Some(format!("no image {}", c.name))
        });
    };
    if c.exists == Some(false) {
        return Ok(Some(format!("image {} exists", c.name)));
    }
    let mine = layers(&i);
    if let Some(n) = c.layers {
        if mine.len() != n {
            return Ok(Some(format!("{} has {} layers", c.name, mine.len())));
        }
    }
    if let Some(n) = c.min_layers {
        if mine.len() < n {
            return Ok(Some(format!("{} has {} layers", c.name, mine.len())));
        }
    }
    let config = i.config.clone().unwrap_or_default();
    if let Some(want) = &c.cmd {
        let got = config.cmd.clone().unwrap_or_default();
        if &got != want {
            return Ok(Some(format!("{} has CMD {got:?}", c.name)));
        }
    }
    if let Some(want) = &c.entrypoint {
        let got = config.entrypoint.clone().unwrap_or_default();
        if &got != want {
            return Ok(Some(format!("{} has ENTRYPOINT {got:?}", c.name)));
        }
    }
    if let Some(base) = &c.based_on {
        let Some(b) = image_inspect(ctx.docker, base).await? else {
            return Ok(Some(format!("no image {base}")));
        };
        let theirs = layers(&b);
        if theirs.is_empty() || !mine.starts_with(&theirs) {
            return Ok(Some(format!("{} is not built on {base}", c.name)));
        }
    }
    if let Some(other) = &c.shares_layers_with {
        let Some(o) = image_inspect(ctx.docker, other).await? else {
            return Ok(Some(format!("no image {other}")));
        };
        let theirs = layers(&o);
        let shared = mine.iter().filter(|l| theirs.contains(l)).count();
        let too_few = c.min_shared_layers.is_some_and(|n| shared < n);
        let too_many = c.max_shared_layers.is_some_and(|n| shared > n);
        if too_few || too_many {
            return Ok(Some(format!(
                "{} shares {shared} layers with {other}",
                c.name
            )));
        }
    }
    if c.max_unique_bytes.is_some() || c.min_unique_bytes.is_some() {
        let id = i.id.clone().unwrap_or_default();
        // What `system df -v` shows: per image the bytes of layers other
        // images (not a build's intermediate ones) also use; the rest is
        // what this image alone stores.
        let df = system_df(ctx.docker).await?;
        let Some(s) = df["Images"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["Id"].as_str() == Some(id.as_str())))
        else {
            return Ok(Some(format!("{} is missing from `system df`", c.name)));
        };
        let (size, shared) = (s["Size"].as_i64(), s["SharedSize"].as_i64());
        let (Some(size), Some(shared)) = (size, shared.filter(|s| *s >= 0)) else {
            return Err(CheckError::Unsupported {
                endpoint: "GET /system/df (Images[].Size and SharedSize)".into(),
            });
        };
        let unique = (size - shared).max(0) as u64;
        if c.max_unique_bytes.is_some_and(|max| unique > max)
            || c.min_unique_bytes.is_some_and(|min| unique < min)
        {
            return Ok(Some(format!("{} has {unique} unique bytes", c.name)));
        }
    }
    if let Some(path) = &c.contains_file {
        let id = i.id.clone().unwrap_or_else(|| c.name.clone());
        if !image_file::contains(ctx.docker, &id, path).await? {
            return Ok(Some(format!("{} has no {path}", c.name)));
        }
    }
    Ok(None)
}

/// `GET /system/df` as JSON, the endpoint behind `system df -v`: dockerd
/// 20.10 reports per-image `SharedSize` there (its `/images/json` ignores
/// `shared-size`). bollard models this endpoint after API 1.52 (no `Images`
/// list), so the body is read raw: a clone of the client whose request
/// modifier points a raw-body GET (image export) at `/system/df`.
async fn system_df(docker: &Docker) -> Result<serde_json::Value, CheckError> {
    let d = docker.clone().with_request_modifier(|mut req| {
        let uri = req.uri().to_string();
        if let Some(at) = uri.find("/images/") {
            if let Ok(u) = format!("{}/system/df", &uri[..at]).parse() {
                *req.uri_mut() = u;
            }
        }
        req
    });
    let json = body(d.export_image("system-df"))
        .await
        .map_err(api_err("GET /system/df", "GET /system/df"))?;
    serde_json::from_slice(&json)
        .map_err(|e| CheckError::Other(format!("GET /system/df answered no JSON: {e}")))
}

/// A command run on the tutor's machine, not through the engine.
///
/// Known limit: lesson 03 counts attached clients (`whale attach life`)
/// with `ps` here, because the Docker API does not report who is attached
/// to a container. That stays right with a remote engine only while the
/// student's clients run on the tutor's machine, as they do in a lesson.
///
/// A failure comes with what the command said on stderr (its tail), which
/// explains most failures: a tool that is missing, a container that is gone.
async fn host(h: &HostCheck, ctx: &Context<'_>) -> Result<Option<(String, String)>, CheckError> {
    let cmd = render(&h.command, ctx);
    // The engine's environment, as for solve commands: `{{ cli }} inspect`
    // in a host command reaches the engine the lesson runs on.
    let engine = ctx.engine;
    let mut c = tokio::process::Command::new("sh");
    c.arg("-c").arg(&cmd).envs(engine.env());
    if let Some(p) = engine.path_env() {
        c.env("PATH", p);
    }
    let out = c
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|source| CheckError::Host {
            cmd: cmd.clone(),
            source,
        })?;
    let code = out.status.code().unwrap_or(-1) as i64;
    let said = stderr_tail(&out.stderr);
    if let Some(want) = h.exit_code {
        if code != want {
            return Ok(Some((format!("`{cmd}` exited with {code}"), said)));
        }
    }
    if let Some(want) = &h.stdout {
        let text = String::from_utf8_lossy(&out.stdout);
        if !re(want)?.is_match(&text) {
            return Ok(Some((format!("`{cmd}` printed `{}`", text.trim()), said)));
        }
    }
    Ok(None)
}

/// A failed host command's stderr for the failure line: its last few
/// lines (the error is at the end), or nothing when it said nothing.
fn stderr_tail(stderr: &[u8]) -> String {
    const LINES: usize = 3;
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = &lines[lines.len().saturating_sub(LINES)..];
    format!(" (the command said: `{}`)", tail.join(" / "))
}

/// Whether `given` is the quiz's answer: a choice by text, or a free
/// answer matched case-insensitively by the answer regex.
pub fn quiz_correct(q: &Quiz, given: &str) -> bool {
    let given = given.trim();
    if q.choices.is_empty() {
        Regex::new(&format!("(?i)^(?:{})$", q.answer))
            .map(|r| r.is_match(given))
            .unwrap_or(false)
    } else {
        given == q.answer
            || given
                .parse::<usize>()
                .ok()
                .and_then(|n| q.choices.get(n.wrapping_sub(1)))
                .is_some_and(|c| *c == q.answer)
    }
}

fn quiz(id: &str, ctx: &Context<'_>) -> Option<String> {
    let Some(q) = ctx.quizzes.iter().find(|q| q.id == id) else {
        return Some(format!("no quiz {id}"));
    };
    match ctx.answers.get(id) {
        None => Some(format!("quiz {id} not answered")),
        Some(a) if quiz_correct(q, a) => None,
        Some(a) => Some(format!("answered `{a}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_top_row_in_one_column_is_split_into_its_titles() {
        assert_eq!(
            split_row("1 root     sleep 30", 3),
            vec!["1", "root", "sleep 30"]
        );
        assert_eq!(split_row("7", 3), vec!["7"]);
    }

    #[test]
    fn image_names_normalise() {
        assert_eq!(norm_image("busybox"), "busybox:latest");
        assert_eq!(norm_image("docker.io/library/busybox:1"), "busybox:1");
        assert_eq!(norm_image("localhost:5000/x"), "localhost:5000/x:latest");
    }

    #[test]
    fn a_failed_host_command_shows_its_stderr_tail() {
        assert_eq!(super::stderr_tail(b""), "");
        assert_eq!(super::stderr_tail(b"\n  \n"), "");
        assert_eq!(
            super::stderr_tail(b"a\nb\n\nc\nsh: 1: strace: not found\n"),
            " (the command said: `b / c / sh: 1: strace: not found`)"
        );
    }

    #[test]
    fn quiz_answers() {
        let q = Quiz {
            id: "q".into(),
            question: "?".into(),
            choices: vec!["sh".into(), "init".into()],
            answer: "sh".into(),
            why: None,
            why_not: Default::default(),
        };
        assert!(quiz_correct(&q, "sh"));
        assert!(quiz_correct(&q, "1"));
        assert!(!quiz_correct(&q, "2"));
        let free = Quiz {
            choices: vec![],
            answer: "pid ?1".into(),
            ..q
        };
        assert!(quiz_correct(&free, "PID 1"));
        assert!(!quiz_correct(&free, "PID 12"));
    }
}
