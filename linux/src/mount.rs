//! The container's root filesystem: overlay, the kernel filesystems Docker
//! mounts, its masked and read-only paths, then pivot_root.
//!
//! Everything here runs in the container's init, in its own mount namespace,
//! after [`make_mounts_private`]: no mount ever propagates to the host, and
//! all of them vanish with the namespace when the container dies.

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::process::cstring;

/// Mount options must fit in one page, NUL included.
const PAGE_LIMIT: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("cannot mount {what} on {target}: {source}")]
    Mount {
        what: String,
        target: PathBuf,
        source: io::Error,
    },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(
        "layer path {0} cannot be used by overlayfs (it contains ',', ':' or a newline); \
         move the store to a plain path"
    )]
    BadLayerPath(PathBuf),
    #[error(
        "the overlay options for {layers} layers are {len} bytes even with relative paths, \
         over the {PAGE_LIMIT}-byte page limit: flatten the image (fewer layers)"
    )]
    TooManyLayers { layers: usize, len: usize },
    #[error("the image has no layers: overlay needs at least one lower dir")]
    NoLayers,
    #[error(
        "cannot mount the container's overlay in rootless mode: {source}; overlayfs inside a user \
         namespace needs Linux 5.11 or later (this kernel: {kernel})"
    )]
    RootlessOverlay { source: io::Error, kernel: String },
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> MountError + 'a {
    move |source| MountError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// The overlay mount's data string, and the directory to chdir to first
/// when the lower dirs had to be made relative to fit in a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayOptions {
    pub chdir: Option<PathBuf>,
    pub data: String,
    /// Short symlinks to create in `chdir` first: (name, layer dir). Used
    /// when even relative paths do not fit (dozens of 64-hex layer names).
    pub links: Vec<(String, PathBuf)>,
}

fn checked(p: &Path) -> Result<&str, MountError> {
    match p.to_str() {
        Some(s) if !s.contains([',', ':', '\n']) => Ok(s),
        _ => Err(MountError::BadLayerPath(p.to_path_buf())),
    }
}

/// Build `lowerdir=..,upperdir=..,workdir=..`; lower dirs top-most first.
pub fn overlay_options(
    lower: &[PathBuf],
    upper: &Path,
    work: &Path,
) -> Result<OverlayOptions, MountError> {
    if lower.is_empty() {
        return Err(MountError::NoLayers);
    }
    let tail = format!(",upperdir={},workdir={}", checked(upper)?, checked(work)?);
    let lowers: Vec<&str> = lower.iter().map(|p| checked(p)).collect::<Result<_, _>>()?;
    let data = format!("lowerdir={}{tail}", lowers.join(":"));
    if data.len() < PAGE_LIMIT {
        return Ok(OverlayOptions {
            chdir: None,
            data,
            links: Vec::new(),
        });
    }
    // Relative to the deepest directory every layer shares (the store's
    // diff dir), each lower costs only its own name.
    let mut common: PathBuf = lower[0].parent().unwrap_or(Path::new("/")).to_path_buf();
    while !lower.iter().all(|l| l.starts_with(&common)) {
        if !common.pop() {
            break;
        }
    }
    let rel: Vec<&str> = lower
        .iter()
        .map(|l| {
            l.strip_prefix(&common)
                .ok()
                .and_then(|r| r.to_str())
                .filter(|r| !r.is_empty())
                .unwrap_or(".")
        })
        .collect();
    let data = format!("lowerdir={}{tail}", rel.join(":"));
    if data.len() < PAGE_LIMIT {
        return Ok(OverlayOptions {
            chdir: Some(common),
            data,
            links: Vec::new(),
        });
    }
    // Last resort, as Docker's overlay2 does with its `l/` dir: short
    // symlinks named 0, 1, 2... beside the work dir, one per layer.
    let links: Vec<(String, PathBuf)> = lower
        .iter()
        .enumerate()
        .map(|(i, l)| (i.to_string(), l.clone()))
        .collect();
    let names: Vec<&str> = links.iter().map(|(n, _)| n.as_str()).collect();
    let data = format!("lowerdir={}{tail}", names.join(":"));
    if data.len() >= PAGE_LIMIT {
        return Err(MountError::TooManyLayers {
            layers: lower.len(),
            len: data.len(),
        });
    }
    let link_dir = work.parent().unwrap_or(Path::new("/")).join("layer-links");
    Ok(OverlayOptions {
        chdir: Some(link_dir),
        data,
        links,
    })
}

