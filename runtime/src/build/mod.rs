//! Dockerfile parser and builder with a layer cache.
//!
//! The builder follows Docker's classic builder: every instruction after
//! FROM commits an image whose parent is the previous step's image (RUN,
//! ADD and COPY add a layer; the others only change the config and add an
//! `empty_layer` history entry). A step is skipped when the current image
//! already has a child made by the same instruction text (see `cache`).
//!
//! RUN steps execute through a [`Runner`] (the daemon provides one that runs
//! a real container with the shim), so the builder itself needs no daemon.

pub mod cache;
pub mod context;
pub mod dockerfile;

use crate::image::config::{History, ImageConfig, RootFs, RunConfig};
use crate::image::{Image, ImageError, Store};
use context::ContextError;
use dockerfile::{CommandForm, CopySpec, Instruction, Kind, ParseError};
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("Dockerfile parse error: {0}")]
    Parse(#[from] ParseError),
    #[error("{0}")]
    Image(#[from] ImageError),
    #[error("{0}")]
    Context(#[from] ContextError),
    #[error("{0}")]
    Invalid(String),
    /// Docker's words for a failing RUN.
    #[error("The command '{command}' returned a non-zero code: {code}")]
    RunFailed { command: String, code: i32 },
    #[error("{0}")]
    Runner(String),
    #[error("cannot {action} {path:?}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// The deepest image that runs: the kernel's overlayfs takes at most 500
/// lower dirs (OVL_MAX_STACK); Docker stops at 127 because its longer link
/// names fill the page of mount options sooner.
pub const MAX_LAYERS: usize = 500;

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> BuildError {
    let path = path.to_path_buf();
    move |source| BuildError::Io {
        action,
        path,
        source,
    }
}

/// What `POST /build` asked for.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `-t` references, as given.
    pub tags: Vec<String>,
    /// Path of the Dockerfile inside the context (default `Dockerfile`).
    pub dockerfile: String,
    pub no_cache: bool,
    /// Remove intermediate containers after a successful step (default true).
    pub remove: bool,
    /// Remove them even after a failed step.
    pub force_remove: bool,
    pub build_args: BTreeMap<String, String>,
    /// The network RUN steps get (`--network`).
    pub network: BuildNetwork,
}

/// The network of RUN steps. whale has no bridge, so Docker's `default`
/// (and `bridge`) become the host's network: that is what lets `apt-get`
/// reach the mirrors, as a bridge would. `none` is a network namespace
/// with only loopback, as in Docker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BuildNetwork {
    #[default]
    Host,
    None,
}

impl BuildNetwork {
    /// Docker's `networkmode` build parameter (`docker build --network`).
    pub fn from_mode(mode: &str) -> Result<Self, BuildError> {
        match mode {
            "" | "default" | "bridge" | "host" => Ok(BuildNetwork::Host),
            "none" => Ok(BuildNetwork::None),
            m => Err(BuildError::Invalid(format!(
                "network mode {m:?} is not supported by whale build: use host (the default: RUN steps share the host's network) or none (loopback only)"
            ))),
        }
    }

    /// The container network mode of a RUN step's container.
    pub fn container_mode(self) -> &'static str {
        match self {
            BuildNetwork::Host => "host",
            BuildNetwork::None => "none",
        }
    }
}

/// Output of a build, in the order the client must see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `{"stream": ...}`
    Stream(String),
    /// `{"aux": {"ID": ...}}`
    Aux(String),
}

/// What a RUN step runs.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The image to run on top of (`sha256:...`).
    pub image_id: String,
    pub argv: Vec<String>,
    /// The image's env plus the build args in scope.
    pub env: Vec<String>,
    pub user: String,
    pub workdir: String,
}

/// A container created for a RUN step.
#[derive(Debug, Clone)]
pub struct RunContainer {
    pub id: String,
    /// Its overlay upper dir: what the step changed, once it has exited.
    pub upper: PathBuf,
}

