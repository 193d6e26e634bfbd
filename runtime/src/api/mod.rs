//! The daemon: a subset of the Docker Engine API on a Unix socket.
//!
//! CONTRACT: `whale daemon` (a cli verb) calls
//! `api::run_daemon(DaemonConfig { root, socket })`, which blocks serving
//! until SIGTERM/SIGINT. Stopping the daemon never touches running
//! containers: they live on under their shims and are re-adopted on the
//! next start.
//!
//! Endpoints (with or without a `/v1.NN` prefix; shapes are Docker's, built
//! from bollard's models): `/_ping`, `/version`, `/info`, `/events`;
//! `/containers/json|create|prune`, `/containers/{id}/json|start|stop|
//! restart|kill|wait|attach|logs|top|stats|changes|resize`,
//! `DELETE /containers/{id}`; `/images/json|create`, `/images/{name}/json|
//! history|tag`, `DELETE /images/{name}`; `/commit`, `/images/prune`,
//! `/build/prune`, `/networks` (ls, inspect, prune; changes refused);
//! `/images/{name}/push`, `/distribution/{name}/json`, `/auth` (registries). Anything else is Docker's 404
//! `page not found`.
//!
//! Re-adoption (container/monitor.rs): every record whose `state.json` says
//! running is checked with the shim's `Status`. A live shim gets a new
//! monitor (its `Wait` answers at once if the container exited meanwhile,
//! so the real exit code is kept). A shim that is gone without recording an exit leaves the
//! container marked exited with code 255 and Error "shim died" (containerd's
//! `UnknownExitStatus`, what Docker reports when the process that knew the
//! real code is gone); whatever is left in its cgroup is killed.
//!
//! Latency: per request the daemon touches memory only (records are indexed
//! at start); create does one atomic write (fsynced unless AutoRemove, whose
//! record dies with its one run), start one rename of spec.json, removal one
//! rename (the files are deleted in the background). Waiters are woken by a
//! watch channel, never by polling. `WHALE_DAEMON_TRACE=1` prints a timeline.

mod archive;
mod build;
mod changes;
mod commit;
mod containers;
mod events;
mod exec;
pub mod glue;
pub mod http;
mod images;
mod images_io;
mod inspect;
mod lifecycle;
mod networks;
mod prune;
mod registry;
mod stats;
mod streams;
mod system;
mod volumes;

use anyhow::Context as _;
use events::{Event, Events};
use http::{ApiError, Body, Query, Route};
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Root dir (`--root`, `WHALE_ROOT`, default /var/lib/whale).
    pub root: PathBuf,
    /// Unix socket path to listen on (`-H unix://PATH` or a plain path).
    pub socket: PathBuf,
    /// Registries (`HOST[:PORT]`) reached over plain HTTP although not on
    /// loopback (`--insecure-registry`).
    pub insecure_registries: Vec<String>,
}

/// Everything a request handler can reach.
pub(crate) struct Daemon {
    pub root: PathBuf,
    pub containers: crate::container::Store,
    pub images: glue::ImageStore,
    pub events: Events,
    /// Attach streams waiting for their container to start, by container id.
    pub pending_attach: Mutex<HashMap<String, Vec<streams::PendingAttach>>>,
    /// `docker exec` instances, by exec id.
    pub execs: exec::Execs,
    /// `--insecure-registry` and friends.
    pub registries: crate::registry::RegistryConfig,
}

/// The registry room's way to the image store.
impl crate::registry::HasStore for Daemon {
    fn store(&self) -> &crate::image::Store {
        &self.images
    }
}

impl Daemon {
    pub fn emit_container(
        &self,
        c: &crate::container::Container,
        action: &str,
        extra: &[(&str, String)],
    ) {
        let mut attrs = BTreeMap::new();
        if let Some(labels) = &c.record.config.labels {
            for (k, v) in labels {
                attrs.insert(k.clone(), v.clone());
            }
        }
        attrs.insert("image".to_string(), c.record.image.clone());
        attrs.insert("name".to_string(), c.name());
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.events
            .emit(Event::new("container", action, c.id(), attrs));
    }