fn path_c(p: &Path) -> io::Result<CString> {
    cstring(p.as_os_str().as_bytes())
}

/// mount(2) with optional source, type and data.
pub fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Result<(), MountError> {
    let what = fstype
        .map(str::to_string)
        .or_else(|| source.map(|s| s.display().to_string()))
        .unwrap_or_else(|| "(remount)".to_string());
    let err = |source: io::Error| MountError::Mount {
        what: what.clone(),
        target: target.to_path_buf(),
        source,
    };
    let src = source.map(path_c).transpose().map_err(err)?;
    let tgt = path_c(target).map_err(err)?;
    let ty = fstype
        .map(|t| cstring(t.as_bytes()))
        .transpose()
        .map_err(err)?;
    let dat = data
        .map(|d| cstring(d.as_bytes()))
        .transpose()
        .map_err(err)?;
    nix::mount::mount(
        src.as_deref(),
        tgt.as_c_str(),
        ty.as_deref(),
        MsFlags::from_bits_retain(flags),
        dat.as_deref(),
    )
    .map_err(|e| err(e.into()))
}

/// Stop mount events from propagating out of (and into) our namespace.
pub fn make_mounts_private() -> Result<(), MountError> {
    mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )
}

fn mkdir(p: &Path, mode: u32) -> Result<(), MountError> {
    let c = path_c(p).map_err(io_err("create", p))?;
    match nix::unistd::mkdir(c.as_c_str(), Mode::from_bits_truncate(mode)) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(MountError::Io {
            what: "create directory",
            path: p.to_path_buf(),
            source: e.into(),
        }),
    }
}

fn mkdir_all(p: &Path) -> Result<(), MountError> {
    if p.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(p).map_err(io_err("create directory", p))
}

/// An empty file to bind-mount over (created if missing; existing kept).
fn touch(p: &Path) -> Result<(), MountError> {
    if let Some(parent) = p.parent() {
        mkdir_all(parent)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .map(|_| ())
        .map_err(io_err("create", p))
}

/// Make `root/rel` an existing directory (`dir_mode` Some) or file (None)
/// without following any symlink the image put on the way: before
/// pivot_root, an absolute link would point into the HOST's tree. Links
/// are replaced (in the container's upper dir), as their targets would be.
pub(crate) fn prepare_target(
    root: &Path,
    rel: &str,
    dir_mode: Option<u32>,
) -> Result<PathBuf, MountError> {
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let mut cur = root.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        if *part == ".." {
            return Err(MountError::Io {
                what: "use",
                path: cur.join(part),
                source: io::Error::from_raw_os_error(libc::EINVAL),
            });
        }
        cur.push(part);
        let last = i + 1 == parts.len();
        let want_dir = !last || dir_mode.is_some();
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                std::fs::remove_file(&cur).map_err(io_err("replace symlink", &cur))?;
            }
            Ok(m) if m.is_dir() == want_dir => continue,
            Ok(_) => {
                return Err(MountError::Io {
                    what: "mount on",
                    path: cur,
                    source: io::Error::from_raw_os_error(if want_dir {
                        libc::ENOTDIR
                    } else {
                        libc::EISDIR
                    }),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("inspect", &cur)(e)),
        }
        if want_dir {
            mkdir(
                &cur,
                if last {
                    dir_mode.unwrap_or(0o755)
                } else {
                    0o755
                },
            )?;
        } else {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&cur)
                .map_err(io_err("create", &cur))?;
        }
    }
    Ok(cur)
}