/// Runs RUN steps in real containers.
pub trait Runner {
    fn create(&mut self, req: &RunRequest) -> Result<RunContainer, BuildError>;
    /// Start it, pass its output to `out` as it comes, return its exit code.
    fn run(&mut self, c: &RunContainer, out: &mut dyn FnMut(&[u8])) -> Result<i32, BuildError>;
    fn remove(&mut self, c: &RunContainer);
}

/// Where builds and loads unpack what they are sent, under the store.
pub fn scratch_root(root: &Path) -> PathBuf {
    root.join("build-tmp")
}

/// A build or load lives only as long as the daemon that runs it: whatever
/// scratch a killed daemon left behind is garbage at the next start.
pub fn remove_interrupted_scratch(root: &Path) {
    let dir = scratch_root(root);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => eprintln!(
            "whale daemon: removing interrupted build scratch {}: {e}",
            dir.display()
        ),
    }
}

/// A build: the store, where the context is unpacked, and scratch space.
pub struct Build<'a> {
    pub store: &'a Store,
    /// The unpacked build context.
    pub context: &'a Path,
    /// Scratch dir for staging layers (removed by the caller).
    pub scratch: &'a Path,
    pub options: &'a BuildOptions,
}

struct State {
    image: Option<Image>,
    config: ImageConfig,
    /// ARGs declared in this stage, with their values (None: unset).
    args: Vec<(String, Option<String>)>,
    /// ARGs declared before the first FROM.
    global_args: Vec<(String, Option<String>)>,
    cmd_set: bool,
    escape: char,
}

impl State {
    fn env_value(&self, name: &str) -> Option<String> {
        let env = self.config.config.env.as_deref().unwrap_or(&[]);
        for e in env.iter().rev() {
            if let Some((k, v)) = e.split_once('=') {
                if k == name {
                    return Some(v.to_string());
                }
            }
        }
        self.args
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.clone())
    }

    fn subst(&self, s: &str) -> Result<String, BuildError> {
        dockerfile::substitute(s, self.escape, &|n| self.env_value(n)).map_err(BuildError::Invalid)
    }

    /// Substitute, then remove quotes/escapes as one word.
    fn subst_word(&self, s: &str) -> Result<String, BuildError> {
        let v = self.subst(s)?;
        Ok(dockerfile::split_words(&v, self.escape)
            .map_err(BuildError::Invalid)?
            .join(" "))
    }

    /// Build args in scope with a value, not shadowed by ENV: what RUN sees.
    fn run_args(&self) -> Vec<String> {
        let env = self.config.config.env.as_deref().unwrap_or(&[]);
        let mut out: Vec<String> = self
            .args
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
            .filter(|(k, _)| !env.iter().any(|e| e.split('=').next() == Some(k.as_str())))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.sort();
        out.dedup_by(|a, b| a.split('=').next() == b.split('=').next());
        out
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Go's `%q` of a string slice, as Docker writes `CMD ["a" "b"]` in history.
pub fn go_quote_list(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", items.join(" "))
}

fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn short(id: &str) -> &str {
    let h = id.strip_prefix("sha256:").unwrap_or(id);
    &h[..h.len().min(12)]
}

/// Run the build; the final image on success. Every message, including
/// `Successfully built`, goes through `emit`; the error is the caller's to
/// report.
pub fn build(
    b: &Build<'_>,
    runner: &mut dyn Runner,
    emit: &mut dyn FnMut(Message),
) -> Result<Image, BuildError> {
    let opts = b.options;
    let df_name = if opts.dockerfile.is_empty() {
        "Dockerfile".to_string()
    } else {
        opts.dockerfile.clone()
    };
    let df_path = context::resolve_in_root(b.context, &df_name, true)?;
    let text = fs::read(&df_path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            BuildError::Invalid(format!(
                "Cannot locate specified Dockerfile: {df_name} (it must be inside the build context)"
            ))
        } else {
            io_err("read", &df_path)(e)
        }
    })?;
    let text = String::from_utf8_lossy(&text);
    let df = dockerfile::parse(&df_name, &text)?;
    // Check the tags before doing any work.
    for t in &opts.tags {
        crate::image::reference::parse_tag(t).map_err(crate::image::ImageError::from)?;
    }
    let total = df.instructions.len();
    let mut st = State {
        image: None,
        config: ImageConfig::default(),
        args: Vec::new(),
        global_args: Vec::new(),
        cmd_set: false,
        escape: df.escape,
    };
    let mut used_args: Vec<String> = Vec::new();
    for (i, ins) in df.instructions.iter().enumerate() {
        emit(Message::Stream(format!(
            "Step {}/{} : {}\n",
            i + 1,
            total,
            ins.original
        )));
        step(b, runner, emit, &mut st, ins, &mut used_args)?;
    }
    let Some(image) = st.image else {
        return Err(BuildError::Invalid(
            "the Dockerfile has no FROM: nothing was built".into(),
        ));
    };
    let unused: Vec<&String> = opts
        .build_args
        .keys()
        .filter(|k| !used_args.contains(k))
        .collect();
    if !unused.is_empty() {
        let names: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
        emit(Message::Stream(format!(
            "[Warning] One or more build-args [{}] were not consumed\n",
            names.join(" ")
        )));
    }
    emit(Message::Aux(image.id.clone()));
    emit(Message::Stream(format!(
        "Successfully built {}\n",
        image.short_id()
    )));
    for t in &opts.tags {
        let name = crate::image::reference::parse_tag(t).map_err(crate::image::ImageError::from)?;
        // A rebuild that changed nothing leaves the store untouched (a
        // rewrite of the tag index makes every reader reload it).
        if !image.repo_tags.contains(&name) {
            b.store.tag(&image.id, t)?;
        }
        emit(Message::Stream(format!("Successfully tagged {name}\n")));
    }
    Ok(image)
}

