//! A private registry for a test: Debian's `docker-registry` (the CNCF
//! distribution registry) serving a temp dir on 127.0.0.1 at a free port,
//! optionally behind an htpasswd file. Killed and removed on drop, also when
//! the test panics. `.ci/run` installs the package.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's package puts the binary.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

pub struct Registry {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub dir: PathBuf,
    child: Child,
}

/// A bcrypt htpasswd line for `user:password` (cost 4: the registry checks
/// it on every request), made with python3's `crypt` (libxcrypt's bcrypt).
pub fn htpasswd_line(user: &str, password: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt, sys; print(crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))",
            user,
            password,
        ])
        .output()
        .expect("python3 runs (it makes the bcrypt htpasswd line)");
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && hash.starts_with("$2"),
        "python3 could not make a bcrypt hash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("{user}:{hash}\n")
}

impl Registry {
    /// Start a registry; with `htpasswd`, it asks for Basic auth.
    #[track_caller]
    pub fn start(htpasswd: Option<&str>) -> Registry {
        Registry::start_with(htpasswd, false)
    }

    /// A registry that speaks only TLS, with a self-signed certificate for
    /// 127.0.0.1 (made with the openssl CLI).
    #[track_caller]
    pub fn start_tls() -> Registry {
        Registry::start_with(None, true)
    }

    #[track_caller]
    fn start_with(htpasswd: Option<&str>, tls: bool) -> Registry {
        assert!(
            Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} is missing: install Debian's docker-registry package (apt-get install docker-registry; .ci/run does)"
        );
        let dir = tempfile::Builder::new()
            .prefix("whreg")
            .tempdir_in("/var/tmp")
            .expect("temp dir for the registry")
            .keep();
        let mut last = String::new();
        // A free port can be taken between our probe and the registry's
        // bind: try a few.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port on 127.0.0.1")
                .port();
            let addr = format!("127.0.0.1:{port}");
            let auth = match htpasswd {
                Some(lines) => {
                    let p = dir.join("htpasswd");
                    std::fs::write(&p, lines).expect("write htpasswd");
                    format!(
                        "auth:\n  htpasswd:\n    realm: whale-test\n    path: {}\n",
                        p.display()
                    )
                }
                None => String::new(),
            };
            let tls_section = if tls {
                let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
                let made = Command::new("openssl")
                    .args([
                        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    ])
                    .args([
                        "-subj",
                        "/CN=127.0.0.1",
                        "-addext",
                        "subjectAltName=IP:127.0.0.1",
                    ])
                    .arg("-keyout")
                    .arg(&key)
                    .arg("-out")
                    .arg(&cert)
                    .output()
                    .expect("the openssl CLI runs (it makes the registry's certificate)");
                assert!(
                    made.status.success(),
                    "openssl could not make a certificate: {}",
                    String::from_utf8_lossy(&made.stderr)
                );
                format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    cert.display(),
                    key.display()
                )
            } else {
                String::new()
            };
            let config = format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n{auth}http:\n  addr: {addr}\n{tls_section}",
                dir.join("data").display()
            );
            let cfg = dir.join("config.yml");
            std::fs::write(&cfg, config).expect("write the registry config");
            let log = std::fs::File::create(dir.join("registry.log")).expect("registry log");
            let child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&cfg)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("dup log"))
                .stderr(log)
                .spawn()
                .expect("start docker-registry");
            let mut reg = Registry {
                addr: addr.clone(),
                dir: dir.clone(),
                child,
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = reg.child.try_wait() {
                    break;
                }
                let up = if tls {
                    // A TLS server answers a plain request with a 400 or a
                    // reset: that it listens is enough.
                    TcpStream::connect(&reg.addr).is_ok()
                } else {
                    matches!(reg.get_status("/v2/"), Some(200 | 401))
                };
                if up {
                    return reg;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            last = std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default();
            let _ = reg.child.kill();
            let _ = reg.child.wait();
            // Keep the dir for the next try; Drop of this one must not remove it.
            std::mem::forget(reg);
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("docker-registry did not start on 127.0.0.1; its log:\n{last}");
    }

    /// The status of a plain GET (None when nothing answers).
    pub fn get_status(&self, path: &str) -> Option<u16> {
        let mut s = TcpStream::connect(&self.addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .ok()?;
        let mut buf = String::new();
        let _ = s.read_to_string(&mut buf);
        buf.split_whitespace().nth(1)?.parse().ok()
    }

    /// The blob files the registry stores (to damage one on purpose).
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
