//! `POST /build`: the classic builder over a tar context, its output as
//! Docker's JSON lines (`{"stream":...}`, `{"aux":{"ID":...}}`,
//! `{"errorDetail":...,"error":...}`; with `q` only the image id). RUN
//! steps run as real containers, started through container/'s start path
//! with their output attached, on the host network (so `apt-get` reaches
//! the host's mirrors; `networkmode=none` gives them loopback only), and
//! their upper dirs become layers. A client that goes away cancels the
//! build: its RUN container is killed and removed, nothing is tagged.

use super::http::{response, ApiError, ApiResult, Body, Query};
use super::Daemon;
use crate::build::{self, BuildError, BuildOptions, Message, RunContainer, RunRequest, Runner};
use crate::container::{self, Container, ContainerError, NewContainer};
use bollard::models::{ContainerConfig, HostConfig};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Scratch space of one build, removed when the build ends.
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Build parameters whale does not implement, with the value that means
/// "not asked for": anything else is refused, never ignored.
const UNSUPPORTED: &[(&str, &[&str])] = &[
    ("pull", &["", "0", "f", "false"]),
    ("squash", &["", "0", "f", "false"]),
    ("platform", &[""]),
    ("isolation", &["", "default"]),
    ("cpuperiod", &["", "0"]),
    ("cpuquota", &["", "0"]),
    ("securityopt", &["", "null", "[]"]),
    ("outputs", &["", "null", "[]"]),
    ("session", &[""]),
    ("version", &["", "1"]),
];

pub fn options_from_query(q: &Query) -> Result<BuildOptions, ApiError> {
    for (name, defaults) in UNSUPPORTED {
        if let Some(v) = q.get(name) {
            // Go's ParseBool, as dockerd reads them: docker-py sends
            // `pull=False`.
            if !defaults.iter().any(|d| d.eq_ignore_ascii_case(v)) {
                let hint = match *name {
                    "cpuperiod" | "cpuquota" => "whale sets a CFS quota from --cpus only, and a build has no --cpus; leave it unset".to_string(),
                    "version" => "whale has the classic builder only (version=1); build without BuildKit (DOCKER_BUILDKIT=0)".to_string(),
                    "pull" => "whale has no registry to pull from; make the base image with `whale bootstrap`, `whale load` or `whale pull`".to_string(),
                    _ => "leave it unset".to_string(),
                };
                return Err(ApiError::bad_request(format!(
                    "build parameter {name}={v} is not supported by whale: {hint}"
                )));
            }
        }
    }
    let build_args = build::build_args_from_json(q.get("buildargs").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let labels = match q
        .get("labels")
        .filter(|l| !l.trim().is_empty() && *l != "null")
    {
        None => BTreeMap::new(),
        Some(l) => serde_json::from_str::<BTreeMap<String, String>>(l).map_err(|e| {
            ApiError::bad_request(format!(
                "labels must be a JSON object of strings, like {{\"a\":\"1\"}}: {e}"
            ))
        })?,
    };
    let cache_from = match q
        .get("cachefrom")
        .filter(|l| !l.trim().is_empty() && *l != "null")
    {
        None => Vec::new(),
        Some(l) => serde_json::from_str::<Vec<String>>(l).map_err(|e| {
            ApiError::bad_request(format!(
                "cachefrom must be a JSON array of image names, like [\"app:1\"]: {e}"
            ))
        })?,
    };
    let mut extra_hosts = Vec::new();
    for v in q.all("extrahosts") {
        for h in v.split(',').filter(|h| !h.is_empty()) {
            extra_hosts.push(
                container::parse_extra_host(h).map_err(|e| ApiError::bad_request(e.to_string()))?,
            );
        }
    }
    Ok(BuildOptions {
        tags: q.all("t").into_iter().filter(|t| !t.is_empty()).collect(),
        dockerfile: q
            .get("dockerfile")
            .filter(|d| !d.is_empty())
            .unwrap_or("Dockerfile")
            .to_string(),
        no_cache: q.bool("nocache"),
        remove: q.bool_or("rm", true),
        force_remove: q.bool("forcerm"),
        build_args,
        network: build::BuildNetwork::from_mode(q.get("networkmode").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        target: q.get("target").filter(|t| !t.is_empty()).map(String::from),
        labels,
        cache_from,
        extra_hosts,
    })
}

/// The limits of the RUN steps' containers (`docker build --memory
/// --memory-swap --cpu-shares --cpuset-cpus --cpuset-mems --shm-size
/// --ulimit`), checked as a container's are: dockerd gives every RUN
/// container the build's limits.
pub fn run_limits_from_query(q: &Query) -> Result<HostConfig, ApiError> {
    let int = |name: &str| -> Result<Option<i64>, ApiError> {
        match q.get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "build parameter {name}={v} is not a number: give it in bytes (or shares)"
                ))
            }),
        }
    };
    let text = |name: &str| q.get(name).filter(|v| !v.is_empty()).map(String::from);
    let ulimits = match q
        .get("ulimits")
        .filter(|u| !u.trim().is_empty() && *u != "null")
    {
        None => None,
        Some(u) => Some(
            serde_json::from_str::<Vec<bollard::models::ResourcesUlimits>>(u).map_err(|e| {
                ApiError::bad_request(format!(
                    "ulimits must be a JSON array like [{{\"Name\":\"nofile\",\"Soft\":1024,\"Hard\":2048}}]: {e}"
                ))
            })?,
        )
        .filter(|u| !u.is_empty()),
    };
    let mut hc = HostConfig {
        memory: int("memory")?.filter(|m| *m != 0),
        memory_swap: int("memswap")?.filter(|m| *m != 0),
        cpu_shares: int("cpushares")?.filter(|m| *m != 0),
        cpuset_cpus: text("cpusetcpus"),
        cpuset_mems: text("cpusetmems"),
        shm_size: int("shmsize")?.filter(|m| *m != 0),
        ulimits,
        ..Default::default()
    };
    container::validate_host_config(&mut hc).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(hc)
}