/// A /dev node: made with mknod as root; in a user namespace, where no
/// device node may be made, the host's own node bind-mounted (as runc
/// does rootless).
fn device_node(p: &Path, major: u32, minor: u32) -> Result<(), MountError> {
    if !super::userns::in_rootless_namespace() {
        return mknod_char(p, major, minor);
    }
    touch(p)?;
    let host = Path::new("/dev").join(p.file_name().unwrap_or_default());
    mount(Some(&host), p, None, libc::MS_BIND, None)
}

fn mknod_char(p: &Path, major: u32, minor: u32) -> Result<(), MountError> {
    let c = path_c(p).map_err(io_err("create device", p))?;
    let dev = makedev(major.into(), minor.into());
    mknod(
        c.as_c_str(),
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        dev,
    )
    .map_err(|e| MountError::Io {
        what: "create device",
        path: p.to_path_buf(),
        source: e.into(),
    })
}

fn symlink_to(target: &Path, link: &Path) -> Result<(), MountError> {
    std::os::unix::fs::symlink(target, link).map_err(io_err("create symlink", link))
}

fn symlink(target: &str, link: &Path) -> Result<(), MountError> {
    std::os::unix::fs::symlink(target, link).map_err(io_err("create symlink", link))
}

/// What to build under the merged dir before pivoting into it.
#[derive(Debug)]
pub struct Rootfs<'a> {
    pub lower_dirs: &'a [PathBuf],
    pub upper_dir: &'a Path,
    pub work_dir: &'a Path,
    pub merged_dir: &'a Path,
    /// Files bind-mounted into the rootfs: (host file, path inside, e.g. "etc/hosts").
    pub binds: &'a [(PathBuf, &'a str)],
    /// The user's binds, volumes and tmpfs mounts, over everything else.
    pub mounts: &'a [super::user_mounts::UserMount],
    /// What to show read-only at /sys/fs/cgroup (the container's own
    /// cgroups, as its cgroup namespace sees them).
    pub cgroups: CgroupView,
    /// `--privileged`, /dev/shm and sysctls.
    pub confinement: super::confine::Confinement,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupView {
    None,
    /// v1 hierarchies by mount option, e.g. ["memory", "cpu,cpuacct"].
    V1(Vec<String>),
    V2,
}

/// Where [`mount_kernel_filesystems`] mounts proc, the /dev tmpfs and sysfs
/// in a container's root (relative to it). The directories are the
/// engine's, not the container's changes: `diff` and commits leave them
/// out, and the init layer provides them.
pub const KERNEL_MOUNT_POINTS: &[&str] = &["proc", "sys", "dev"];

/// The files the engine writes for each container and binds over its
/// rootfs (`Rootfs::binds`): where they appear (relative to the root), and
/// their name in the container's own dir. Like the kernel mount points,
/// never the container's changes.
pub const ENGINE_FILES: &[(&str, &str)] = &[
    ("etc/hostname", "hostname"),
    ("etc/hosts", "hosts"),
    ("etc/resolv.conf", "resolv.conf"),
];

/// Docker's masked paths: files get /dev/null, directories an empty
/// read-only tmpfs.
pub const MASKED_PATHS: &[&str] = &[
    "proc/asound",
    "proc/acpi",
    "proc/kcore",
    "proc/keys",
    "proc/latency_stats",
    "proc/timer_list",
    "proc/timer_stats",
    "proc/sched_debug",
    "proc/scsi",
    "sys/firmware",
    "sys/devices/virtual/powercap",
];

/// Docker's read-only paths.
pub const READONLY_PATHS: &[&str] = &[
    "proc/bus",
    "proc/fs",
    "proc/irq",
    "proc/sys",
    "proc/sysrq-trigger",
];

const NOSUID_NODEV_NOEXEC: libc::c_ulong = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;