fn step(
    b: &Build<'_>,
    runner: &mut dyn Runner,
    emit: &mut dyn FnMut(Message),
    st: &mut State,
    ins: &Instruction,
    used_args: &mut Vec<String>,
) -> Result<(), BuildError> {
    let opts = b.options;
    if let Kind::From { image, .. } = &ins.kind {
        let name = dockerfile::substitute(image, st.escape, &|n| {
            st.global_args
                .iter()
                .rev()
                .find(|(k, _)| k == n)
                .and_then(|(_, v)| v.clone())
        })
        .map_err(BuildError::Invalid)?;
        let base = if name == "scratch" {
            None
        } else {
            Some(b.store.resolve(&name).map_err(|e| match e {
                ImageError::NotFound(_) => BuildError::Invalid(format!(
                    "pull access denied for {name}: whale has no registry and there is no image {name} here; make it with `whale bootstrap`, `whale load` or `whale build` first"
                )),
                other => BuildError::Image(other),
            })?)
        };
        st.config = match &base {
            Some(img) => img.config.clone(),
            None => ImageConfig {
                architecture: crate::image::host_architecture().to_string(),
                os: "linux".to_string(),
                rootfs: RootFs {
                    kind: "layers".to_string(),
                    diff_ids: Vec::new(),
                },
                ..Default::default()
            },
        };
        st.image = base;
        st.args.clear();
        st.cmd_set = false;
        match &st.image {
            Some(img) => emit(Message::Stream(format!(" ---> {}\n", img.short_id()))),
            None => emit(Message::Stream(" ---> \n".into())),
        }
        return Ok(());
    }
    if st.image.is_none() && !st.config.rootfs.kind.is_empty() {
        // FROM scratch: the first commit has no parent image.
    } else if st.image.is_none() {
        if let Kind::Arg { name, default } = &ins.kind {
            let v = opts.build_args.get(name).cloned().or(default.clone());
            if opts.build_args.contains_key(name) {
                used_args.push(name.clone());
            }
            st.global_args.push((name.clone(), v));
            return Ok(());
        }
        return Err(BuildError::Invalid(format!(
            "{}:{}: {} before FROM: only ARG may come before the first FROM",
            opts.dockerfile,
            ins.line,
            ins.kind.keyword()
        )));
    }

    let mut run = st.config.config.clone();
    let nop = |s: &str| format!("/bin/sh -c #(nop)  {s}");
    let created_by: String;
    match &ins.kind {
        // Handled above; nothing to commit.
        Kind::From { .. } => return Ok(()),
        Kind::Run(form) => return run_step(b, runner, emit, st, form),
        Kind::Copy(spec) => return copy_step(b, emit, st, spec, false),
        Kind::Add(spec) => return copy_step(b, emit, st, spec, true),
        Kind::Cmd(form) => {
            let argv = form.argv();
            created_by = nop(&format!("CMD {}", go_quote_list(&argv)));
            run.cmd = Some(argv);
            st.cmd_set = true;
        }
        Kind::Entrypoint(form) => {
            let argv = match form {
                CommandForm::Shell(s) if s.is_empty() => vec![],
                f => f.argv(),
            };
            created_by = nop(&format!("ENTRYPOINT {}", go_quote_list(&argv)));
            run.entrypoint = Some(argv);
            if !st.cmd_set {
                run.cmd = None;
            }
        }
        Kind::Env(pairs) => {
            let mut msg = String::from("ENV");
            for (k, v) in pairs {
                let v = st.subst_word(v)?;
                let k = st.subst_word(k)?;
                msg.push_str(&format!(" {k}={v}"));
                let env = run.env.get_or_insert_with(Vec::new);
                match env
                    .iter()
                    .position(|e| e.split('=').next() == Some(k.as_str()))
                {
                    Some(i) => env[i] = format!("{k}={v}"),
                    None => env.push(format!("{k}={v}")),
                }
                // Later pairs see earlier ones.
                st.config.config.env = run.env.clone();
            }
            created_by = nop(&msg);
        }
        Kind::Label(pairs) => {
            let mut msg = String::from("LABEL");
            for (k, v) in pairs {
                let (k, v) = (st.subst_word(k)?, st.subst_word(v)?);
                msg.push_str(&format!(" {k}={v}"));
                run.labels.get_or_insert_with(BTreeMap::new).insert(k, v);
            }
            created_by = nop(&msg);
        }
        Kind::Workdir(w) => {
            let w = st.subst_word(w)?;
            let joined = if w.starts_with('/') {
                w
            } else {
                let base = if run.working_dir.is_empty() {
                    "/".to_string()
                } else {
                    run.working_dir.clone()
                };
                format!("{}/{}", base.trim_end_matches('/'), w)
            };
            run.working_dir = joined.clone();
            created_by = format!("/bin/sh -c #(nop) WORKDIR {joined}");
        }
        Kind::User(u) => {
            let u = st.subst_word(u)?;
            created_by = nop(&format!("USER {u}"));
            run.user = u;
        }
        Kind::Expose(ports) => {
            let mut words = Vec::new();
            for p in ports {
                words.extend(
                    st.subst(p)?
                        .split_whitespace()
                        .map(String::from)
                        .collect::<Vec<_>>(),
                );
            }
            let map = run.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in &words {
                let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                if port.is_empty() || !port.split('-').all(|x| x.parse::<u16>().is_ok()) {
                    return Err(BuildError::Invalid(format!(
                        "{}:{}: invalid port {p:?} in EXPOSE: give PORT or PORT/PROTO",
                        opts.dockerfile, ins.line
                    )));
                }
                map.insert(
                    format!("{port}/{}", proto.to_ascii_lowercase()),
                    serde_json::json!({}),
                );
            }
            created_by = nop(&format!("EXPOSE {}", words.join(" ")));
        }
        Kind::StopSignal(s) => {
            let s = st.subst_word(s)?;
            created_by = nop(&format!("STOPSIGNAL {s}"));
            run.stop_signal = Some(s);
        }
        Kind::Maintainer(m) => {
            created_by = nop(&format!("MAINTAINER {m}"));
            st.config.author = Some(m.clone());
        }
        Kind::Arg { name, default } => {
            let v = opts.build_args.get(name).cloned().or_else(|| {
                default.clone().or_else(|| {
                    st.global_args
                        .iter()
                        .rev()
                        .find(|(k, _)| k == name)
                        .and_then(|(_, v)| v.clone())
                })
            });
            if opts.build_args.contains_key(name) {
                used_args.push(name.clone());
            }
            st.args.push((name.clone(), v));
            created_by = nop(&match default {
                Some(d) => format!("ARG {name}={d}"),
                None => format!("ARG {name}"),
            });
        }
    }
    commit_config(b, emit, st, run, created_by)
}