/// Docker's JSON line for a message.
pub fn message_line(m: &Message) -> Bytes {
    let v = match m {
        Message::Stream(s) => serde_json::json!({ "stream": s }),
        Message::Aux(id) => serde_json::json!({ "aux": { "ID": id } }),
    };
    Bytes::from(v.to_string() + "\r\n")
}

pub fn error_line(e: &BuildError) -> Bytes {
    let msg = e.to_string();
    let detail = match e {
        BuildError::RunFailed { code, .. } => serde_json::json!({ "code": code, "message": msg }),
        _ => serde_json::json!({ "message": msg }),
    };
    Bytes::from(serde_json::json!({ "errorDetail": detail, "error": msg }).to_string() + "\r\n")
}

pub async fn build(d: &Arc<Daemon>, q: &Query, req: Request<Incoming>) -> ApiResult {
    let opts = options_from_query(q)?;
    let limits = run_limits_from_query(q)?;
    let auth = registry_config(&req)?;
    if let Some(remote) = q.get("remote").filter(|r| !r.is_empty()) {
        return Err(ApiError::bad_request(format!(
            "whale cannot build from a remote context ({remote}); send the context as a tar body"
        )));
    }
    let dir = build::scratch_root(&d.root).join(format!("{:016x}", rand::random::<u64>()));
    let scratch = ScratchDir(dir.clone());
    let context_tar = dir.join("context.tar");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError::internal(format!("creating {}: {e}", dir.display())))?;
    // Receive the whole context before answering, as Docker does.
    let mut file = tokio::fs::File::create(&context_tar)
        .await
        .map_err(|e| ApiError::internal(format!("creating {}: {e}", context_tar.display())))?;
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("reading the build context: {e}")))?;
        if let Ok(data) = frame.into_data() {
            tokio::io::AsyncWriteExt::write_all(&mut file, &data)
                .await
                .map_err(|e| {
                    ApiError::internal(format!("writing {}: {e}", context_tar.display()))
                })?;
        }
    }
    // tokio's File hands writes to a blocking thread: flush so the whole
    // context is on disk before the builder reads it.
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .map_err(|e| ApiError::internal(format!("writing {}: {e}", context_tar.display())))?;
    drop(file);

    let quiet = q.bool("q");
    let (tx, out) = Body::channel();
    let d2 = d.clone();
    let handle = tokio::runtime::Handle::current();
    let cancelled = Arc::new(AtomicBool::new(false));
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    // The client going away drops the response body: that cancels the
    // build, also while a quiet RUN step sends nothing.
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    {
        let tx = tx.clone();
        let cancelled = cancelled.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tx.closed() => {
                    cancelled.store(true, Ordering::SeqCst);
                    let _ = cancel_tx.send(true);
                }
                _ = done_rx => {}
            }
        });
    }
    tokio::task::spawn_blocking(move || {
        let _scratch = scratch;
        let _done = done_tx;
        let send = |b: Bytes| {
            let _ = tx.blocking_send(b);
        };
        let mut emit = |m: Message| {
            // `q`: only the image id, as Docker's quiet build sends it.
            if !quiet {
                send(message_line(&m));
            }
        };
        let job = Job {
            cancelled: &cancelled,
            cancel_rx,
            auth: &auth,
        };
        match run_build(&d2, handle, &dir, &opts, limits, &job, &mut emit) {
            Ok(img) => {
                if quiet {
                    send(message_line(&Message::Stream(format!("{}\n", img.id))));
                }
                d2.emit_image("build", &img.id, opts.tags.first().map(String::as_str))
            }
            Err(e) => send(error_line(&e)),
        }
    });
    Ok(response(StatusCode::OK, "application/json", out))
}

