//! Health checks: the config's `Healthcheck` (from the image, or the run
//! flags) run as an exec in the container on schedule, with Docker's
//! rules: `starting` until a first success or until `Retries` failures in a
//! row past the start period, the last 5 results kept, an event
//! `health_status: <status>` on every change. One monitor per run; it ends
//! with the run.

use super::exec::{self as container_exec, ExecRequest};
use super::{now_rfc3339, Container, Engine};
use bollard::models::{ContainerConfig, Health, HealthConfig, HealthStatusEnum, HealthcheckResult};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use whale_formats::stdcopy;

/// Docker's defaults (daemon/health.go).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: i64 = 3;
/// Results kept in `State.Health.Log`.
const MAX_LOG: usize = 5;
/// Bytes of a probe's output kept.
const MAX_OUTPUT: usize = 4096;

/// A health check, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub argv: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub retries: i64,
}

fn nanos(v: Option<i64>, default: Duration) -> Duration {
    match v {
        Some(n) if n > 0 => Duration::from_nanos(n as u64),
        _ => default,
    }
}

/// The check `hc` describes; `None` without one, or with `["NONE"]`.
pub fn check_of(hc: Option<&HealthConfig>) -> Option<Check> {
    let hc = hc?;
    let test = hc.test.as_deref().unwrap_or(&[]);
    let argv = match test.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => rest.to_vec(),
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
            vec!["/bin/sh".into(), "-c".into(), rest.join(" ")]
        }
        _ => return None,
    };
    Some(Check {
        argv,
        interval: nanos(hc.interval, DEFAULT_INTERVAL),
        timeout: nanos(hc.timeout, DEFAULT_TIMEOUT),
        start_period: nanos(hc.start_period, Duration::ZERO),
        retries: hc.retries.filter(|r| *r > 0).unwrap_or(DEFAULT_RETRIES),
    })
}

/// Docker's checks of a Healthcheck at create, with its messages.
pub fn validate(hc: Option<&HealthConfig>) -> Result<(), String> {
    let Some(hc) = hc else { return Ok(()) };
    let min = Duration::from_millis(1).as_nanos() as i64;
    for (name, v) in [
        ("Interval", hc.interval),
        ("Timeout", hc.timeout),
        ("StartPeriod", hc.start_period),
    ] {
        if let Some(n) = v.filter(|n| *n != 0) {
            if n < min {
                return Err(format!("{name} in Healthcheck cannot be less than 1ms"));
            }
        }
    }
    if hc.retries.is_some_and(|r| r < 0) {
        return Err("Retries in Healthcheck cannot be negative".into());
    }
    if hc.start_interval.is_some_and(|n| n != 0) {
        return Err(
            "whale does not support Healthcheck.StartInterval: use Interval and StartPeriod".into(),
        );
    }
    match hc
        .test
        .as_deref()
        .and_then(|t| t.first())
        .map(String::as_str)
    {
        None | Some("NONE" | "CMD" | "CMD-SHELL") => Ok(()),
        Some(other) => Err(format!(
            "Healthcheck.Test must start with NONE, CMD or CMD-SHELL, not {other:?}"
        )),
    }
}

/// An image config's Healthcheck (the builder's type, zeros for unset) in
/// the API's shape.
pub fn from_image(h: &crate::image::config::HealthConfig) -> HealthConfig {
    let set = |n: i64| (n != 0).then_some(n);
    HealthConfig {
        test: h.test.clone(),
        interval: set(h.interval),
        timeout: set(h.timeout),
        start_period: set(h.start_period),
        retries: set(h.retries),
        start_interval: None,
    }
}

/// Docker's merge of the image's Healthcheck into the container's: the
/// container's test wins, zero durations and retries come from the image.
pub fn merge(mine: Option<HealthConfig>, image: Option<&HealthConfig>) -> Option<HealthConfig> {
    let Some(image) = image else { return mine };
    let Some(mut m) = mine else {
        return Some(image.clone());
    };
    if m.test.as_ref().is_none_or(|t| t.is_empty()) {
        m.test = image.test.clone();
    }
    let zero = |v: Option<i64>| v.is_none_or(|n| n == 0);
    if zero(m.interval) {
        m.interval = image.interval;
    }
    if zero(m.timeout) {
        m.timeout = image.timeout;
    }
    if zero(m.start_period) {
        m.start_period = image.start_period;
    }
    if zero(m.retries) {
        m.retries = image.retries;
    }
    Some(m)
}