/// Commit a config-only step (or reuse the cached one).
fn commit_config(
    b: &Build<'_>,
    emit: &mut dyn FnMut(Message),
    st: &mut State,
    run: RunConfig,
    created_by: String,
) -> Result<(), BuildError> {
    if let Some(hit) = cached(b, st, &created_by, true) {
        emit(Message::Stream(" ---> Using cache\n".into()));
        return advance(emit, st, hit);
    }
    let mut cfg = st.config.clone();
    cfg.config = run;
    let ts = now();
    cfg.created = Some(ts.clone());
    cfg.history.push(History {
        created: Some(ts),
        created_by: Some(created_by),
        comment: None,
        empty_layer: true,
    });
    let img = commit(b, st, &cfg)?;
    advance(emit, st, img)
}

fn cached(b: &Build<'_>, st: &State, created_by: &str, empty: bool) -> Option<Image> {
    if b.options.no_cache {
        return None;
    }
    let parent = st.image.as_ref()?;
    cache::lookup(b.store, parent, created_by, empty)
}

fn commit(b: &Build<'_>, st: &State, cfg: &ImageConfig) -> Result<Image, BuildError> {
    let img = b.store.create_image(cfg, None)?;
    if let Some(parent) = &st.image {
        cache::record_parent(b.store, &img.id, &parent.id)?;
    }
    Ok(img)
}

