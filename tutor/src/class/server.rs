//! The class registry's process: Debian's `docker-registry` (the CNCF
//! distribution registry) run detached with its storage, configuration,
//! pid file and log in one directory the instructor chooses:
//!
//! ```text
//! DIR/config.yml     written by `start` (address, storage)
//! DIR/data/          the images (survives stop and start)
//! DIR/registry.pid   while it runs
//! DIR/registry.log   its log
//! ```

use super::http;
use super::ClassError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const DEFAULT_ADDR: &str = "127.0.0.1:5000";
/// Debian's package installs it here; WHALETUTOR_REGISTRY_BIN overrides.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

const CONFIG: &str = "config.yml";
const PID: &str = "registry.pid";
const LOG: &str = "registry.log";
const DATA: &str = "data";

/// The registry program: $WHALETUTOR_REGISTRY_BIN, Debian's path, PATH.
pub fn registry_bin() -> Result<PathBuf, ClassError> {
    if let Some(p) = std::env::var_os("WHALETUTOR_REGISTRY_BIN").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(ClassError::NoRegistryBinary)
        };
    }
    if Path::new(REGISTRY_BIN).is_file() {
        return Ok(PathBuf::from(REGISTRY_BIN));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("docker-registry"))
        .find(|p| p.is_file())
        .ok_or(ClassError::NoRegistryBinary)
}

/// `--addr`: an IP address and a port, as the registry binds it.
pub fn parse_addr(addr: &str) -> Result<SocketAddr, ClassError> {
    let bad = |reason: &str| ClassError::BadAddr {
        addr: addr.to_string(),
        reason: reason.to_string(),
    };
    let sa: SocketAddr = addr.parse().map_err(|_| {
        bad("not an IP address and port (a host name cannot be bound; IPv6 is written [::1]:5000)")
    })?;
    if sa.port() == 0 {
        return Err(bad(
            "port 0 would be a random port the students cannot know",
        ));
    }
    Ok(sa)
}

/// Where this machine reaches a registry bound on `sa` (0.0.0.0 is
/// reached on 127.0.0.1).
pub fn local_addr(sa: SocketAddr) -> SocketAddr {
    match sa.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), sa.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), sa.port())
        }
        _ => sa,
    }
}

/// For an address other machines can reach: what their engines need,
/// since the registry speaks plain HTTP (engines use HTTP without being
/// told only for 127.0.0.0/8).
pub fn exposure_note(sa: SocketAddr) -> Option<String> {
    if sa.ip().is_loopback() {
        return None;
    }
    let shown = if sa.ip().is_unspecified() {
        format!(
            "<this machine's address>:{} (`hostname -I` shows it)",
            sa.port()
        )
    } else {
        sa.to_string()
    };
    Some(format!(
        "The registry listens on {sa}, beyond this machine, over plain HTTP (no TLS).\n\
         Students' engines must be told to use HTTP for it, as an insecure registry:\n\
         \x20 whale:  start the daemon with `whale daemon --insecure-registry {shown}`\n\
         \x20 docker: add {{\"insecure-registries\": [\"{shown}\"]}} to /etc/docker/daemon.json and restart dockerd\n\
         (or put the registry behind TLS with a certificate the machines trust).\n\
         Anyone on this network can pull and push: serve it on the class network only.\n\
         Students then type: sudo whaletutor setup --from-registry {shown}"
    ))
}

/// A registry directory: where its files are.
pub struct RegistryDir {
    pub dir: PathBuf,
}

/// What `status` found.
pub struct Status {
    pub pid: Option<i32>,
    pub addr: Option<SocketAddr>,
    /// `Docker-Distribution-Api-Version` of an answering `/v2/`, or why not.
    pub answer: Result<String, String>,
}

