//! One build step: the state a stage carries from step to step, the
//! instructions that only change the config (each an `empty_layer`
//! commit, as the classic builder makes them), RUN, and the commit and
//! cache helpers every step shares.

use super::dockerfile::{self, CommandForm, Instruction, Kind};
use super::{cache, go_quote_list, short, BuildError, Message, RunRequest, Session};
use crate::image::config::{HealthConfig, History, ImageConfig, RunConfig};
use crate::image::Image;
use std::collections::BTreeMap;
use std::path::Path;

/// What a stage carries from one step to the next.
pub(super) struct State {
    pub image: Option<Image>,
    pub config: ImageConfig,
    /// ARGs declared in this stage, with their values (None: unset).
    pub args: Vec<(String, Option<String>)>,
    /// ARGs declared before the first FROM.
    pub global_args: Vec<(String, Option<String>)>,
    pub cmd_set: bool,
    pub escape: char,
    /// Running ONBUILD triggers: Docker prints no ` ---> id` per trigger.
    pub in_triggers: bool,
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

    pub fn subst(&self, s: &str) -> Result<String, BuildError> {
        dockerfile::substitute(s, self.escape, &|n| self.env_value(n)).map_err(BuildError::Invalid)
    }

    /// Substitute, then remove quotes/escapes as one word.
    pub fn subst_word(&self, s: &str) -> Result<String, BuildError> {
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

    /// The shell of shell forms (`SHELL`, else `/bin/sh -c`).
    pub fn shell(&self) -> Vec<String> {
        match &self.config.config.shell {
            Some(s) if !s.is_empty() => s.clone(),
            _ => vec!["/bin/sh".into(), "-c".into()],
        }
    }

    /// The argv of a command form: the shell form runs through the shell.
    pub fn argv(&self, form: &CommandForm) -> Vec<String> {
        match form {
            CommandForm::Shell(s) => {
                let mut v = self.shell();
                v.push(s.clone());
                v
            }
            CommandForm::Exec(v) => v.clone(),
        }
    }

    /// Docker's history text of a step that runs nothing: the shell, then
    /// `#(nop) ` and the instruction.
    pub fn nop(&self, what: &str) -> String {
        format!("{} #(nop) {what}", self.shell().join(" "))
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Go's `time.Duration.String()`: `0s`, `1.5s`, `1m30s`, `1h0m0s`, `500ms`.
pub fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    let frac = |v: u64, unit: u64| -> String {
        let whole = v / unit;
        let rest = v % unit;
        if rest == 0 {
            return whole.to_string();
        }
        let digits = unit.to_string().len() - 1;
        let f = format!("{rest:0digits$}");
        format!("{whole}.{}", f.trim_end_matches('0'))
    };
    if u < 1_000 {
        return format!("{neg}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{neg}{}µs", frac(u, 1_000));
    }
    if u < 1_000_000_000 {
        return format!("{neg}{}ms", frac(u, 1_000_000));
    }
    let h = u / 3_600_000_000_000;
    let m = (u / 60_000_000_000) % 60;
    let s = frac(u % 60_000_000_000, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{neg}{s}s"),
        (0, m) => format!("{neg}{m}m{s}s"),
        (h, m) => format!("{neg}{h}h{m}m{s}s"),
    }
}

/// Go's `%q` of an int (a rune literal), as Docker's history prints Retries.
fn go_quote_rune(n: i64) -> String {
    match n {
        7 => "'\\a'".into(),
        8 => "'\\b'".into(),
        9 => "'\\t'".into(),
        10 => "'\\n'".into(),
        11 => "'\\v'".into(),
        12 => "'\\f'".into(),
        13 => "'\\r'".into(),
        39 => "'\\''".into(),
        92 => "'\\\\'".into(),
        0x20..=0x7e => format!("'{}'", n as u8 as char),
        0..=0x7f => format!("'\\x{n:02x}'"),
        _ => match char::from_u32(n as u32).filter(|_| n > 0xa0) {
            Some(c) => format!("'{c}'"),
            None => format!("'\\u{n:04x}'"),
        },
    }
}

/// Docker's history text for HEALTHCHECK: Go's `%q` of the config struct.
fn healthcheck_text(h: &HealthConfig) -> String {
    format!(
        "HEALTHCHECK &{{{} \"{}\" \"{}\" \"{}\" {}}}",
        go_quote_list(h.test.as_deref().unwrap_or(&[])),
        go_duration(h.interval),
        go_duration(h.timeout),
        go_duration(h.start_period),
        go_quote_rune(h.retries)
    )
}

/// A step that changes only the config.
pub(super) fn config_step(
    s: &mut Session<'_, '_>,
    st: &mut State,
    ins: &Instruction,
) -> Result<(), BuildError> {
    let mut run = st.config.config.clone();
    let created_by: String;
    match &ins.kind {
        Kind::From { .. } | Kind::Run(_) | Kind::Copy(_) | Kind::Add(_) => {
            return Err(BuildError::Invalid(format!(
                "{} is not a config step",
                ins.kind.keyword()
            )))
        }
        Kind::Cmd(form) => {
            let argv = st.argv(form);
            created_by = st.nop(&format!(" CMD {}", go_quote_list(&argv)));
            run.cmd = Some(argv);
            st.cmd_set = true;
        }
        Kind::Entrypoint(form) => {
            let argv = match form {
                CommandForm::Shell(s) if s.is_empty() => vec![],
                f => st.argv(f),
            };
            created_by = st.nop(&format!(" ENTRYPOINT {}", go_quote_list(&argv)));
            run.entrypoint = Some(argv);
            if !st.cmd_set {
                run.cmd = None;
            }
        }
        Kind::Env(pairs) => {
            let mut msg = String::from(" ENV");
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
            created_by = st.nop(&msg);
        }
        Kind::Label(pairs) => {
            let mut msg = String::from(" LABEL");
            for (k, v) in pairs {
                let (k, v) = (st.subst_word(k)?, st.subst_word(v)?);
                msg.push_str(&format!(" {k}={v}"));
                run.labels.get_or_insert_with(BTreeMap::new).insert(k, v);
            }
            created_by = st.nop(&msg);
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
            created_by = st.nop(&format!("WORKDIR {joined}"));
        }
        Kind::User(u) => {
            let u = st.subst_word(u)?;
            created_by = st.nop(&format!(" USER {u}"));
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
                        s.b.options.dockerfile, ins.line
                    )));
                }
                map.insert(
                    format!("{port}/{}", proto.to_ascii_lowercase()),
                    serde_json::json!({}),
                );
            }
            created_by = st.nop(&format!(" EXPOSE {}", words.join(" ")));
        }
        Kind::StopSignal(sig) => {
            let sig = st.subst_word(sig)?;
            created_by = st.nop(&format!(" STOPSIGNAL {sig}"));
            run.stop_signal = Some(sig);
        }
        Kind::Maintainer(m) => {
            created_by = st.nop(&format!(" MAINTAINER {m}"));
            st.config.author = Some(m.clone());
        }
        Kind::Arg { name, default } => {
            let opts = s.b.options;
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
                s.used_args.push(name.clone());
            }
            st.args.push((name.clone(), v));
            created_by = st.nop(&match default {
                Some(d) => format!(" ARG {name}={d}"),
                None => format!(" ARG {name}"),
            });
        }
        Kind::Volume(text) => {
            let words = match serde_json::from_str::<Vec<String>>(text) {
                Ok(v) if text.trim_start().starts_with('[') => v
                    .iter()
                    .map(|w| st.subst(w))
                    .collect::<Result<Vec<_>, _>>()?,
                _ => dockerfile::split_words(&st.subst(text)?, st.escape)
                    .map_err(BuildError::Invalid)?,
            };
            let map = run.volumes.get_or_insert_with(BTreeMap::new);
            for w in &words {
                if w.trim().is_empty() {
                    return Err(BuildError::Invalid(format!(
                        "{}:{}: VOLUME specified can not be an empty string",
                        s.b.options.dockerfile, ins.line
                    )));
                }
                map.insert(w.clone(), serde_json::json!({}));
            }
            created_by = st.nop(&format!(" VOLUME [{}]", words.join(" ")));
        }
        Kind::Shell(shell) => {
            run.shell = Some(shell.clone());
            // The history line already runs with the new shell.
            st.config.config.shell = run.shell.clone();
            created_by = st.nop(&format!(" SHELL [{}]", shell.join(" ")));
        }
        Kind::Healthcheck(hc) => {
            let h = match hc {
                None => HealthConfig {
                    test: Some(vec!["NONE".into()]),
                    ..Default::default()
                },
                Some(h) => HealthConfig {
                    test: Some(h.test.clone()),
                    interval: h.interval,
                    timeout: h.timeout,
                    start_period: h.start_period,
                    retries: h.retries,
                },
            };
            created_by = st.nop(&format!(" {}", healthcheck_text(&h)));
            run.healthcheck = Some(h);
        }
        Kind::Onbuild(trigger) => {
            run.on_build
                .get_or_insert_with(Vec::new)
                .push(trigger.clone());
            created_by = st.nop(&format!(" ONBUILD {trigger}"));
        }
    }
    commit_config(s, st, run, created_by)
}