fn advance(emit: &mut dyn FnMut(Message), st: &mut State, img: Image) -> Result<(), BuildError> {
    emit(Message::Stream(format!(" ---> {}\n", img.short_id())));
    st.config = img.config.clone();
    st.image = Some(img);
    Ok(())
}

/// Tar `dir` into the store as a layer, and commit the image with it.
fn commit_layer(
    b: &Build<'_>,
    st: &State,
    dir: &Path,
    created_by: String,
) -> Result<Image, BuildError> {
    if st.config.rootfs.diff_ids.len() >= MAX_LAYERS {
        return Err(BuildError::Invalid(format!(
            "max depth exceeded: the image would have {} layers; overlayfs mounts at most {MAX_LAYERS} (merge RUN steps with &&)",
            st.config.rootfs.diff_ids.len() + 1
        )));
    }
    let tar_path = b
        .scratch
        .join(format!("layer-{}.tar", rand::random::<u64>()));
    {
        let f = File::create(&tar_path).map_err(io_err("create", &tar_path))?;
        let mut w = io::BufWriter::with_capacity(1 << 20, f);
        crate::image::extract::write_layer_tar(dir, &mut w).map_err(ImageError::from)?;
        io::Write::flush(&mut w).map_err(io_err("write", &tar_path))?;
    }
    let layer = {
        let f = File::open(&tar_path).map_err(io_err("open", &tar_path))?;
        b.store.add_layer(BufReader::with_capacity(1 << 20, f))
    };
    let _ = fs::remove_file(&tar_path);
    let layer = layer?;
    let mut cfg = st.config.clone();
    let ts = now();
    cfg.created = Some(ts.clone());
    cfg.rootfs.diff_ids.push(layer.diff_id);
    cfg.history.push(History {
        created: Some(ts),
        created_by: Some(created_by),
        comment: None,
        empty_layer: false,
    });
    commit(b, st, &cfg)
}

