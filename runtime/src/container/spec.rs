//! What the shim is told to run: the [`ShimSpec`] built from a container's
//! record, Docker's environment rules, the container's cgroup, and the
//! host binary behind `--init`.

use super::{Container, ContainerRecord, StartFailure};
use crate::shim::spec::{NetworkMode, Resources, ShimSpec};

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub fn cgroup_path(id: &str) -> String {
    format!("whale/{id}")
}

/// Docker's environment: PATH and HOSTNAME defaults, TERM for a tty, the
/// container's Env over them (a bare `KEY` unsets), HOME last if still unset.
pub fn container_env(cfg_env: &[String], hostname: &str, tty: bool) -> Vec<String> {
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if tty {
        env.push("TERM=xterm".to_string());
    }
    for e in cfg_env {
        let key = e.split('=').next().unwrap_or("");
        let pos = env.iter().position(|x| x.split('=').next() == Some(key));
        match (e.contains('='), pos) {
            (true, Some(i)) => env[i] = e.clone(),
            (true, None) => env.push(e.clone()),
            (false, Some(i)) => {
                env.remove(i);
            }
            (false, None) => {}
        }
    }
    if !env.iter().any(|x| x.starts_with("HOME=")) {
        env.push("HOME=/root".to_string());
    }
    env
}

/// Err when the privileges asked for at create no longer hold (a `--device`
/// gone from the host): the start fails, never runs with other ones.
pub fn build_spec(
    c: &Container,
    lower_dirs: Vec<std::path::PathBuf>,
    volumes: &super::volumes::Volumes,
    network: NetworkMode,
) -> Result<ShimSpec, StartFailure> {
    let r: &ContainerRecord = &c.record;
    let cfg = &r.config;
    let hc = &c.host_config();
    let privileges = super::privileges::resolve(hc).map_err(|error| StartFailure {
        exit_code: 125,
        error,
    })?;
    let privileged = privileges.confinement.privileged;
    // With `--uts host` the kernel's name stays the host's, while
    // /etc/hostname and $HOSTNAME keep this one, as in Docker.
    let hostname = cfg
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| c.short_id().to_string());
    let tty = cfg.tty.unwrap_or(false);
    let mut args = vec![r.path.clone()];
    args.extend(r.args.iter().cloned());
    let console_size = hc.console_size.as_ref().and_then(|s| match s.as_slice() {
        [h, w] if *h > 0 && *w > 0 => Some((
            (*h).min(u16::MAX as usize) as u16,
            (*w).min(u16::MAX as usize) as u16,
        )),
        _ => None,
    });
    Ok(ShimSpec {
        id: r.id.clone(),
        env: container_env(cfg.env.as_deref().unwrap_or(&[]), &hostname, tty),
        hostname,
        lower_dirs,
        upper_dir: c.paths.upper(),
        work_dir: c.paths.work(),
        merged_dir: c.paths.merged(),
        args,
        cwd: cfg
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".to_string()),
        user: cfg.user.clone().unwrap_or_default(),
        tty,
        open_stdin: cfg.open_stdin.unwrap_or(false),
        stdin_once: cfg.stdin_once.unwrap_or(false),
        console_size,
        network,
        // Validated at create; the host's network has no ports to publish
        // (nor has a joined one: refused at create).
        ports: if network != NetworkMode::Loopback {
            Vec::new()
        } else {
            super::ports::requested(cfg, hc).unwrap_or_default()
        },
        resources: Resources {
            memory: hc.memory.filter(|m| *m > 0),
            memory_swap: hc.memory_swap.filter(|m| *m != 0),
            nano_cpus: hc.nano_cpus.filter(|n| *n > 0),
            cpu_shares: hc.cpu_shares.filter(|n| *n > 0),
            pids_limit: hc.pids_limit.filter(|n| *n > 0),
            all_devices: privileged,
            device_rules: privileges
                .confinement
                .devices
                .iter()
                .map(|d| d.cgroup_rule())
                .chain(hc.device_cgroup_rules.iter().flatten().cloned())
                .collect(),
            // -1 is the CLI's "not given" (checked 0..=100 at create).
            memory_swappiness: hc.memory_swappiness.filter(|s| *s >= 0),
            cpuset_cpus: hc.cpuset_cpus.clone().filter(|s| !s.is_empty()),
            cpuset_mems: hc.cpuset_mems.clone().filter(|s| !s.is_empty()),
        },
        cgroup_path: cgroup_path(&r.id),
        log_path: c.paths.log(),
        no_log: super::log_config::keeps_no_log(hc),
        socket_path: c.paths.socket(),
        state_path: c.paths.state(),
        init: hc.init.unwrap_or(false).then(init_binary),
        mounts: r.mounts.iter().map(|m| m.to_user_mount(volumes)).collect(),
        readonly_rootfs: hc.readonly_rootfs.unwrap_or(false),
        // Validated at create (a bad option is a 400 there); should a record
        // from an older whale get here, Docker's profile applies, never none.
        // `--privileged` runs unconfined by seccomp, as in Docker.
        seccomp: match privileged {
            true => crate::linux::seccomp::Seccomp::Unconfined,
            false => compiled_seccomp(hc.security_opt.as_deref(), privileges.caps),
        },
        privileges,
    })
}

/// The host's static init for `--init`: Docker's own docker-init when
/// installed, else Debian's tini-static (package `tini`). When neither
/// exists the shim reports the first candidate as missing, with what to
/// install.
fn init_binary() -> std::path::PathBuf {
    const CANDIDATES: &[&str] = &[
        "/usr/bin/docker-init",
        "/usr/libexec/docker/docker-init",
        "/usr/bin/tini-static",
        "/usr/local/bin/docker-init",
    ];
    CANDIDATES
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| CANDIDATES[0].into())
}

/// The spec is rewritten on every start and is useless after a crash, so a
/// rename without fsync is enough: the shim never sees a partial file.
pub(super) fn write_spec(c: &Container, spec: &ShimSpec) -> Result<(), StartFailure> {
    let fail = |e: String| StartFailure {
        exit_code: 125,
        error: format!("writing {}: {e}", c.paths.spec().display()),
    };
    crate::fsutil::replace_json(&c.paths.spec(), spec).map_err(|e| fail(e.to_string()))
}

/// The container's seccomp choice, compiled by the daemon (once, for the
/// default profile) so the shim only installs it. Validated at create; a
/// choice that does not compile here goes to the shim as it is and fails
/// the start there, with the reason.
fn compiled_seccomp(opts: Option<&[String]>, caps: u64) -> crate::linux::seccomp::Seccomp {
    let choice = super::security::seccomp_from_security_opts(opts).unwrap_or_default();
    // Docker's profile allows some calls (mount, ptrace, ...) only to a
    // container that has the capability they need.
    choice.compiled(caps).unwrap_or(choice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_defaults() {
        let e = container_env(&["A=1".into(), "PATH=/x".into()], "abc", true);
        assert_eq!(
            e,
            ["PATH=/x", "HOSTNAME=abc", "TERM=xterm", "A=1", "HOME=/root"]
        );
        let e = container_env(&["HOME=/h".into(), "HOSTNAME".into()], "abc", false);
        assert_eq!(e, [format!("PATH={DEFAULT_PATH}"), "HOME=/h".to_string()]);
    }
}
