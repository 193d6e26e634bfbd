//! Dockerfile parser and builder with a layer cache.
//!
//! The builder follows Docker's classic builder: every instruction after
//! FROM commits an image whose parent is the previous step's image (RUN,
//! ADD and COPY add a layer; the others only change the config and add an
//! `empty_layer` history entry). A step is skipped when the current image
//! already has a child made by the same instruction text (see `cache`).
//! A multi-stage Dockerfile builds the target stage and the stages it uses
//! (`stages`), each step cached the same way.
//!
//! RUN steps execute through a [`Runner`] (the daemon provides one that runs
//! a real container with the shim), so the builder itself needs no daemon.

pub mod cache;
pub mod context;
mod copy;
pub mod dockerfile;
pub mod stages;
mod steps;
pub mod url;
pub mod words;

use crate::image::config::{ImageConfig, RootFs};
use crate::image::{Image, ImageError, Store};
use context::ContextError;
use dockerfile::{Instruction, Kind, ParseError};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use steps::State;

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
    /// The client went away (Ctrl-C on `whale build`).
    #[error("the build was cancelled: the client went away")]
    Cancelled,
    #[error("cannot {action} {path:?}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// The deepest image that runs: the kernel's overlayfs takes at most 500
/// lower dirs (OVL_MAX_STACK) and a container adds its init layer, so 499
/// (`image::MAX_IMAGE_LAYERS`); Docker stops at 127 because its longer
/// link names fill the page of mount options sooner.
pub const MAX_LAYERS: usize = crate::image::MAX_IMAGE_LAYERS;

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
    /// `--target`: the stage to build (default: the last).
    pub target: Option<String>,
    /// `--label`: added to the final image, one LABEL step each.
    pub labels: BTreeMap<String, String>,
    /// `--cache-from`: when given, only these images (and the images they
    /// were built from) are used as cache.
    pub cache_from: Vec<String>,
    /// `--add-host`: `name:ip` lines for the RUN steps' /etc/hosts.
    pub extra_hosts: Vec<String>,
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
    /// Start it, pass its output to `out` as it comes (with `true` for
    /// stderr), return its exit code; [`BuildError::Cancelled`] when the
    /// build was cancelled meanwhile (the container is then stopped).
    fn run(
        &mut self,
        c: &RunContainer,
        out: &mut dyn FnMut(&[u8], bool),
    ) -> Result<i32, BuildError>;
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
    /// Set when the client went away: the build stops at the next step.
    pub cancelled: &'a AtomicBool,
    /// Pulls a FROM image that is missing and names a registry (the
    /// daemon's registry client); its progress lines go to the second argument.
    pub pull: Option<&'a PullFn<'a>>,
}

/// `(reference, progress line sink) -> Ok or the pull's error`.
pub type PullFn<'a> = dyn Fn(&str, &mut dyn FnMut(String)) -> Result<(), String> + 'a;

/// A build in progress: what every step needs besides its stage's state.
pub(crate) struct Session<'a, 'r> {
    b: &'a Build<'a>,
    runner: &'r mut dyn Runner,
    emit: &'r mut dyn FnMut(Message),
    /// Build args some ARG consumed.
    used_args: Vec<String>,
    /// With `cache_from`: the only images a cache hit may be...
    cache_allow: Option<HashSet<String>>,
    /// ...or be made from, by their history (`cache::restore_from_history`).
    cache_sources: Vec<Image>,
    /// Each stage's name and, once built, its image.
    stage_names: Vec<Option<String>>,
    stage_images: Vec<Option<Image>>,
    current: usize,
}