fn run_step(
    b: &Build<'_>,
    runner: &mut dyn Runner,
    emit: &mut dyn FnMut(Message),
    st: &mut State,
    form: &CommandForm,
) -> Result<(), BuildError> {
    let argv = form.argv();
    let args = st.run_args();
    let mut saved = Vec::new();
    if !args.is_empty() {
        saved.push(format!("|{}", args.len()));
        saved.extend(args.iter().cloned());
    }
    saved.extend(argv.iter().cloned());
    let created_by = saved.join(" ");
    if let Some(hit) = cached(b, st, &created_by, false) {
        emit(Message::Stream(" ---> Using cache\n".into()));
        return advance(emit, st, hit);
    }
    let Some(image) = st.image.clone() else {
        return Err(BuildError::Invalid(
            "RUN on FROM scratch needs a shell in the image: ADD a root filesystem first".into(),
        ));
    };
    let mut env = st.config.config.env.clone().unwrap_or_default();
    env.extend(args);
    let req = RunRequest {
        image_id: image.id.clone(),
        argv: argv.clone(),
        env,
        user: st.config.config.user.clone(),
        workdir: st.config.config.working_dir.clone(),
    };
    let c = runner.create(&req)?;
    emit(Message::Stream(format!(
        " ---> Running in {}\n",
        short(&c.id)
    )));
    let result = runner.run(&c, &mut |bytes| {
        emit(Message::Stream(String::from_utf8_lossy(bytes).into_owned()))
    });
    let outcome = match result {
        Ok(0) => commit_layer(b, st, &c.upper, created_by),
        Ok(code) => Err(BuildError::RunFailed {
            command: argv.join(" "),
            code,
        }),
        Err(e) => Err(e),
    };
    let remove = if outcome.is_ok() {
        b.options.remove
    } else {
        b.options.force_remove
    };
    if remove {
        runner.remove(&c);
        emit(Message::Stream(format!(
            "Removing intermediate container {}\n",
            short(&c.id)
        )));
    }
    advance(emit, st, outcome?)
}

fn copy_step(
    b: &Build<'_>,
    emit: &mut dyn FnMut(Message),
    st: &mut State,
    spec: &CopySpec,
    is_add: bool,
) -> Result<(), BuildError> {
    let what = if is_add { "ADD" } else { "COPY" };
    let dest = st.subst_word(&spec.dest)?;
    let owner = context::parse_chown(spec.chown.as_deref())?;
    let layers = match &st.image {
        Some(img) => b.store.layer_dirs(img)?,
        None => Vec::new(),
    };
    // Gather the sources: context paths, or URLs for ADD (downloaded now:
    // their content is part of the cache key).
    let mut sources: Vec<(PathBuf, Option<String>)> = Vec::new();
    let downloads = b.scratch.join(format!("dl-{}", rand::random::<u64>()));
    for s in &spec.sources {
        let s = st.subst_word(s)?;
        if s.starts_with("http://") || s.starts_with("https://") {
            if !is_add {
                return Err(BuildError::Invalid(format!(
                    "COPY cannot fetch a URL ({s}); use ADD"
                )));
            }
            fs::create_dir_all(&downloads).map_err(io_err("create directory", &downloads))?;
            let name = url_file_name(&s);
            let path = downloads.join(&name);
            fetch_url(&s, &path)?;
            sources.push((path, Some(name)));
        } else if let Some(from) = &spec.from {
            sources.push((source_in_image(b, from, &s)?, None));
        } else {
            for p in context::find_sources(b.context, &s)? {
                sources.push((p, None));
            }
        }
    }
    let paths: Vec<PathBuf> = sources.iter().map(|(p, _)| p.clone()).collect();
    let hash = context::hash_sources(&paths)?;
    let chown_note = spec
        .chown
        .as_deref()
        .map(|c| format!("--chown={c} "))
        .unwrap_or_default();
    let from_note = spec
        .from
        .as_deref()
        .map(|f| format!("--from={f} "))
        .unwrap_or_default();
    let created_by = format!("/bin/sh -c #(nop) {what} {from_note}{chown_note}{hash} in {dest} ");
    let result = (|| {
        if let Some(hit) = cached(b, st, &created_by, false) {
            emit(Message::Stream(" ---> Using cache\n".into()));
            return Ok(hit);
        }
        let stage_root = b.scratch.join(format!("stage-{}", rand::random::<u64>()));
        fs::create_dir_all(&stage_root).map_err(io_err("create directory", &stage_root))?;
        let stage = context::Stage {
            root: stage_root.clone(),
            layers: &layers,
            owner,
        };
        let r = stage_sources(st, &stage, &sources, &dest, is_add, what)
            .and_then(|()| commit_layer(b, st, &stage_root, created_by.clone()));
        let _ = fs::remove_dir_all(&stage_root);
        r
    })();
    let _ = fs::remove_dir_all(&downloads);
    advance(emit, st, result?)
}