impl RegistryDir {
    /// The directory as an absolute path when it exists: the running
    /// registry is recognised by the config path on its command line,
    /// whichever spelling of the dir (`./reg`, `reg/`) names it.
    pub fn new(dir: &Path) -> RegistryDir {
        RegistryDir {
            dir: std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()),
        }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.join(CONFIG)
    }
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join(PID)
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join(LOG)
    }
    pub fn data(&self) -> PathBuf {
        self.dir.join(DATA)
    }

    fn io(&self, path: PathBuf) -> impl FnOnce(std::io::Error) -> ClassError {
        move |source| ClassError::Io { path, source }
    }

    /// The address in the config `start` wrote.
    pub fn addr(&self) -> Option<SocketAddr> {
        let text = std::fs::read_to_string(self.config()).ok()?;
        text.lines()
            .find_map(|l| l.trim().strip_prefix("addr:"))
            .and_then(|a| a.trim().trim_matches('\'').parse().ok())
    }

    /// The pid of the registry this directory's pid file names, when that
    /// process is alive and is this directory's registry (a recycled pid
    /// is not ours: it is never signalled).
    pub fn running_pid(&self) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(self.pid_file())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        if pid <= 1 || !alive(pid) {
            return None;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline);
        let args: Vec<&str> = cmdline.split('\0').collect();
        let config = self.config().display().to_string();
        let ours = args.first().is_some_and(|a| a.ends_with("registry"))
            && args.iter().any(|a| *a == config);
        ours.then_some(pid)
    }

    fn config_text(&self, sa: SocketAddr) -> String {
        // Single-quoted YAML: only ' needs doubling.
        let q = |s: String| format!("'{}'", s.replace('\'', "''"));
        format!(
            "# Written by `whaletutor class registry start`; rewritten at each start.\n\
             version: 0.1\n\
             log:\n  level: info\n  fields:\n    service: whaletutor-class-registry\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {}\n  headers:\n    X-Content-Type-Options: [nosniff]\n",
            q(self.data().display().to_string()),
            q(sa.to_string()),
        )
    }

    /// Start the registry on `addr`, detached, and wait until `/v2/`
    /// answers. Returns its pid.
    pub fn start(&self, addr: &str) -> Result<i32, ClassError> {
        let sa = parse_addr(addr)?;
        let bin = registry_bin()?;
        if let Some(pid) = self.running_pid() {
            return Err(ClassError::AlreadyRunning {
                dir: self.dir.clone(),
                pid,
                addr: self.addr().map(|a| a.to_string()).unwrap_or_default(),
            });
        }
        std::fs::create_dir_all(self.data()).map_err(self.io(self.data()))?;
        let me = RegistryDir::new(&self.dir);
        let dir = me.dir.clone();
        // Bind it once ourselves: a port in use is said plainly, before a
        // registry starts and dies in its log.
        std::net::TcpListener::bind(sa).map_err(|e| ClassError::CannotBind {
            addr: sa.to_string(),
            detail: e.to_string(),
        })?;
        write_atomic(&me.config(), me.config_text(sa).as_bytes()).map_err(me.io(me.config()))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(me.log())
            .map_err(me.io(me.log()))?;
        let log2 = log.try_clone().map_err(me.io(me.log()))?;
        use std::os::unix::process::CommandExt as _;
        let mut child = std::process::Command::new(&bin)
            .arg("serve")
            .arg(me.config())
            .current_dir(&dir)
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log2)
            // Its own process group: a Ctrl-C in the instructor's terminal
            // does not stop the class's registry.
            .process_group(0)
            .spawn()
            .map_err(|e| ClassError::StartFailed {
                detail: format!("cannot run {}: {e}", bin.display()),
                log: me.log(),
            })?;
        let pid = child.id() as i32;
        write_atomic(&me.pid_file(), format!("{pid}\n").as_bytes())
            .map_err(me.io(me.pid_file()))?;
        let target = local_addr(sa).to_string();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let _ = std::fs::remove_file(me.pid_file());
                return Err(ClassError::StartFailed {
                    detail: format!("docker-registry exited ({status}): {}", log_tail(&me.log())),
                    log: me.log(),
                });
            }
            if ping(&target).is_ok() {
                return Ok(pid);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_file(me.pid_file());
                return Err(ClassError::StartFailed {
                    detail: format!(
                        "no answer at http://{target}/v2/ within 15 s: {}",
                        log_tail(&me.log())
                    ),
                    log: me.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stop the registry cleanly (SIGTERM; SIGKILL after 10 s). Returns
    /// the pid it stopped, or None when none was running (a stale pid file
    /// is removed).
    pub fn stop(&self) -> Result<Option<i32>, ClassError> {
        let Some(pid) = self.running_pid() else {
            let _ = std::fs::remove_file(self.pid_file());
            return Ok(None);
        };
        let p = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(pid) {
            if Instant::now() > deadline {
                let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
            }
            if Instant::now() > deadline + Duration::from_secs(5) {
                return Err(ClassError::StopFailed { pid });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_file(self.pid_file());
        Ok(Some(pid))
    }

    pub fn status(&self) -> Status {
        let pid = self.running_pid();
        let addr = self.addr();
        let answer = match (pid, addr) {
            (None, _) => Err("not running".to_string()),
            (Some(_), None) => Err(format!("no address in {}", self.config().display())),
            (Some(_), Some(a)) => ping(&local_addr(a).to_string()),
        };
        Status { pid, addr, answer }
    }
}

/// Alive, and not a zombie: a registry this process started and that has
/// exited stays a zombie until reaped, so reap it if it is our child.
fn alive(pid: i32) -> bool {
    let p = nix::unistd::Pid::from_raw(pid);
    let _ = nix::sys::wait::waitpid(p, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
    if nix::sys::signal::kill(p, None).is_err() {
        return false;
    }
    // State is the field after the parenthesised command name.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    state != Some("Z")
}

/// `GET /v2/`: Ok with the API version header when a registry answers.
pub fn ping(addr: &str) -> Result<String, String> {
    match http::request("GET", addr, "/v2/", &[], Duration::from_secs(3)) {
        Ok(a) if a.status == 200 || a.status == 401 => Ok(a
            .header("Docker-Distribution-Api-Version")
            .unwrap_or("registry")
            .to_string()),
        Ok(a) => Err(format!("http://{addr}/v2/ answered HTTP {}", a.status)),
        Err(e) => Err(format!("http://{addr}/v2/: {e}")),
    }
}

/// The last lines of the registry's log, for an error message.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(3).collect();
    if lines.is_empty() {
        "(its log is empty)".to_string()
    } else {
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }
}

/// Write a file whole or not at all: a temp file beside it, then rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(parse_addr("127.0.0.1:5000").is_ok());
        assert!(parse_addr("[::1]:5000").is_ok());
        for bad in [
            "localhost:5000",
            "127.0.0.1",
            "127.0.0.1:0",
            ":5000",
            "1.2.3.4:x",
        ] {
            let e = parse_addr(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        let any = parse_addr("0.0.0.0:5000").unwrap();
        assert_eq!(local_addr(any).to_string(), "127.0.0.1:5000");
        assert!(exposure_note(parse_addr("127.0.0.1:5000").unwrap()).is_none());
        let note = exposure_note(any).unwrap();
        assert!(note.contains("--insecure-registry") && note.contains("insecure-registries"));
        let lan = exposure_note(parse_addr("192.0.2.7:5000").unwrap()).unwrap();
        assert!(lan.contains("--from-registry 192.0.2.7:5000"), "{lan}");
    }

    #[test]
    fn config_names_the_storage_and_address() {
        let d = RegistryDir::new(Path::new("/srv/it's"));
        let c = d.config_text(parse_addr("127.0.0.1:5001").unwrap());
        assert!(c.contains("rootdirectory: '/srv/it''s/data'"), "{c}");
        assert!(c.contains("addr: '127.0.0.1:5001'"), "{c}");
    }
}