/// How a running build learns that its client went away, and the
/// credentials its FROM pulls may use.
struct Job<'a> {
    cancelled: &'a AtomicBool,
    cancel_rx: tokio::sync::watch::Receiver<bool>,
    auth: &'a HashMap<String, crate::registry::Credentials>,
}

/// `X-Registry-Config`: base64 JSON of `{registry: {username, password}}`,
/// the credentials a build's FROM pulls use (as the docker CLI sends them).
fn registry_config(
    req: &Request<Incoming>,
) -> Result<HashMap<String, crate::registry::Credentials>, ApiError> {
    use base64::Engine as _;
    let Some(v) = req.headers().get("X-Registry-Config") else {
        return Ok(HashMap::new());
    };
    let bad = || {
        ApiError::bad_request(
            "the X-Registry-Config header is not base64 of a JSON object of registries",
        )
    };
    let text = v.to_str().map_err(|_| bad())?.trim();
    if text.is_empty() {
        return Ok(HashMap::new());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text))
        .map_err(|_| bad())?;
    let map: HashMap<String, serde_json::Value> =
        serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let mut out = HashMap::new();
    for (registry, entry) in map {
        if let Ok(Some(c)) = crate::registry::Credentials::from_json(&entry) {
            let host = registry
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string();
            out.insert(host, c);
        }
    }
    Ok(out)
}

fn run_build(
    d: &Arc<Daemon>,
    handle: tokio::runtime::Handle,
    dir: &Path,
    opts: &BuildOptions,
    limits: HostConfig,
    job: &Job<'_>,
    emit: &mut dyn FnMut(Message),
) -> Result<crate::image::Image, BuildError> {
    let context = dir.join("context");
    let scratch = dir.join("scratch");
    for p in [&context, &scratch] {
        std::fs::create_dir_all(p).map_err(|source| BuildError::Io {
            action: "create directory",
            path: p.clone(),
            source,
        })?;
    }
    build::context::complete_truncated_tar(&dir.join("context.tar"))?;
    unpack_context(&dir.join("context.tar"), &context)?;
    let pull_handle = handle.clone();
    let mut runner = DaemonRunner {
        d: d.clone(),
        handle,
        network: opts.network,
        extra_hosts: opts.extra_hosts.clone(),
        limits,
        containers: HashMap::new(),
        reap_after_crash: opts.remove || opts.force_remove,
        cancel: job.cancel_rx.clone(),
    };
    let d2 = d.clone();
    let pull = move |reference: &str, line: &mut dyn FnMut(String)| -> Result<(), String> {
        let creds = crate::registry::RemoteRef::parse(reference)
            .ok()
            .and_then(|r| job.auth.get(&r.registry).cloned());
        let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel();
        let progress = crate::registry::Progress::new(ptx);
        let result = pull_handle.block_on(async {
            let r = crate::registry::pull::resolve(&d2.registries, reference, creds).await?;
            crate::registry::pull::fetch(d2.clone(), r, &progress).await
        });
        drop(progress);
        while let Ok(v) = prx.try_recv() {
            let text = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
            let (id, status) = (text("id"), text("status"));
            if v.get("progress").is_some() || status.is_empty() {
                continue;
            }
            line(if id.is_empty() {
                status
            } else {
                format!("{id}: {status}")
            });
        }
        result.map(|_| ()).map_err(|e| e.to_string())
    };
    let b = build::Build {
        store: &d.images,
        context: &context,
        scratch: &scratch,
        options: opts,
        cancelled: job.cancelled,
        pull: Some(&pull),
    };
    build::build(&b, &mut runner, emit)
}

/// The context tar (plain or gzip) through the safe extractor: a hostile
/// context is refused naming the entry.
fn unpack_context(tar: &Path, dest: &Path) -> Result<(), BuildError> {
    let io = |action: &'static str| {
        let path = tar.to_path_buf();
        move |source| BuildError::Io {
            action,
            path,
            source,
        }
    };
    let mut f = std::fs::File::open(tar).map_err(io("open"))?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(io("read"))?;
    if n == 0 {
        return Err(BuildError::Invalid(
            "the build context is empty: send a tar of the context directory".into(),
        ));
    }
    let f = std::fs::File::open(tar).map_err(io("open"))?;
    let r: Box<dyn Read> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(flate2::read::GzDecoder::new(f))
    } else {
        Box::new(f)
    };
    crate::image::extract::extract_layer(std::io::BufReader::with_capacity(1 << 20, r), dest)
        .map_err(|e| BuildError::Invalid(format!("the build context: {e}")))?;
    Ok(())
}