impl Session<'_, '_> {
    /// The image of an earlier stage named (or numbered) `name`.
    fn stage_image(&self, name: &str) -> Option<Image> {
        let i = stages::stage_index(&self.stage_names[..self.current], name, true)?;
        self.stage_images[i].clone()
    }
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
    // Docker's daemon drops the Dockerfile and .dockerignore from the
    // context when .dockerignore names them (the CLI sends them anyway; a
    // Dockerfile from outside the context comes as `.dockerfile.<hex>`).
    context::drop_ignored_build_files(b.context, &df_name)?;
    // Check the tags before doing any work.
    for t in &opts.tags {
        crate::image::reference::parse_tag(t).map_err(crate::image::ImageError::from)?;
    }
    let mut used_args: Vec<String> = Vec::new();
    // The ARGs before the first FROM, usable in FROM lines.
    let mut global_args: Vec<(String, Option<String>)> = Vec::new();
    for ins in &df.instructions {
        match &ins.kind {
            Kind::Arg { name, default } => {
                let lookup = |n: &str| {
                    global_args
                        .iter()
                        .rev()
                        .find(|(k, _)| k == n)
                        .and_then(|(_, v)| v.clone())
                };
                let default = match default {
                    Some(d) => Some(
                        dockerfile::substitute(d, df.escape, &lookup)
                            .map_err(BuildError::Invalid)?,
                    ),
                    None => None,
                };
                let v = opts.build_args.get(name).cloned().or(default);
                if opts.build_args.contains_key(name) {
                    used_args.push(name.clone());
                }
                global_args.push((name.clone(), v));
            }
            _ => break,
        }
    }
    let subst_meta = |s: &str| {
        let v = dockerfile::substitute(s, df.escape, &|n| {
            global_args
                .iter()
                .rev()
                .find(|(k, _)| k == n)
                .and_then(|(_, v)| v.clone())
        })
        .map_err(BuildError::Invalid)?;
        Ok(dockerfile::split_words(&v, df.escape)
            .map_err(BuildError::Invalid)?
            .join(" "))
    };
    let mut plan = stages::plan(&df, opts.target.as_deref(), &subst_meta)?;
    // `--label k=v`: one LABEL step each, sorted, at the end of the target
    // stage, its value taken literally.
    let label_steps: Vec<Instruction> = opts
        .labels
        .iter()
        .map(|(k, v)| Instruction {
            line: 0,
            original: format!("LABEL {k}={v}"),
            kind: Kind::Label(vec![(literal(k, df.escape), literal(v, df.escape))]),
        })
        .collect();
    plan.stages[plan.target]
        .instructions
        .extend(label_steps.iter());
    let total: usize = plan.meta_args.len()
        + plan
            .stages
            .iter()
            .zip(&plan.needed)
            .filter(|(_, n)| **n)
            .map(|(s, _)| 1 + s.instructions.len())
            .sum::<usize>();
    let mut n = 0;
    let mut step_line = |emit: &mut dyn FnMut(Message), ins: &Instruction| {
        n += 1;
        emit(Message::Stream(format!(
            "Step {n}/{total} : {}\n",
            ins.original
        )));
    };
    for ins in &plan.meta_args {
        step_line(emit, ins);
    }
    let (cache_allow, cache_sources) = cache_from(b);
    let mut s = Session {
        b,
        runner,
        emit,
        used_args,
        cache_allow,
        cache_sources,
        stage_names: plan.stages.iter().map(|st| st.name.clone()).collect(),
        stage_images: vec![None; plan.stages.len()],
        current: 0,
    };
    for (i, stage) in plan.stages.iter().enumerate() {
        if !plan.needed[i] {
            continue;
        }
        s.current = i;
        let mut st = State {
            image: None,
            config: ImageConfig::default(),
            args: Vec::new(),
            global_args: global_args.clone(),
            cmd_set: false,
            escape: df.escape,
            in_triggers: false,
        };
        for ins in std::iter::once(&stage.from).chain(stage.instructions.iter()) {
            if b.cancelled.load(Ordering::SeqCst) {
                return Err(BuildError::Cancelled);
            }
            step_line(s.emit, ins);
            dispatch(&mut s, &mut st, ins)?;
        }
        s.stage_images[i] = st.image;
    }
    let Some(image) = s.stage_images[plan.target].clone() else {
        return Err(BuildError::Invalid(
            "No image was generated: the target stage is FROM scratch with nothing added".into(),
        ));
    };
    let Session {
        emit, used_args, ..
    } = s;
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
    if b.cancelled.load(Ordering::SeqCst) {
        return Err(BuildError::Cancelled);
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

/// A value escaped so that substitution and unquoting give it back as is.
fn literal(v: &str, escape: char) -> String {
    let mut out = String::new();
    for c in v.chars() {
        if !c.is_alphanumeric() {
            out.push(escape);
        }
        out.push(c);
    }
    out
}

/// `cache_from`: the named images and every image they were built from,
/// and the named images themselves; names that are not here are skipped,
/// as Docker skips them.
fn cache_from(b: &Build<'_>) -> (Option<HashSet<String>>, Vec<Image>) {
    if b.options.cache_from.is_empty() {
        return (None, Vec::new());
    }
    let mut allowed = HashSet::new();
    let mut sources = Vec::new();
    for name in &b.options.cache_from {
        let Ok(img) = b.store.resolve(name) else {
            continue;
        };
        let mut next = Some(img.id.clone());
        sources.push(img);
        while let Some(id) = next {
            if !allowed.insert(id.clone()) {
                break;
            }
            next = cache::parent_of(b.store, &id);
        }
    }
    (Some(allowed), sources)
}

fn dispatch(s: &mut Session<'_, '_>, st: &mut State, ins: &Instruction) -> Result<(), BuildError> {
    match &ins.kind {
        Kind::From { image, .. } => from_step(s, st, image),
        Kind::Run(form) => steps::run_step(s, st, form),
        Kind::Copy(spec) => copy::copy_step(s, st, spec, false),
        Kind::Add(spec) => copy::copy_step(s, st, spec, true),
        _ => steps::config_step(s, st, ins),
    }
}

/// Docker's rule: the first component of a name is a registry when it has
/// a `.` or a `:` or is `localhost`.
fn names_registry(name: &str) -> bool {
    match name.split_once('/') {
        Some((first, _)) => first.contains('.') || first.contains(':') || first == "localhost",
        None => false,
    }
}

/// FROM: an earlier stage, `scratch`, or an image; then the base image's
/// ONBUILD triggers, which the new image does not inherit.
fn from_step(s: &mut Session<'_, '_>, st: &mut State, image: &str) -> Result<(), BuildError> {
    let name = dockerfile::substitute(image, st.escape, &|n| {
        st.global_args
            .iter()
            .rev()
            .find(|(k, _)| k == n)
            .and_then(|(_, v)| v.clone())
    })
    .map_err(BuildError::Invalid)?;
    let stage = stages::stage_index(&s.stage_names[..s.current], &name, false)
        .and_then(|i| s.stage_images[i].clone());
    let base = if stage.is_some() {
        stage
    } else if name == "scratch" {
        None
    } else {
        let mut found = s.b.store.resolve(&name);
        if let (Err(ImageError::NotFound(_)), Some(pull)) = (&found, s.b.pull) {
            if names_registry(&name) {
                let emit = &mut *s.emit;
                pull(&name, &mut |line| {
                    emit(Message::Stream(format!("{line}\n")))
                })
                .map_err(BuildError::Invalid)?;
                found = s.b.store.resolve(&name);
            }
        }
        Some(found.map_err(|e| match e {
            ImageError::NotFound(_) => BuildError::Invalid(format!(
                "pull access denied for {name}: there is no image {name} here and its name has no registry whale can pull from (Docker Hub is out of reach); make it with `whale bootstrap`, `whale load`, `whale pull HOST:PORT/NAME` or `whale build` first"
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
    let triggers = st.config.config.on_build.take().unwrap_or_default();
    if !triggers.is_empty() {
        let plural = if triggers.len() == 1 { "" } else { "s" };
        (s.emit)(Message::Stream(format!(
            "# Executing {} build trigger{plural}\n",
            triggers.len()
        )));
        st.in_triggers = true;
        let r = triggers.iter().try_for_each(|t| {
            let ins = dockerfile::parse_trigger(t, st.escape).map_err(|e| {
                BuildError::Invalid(format!("the base image's ONBUILD trigger {t:?}: {e}"))
            })?;
            dispatch(s, st, &ins)
        });
        st.in_triggers = false;
        r?;
    }
    match &st.image {
        Some(img) => (s.emit)(Message::Stream(format!(" ---> {}\n", img.short_id()))),
        None => (s.emit)(Message::Stream(" ---> \n".into())),
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