impl Container {
    /// `State.Health`, if the container has a health check.
    pub fn health(&self) -> Option<Health> {
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn health_status(&self) -> Option<HealthStatusEnum> {
        self.health().and_then(|h| h.status)
    }

    fn with_health<T>(&self, f: impl FnOnce(&mut Health) -> T) -> T {
        let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
        f(h.get_or_insert_with(Health::default))
    }
}

/// Start following the health of the run that just started.
pub(super) fn spawn<E: Engine>(e: Arc<E>, c: Arc<Container>) {
    let Some(check) = check_of(c.record.config.healthcheck.as_ref()) else {
        return;
    };
    let run = c.state().exits;
    c.with_health(|h| {
        h.status = Some(HealthStatusEnum::STARTING);
        h.failing_streak = Some(0);
        h.log.get_or_insert_with(Vec::new);
    });
    tokio::spawn(async move {
        let mut rx = c.subscribe();
        let started = tokio::time::Instant::now();
        loop {
            let ended = rx.wait_for(|s| s.exits != run || s.removed);
            tokio::select! {
                _ = tokio::time::sleep(check.interval) => {}
                _ = ended => return,
            }
            let st = c.state();
            if st.exits != run || !st.running() {
                return;
            }
            if st.paused {
                continue;
            }
            let result = probe(&*e, &c, &check).await;
            if c.state().exits != run {
                return;
            }
            let in_start_period = started.elapsed() < check.start_period;
            if let Some(status) = record(&c, result, check.retries, in_start_period) {
                e.container_event(&c, &format!("health_status: {status}"), &[]);
            }
        }
    });
}

/// Keep a probe's result; the new status if it changed.
fn record(
    c: &Container,
    result: HealthcheckResult,
    retries: i64,
    in_start_period: bool,
) -> Option<HealthStatusEnum> {
    c.with_health(|h| apply(h, result, retries, in_start_period))
}

/// Docker's handleProbeResult.
fn apply(
    h: &mut Health,
    result: HealthcheckResult,
    retries: i64,
    in_start_period: bool,
) -> Option<HealthStatusEnum> {
    let before = h.status;
    let ok = result.exit_code == Some(0);
    let log = h.log.get_or_insert_with(Vec::new);
    log.push(result);
    if log.len() > MAX_LOG {
        log.remove(0);
    }
    if ok {
        h.failing_streak = Some(0);
        h.status = Some(HealthStatusEnum::HEALTHY);
    } else if !(before == Some(HealthStatusEnum::STARTING) && in_start_period) {
        let streak = h.failing_streak.unwrap_or(0) + 1;
        h.failing_streak = Some(streak);
        if streak >= retries {
            h.status = Some(HealthStatusEnum::UNHEALTHY);
        }
    }
    (h.status != before).then_some(h.status).flatten()
}

/// A duration as Go prints one: `30s`, `1.5s`, `500ms`.
fn go_duration(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

fn date(s: &str) -> Option<bollard::models::BollardDate> {
    serde_json::from_value::<HealthcheckResult>(serde_json::json!({ "Start": s }))
        .ok()
        .and_then(|r| r.start)
}

/// Run the probe once as an exec: its exit code and the first 4 KiB of
/// what it printed (stdout and stderr).
async fn probe<E: Engine>(e: &E, c: &Container, check: &Check) -> HealthcheckResult {
    let start = now_rfc3339();
    let (code, output) = match tokio::time::timeout(check.timeout, run_exec(e, c, check)).await {
        Ok(r) => r,
        Err(_) => (
            -1,
            format!(
                "Health check exceeded timeout ({})",
                go_duration(check.timeout)
            ),
        ),
    };
    HealthcheckResult {
        start: date(&start),
        end: date(&now_rfc3339()),
        exit_code: Some(code),
        output: Some(output),
    }
}

fn exec_request(cfg: &ContainerConfig, id: String, argv: Vec<String>, short: &str) -> ExecRequest {
    let hostname = cfg
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| short.to_string());
    ExecRequest {
        id,
        args: argv,
        env: super::container_env(cfg.env.as_deref().unwrap_or(&[]), &hostname, false),
        cwd: cfg.working_dir.clone().unwrap_or_default(),
        user: cfg.user.clone().unwrap_or_default(),
        tty: false,
        stdin: false,
        stdout: true,
        stderr: true,
        console_size: None,
        detach_keys: None,
        privileged: false,
    }
}

/// The probe as Docker runs it: an exec, with the exec events.
async fn run_exec<E: Engine>(e: &E, c: &Container, check: &Check) -> (i64, String) {
    let id = super::new_id();
    let cmd = check.argv.join(" ");
    let exec_id = [("execID", id.clone())];
    e.container_event(c, &format!("exec_create: {cmd}"), &exec_id);
    let req = exec_request(
        &c.record.config,
        id.clone(),
        check.argv.clone(),
        c.short_id(),
    );
    let (_pid, mut stream) = match container_exec::start(c, req).await {
        Ok(s) => s,
        Err(f) => return (i64::from(f.exit_code), f.message),
    };
    e.container_event(c, &format!("exec_start: {cmd}"), &exec_id);
    let mut out = Vec::new();
    loop {
        let mut header = [0u8; stdcopy::HEADER_LEN];
        if stream.read_exact(&mut header).await.is_err() {
            break;
        }
        let mut payload = vec![0u8; stdcopy::payload_len(&header)];
        if stream.read_exact(&mut payload).await.is_err() {
            break;
        }
        let room = MAX_OUTPUT.saturating_sub(out.len());
        out.extend_from_slice(&payload[..payload.len().min(room)]);
    }
    let code = container_exec::wait(c, &id).await;
    e.container_event(
        c,
        "exec_die",
        &[("execID", id.clone()), ("exitCode", code.to_string())],
    );
    (i64::from(code), String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(code: i64) -> HealthcheckResult {
        HealthcheckResult {
            exit_code: Some(code),
            ..Default::default()
        }
    }

    #[test]
    fn status_follows_dockers_rules() {
        let mut h = Health {
            status: Some(HealthStatusEnum::STARTING),
            failing_streak: Some(0),
            log: Some(vec![]),
        };
        // Failures in the start period do not count.
        assert_eq!(apply(&mut h, res(1), 2, true), None);
        assert_eq!(h.failing_streak, Some(0));
        assert_eq!(apply(&mut h, res(1), 2, false), None);
        assert_eq!(
            apply(&mut h, res(1), 2, false),
            Some(HealthStatusEnum::UNHEALTHY)
        );
        assert_eq!(
            apply(&mut h, res(0), 2, false),
            Some(HealthStatusEnum::HEALTHY)
        );
        assert_eq!(h.failing_streak, Some(0));
        for _ in 0..6 {
            apply(&mut h, res(0), 2, false);
        }
        assert_eq!(h.log.as_ref().unwrap().len(), MAX_LOG);
    }

    #[test]
    fn tests_resolve_like_docker() {
        let hc = |t: &[&str]| HealthConfig {
            test: Some(t.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        assert_eq!(check_of(Some(&hc(&["NONE"]))), None);
        assert_eq!(check_of(None), None);
        let c = check_of(Some(&hc(&["CMD-SHELL", "test -f /x"]))).unwrap();
        assert_eq!(c.argv, ["/bin/sh", "-c", "test -f /x"]);
        assert_eq!((c.interval, c.retries), (DEFAULT_INTERVAL, DEFAULT_RETRIES));
        assert_eq!(
            check_of(Some(&hc(&["CMD", "true"]))).unwrap().argv,
            ["true"]
        );
        assert!(validate(Some(&hc(&["BOGUS"]))).is_err());
        let merged = merge(
            Some(HealthConfig {
                interval: Some(1_000_000_000),
                ..Default::default()
            }),
            Some(&hc(&["CMD", "true"])),
        )
        .unwrap();
        assert_eq!(merged.test, Some(vec!["CMD".into(), "true".into()]));
        assert_eq!(merged.interval, Some(1_000_000_000));
    }
}