/// Mount the overlay and everything Docker mounts inside it. The caller
/// must be in its own mount namespace, after [`make_mounts_private`].
pub fn build_rootfs(r: &Rootfs) -> Result<(), MountError> {
    mount_overlay(r)?;
    mount_kernel_filesystems(r)
}

/// The first half of [`build_rootfs`]: the overlay at the merged dir.
pub fn mount_overlay(r: &Rootfs) -> Result<(), MountError> {
    let m = r.merged_dir;
    mkdir_all(m)?;
    let opts = overlay_options(r.lower_dirs, r.upper_dir, r.work_dir)?;
    if let (false, Some(dir)) = (opts.links.is_empty(), &opts.chdir) {
        // Rebuilt on every start: the image's layers are fixed, but a dir
        // left by an older run must not point anywhere else.
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        for (name, target) in &opts.links {
            symlink_to(target, &dir.join(name))?;
        }
    }
    if let Some(dir) = &opts.chdir {
        std::env::set_current_dir(dir).map_err(io_err("enter", dir))?;
    }
    if !super::userns::in_rootless_namespace() {
        return mount(
            Some(Path::new("overlay")),
            m,
            Some("overlay"),
            0,
            Some(&opts.data),
        );
    }
    // In a user namespace overlayfs may not use trusted.* xattrs: its own
    // attributes (opaque dirs) live in user.overlay.* (see userns.rs).
    let data = format!("{},userxattr", opts.data);
    mount(
        Some(Path::new("overlay")),
        m,
        Some("overlay"),
        0,
        Some(&data),
    )
    .map_err(|e| match e {
        MountError::Mount { source, .. }
            if matches!(source.raw_os_error(), Some(libc::EPERM | libc::EINVAL)) =>
        {
            MountError::RootlessOverlay {
                source,
                kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                    .map(|r| r.trim().to_string())
                    .unwrap_or_default(),
            }
        }
        other => other,
    })
}

/// The second half of [`build_rootfs`]: everything inside the overlay.
pub fn mount_kernel_filesystems(r: &Rootfs) -> Result<(), MountError> {
    let old_umask = super::process::set_umask(0);
    let result = mount_kernel_filesystems_inner(r);
    super::process::set_umask(old_umask);
    result
}