    /// A volume event as dockerd sends it: the volume's name as the actor,
    /// its driver (always local) among the attributes.
    pub fn emit_volume(&self, action: &str, name: &str, extra: &[(&str, String)]) {
        let mut attrs = BTreeMap::new();
        attrs.insert("driver".to_string(), "local".to_string());
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.events.emit(Event::new("volume", action, name, attrs));
    }

    pub fn emit_image(&self, action: &str, id: &str, name: Option<&str>) {
        let mut attrs = BTreeMap::new();
        if let Some(n) = name {
            attrs.insert("name".to_string(), n.to_string());
        }
        self.events.emit(Event::new("image", action, id, attrs));
    }
}

/// The life cycle's view of the daemon: its stores, its event stream, and
/// the attach clients waiting in streams.rs.
impl crate::container::Engine for Daemon {
    fn containers(&self) -> &crate::container::Store {
        &self.containers
    }

    fn images(&self) -> &glue::ImageStore {
        &self.images
    }

    fn container_event(
        &self,
        c: &crate::container::Container,
        action: &str,
        extra: &[(&str, String)],
    ) {
        self.emit_container(c, action, extra);
    }

    fn volume_event(&self, name: &str, action: &str, extra: &[(&str, String)]) {
        self.emit_volume(action, name, extra);
    }

    fn connect_waiting<'a>(
        &'a self,
        c: &'a crate::container::Container,
    ) -> futures_util::future::BoxFuture<'a, ()> {
        Box::pin(streams::connect_pending(self, c))
    }

    fn drop_waiting(&self, id: &str) {
        streams::drop_pending(self, id);
    }
}

/// The daemon's timeline (`WHALE_DAEMON_TRACE=1`), shared with the runs it starts.
pub(crate) use crate::container::trace;

/// Serve the API until SIGTERM/SIGINT.
pub fn run_daemon(cfg: DaemonConfig) -> anyhow::Result<()> {
    crate::paths::close_root(&cfg.root)
        .with_context(|| format!("creating the root dir {} (mode 0700)", cfg.root.display()))?;
    let lock_path = crate::paths::daemon_lock(&cfg.root);
    let lock = crate::paths::lock_root(&cfg.root).map_err(|e| {
        if e.kind() == std::io::ErrorKind::WouldBlock {
            anyhow::anyhow!(
                "another whale daemon is already using the root dir {} (it holds {}); stop it, or give this one another --root",
                cfg.root.display(),
                lock_path.display()
            )
        } else {
            anyhow::anyhow!("locking {}: {e}", lock_path.display())
        }
    })?;
    // A current-thread runtime keeps the idle daemon small; work that blocks
    // (fsync, rm -rf, image import) goes to a small blocking pool whose
    // threads exit when idle.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(16)
        .thread_keep_alive(Duration::from_secs(5))
        .build()
        .context("starting the tokio runtime")?;
    let result = rt.block_on(serve(cfg));
    rt.shutdown_timeout(Duration::from_millis(200));
    drop(lock);
    result
}

