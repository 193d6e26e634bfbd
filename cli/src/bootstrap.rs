//! Base images without a registry: `busybox:latest` from the host's static
//! busybox, `debian:<suite>` with mmdebstrap from the host's apt sources.
//! Both produce a rootfs tar that `Store::import_rootfs` turns into an
//! image, with the `changes` from `changes_for`.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BUSYBOX_PATHS: [&str; 2] = ["/bin/busybox", "/usr/bin/busybox"];

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("no busybox found at /bin/busybox or /usr/bin/busybox; install the static build: `apt-get install busybox-static`")]
    BusyboxMissing,
    #[error("{0} is dynamically linked (it has an ELF interpreter), so it cannot run alone in a container; install the static build: `apt-get install busybox-static`")]
    BusyboxNotStatic(PathBuf),
    #[error("{0} is not an ELF executable; reinstall busybox-static")]
    NotElf(PathBuf),
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
    #[error("cannot install busybox-static: {0}")]
    CannotInstall(String),
    #[error("mmdebstrap is not installed: `apt-get install mmdebstrap`")]
    MmdebstrapMissing,
    #[error("`whale bootstrap debian` as {user} (not root) runs `mmdebstrap --mode=unshare`, which gives the image's own users (root, _apt, ...) {user}'s subordinate ids, and {file} grants {user} none. An administrator grants the usual range with `{grant}` (`whale bootstrap busybox` needs none)")]
    NoSubordinateIds {
        user: String,
        file: &'static str,
        grant: String,
    },
    #[error("`whale bootstrap debian` as a normal user needs {0} (it writes the id maps of mmdebstrap's user namespace): `sudo apt-get install uidmap`")]
    UidmapMissing(&'static str),
    #[error("no Debian mirror for {suite:?} in /etc/apt/sources.list or /etc/apt/sources.list.d/ (looked for `deb` entries of a Debian suite)")]
    NoMirror { suite: String },
    #[error("invalid suite {0:?}: use a Debian release name like bookworm")]
    BadSuite(String),
    #[error("cannot {action} {path:?}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> BootstrapError {
    let path = path.to_path_buf();
    move |source| BootstrapError::Io {
        action,
        path,
        source,
    }
}

/// Which base image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseImage {
    Busybox,
    Debian,
}