fn mount_kernel_filesystems_inner(r: &Rootfs) -> Result<(), MountError> {
    let m = r.merged_dir;
    let proc_dir = prepare_target(m, "proc", Some(0o555))?;
    mount_or_bind_host(
        Some(Path::new("proc")),
        &proc_dir,
        Some("proc"),
        NOSUID_NODEV_NOEXEC,
        None,
        Path::new("/proc"),
    )?;

    let dev = prepare_target(m, "dev", Some(0o755))?;
    mount(
        Some(Path::new("tmpfs")),
        &dev,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )?;
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        device_node(&dev.join(name), major, minor)?;
    }
    let pts = dev.join("pts");
    mkdir(&pts, 0o755)?;
    mount(
        Some(Path::new("devpts")),
        &pts,
        Some("devpts"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        // Group tty (5) owns the ptys, as in Docker; a single-id map has
        // no group 5 to give them to.
        Some(if super::userns::current_map().is_single() {
            "newinstance,ptmxmode=0666,mode=0620"
        } else {
            "newinstance,ptmxmode=0666,mode=0620,gid=5"
        }),
    )?;
    let conf = &r.confinement;
    if conf.privileged {
        // Still the host's /dev here: pivot_root comes later.
        super::confine::copy_host_devices(Path::new("/dev"), &dev)
            .map_err(io_err("copy the host's devices into", &dev))?;
    }
    super::confine::make_devices(&dev, &conf.devices)
        .map_err(io_err("create the --device nodes in", &dev))?;
    let shm = dev.join("shm");
    mkdir(&shm, 0o1777)?;
    match conf.shm {
        super::confine::Shm::Size(bytes) => mount(
            Some(Path::new("shm")),
            &shm,
            Some("tmpfs"),
            NOSUID_NODEV_NOEXEC,
            Some(&format!("mode=1777,size={bytes}")),
        )?,
        super::confine::Shm::Host => mount(
            Some(Path::new("/dev/shm")),
            &shm,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )?,
        super::confine::Shm::None => {}
    }
    let mq = dev.join("mqueue");
    mkdir(&mq, 0o755)?;
    mount_or_bind_host(
        Some(Path::new("mqueue")),
        &mq,
        Some("mqueue"),
        NOSUID_NODEV_NOEXEC,
        None,
        Path::new("/dev/mqueue"),
    )?;
    symlink("pts/ptmx", &dev.join("ptmx"))?;
    symlink("/proc/self/fd", &dev.join("fd"))?;
    symlink("/proc/self/fd/0", &dev.join("stdin"))?;
    symlink("/proc/self/fd/1", &dev.join("stdout"))?;
    symlink("/proc/self/fd/2", &dev.join("stderr"))?;
    // As runc: only where the kernel has a /proc/kcore to point at.
    if Path::new("/proc/kcore").exists() {
        symlink("/proc/kcore", &dev.join("core"))?;
    }

    let sys = prepare_target(m, "sys", Some(0o555))?;
    // Docker's privileged containers get a writable /sys.
    let sys_flags = if conf.privileged {
        NOSUID_NODEV_NOEXEC
    } else {
        NOSUID_NODEV_NOEXEC | libc::MS_RDONLY
    };
    // In a new netns, sysfs shows only that namespace's devices (`lo`).
    match mount(
        Some(Path::new("sysfs")),
        &sys,
        Some("sysfs"),
        sys_flags,
        None,
    ) {
        Ok(()) => {}
        // Rootless with the host's network (`--network host`, build RUN
        // steps): sysfs belongs to the host's network namespace, which a
        // user namespace may not mount; the host's /sys is bound instead.
        Err(MountError::Mount { source, .. })
            if source.raw_os_error() == Some(libc::EPERM)
                && super::userns::in_rootless_namespace() =>
        {
            mount(
                Some(Path::new("/sys")),
                &sys,
                None,
                libc::MS_BIND | libc::MS_REC,
                None,
            )?;
            if sys_flags & libc::MS_RDONLY != 0 {
                mount(
                    None,
                    &sys,
                    None,
                    libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | NOSUID_NODEV_NOEXEC,
                    None,
                )?;
            }
        }
        Err(e) => return Err(e),
    }

    mount_cgroups(&sys.join("fs/cgroup"), &r.cgroups);

    for (source, inside) in r.binds {
        let target = prepare_target(m, inside, None)?;
        mount(Some(source), &target, None, libc::MS_BIND, None)?;
    }
    super::user_mounts::mount_all(m, r.mounts)?;

    // Before /proc/sys goes read-only; the init is already in the
    // namespaces the settings belong to.
    super::confine::write_sysctls(&proc_dir.join("sys"), &conf.sysctls)
        .map_err(io_err("write sysctls under", &proc_dir))?;
    if conf.privileged {
        return Ok(());
    }
    let null = dev.join("null");
    for p in MASKED_PATHS {
        mask_path(&m.join(p), &null)?;
    }
    for p in READONLY_PATHS {
        readonly_path(&m.join(p))?;
    }
    Ok(())
}

/// Mount a kernel filesystem, or rootless, where it belongs to a namespace
/// of the host's (`--pid host`: proc; `--ipc host`: mqueue) that a user
/// namespace may not mount, bind the host's own mount of it instead.
fn mount_or_bind_host(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
    host: &Path,
) -> Result<(), MountError> {
    match mount(source, target, fstype, flags, data) {
        Err(MountError::Mount { source, .. })
            if source.raw_os_error() == Some(libc::EPERM)
                && super::userns::in_rootless_namespace() =>
        {
            // A host without it (no /dev/mqueue mounted) has nothing to share.
            if !host.exists() {
                return Ok(());
            }
            mount(Some(host), target, None, libc::MS_BIND | libc::MS_REC, None)
        }
        other => other,
    }
}