/// Runs RUN steps as containers of this daemon.
struct DaemonRunner {
    d: Arc<Daemon>,
    handle: tokio::runtime::Handle,
    network: build::BuildNetwork,
    /// `--add-host` lines for every RUN container.
    extra_hosts: Vec<String>,
    /// The build's limits, every RUN container's (checked already).
    limits: HostConfig,
    containers: HashMap<String, Arc<Container>>,
    /// The build removes its intermediates (`--rm`, `--force-rm`), so a
    /// daemon start after a crash may too.
    reap_after_crash: bool,
    /// Turns true when the client went away.
    cancel: tokio::sync::watch::Receiver<bool>,
}

impl Runner for DaemonRunner {
    fn create(&mut self, req: &RunRequest) -> Result<RunContainer, BuildError> {
        let mut argv = req.argv.clone();
        if argv.is_empty() {
            return Err(BuildError::Invalid("RUN needs a command".into()));
        }
        let config = ContainerConfig {
            image: Some(req.image_id.clone()),
            cmd: Some(argv.clone()),
            entrypoint: Some(vec![]),
            env: Some(req.env.clone()),
            user: Some(req.user.clone()).filter(|u| !u.is_empty()),
            working_dir: Some(req.workdir.clone()).filter(|w| !w.is_empty()),
            tty: Some(false),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let host_config = HostConfig {
            network_mode: Some(self.network.container_mode().into()),
            extra_hosts: Some(self.extra_hosts.clone()).filter(|h| !h.is_empty()),
            ..self.limits.clone()
        };
        let path = argv.remove(0);
        let new = NewContainer {
            build_step: self.reap_after_crash,
            name: None,
            image_id: req.image_id.clone(),
            image: req.image_id.clone(),
            path,
            args: argv,
            config,
            host_config,
            // As BuildKit: a RUN step mounts no volumes.
            mounts: Vec::new(),
        };
        let c = container::create_record(&*self.d, new)
            .map_err(|e| BuildError::Runner(format!("creating the RUN container: {e}")))?;
        self.containers.insert(c.id().to_string(), c.clone());
        Ok(RunContainer {
            id: c.id().to_string(),
            upper: c.paths.upper(),
        })
    }

    fn run(
        &mut self,
        rc: &RunContainer,
        out: &mut dyn FnMut(&[u8], bool),
    ) -> Result<i32, BuildError> {
        let c = self
            .containers
            .get(&rc.id)
            .cloned()
            .ok_or_else(|| BuildError::Runner(format!("no RUN container {}", rc.id)))?;
        let d = self.d.clone();
        let mut cancel = self.cancel.clone();
        // The container runs on the daemon's runtime; its output comes back
        // over a channel so `out` (which may block on the client) runs here.
        let (tx, rx) = std::sync::mpsc::channel::<(Vec<u8>, bool)>();
        let task = self.handle.spawn(async move {
            let mut run = container::start_attached(&d, &c).await.map_err(run_error)?;
            let relay = async {
                while let Some(chunk) = run.next_output().await {
                    let _ = tx.send(chunk);
                }
            };
            let cancelled = tokio::select! {
                _ = relay => false,
                _ = cancel.wait_for(|c| *c) => true,
            };
            if cancelled {
                // Killed and waited for: its removal follows.
                let _ = container::kill(&d, &c, None).await;
                return Err(BuildError::Cancelled);
            }
            drop(tx);
            run.exit_code().await.map_err(run_error)
        });
        for (chunk, stderr) in rx {
            out(&chunk, stderr);
        }
        let code = self
            .handle
            .block_on(task)
            .map_err(|e| BuildError::Runner(format!("the RUN step's task failed: {e}")))??;
        container::strip_mount_stubs(&rc.upper);
        Ok(code)
    }

    fn remove(&mut self, rc: &RunContainer) {
        let Some(c) = self.containers.remove(&rc.id) else {
            return;
        };
        let d = self.d.clone();
        if let Err(e) = self
            .handle
            .block_on(async { container::remove(&d, &c, true, false).await })
        {
            eprintln!(
                "whale daemon: removing intermediate container {}: {e}",
                c.short_id()
            );
        }
    }
}

/// A RUN step's container that could not run, or whose run ended unknown.
fn run_error(e: ContainerError) -> BuildError {
    BuildError::Runner(match e {
        // What the shim said (the command is missing, not executable...).
        ContainerError::StartFailed(f) => f.error,
        ContainerError::ShimDied(_) => {
            "the RUN container's shim went away without an exit status".to_string()
        }
        e => e.to_string(),
    })
}