/// The `changes` to import the rootfs with, as Docker Hub's images have
/// them: the standard PATH in Env, busybox runs `sh`, debian runs `bash`.
pub fn changes_for(kind: BaseImage) -> Vec<String> {
    let path = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string();
    match kind {
        BaseImage::Busybox => vec![path, r#"CMD ["sh"]"#.to_string()],
        BaseImage::Debian => vec![path, r#"CMD ["bash"]"#.to_string()],
    }
}

/// The default reference each base image is tagged with.
pub fn default_reference(kind: BaseImage, suite: &str) -> String {
    match kind {
        BaseImage::Busybox => "busybox:latest".to_string(),
        BaseImage::Debian => format!("debian:{suite}"),
    }
}

/// True when the ELF file at `path` has no PT_INTERP program header (it
/// needs no dynamic loader).
pub fn is_static_elf(path: &Path) -> Result<bool, BootstrapError> {
    let mut f = File::open(path).map_err(io_err("open", path))?;
    let mut ehdr = [0u8; 64];
    f.read_exact(&mut ehdr)
        .map_err(|_| BootstrapError::NotElf(path.to_path_buf()))?;
    if &ehdr[..4] != b"\x7fELF" {
        return Err(BootstrapError::NotElf(path.to_path_buf()));
    }
    let is64 = match ehdr[4] {
        1 => false,
        2 => true,
        _ => return Err(BootstrapError::NotElf(path.to_path_buf())),
    };
    let le = match ehdr[5] {
        1 => true,
        2 => false,
        _ => return Err(BootstrapError::NotElf(path.to_path_buf())),
    };
    let u16_at = |b: &[u8], o: usize| {
        let v = [b[o], b[o + 1]];
        if le {
            u16::from_le_bytes(v)
        } else {
            u16::from_be_bytes(v)
        }
    };
    let u32_at = |b: &[u8], o: usize| {
        let v = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if le {
            u32::from_le_bytes(v)
        } else {
            u32::from_be_bytes(v)
        }
    };
    let u64_at = |b: &[u8], o: usize| {
        let mut v = [0u8; 8];
        v.copy_from_slice(&b[o..o + 8]);
        if le {
            u64::from_le_bytes(v)
        } else {
            u64::from_be_bytes(v)
        }
    };
    let (phoff, phentsize, phnum) = if is64 {
        (
            u64_at(&ehdr, 0x20),
            u16_at(&ehdr, 0x36),
            u16_at(&ehdr, 0x38),
        )
    } else {
        (
            u64::from(u32_at(&ehdr, 0x1c)),
            u16_at(&ehdr, 0x2a),
            u16_at(&ehdr, 0x2c),
        )
    };
    let mut data = Vec::new();
    f.read_to_end(&mut data).map_err(io_err("read", path))?;
    const PT_INTERP: u32 = 3;
    for i in 0..u64::from(phnum) {
        let off = phoff + i * u64::from(phentsize);
        // `data` starts after the 64 header bytes we already read.
        let Some(start) = off.checked_sub(64).and_then(|o| usize::try_from(o).ok()) else {
            return Err(BootstrapError::NotElf(path.to_path_buf()));
        };
        if start + 4 > data.len() {
            return Err(BootstrapError::NotElf(path.to_path_buf()));
        }
        if u32_at(&data, start) == PT_INTERP {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The host's static busybox, or why there is none.
pub fn find_static_busybox() -> Result<PathBuf, BootstrapError> {
    let mut dynamic = None;
    for p in BUSYBOX_PATHS {
        let p = Path::new(p);
        if !p.is_file() {
            continue;
        }
        if is_static_elf(p)? {
            return Ok(p.to_path_buf());
        }
        dynamic.get_or_insert_with(|| p.to_path_buf());
    }
    Err(match dynamic {
        Some(p) => BootstrapError::BusyboxNotStatic(p),
        None => BootstrapError::BusyboxMissing,
    })
}

fn in_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// Run `cmd`, sending each output line to `progress`; keep the last lines
/// for the error message.
fn run_streaming(
    cmd: Command,
    shown: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<(), BootstrapError> {
    run_streaming_to(cmd, shown, None, progress)
}

/// Like `run_streaming`, with stdout going straight to `stdout_to` when
/// given (only stderr lines are then progress).
fn run_streaming_to(
    mut cmd: Command,
    shown: &str,
    stdout_to: Option<File>,
    progress: &mut dyn FnMut(&str),
) -> Result<(), BootstrapError> {
    let fail = |detail: String| BootstrapError::Command {
        command: shown.to_string(),
        detail,
    };
    let stdout = match stdout_to {
        Some(f) => Stdio::from(f),
        None => Stdio::piped(),
    };
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot start it: {e}")))?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let mut readers = Vec::new();
    let pipes: Vec<Box<dyn Read + Send>> = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .collect();
    for pipe in pipes {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(pipe).split(b'\n').map_while(Result::ok) {
                let line = String::from_utf8_lossy(&line)
                    .trim_end_matches('\r')
                    .to_string();
                if tx.send(line).is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);
    let mut tail: Vec<String> = Vec::new();
    for line in rx {
        progress(&line);
        tail.push(line);
        if tail.len() > 15 {
            tail.remove(0);
        }
    }
    for r in readers {
        let _ = r.join();
    }
    let status = child
        .wait()
        .map_err(|e| fail(format!("cannot wait for it: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(fail(format!("{status}; last output:\n{}", tail.join("\n"))))
    }
}

/// Install `busybox-static` with apt-get (root only).
pub fn try_install_busybox_static(progress: impl FnMut(&str)) -> Result<(), BootstrapError> {
    apt_install(
        "busybox-static",
        "a static busybox at /bin/busybox",
        progress,
    )?;
    find_static_busybox().map(|_| ())
}

/// Install `mmdebstrap` with apt-get (root only), for `bootstrap debian`
/// on a machine that lacks it.
pub fn try_install_mmdebstrap(progress: impl FnMut(&str)) -> Result<(), BootstrapError> {
    apt_install("mmdebstrap", "mmdebstrap", progress)?;
    if in_path("mmdebstrap") {
        Ok(())
    } else {
        Err(BootstrapError::MmdebstrapMissing)
    }
}

/// `apt-get install -y PACKAGE`, refreshing the package lists once when the
/// first try fails (usually stale lists on a fresh machine).
fn apt_install(
    package: &str,
    what: &str,
    mut progress: impl FnMut(&str),
) -> Result<(), BootstrapError> {
    if !in_path("apt-get") {
        return Err(BootstrapError::CannotInstall(format!(
            "apt-get is not available; install {what} by other means"
        )));
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(BootstrapError::CannotInstall(format!(
            "only root can install packages; run `sudo apt-get install {package}`"
        )));
    }
    let install = || {
        let mut c = Command::new("apt-get");
        c.args(["install", "-y", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    let shown = format!("apt-get install -y {package}");
    if run_streaming(install(), &shown, &mut progress).is_err() {
        let mut update = Command::new("apt-get");
        update.arg("update");
        run_streaming(update, "apt-get update", &mut progress)?;
        run_streaming(install(), &shown, &mut progress)?;
    }
    Ok(())
}

/// The applets the busybox binary at `busybox` provides.
fn busybox_applets(busybox: &Path) -> Result<BTreeSet<String>, BootstrapError> {
    let shown = format!("{} --list", busybox.display());
    let out = Command::new(busybox)
        .arg("--list")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BootstrapError::Command {
            command: shown.clone(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(BootstrapError::Command {
            command: shown,
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    let applets: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/') && *a != "." && *a != "..")
        .map(str::to_string)
        .collect();
    if !applets.contains("sh") {
        return Err(BootstrapError::Command {
            command: shown,
            detail: "the list of applets has no `sh`".into(),
        });
    }
    Ok(applets)
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
";

const GROUP: &str = "root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
mail:x:12:
www-data:x:33:
operator:x:37:
staff:x:50:
users:x:100:
nogroup:x:65534:
";

const SHADOW: &str = "root:*::0:::::
daemon:*::0:::::
bin:*::0:::::
sys:*::0:::::
sync:*::0:::::
mail:*::0:::::
www-data:*::0:::::
operator:*::0:::::
nobody:*::0:::::
";

const NSSWITCH: &str = "hosts:          files dns
networks:       files
passwd:         files
group:          files
shadow:         files
";

/// Write a `busybox:latest`-like rootfs tar to `out`: bin/ holds busybox
/// and every applet as a hard link to it, plus dev etc home root tmp usr
/// var. Every mtime is the busybox binary's, and entries come in a fixed
/// order, so the same busybox always gives the same tar bytes (and layer).
pub fn busybox_rootfs_tar(out: &mut impl Write) -> Result<(), BootstrapError> {
    let busybox = find_static_busybox()?;
    let applets = busybox_applets(&busybox)?;
    let meta = fs::metadata(&busybox).map_err(io_err("inspect", &busybox))?;
    let mtime = u64::try_from(meta.mtime()).unwrap_or(0);
    let mut bin = File::open(&busybox).map_err(io_err("open", &busybox))?;

    let werr = |source: io::Error| BootstrapError::Io {
        action: "write",
        path: PathBuf::from("<busybox rootfs tar>"),
        source,
    };
    let mut b = tar::Builder::new(out);
    let header = |kind: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_size(size);
        h
    };
    let dirs: [(&str, u32); 12] = [
        ("bin", 0o755),
        ("dev", 0o755),
        ("etc", 0o755),
        ("home", 0o755),
        ("root", 0o700),
        ("tmp", 0o1777),
        ("usr", 0o755),
        ("usr/sbin", 0o755),
        ("var", 0o755),
        ("var/spool", 0o755),
        ("var/spool/mail", 0o755),
        ("var/www", 0o755),
    ];
    let mut h = header(tar::EntryType::Directory, 0o755, 0);
    b.append_data(&mut h, "bin", io::empty()).map_err(werr)?;
    let mut h = header(tar::EntryType::Regular, 0o755, meta.len());
    b.append_data(&mut h, "bin/busybox", (&mut bin).take(meta.len()))
        .map_err(werr)?;
    for applet in &applets {
        let mut h = header(tar::EntryType::Link, 0o755, 0);
        b.append_link(&mut h, format!("bin/{applet}"), "bin/busybox")
            .map_err(werr)?;
    }
    for (dir, mode) in &dirs[1..] {
        let mut h = header(tar::EntryType::Directory, *mode, 0);
        b.append_data(&mut h, dir, io::empty()).map_err(werr)?;
    }
    let files: [(&str, &str, u32); 5] = [
        ("etc/group", GROUP, 0o644),
        ("etc/hostname", "", 0o644),
        ("etc/nsswitch.conf", NSSWITCH, 0o644),
        ("etc/passwd", PASSWD, 0o644),
        ("etc/shadow", SHADOW, 0o640),
    ];
    for (name, content, mode) in files {
        let mut h = header(tar::EntryType::Regular, mode, content.len() as u64);
        b.append_data(&mut h, name, content.as_bytes())
            .map_err(werr)?;
    }
    b.finish().map_err(werr)?;
    Ok(())
}

/// One `deb` source of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    pub uri: String,
    pub suites: Vec<String>,
    pub components: Vec<String>,
}

/// The `deb` sources of the host: `/etc/apt/sources.list`,
/// `sources.list.d/*.list` (one-line) and `sources.list.d/*.sources` (deb822).
pub fn host_apt_sources() -> Vec<AptSource> {
    let mut out = Vec::new();
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(rd) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut extra: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        extra.sort();
        files.extend(extra);
    }
    for f in files {
        let Ok(text) = fs::read_to_string(&f) else {
            continue;
        };
        match f.extension().and_then(|e| e.to_str()) {
            Some("sources") => out.extend(parse_deb822(&text)),
            Some("list") => out.extend(parse_one_line(&text)),
            _ => {}
        }
    }
    out
}

/// `deb [opts] URI SUITE COMPONENT...` lines.
pub fn parse_one_line(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace();
        if words.next() != Some("deb") {
            continue;
        }
        let mut rest: Vec<&str> = words.collect();
        if rest.first().is_some_and(|w| w.starts_with('[')) {
            let end = rest.iter().position(|w| w.ends_with(']')).unwrap_or(0);
            rest.drain(..=end);
        }
        if rest.len() < 2 {
            continue;
        }
        out.push(AptSource {
            uri: rest[0].to_string(),
            suites: vec![rest[1].to_string()],
            components: rest[2..].iter().map(|s| s.to_string()).collect(),
        });
    }
    out
}

/// deb822 paragraphs with `Types: deb`.
pub fn parse_deb822(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in para.lines() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            if line.starts_with(' ') || line.starts_with('\t') {
                if let Some(last) = fields.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                fields.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let get = |k: &str| -> Vec<String> {
            fields
                .iter()
                .filter(|(fk, _)| fk == k)
                .flat_map(|(_, v)| v.split_whitespace().map(str::to_string))
                .collect()
        };
        if !get("types").iter().any(|t| t == "deb") {
            continue;
        }
        if get("enabled")
            .first()
            .is_some_and(|e| e.eq_ignore_ascii_case("no"))
        {
            continue;
        }
        for uri in get("uris") {
            out.push(AptSource {
                uri,
                suites: get("suites"),
                components: get("components"),
            });
        }
    }
    out
}

fn host_codename() -> Option<String> {
    let text = fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// mmdebstrap mirror lines for `suite` from the host's sources: the Debian
/// entries of the host's release (`H`, `H-updates`, `H-security`, ...)
/// with `H` replaced by `suite`. Third-party repositories (whose suites are
/// not the host's release) are left out.
pub fn mirror_lines(sources: &[AptSource], host_suite: &str, suite: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in sources {
        for hs in &s.suites {
            let rest = if hs == host_suite {
                ""
            } else if let Some(r) = hs
                .strip_prefix(host_suite)
                .filter(|r| r.starts_with('-') || r.starts_with('/'))
            {
                r
            } else {
                continue;
            };
            // unstable has no -updates or -security suites.
            if !rest.is_empty() && matches!(suite, "sid" | "unstable") {
                continue;
            }
            let comps = if s.components.is_empty() {
                "main".to_string()
            } else {
                s.components.join(" ")
            };
            let line = format!("deb {} {suite}{rest} {comps}", s.uri);
            if !out.contains(&line) {
                out.push(line);
            }
        }
    }
    out
}

/// apt options of the host that the image needs to reach the same
/// mirror the same way (proxies, release-date checks), as apt.conf lines.
fn host_apt_options() -> Vec<String> {
    let Ok(out) = Command::new("apt-config")
        .arg("dump")
        .stdin(Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            let key = l.split_whitespace().next().unwrap_or("");
            matches!(
                key,
                "Acquire::Check-Valid-Until"
                    | "Acquire::Check-Date"
                    | "Acquire::http::Proxy"
                    | "Acquire::https::Proxy"
            )
        })
        .map(str::to_string)
        .collect()
}

/// As a normal user, mmdebstrap builds in a user namespace of its own
/// (`--mode=unshare`): it needs `newuidmap`/`newgidmap` and a range of
/// subordinate ids for the user in /etc/subuid and /etc/subgid. Said here,
/// before mmdebstrap's own "cannot find your username" after a minute.
fn check_unshare_ready() -> Result<(), BootstrapError> {
    for helper in ["newuidmap", "newgidmap"] {
        if !in_path(helper) {
            return Err(BootstrapError::UidmapMissing(helper));
        }
    }
    let uid = nix::unistd::getuid();
    let user = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string());
    use whale_args::subids;
    for file in [subids::SUBUID_FILE, subids::SUBGID_FILE] {
        let ranges = subids::ranges_from(Path::new(file), &user, uid.as_raw())
            .map_err(io_err("read", Path::new(file)))?;
        if ranges.is_empty() {
            return Err(BootstrapError::NoSubordinateIds {
                grant: subids::grant_line(&user),
                user,
                file,
            });
        }
    }
    Ok(())
}

/// Where `mmdebstrap --mode=unshare` may make its temp dir: the root of its
/// user namespace is one of the user's subordinate ids, not the user, so
/// every directory above it must let others through. A private $TMPDIR
/// (libpam-tmpdir's /tmp/user/UID, mode 0700) does not: then /tmp.
fn unshare_tmpdir() -> PathBuf {
    let tmp = std::env::temp_dir();
    let open_to_others = tmp
        .ancestors()
        .all(|d| fs::metadata(d).is_ok_and(|m| m.mode() & 0o001 != 0));
    if open_to_others {
        tmp
    } else {
        PathBuf::from("/tmp")
    }
}

/// Build a Debian `suite` rootfs tar at `out` with mmdebstrap (variant
/// apt, `--skip=output/dev`: no device nodes, which extraction refuses),
/// from the host's mirrors; the image's own apt sources point at the same
/// mirrors (and get the host's proxy / release-date apt options), so
/// `apt-get install` works in it. An empty `dev/` directory is written as
/// the first entry (mmdebstrap leaves /dev out entirely with that skip, and
/// the engine mounts its /dev there). mmdebstrap's stderr lines go to
/// `progress`.
pub fn debian_rootfs_tar(
    suite: &str,
    out: &Path,
    mut progress: impl FnMut(&str),
) -> Result<(), BootstrapError> {
    if suite.is_empty()
        || !suite
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(BootstrapError::BadSuite(suite.to_string()));
    }
    if !in_path("mmdebstrap") {
        return Err(BootstrapError::MmdebstrapMissing);
    }
    let sources = host_apt_sources();
    let host = host_codename().unwrap_or_else(|| suite.to_string());
    let mirrors = mirror_lines(&sources, &host, suite);
    if mirrors.is_empty() {
        return Err(BootstrapError::NoMirror {
            suite: suite.to_string(),
        });
    }
    let rootless = !nix::unistd::geteuid().is_root();
    if rootless {
        check_unshare_ready()?;
    }
    let mut file = File::create(out).map_err(io_err("create", out))?;
    let mut dev = tar::Header::new_ustar();
    dev.set_entry_type(tar::EntryType::Directory);
    dev.set_mode(0o755);
    dev.set_uid(0);
    dev.set_gid(0);
    dev.set_mtime(u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0));
    dev.set_size(0);
    dev.set_path("./dev/").map_err(io_err("write", out))?;
    dev.set_cksum();
    file.write_all(dev.as_bytes())
        .map_err(io_err("write", out))?;

    let mut cmd = Command::new("mmdebstrap");
    cmd.args(["--variant=apt", "--skip=output/dev", "--format=tar"]);
    // mmdebstrap's default (`auto`) would fall back to fakechroot or proot
    // without subordinate ids, whose images come out owned by the user.
    let mode = if rootless { " --mode=unshare" } else { "" };
    if rootless {
        cmd.arg("--mode=unshare");
        let tmp = unshare_tmpdir();
        if Some(tmp.as_os_str()) != std::env::var_os("TMPDIR").as_deref() {
            progress(&format!(
                "mmdebstrap works in {} (its namespace's root must reach it; $TMPDIR is closed to it)",
                tmp.display()
            ));
        }
        cmd.env("TMPDIR", tmp);
    }
    for opt in host_apt_options() {
        cmd.arg(format!("--aptopt={opt}"));
    }
    // The tar goes to stdout, after our dev/ entry.
    cmd.arg(suite).arg("-").args(&mirrors);
    let shown = format!("mmdebstrap --variant=apt --skip=output/dev --format=tar{mode} {suite} -");
    progress(&format!("mirrors: {}", mirrors.join(" | ")));
    let res = run_streaming_to(cmd, &shown, Some(file), &mut progress);
    if res.is_err() {
        let _ = fs::remove_file(out);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_busybox_is_static() {
        let p = find_static_busybox().expect("busybox-static is installed on the dev machines");
        assert!(is_static_elf(&p).unwrap());
        // The test binary itself is dynamically linked.
        let me = std::env::current_exe().unwrap();
        assert!(!is_static_elf(&me).unwrap());
        assert!(matches!(
            is_static_elf(Path::new("/etc/passwd")),
            Err(BootstrapError::NotElf(_))
        ));
    }

    #[test]
    fn busybox_tar_is_deterministic_and_complete() {
        let mut a = Vec::new();
        busybox_rootfs_tar(&mut a).unwrap();
        let mut b = Vec::new();
        busybox_rootfs_tar(&mut b).unwrap();
        assert_eq!(a, b);
        let mut ar = tar::Archive::new(&a[..]);
        let mut names = Vec::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            if name == "bin/sh" {
                assert_eq!(e.header().entry_type(), tar::EntryType::Link);
                assert_eq!(
                    e.link_name().unwrap().unwrap().to_string_lossy(),
                    "bin/busybox"
                );
            }
            if name == "tmp" {
                assert_eq!(e.header().mode().unwrap(), 0o1777);
            }
            names.push(name);
        }
        for want in [
            "bin/busybox",
            "bin/sh",
            "bin/ls",
            "etc/passwd",
            "root",
            "tmp",
            "usr/sbin",
            "var",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} missing");
        }
    }

    #[test]
    fn apt_sources_parse_and_map_to_mirrors() {
        let deb822 = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /k.gpg\n\n\
                      Types: deb\n# comment\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main contrib\n\n\
                      Types: deb-src\nURIs: http://src\nSuites: bookworm\nComponents: main\n\n\
                      Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\n\n\
                      Types: deb\nEnabled: no\nURIs: http://off\nSuites: bookworm\nComponents: main\n";
        let mut s = parse_deb822(deb822);
        s.extend(parse_one_line(
            "# x\ndeb [arch=amd64 signed-by=/x] http://mirror/debian bookworm main non-free # c\ndeb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n",
        ));
        assert_eq!(s.len(), 5);
        assert_eq!(
            mirror_lines(&s, "bookworm", "bookworm"),
            [
                "deb http://deb.debian.org/debian bookworm main",
                "deb http://deb.debian.org/debian bookworm-updates main",
                "deb http://deb.debian.org/debian-security bookworm-security main contrib",
                "deb http://mirror/debian bookworm main non-free",
            ]
        );
        assert_eq!(
            mirror_lines(&s, "bookworm", "trixie")[2],
            "deb http://deb.debian.org/debian-security trixie-security main contrib"
        );
        assert_eq!(
            mirror_lines(&s, "bookworm", "sid"),
            [
                "deb http://deb.debian.org/debian sid main",
                "deb http://mirror/debian sid main non-free"
            ]
        );
    }
}