/// Best effort: a container without a cgroup view still runs.
fn mount_cgroups(target: &Path, view: &CgroupView) {
    let flags = NOSUID_NODEV_NOEXEC | libc::MS_RDONLY;
    match view {
        CgroupView::None => {}
        CgroupView::V2 => {
            let _ = mount(
                Some(Path::new("cgroup2")),
                target,
                Some("cgroup2"),
                flags,
                None,
            );
        }
        CgroupView::V1(hierarchies) => {
            if mount(
                Some(Path::new("tmpfs")),
                target,
                Some("tmpfs"),
                NOSUID_NODEV_NOEXEC,
                Some("mode=755"),
            )
            .is_err()
            {
                return;
            }
            for h in hierarchies {
                let dir = target.join(h);
                if mkdir(&dir, 0o555).is_ok() {
                    let _ = mount(
                        Some(Path::new("cgroup")),
                        &dir,
                        Some("cgroup"),
                        flags,
                        Some(h),
                    );
                }
                // `cpu,cpuacct` is also reachable as `cpu` and `cpuacct`.
                if h.contains(',') {
                    for alias in h.split(',') {
                        let _ = symlink(h, &target.join(alias));
                    }
                }
            }
            let _ = mount(
                None,
                target,
                None,
                libc::MS_REMOUNT | libc::MS_BIND | flags,
                None,
            );
        }
    }
}

fn is_enoent(e: &MountError) -> bool {
    matches!(e, MountError::Mount { source, .. } if source.raw_os_error() == Some(libc::ENOENT))
}

fn mask_path(p: &Path, null: &Path) -> Result<(), MountError> {
    match mount(Some(null), p, None, libc::MS_BIND, None) {
        Ok(()) => Ok(()),
        Err(e) if is_enoent(&e) => Ok(()),
        Err(MountError::Mount { source, .. }) if source.raw_os_error() == Some(libc::ENOTDIR) => {
            mount(
                Some(Path::new("tmpfs")),
                p,
                Some("tmpfs"),
                libc::MS_RDONLY,
                None,
            )
        }
        Err(e) => Err(e),
    }
}

fn readonly_path(p: &Path) -> Result<(), MountError> {
    match mount(Some(p), p, None, libc::MS_BIND | libc::MS_REC, None) {
        Ok(()) => {}
        Err(e) if is_enoent(&e) => return Ok(()),
        Err(e) => return Err(e),
    }
    mount(
        None,
        p,
        None,
        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_REC | NOSUID_NODEV_NOEXEC,
        None,
    )
}

/// Expose the pty slave `/dev/pts/<index>` as /dev/console, as runc does
/// (after pivot_root, in the container's own /dev).
pub fn bind_console(index: u32) -> Result<(), MountError> {
    let target = Path::new("/dev/console");
    touch(target)?;
    let slave = PathBuf::from(format!("/dev/pts/{index}"));
    mount(Some(&slave), target, None, libc::MS_BIND, None)
}