/// Commit a config-only step (or reuse the cached one).
fn commit_config(
    s: &mut Session<'_, '_>,
    st: &mut State,
    run: RunConfig,
    created_by: String,
) -> Result<(), BuildError> {
    if let Some(hit) = cached(s, st, &created_by, true, &run)? {
        (s.emit)(Message::Stream(" ---> Using cache\n".into()));
        return advance(s, st, hit);
    }
    let mut cfg = st.config.clone();
    cfg.config = run;
    let ts = now();
    cfg.created = Some(ts.clone());
    cfg.history.push(History {
        created: Some(ts),
        created_by: Some(created_by),
        author: None,
        comment: None,
        empty_layer: true,
    });
    let img = commit(s, st, &cfg)?;
    advance(s, st, img)
}

/// The cached result of a step whose run config is `run`, if the cache
/// may be used and has one. With `cache_from`, only the named images count:
/// images they were built from here, or their history (Docker's classic
/// rules).
pub(super) fn cached(
    s: &mut Session<'_, '_>,
    st: &State,
    created_by: &str,
    empty: bool,
    run: &RunConfig,
) -> Result<Option<Image>, BuildError> {
    if s.b.options.no_cache {
        return Ok(None);
    }
    let Some(parent) = st.image.as_ref() else {
        return Ok(None);
    };
    let hit = cache::lookup(s.b.store, parent, created_by, empty);
    let Some(allowed) = &s.cache_allow else {
        return Ok(hit);
    };
    if let Some(hit) = hit.filter(|h| allowed.contains(&h.id)) {
        return Ok(Some(hit));
    }
    match cache::restore_from_history(s.b.store, parent, &s.cache_sources, created_by, empty, run)?
    {
        Some((img, i)) => {
            // As Docker does: once a named image matched, follow only it.
            let source = s.cache_sources.swap_remove(i);
            s.cache_sources = vec![source];
            Ok(Some(img))
        }
        None => Ok(None),
    }
}