async fn serve(cfg: DaemonConfig) -> anyhow::Result<()> {
    let containers = crate::container::Store::open(&cfg.root)
        .with_context(|| format!("loading containers from {}", cfg.root.display()))?;
    let images = glue::ImageStore::open(&cfg.root.join("image"))
        .with_context(|| format!("opening the image store under {}", cfg.root.display()))?;
    let daemon = Arc::new(Daemon {
        root: cfg.root.clone(),
        containers,
        images,
        events: Events::default(),
        pending_attach: Mutex::new(HashMap::new()),
        execs: exec::Execs::default(),
        registries: crate::registry::RegistryConfig {
            insecure: cfg.insecure_registries.clone(),
        },
    });
    crate::build::remove_interrupted_scratch(&cfg.root);
    crate::container::readopt_all(&daemon).await;
    // The stores exist now: close them too (a root made by an older whale).
    crate::paths::close_root(&cfg.root)
        .with_context(|| format!("closing the root dir {}", cfg.root.display()))?;

    let listener = bind(&cfg.socket)?;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("installing the SIGINT handler")?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let d = daemon.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| handle(d.clone(), req));
                        let conn = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .with_upgrades();
                        // Clients hanging up mid-request is normal (Ctrl-C on `logs -f`).
                        let _ = conn.await;
                    });
                }
                Err(e) => {
                    // EMFILE and friends: keep serving the connections we have.
                    eprintln!("whale daemon: accept on {}: {e}", cfg.socket.display());
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
        }
    }
    let _ = std::fs::remove_file(&cfg.socket);
    Ok(())
}