/// Make `new_root` the root: pivot_root(".", ".") stacks the old root on top
/// of the new one, and a lazy unmount drops it (no put_old dir needed).
pub fn pivot_root(new_root: &Path) -> Result<(), MountError> {
    std::env::set_current_dir(new_root).map_err(io_err("enter", new_root))?;
    let dot = c".";
    nix::unistd::pivot_root(dot, dot).map_err(|e| MountError::Io {
        what: "pivot_root into",
        path: new_root.to_path_buf(),
        source: e.into(),
    })?;
    nix::mount::umount2(dot, MntFlags::MNT_DETACH).map_err(|e| MountError::Io {
        what: "detach the old root at",
        path: new_root.to_path_buf(),
        source: e.into(),
    })?;
    std::env::set_current_dir("/").map_err(io_err("enter", Path::new("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_never_follow_image_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        // An image that points its mount points at the host.
        std::os::unix::fs::symlink(&outside, root.join("proc")).unwrap();
        std::os::unix::fs::symlink(outside.join("hosts"), root.join("etc/hosts")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("lnk")).unwrap();
        let p = prepare_target(&root, "proc", Some(0o555)).unwrap();
        assert!(std::fs::symlink_metadata(&p).unwrap().is_dir());
        let h = prepare_target(&root, "etc/hosts", None).unwrap();
        assert!(std::fs::symlink_metadata(&h).unwrap().is_file());
        let n = prepare_target(&root, "lnk/hostname", None).unwrap();
        assert_eq!(n, root.join("lnk/hostname"));
        assert!(
            std::fs::read_dir(&outside).unwrap().next().is_none(),
            "host side touched"
        );
        assert!(prepare_target(&root, "etc/../x", None).is_err());
        std::fs::create_dir_all(root.join("etc/hostname")).unwrap();
        assert!(prepare_target(&root, "etc/hostname", None).is_err());
    }

    #[test]
    fn overlay_options_absolute_when_short() {
        let o = overlay_options(
            &[PathBuf::from("/s/diff/b"), PathBuf::from("/s/diff/a")],
            Path::new("/c/upper"),
            Path::new("/c/work"),
        )
        .unwrap();
        assert_eq!(o.chdir, None);
        assert_eq!(
            o.data,
            "lowerdir=/s/diff/b:/s/diff/a,upperdir=/c/upper,workdir=/c/work"
        );
    }

    #[test]
    fn overlay_options_relative_when_over_a_page() {
        let base = "/var/lib/whale/image/layers/diff";
        let lower: Vec<PathBuf> = (0..60)
            .map(|i| PathBuf::from(format!("{base}/{:064x}", i)))
            .collect();
        let o = overlay_options(&lower, Path::new("/c/upper"), Path::new("/c/work")).unwrap();
        assert_eq!(o.chdir.as_deref(), Some(Path::new(base)));
        assert!(o.data.len() < PAGE_LIMIT);
        assert!(o.data.starts_with(&format!("lowerdir={:064x}:", 0)));
        assert!(o.data.ends_with(",upperdir=/c/upper,workdir=/c/work"));
        // Order is preserved: top-most first.
        assert!(o.data.find(&format!("{:064x}", 1)) < o.data.find(&format!("{:064x}", 2)));
    }

    #[test]
    fn overlay_options_use_short_links_past_relative_paths() {
        let lower: Vec<PathBuf> = (0..200)
            .map(|i| PathBuf::from(format!("/d/{:064x}", i)))
            .collect();
        let o = overlay_options(&lower, Path::new("/c/upper"), Path::new("/c/work")).unwrap();
        assert_eq!(o.chdir.as_deref(), Some(Path::new("/c/layer-links")));
        assert!(o.data.starts_with("lowerdir=0:1:2:"), "{}", o.data);
        assert_eq!(o.links.len(), 200);
        assert_eq!(o.links[199], ("199".to_string(), lower[199].clone()));
    }

    #[test]
    fn overlay_options_refuse_what_cannot_fit_or_parse() {
        let lower: Vec<PathBuf> = (0..2000)
            .map(|i| PathBuf::from(format!("/d/{:064x}", i)))
            .collect();
        assert!(matches!(
            overlay_options(&lower, Path::new("/u"), Path::new("/w")),
            Err(MountError::TooManyLayers { layers: 2000, .. })
        ));
        assert!(matches!(
            overlay_options(&[PathBuf::from("/a:b")], Path::new("/u"), Path::new("/w")),
            Err(MountError::BadLayerPath(_))
        ));
        assert!(matches!(
            overlay_options(&[], Path::new("/u"), Path::new("/w")),
            Err(MountError::NoLayers)
        ));
    }
}
