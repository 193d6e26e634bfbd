//! What the daemon asks a shim to run: written by the daemon as
//! `<container dir>/spec.json` before it spawns `whale shim <container dir>`.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// Join the network namespace of the process `pid`, another
    /// container's init (`--network container:NAME`).
    Join { pid: i32 },
    /// A new network namespace with only loopback, up (Docker's `none`, and
    /// whale's default: no bridges, no veth, no private addresses, ever).
    #[default]
    Loopback,
    /// Share the host's network namespace (`--network host`).
    Host,
}

/// One published port (`-p [IP:]HOSTPORT:CPORT`): where the shim's proxy
/// listens on the host, and the port it connects to on the container's
/// loopback, inside the container's network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    pub container_port: u16,
    /// The host address to listen on: "0.0.0.0", "127.0.0.1", "::", ...
    pub host_ip: String,
    /// 0 asks for an ephemeral port (the kernel picks one); the shim reports
    /// the one it got.
    pub host_port: u16,
    /// `/udp`: datagrams, relayed per client (tcp otherwise).
    #[serde(default)]
    pub udp: bool,
}

impl PortBinding {
    /// "tcp" or "udp", as Docker's port keys spell it.
    pub fn proto(&self) -> &'static str {
        if self.udp {
            "udp"
        } else {
            "tcp"
        }
    }
}

/// Cgroup limits live with the code that applies them.
pub use crate::linux::cgroup::Resources;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShimSpec {
    /// 64-hex container id.
    pub id: String,
    /// Hostname inside the UTS namespace (the 12-hex short id by default).
    pub hostname: String,
    /// Image layer diff dirs, TOP-most first (overlayfs `lowerdir` order).
    pub lower_dirs: Vec<PathBuf>,
    pub upper_dir: PathBuf,
    pub work_dir: PathBuf,
    /// Mount point of the overlay; mounted only in the container's mount ns.
    pub merged_dir: PathBuf,
    /// argv of the init process (Entrypoint + Cmd already combined).
    pub args: Vec<String>,
    /// `KEY=value` environment (image Env + container Env + PATH/HOSTNAME/HOME/TERM defaults).
    pub env: Vec<String>,
    /// Working directory inside the container ("/" when empty); created if missing.
    pub cwd: String,
    /// Docker's `User`: "" (root), "uid", "uid:gid", "name", "name:group";
    /// names are resolved against the container's /etc/passwd and /etc/group.
    pub user: String,
    pub tty: bool,
    /// `-i`: keep stdin open (a pipe, or the pty) for attach clients.
    pub open_stdin: bool,
    /// Close the container's stdin when the first attached client's stdin ends.
    pub stdin_once: bool,
    /// Initial pty size (rows, cols) when `tty`.
    pub console_size: Option<(u16, u16)>,
    pub network: NetworkMode,
    /// Published ports (tcp); empty with the host's network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortBinding>,
    pub resources: Resources,
    /// Cgroup path relative to the daemon's own cgroup of each controller
    /// (v1) or of the unified hierarchy (v2), e.g. "whale/<id>".
    pub cgroup_path: String,
    /// Where the shim writes the json-file log.
    pub log_path: PathBuf,
    /// `--log-driver none`: the shim keeps no log.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_log: bool,
    /// Where the shim listens (see protocol.rs).
    pub socket_path: PathBuf,
    /// Where the shim writes RuntimeState (atomically).
    pub state_path: PathBuf,
    /// `--init`: a static init on the host (Docker's docker-init, i.e.
    /// tini), bind-mounted read-only at /sbin/docker-init and run as PID 1
    /// in front of `args`, so signals reach the command and orphans are
    /// reaped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<PathBuf>,
    /// The user's binds, volumes and tmpfs mounts (`-v`, `--mount`, `--tmpfs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<crate::linux::user_mounts::UserMount>,
    /// `--read-only`: the root mount is read-only.
    #[serde(default)]
    pub readonly_rootfs: bool,
    /// The seccomp filter of the init and every exec (absent: Docker's default).
    #[serde(default)]
    pub seccomp: crate::linux::seccomp::Seccomp,
    /// Capabilities, shared namespaces and the other run options that relax
    /// or tune confinement (absent: Docker's defaults).
    #[serde(default)]
    pub privileges: Privileges,
}

/// `--cap-add/--cap-drop`, `--privileged`, `--pid/--ipc/--uts host`,
/// `--group-add`, `--ulimit`, `--add-host`, `--dns*`, `--shm-size`, `--sysctl`,
/// resolved and validated by the daemon at create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Privileges {
    /// Effective, permitted and bounding set of the init and every exec.
    pub caps: u64,
    /// Namespaces shared with the host instead of new ones.
    pub host_pid: bool,
    pub host_ipc: bool,
    pub host_uts: bool,
    /// Group names (looked up in the container's /etc/group) or numbers.
    pub group_add: Vec<String>,
    /// (Docker's resource name, soft, hard); -1 is unlimited.
    pub ulimits: Vec<(String, i64, i64)>,
    /// (name, address) lines added to /etc/hosts.
    pub extra_hosts: Vec<(String, String)>,
    /// resolv.conf: replaces the host's nameservers / search / options when set.
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    pub confinement: crate::linux::confine::Confinement,
}

impl Default for Privileges {
    fn default() -> Self {
        Privileges {
            caps: crate::linux::caps::default_mask(),
            host_pid: false,
            host_ipc: false,
            host_uts: false,
            group_add: vec![],
            ulimits: vec![],
            extra_hosts: vec![],
            dns: vec![],
            dns_search: vec![],
            dns_options: vec![],
            confinement: Default::default(),
        }
    }
}