/// `COPY --from=IMAGE SRC`: the file SRC as IMAGE has it (its top-most
/// layer holding it). Build stages and directories are not supported.
fn source_in_image(b: &Build<'_>, from: &str, src: &str) -> Result<PathBuf, BuildError> {
    let img = b.store.resolve(from).map_err(|e| match e {
        ImageError::NotFound(_) => BuildError::Invalid(format!(
            "COPY --from={from}: there is no image {from} here (whale copies from images only, not from build stages); make it with `whale bootstrap`, `whale load` or `whale build` first"
        )),
        other => BuildError::Image(other),
    })?;
    if src.contains(['*', '?']) {
        return Err(BuildError::Invalid(format!(
            "COPY --from={from} {src}: whale copies single files from an image, without wildcards; name each file"
        )));
    }
    let layers = b.store.layer_dirs(&img)?;
    let rel = context::resolve_in_image(&layers, src, true);
    match context::lookup_in_layers(&layers, &rel) {
        Some((path, m)) if !m.is_dir() => Ok(path),
        Some(_) => Err(BuildError::Invalid(format!(
            "COPY --from={from} {src}: {src} is a directory; whale copies single files from an image, name each file"
        ))),
        None => Err(BuildError::Invalid(format!(
            "COPY failed: stat {src}: file does not exist in image {from}"
        ))),
    }
}

fn stage_sources(
    st: &State,
    stage: &context::Stage<'_>,
    sources: &[(PathBuf, Option<String>)],
    dest: &str,
    is_add: bool,
    what: &str,
) -> Result<(), BuildError> {
    let abs_dest = if dest.starts_with('/') {
        dest.to_string()
    } else {
        let wd = if st.config.config.working_dir.is_empty() {
            "/"
        } else {
            st.config.config.working_dir.as_str()
        };
        format!("{}/{}", wd.trim_end_matches('/'), dest)
    };
    let dest_is_dir_syntax =
        dest.ends_with('/') || dest == "." || dest.ends_with("/.") || sources.len() > 1;
    let resolved = context::resolve_in_image(stage.layers, &abs_dest, true);
    let dest_exists_as_dir =
        context::lookup_in_layers(stage.layers, &resolved).is_some_and(|(_, m)| m.is_dir());
    if sources.len() > 1 && !dest.ends_with('/') && !dest_exists_as_dir {
        return Err(BuildError::Invalid(format!(
            "When using {what} with more than one source file, the destination must be a directory and end with a /"
        )));
    }
    for (src, url_name) in sources {
        let m = fs::symlink_metadata(src).map_err(io_err("stat", src))?;
        if m.is_dir() {
            let d = stage.ensure_dir(&resolved)?;
            stage.copy_tree(src, &d)?;
            continue;
        }
        if is_add && url_name.is_none() {
            if let Some(gzip) = context::archive_kind(src) {
                let d = stage.ensure_dir(&resolved)?;
                context::extract_archive(src, gzip, &d)?;
                continue;
            }
        }
        let name = url_name.clone().unwrap_or_else(|| {
            src.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let (dir, file) = if dest_is_dir_syntax || dest_exists_as_dir {
            (resolved.clone(), name.clone())
        } else {
            match resolved.split_last() {
                Some((last, parent)) => (parent.to_vec(), last.clone()),
                None => (Vec::new(), name.clone()),
            }
        };
        let d = stage.ensure_dir(&dir)?;
        let target = d.join(&file);
        if fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
            return Err(BuildError::Invalid(format!(
                "{what}: cannot copy file {name} over the directory {}",
                target.display()
            )));
        }
        stage.copy_tree(src, &target)?;
        if url_name.is_some() {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&target, fs::Permissions::from_mode(0o600))
                .map_err(io_err("set the mode of", &target))?;
        }
    }
    Ok(())
}