fn commit(s: &Session<'_, '_>, st: &State, cfg: &ImageConfig) -> Result<Image, BuildError> {
    let img = s.b.store.create_image(cfg, None)?;
    if let Some(parent) = &st.image {
        cache::record_parent(s.b.store, &img.id, &parent.id)?;
    }
    Ok(img)
}

pub(super) fn advance(
    s: &mut Session<'_, '_>,
    st: &mut State,
    img: Image,
) -> Result<(), BuildError> {
    if !st.in_triggers {
        (s.emit)(Message::Stream(format!(" ---> {}\n", img.short_id())));
    }
    st.config = img.config.clone();
    st.image = Some(img);
    Ok(())
}

/// Tar `dir` into the store as a layer, and commit the image with it.
pub(super) fn commit_layer(
    s: &Session<'_, '_>,
    st: &State,
    dir: &Path,
    created_by: String,
) -> Result<Image, BuildError> {
    if st.config.rootfs.diff_ids.len() >= super::MAX_LAYERS {
        return Err(BuildError::Invalid(format!(
            "max depth exceeded: the image would have {} layers; whale's limit is {} (overlayfs stacks at most 500 layers and a container adds one of its own); merge RUN steps with &&",
            st.config.rootfs.diff_ids.len() + 1,
            super::MAX_LAYERS
        )));
    }
    let layer = s.b.store.add_layer_from_dir(dir);
    let layer = layer?;
    let mut cfg = st.config.clone();
    let ts = now();
    cfg.created = Some(ts.clone());
    cfg.rootfs.diff_ids.push(layer.diff_id);
    cfg.history.push(History {
        created: Some(ts),
        created_by: Some(created_by),
        author: None,
        comment: None,
        empty_layer: false,
    });
    commit(s, st, &cfg)
}