fn bind(socket: &std::path::Path) -> anyhow::Result<tokio::net::UnixListener> {
    if let Some(dir) = socket.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the socket dir {}", dir.display()))?;
    }
    if socket.exists() {
        // We hold the root's lock, but the socket may belong to a daemon
        // with another root: only a socket nobody answers on is stale.
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            anyhow::bail!(
                "{} is in use by another daemon; stop it or listen elsewhere with -H",
                socket.display()
            );
        }
        std::fs::remove_file(socket)
            .with_context(|| format!("removing the stale socket {}", socket.display()))?;
    }
    let listener = tokio::net::UnixListener::bind(socket)
        .with_context(|| format!("listening on {}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("setting the mode of {}", socket.display()))?;
    Ok(listener)
}

async fn handle(d: Arc<Daemon>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let mut resp = match dispatch(d, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    let h = resp.headers_mut();
    h.insert(
        "Api-Version",
        hyper::header::HeaderValue::from_static(http::API_VERSION),
    );
    h.insert(
        "Docker-Experimental",
        hyper::header::HeaderValue::from_static("false"),
    );
    h.insert("Ostype", hyper::header::HeaderValue::from_static("linux"));
    h.insert(
        hyper::header::SERVER,
        hyper::header::HeaderValue::from_static(concat!(
            "whale/",
            env!("CARGO_PKG_VERSION"),
            " (linux)"
        )),
    );
    Ok(resp)
}

/// Read and drop a request body nobody will use, so the client can finish
/// sending it and read the answer: answering while it still writes made it
/// see a broken pipe instead of the 404. Bounded: a client that sends more
/// than this, or stalls, gets the answer anyway.
async fn drain(mut body: Incoming) {
    use http_body_util::BodyExt;
    const MAX: usize = 64 << 20;
    let mut seen = 0;
    let read_all = async {
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |b| b.len());
            if seen > MAX {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), read_all).await;
}

async fn dispatch(d: Arc<Daemon>, req: Request<Incoming>) -> http::ApiResult {
    let Some(route) = route_of(&req) else {
        drain(req.into_body()).await;
        return Err(ApiError::not_found("page not found"));
    };
    let q = Query::parse(req.uri().query());
    trace(|| format!("{} {}", req.method(), req.uri()));
    match route {
        Route::Ping => system::ping(req.method() == hyper::Method::HEAD),
        Route::Version => system::version(),
        Route::Info => system::info(&d),
        Route::Events => events::handle(&d.events, &q),
        Route::ContainerList => containers::list(&d, &q),
        Route::ContainerPrune => containers::prune(&d, &q).await,
        Route::ContainerCreate => containers::create(&d, &q, req).await,
        Route::ContainerInspect(id) => inspect::inspect(&d, &id),
        Route::ContainerStart(id) => containers::start(&d, &id).await,
        Route::ContainerStop(id) => containers::stop(&d, &id, &q).await,
        Route::ContainerKill(id) => containers::kill(&d, &id, &q).await,
        Route::ContainerWait(id) => containers::wait(&d, &id, &q),
        Route::ContainerDelete(id) => containers::delete(&d, &id, &q).await,
        Route::ContainerTop(id) => containers::top(&d, &id, &q).await,
        Route::ContainerStats(id) => stats::handle(&d, &id, &q),
        Route::ContainerChanges(id) => changes::handle(&d, &id).await,
        Route::ContainerResize(id) => containers::resize(&d, &id, &q).await,
        Route::ContainerRestart(id) => containers::restart(&d, &id, &q).await,
        Route::ContainerPause(id) => lifecycle::pause(&d, &id).await,
        Route::ContainerUnpause(id) => lifecycle::unpause(&d, &id).await,
        Route::ContainerRename(id) => lifecycle::rename(&d, &id, &q).await,
        Route::ContainerUpdate(id) => lifecycle::update(&d, &id, req).await,
        Route::ContainerAttach(id) => streams::attach(&d, &id, &q, req).await,
        Route::ContainerLogs(id) => streams::logs(&d, &id, &q),
        Route::ExecCreate(id) => exec::create(&d, &id, req).await,
        Route::ExecStart(id) => exec::start(&d, &id, req).await,
        Route::ExecResize(id) => exec::resize(&d, &id, &q).await,
        Route::ExecInspect(id) => exec::inspect(&d, &id),
        Route::ImageList => images::list(&d, &q),
        Route::ImageInspect(name) => images::inspect(&d, &name),
        Route::ImageDelete(name) => images::delete(&d, &name, &q).await,
        Route::ImageTag(name) => images::tag(&d, &name, &q),
        Route::ImageCreate => images::create(&d, &q, req).await,
        Route::Build => build::build(&d, &q, req).await,
        Route::ImageHistory(name) => images_io::history(&d, &name),
        Route::ImageGet(name) => images_io::save(&d, name.as_deref(), &q),
        Route::ImageLoad => images_io::load(&d, req).await,
        Route::SystemDf => images_io::system_df(&d),
        Route::ContainerExport(id) => archive::export(&d, &id).await,
        Route::ContainerAttachWs(id) => {
            // Honour or refuse: a client that asks for a websocket hears
            // why not, not "page not found".
            d.containers.get(&id)?;
            Err(ApiError::new(
                hyper::StatusCode::NOT_IMPLEMENTED,
                "whale does not serve attach over a websocket (GET /containers/{id}/attach/ws): \
                 attach with POST /containers/{id}/attach, the hijacked stream the docker CLI and \
                 docker-py's attach_socket() use",
            ))
        }
        Route::ContainerArchive(id) => {
            archive::handle(&d, &id, &q, req.method() == hyper::Method::HEAD).await
        }
        Route::ContainerArchivePut(id) => archive::put(&d, &id, &q, req).await,
        Route::Commit => commit::commit(&d, &q, req).await,
        Route::ImagePrune => prune::images(&d, &q).await,
        Route::BuildPrune => prune::build_cache(&q),
        Route::NetworkList => networks::list(&d, &q),
        Route::NetworkInspect(name) => networks::inspect(&d, &name),
        Route::NetworkPrune => networks::prune(&q),
        Route::NetworkChange(what) => {
            // Refused before its body was read: read it first, or the
            // client sees a broken pipe instead of the refusal.
            drain(req.into_body()).await;
            networks::refuse(what)
        }
        Route::VolumeList => volumes::list(&d, &q),
        Route::VolumeCreate => volumes::create(&d, req).await,
        Route::VolumePrune => volumes::prune(&d, &q).await,
        Route::VolumeInspect(name) => volumes::inspect(&d, &name),
        Route::VolumeDelete(name) => volumes::delete(&d, &name, &q).await,
        Route::ImagePush(name) => registry::push(&d, &name, &q, req).await,
        Route::Distribution(name) => registry::distribution(&d, &name, req).await,
        Route::Auth => registry::auth(&d, req).await,
    }
}

fn route_of(req: &Request<Incoming>) -> Option<Route> {
    http::route(req.method(), req.uri().path())
}