fn url_file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let after_host = path.splitn(4, '/').nth(3).unwrap_or("");
    let name = after_host.rsplit('/').next().unwrap_or("");
    if name.is_empty() {
        "index.html".to_string()
    } else {
        name.to_string()
    }
}

/// ADD of a URL: fetched with the host's curl (whale links no TLS stack).
fn fetch_url(url: &str, to: &Path) -> Result<(), BuildError> {
    let out = std::process::Command::new("curl")
        .args(["-fsSL", "--connect-timeout", "15", "--max-time", "600", "-o"])
        .arg(to)
        .arg(url)
        .output()
        .map_err(|e| {
            BuildError::Invalid(format!(
                "ADD {url}: cannot run curl to fetch it ({e}); install curl, or download the file into the build context and ADD it from there"
            ))
        })?;
    if !out.status.success() {
        return Err(BuildError::Invalid(format!(
            "ADD failed: cannot fetch {url}: {} (is the host online and the URL right?)",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// The `buildargs` query parameter: a JSON object; null values are unset.
pub fn build_args_from_json(s: &str) -> Result<BTreeMap<String, String>, BuildError> {
    if s.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let m: HashMap<String, Option<String>> = serde_json::from_str(s).map_err(|e| {
        BuildError::Invalid(format!(
            "buildargs must be a JSON object of strings, like {{\"A\":\"1\"}}: {e}"
        ))
    })?;
    Ok(m.into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_quoting_like_docker_history() {
        assert_eq!(
            go_quote_list(&["/bin/sh".into(), "-c".into(), "ipython3".into()]),
            r#"["/bin/sh" "-c" "ipython3"]"#
        );
        assert_eq!(go_quote_list(&["a\"b\\".into()]), r#"["a\"b\\"]"#);
        assert_eq!(go_quote_list(&[]), "[]");
    }

    #[test]
    fn url_names() {
        assert_eq!(url_file_name("http://x/a/b.tar.gz?x=1"), "b.tar.gz");
        assert_eq!(url_file_name("https://x/"), "index.html");
        assert_eq!(url_file_name("https://x"), "index.html");
    }

    #[test]
    fn build_network_modes() {
        for m in ["", "default", "bridge", "host"] {
            assert_eq!(
                BuildNetwork::from_mode(m).unwrap(),
                BuildNetwork::Host,
                "{m}"
            );
        }
        assert_eq!(BuildNetwork::from_mode("none").unwrap(), BuildNetwork::None);
        assert_eq!(BuildNetwork::None.container_mode(), "none");
        let e = BuildNetwork::from_mode("container:web")
            .unwrap_err()
            .to_string();
        assert!(e.contains("container:web") && e.contains("none"), "{e}");
        assert!(BuildNetwork::from_mode("mynet").is_err());
    }

    #[test]
    fn build_args_json() {
        let m = build_args_from_json(r#"{"A":"1","B":null}"#).unwrap();
        assert_eq!(m.get("A").map(String::as_str), Some("1"));
        assert!(!m.contains_key("B"));
        assert!(build_args_from_json("[1]").is_err());
        assert!(build_args_from_json("").unwrap().is_empty());
    }
}