pub(super) fn run_step(
    s: &mut Session<'_, '_>,
    st: &mut State,
    form: &CommandForm,
) -> Result<(), BuildError> {
    let argv = st.argv(form);
    let args = st.run_args();
    let mut saved = Vec::new();
    if !args.is_empty() {
        saved.push(format!("|{}", args.len()));
        saved.extend(args.iter().cloned());
    }
    saved.extend(argv.iter().cloned());
    let created_by = saved.join(" ");
    let run = st.config.config.clone();
    if let Some(hit) = cached(s, st, &created_by, false, &run)? {
        (s.emit)(Message::Stream(" ---> Using cache\n".into()));
        return advance(s, st, hit);
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
    let c = s.runner.create(&req)?;
    (s.emit)(Message::Stream(format!(
        " ---> Running in {}\n",
        short(&c.id)
    )));
    let emit = &mut *s.emit;
    let result = s.runner.run(&c, &mut |bytes, stderr| {
        let text = String::from_utf8_lossy(bytes).into_owned();
        // Docker colours a RUN step's stderr in the stream.
        emit(Message::Stream(if stderr {
            format!("\u{1b}[91m{text}\u{1b}[0m")
        } else {
            text
        }))
    });
    let outcome = match result {
        Ok(0) => commit_layer(s, st, &c.upper, created_by),
        Ok(code) => Err(BuildError::RunFailed {
            command: argv.join(" "),
            code,
        }),
        Err(e) => Err(e),
    };
    let cancelled = matches!(outcome, Err(BuildError::Cancelled));
    let remove = if cancelled {
        true
    } else if outcome.is_ok() {
        s.b.options.remove
    } else {
        s.b.options.force_remove
    };
    if remove {
        s.runner.remove(&c);
        if !cancelled {
            (s.emit)(Message::Stream(format!(
                "Removing intermediate container {}\n",
                short(&c.id)
            )));
        }
    }
    advance(s, st, outcome?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(5_000_000_000), "5s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(500_000_000), "500ms");
        assert_eq!(go_duration(1_000), "1µs");
    }

    #[test]
    fn healthcheck_history_as_docker_20_10_writes_it() {
        // Measured: `HEALTHCHECK --interval=5s --timeout=3s --start-period=1s
        // --retries=4 CMD wget -q localhost || exit 1` on dockerd 20.10.
        let h = HealthConfig {
            test: Some(vec![
                "CMD-SHELL".into(),
                "wget -q localhost || exit 1".into(),
            ]),
            interval: 5_000_000_000,
            timeout: 3_000_000_000,
            start_period: 1_000_000_000,
            retries: 4,
        };
        assert_eq!(
            healthcheck_text(&h),
            r#"HEALTHCHECK &{["CMD-SHELL" "wget -q localhost || exit 1"] "5s" "3s" "1s" '\x04'}"#
        );
        assert_eq!(go_quote_rune(65), "'A'");
        assert_eq!(go_quote_rune(0), "'\\x00'");
    }
}
