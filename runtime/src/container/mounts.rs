//! A container's mounts, resolved at create from the request's `Binds`
//! (`-v`), `Mounts` (`--mount`), `Tmpfs` (`--tmpfs`) and the config's
//! `Volumes` (`-v /path`, an image's VOLUME), with Docker's checks and
//! wording; what whale cannot honour (propagation, SELinux labels, other
//! drivers) is refused naming the option.

use super::volumes::{is_valid_name, VolumeError, Volumes};
use super::ContainerError;
use crate::linux::user_mounts::{MountSource, UserMount};
use bollard::models::{HostConfig, Mount, MountBindOptionsPropagationEnum, MountType};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Bind,
    Volume,
    Tmpfs,
}

/// One mount of a container, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MountPoint {
    pub kind: Kind,
    /// The host path of a bind, the name of a volume, "" for a tmpfs.
    pub source: String,
    pub destination: String,
    /// Docker's `Mode` in inspect (`ro`, `z`, "").
    pub mode: String,
    pub rw: bool,
    /// Docker's `Propagation` in inspect (`rprivate` for binds).
    pub propagation: String,
    /// An anonymous volume: removed with the container by `rm -v`/`--rm`.
    #[serde(default)]
    pub anonymous: bool,
    /// Fill a new, empty volume with the image's files (not `nocopy`).
    #[serde(default)]
    pub copy_up: bool,
    /// tmpfs mount flags and data.
    #[serde(default)]
    pub tmpfs_flags: u64,
    #[serde(default)]
    pub tmpfs_data: String,
    /// `--tmpfs` mounts are not listed in inspect's `Mounts`, as Docker.
    #[serde(default)]
    pub hidden: bool,
}

impl MountPoint {
    pub fn volume_name(&self) -> Option<&str> {
        (self.kind == Kind::Volume).then_some(self.source.as_str())
    }

    /// What the shim mounts, volumes found under `volumes`.
    pub fn to_user_mount(&self, volumes: &Volumes) -> UserMount {
        let source = match self.kind {
            Kind::Bind => MountSource::Bind {
                source: PathBuf::from(&self.source),
                copy_up: false,
            },
            Kind::Volume => MountSource::Bind {
                source: volumes.data_dir(&self.source),
                copy_up: self.copy_up,
            },
            Kind::Tmpfs => MountSource::Tmpfs {
                flags: self.tmpfs_flags,
                data: self.tmpfs_data.clone(),
            },
        };
        UserMount {
            target: self.destination.clone(),
            readonly: !self.rw,
            source,
        }
    }
}

fn invalid(m: impl Into<String>) -> ContainerError {
    ContainerError::Invalid(m.into())
}

impl From<VolumeError> for ContainerError {
    fn from(e: VolumeError) -> ContainerError {
        match e {
            VolumeError::Io { context, source } => ContainerError::Io { context, source },
            other => ContainerError::Invalid(other.to_string()),
        }
    }
}

/// A volume the container needs: by name, or a new anonymous one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    name: Option<String>,
    labels: HashMap<String, String>,
}

/// Parse everything, refuse what whale cannot do, then create the volumes
/// (nothing is created when any mount is refused) and create bind sources
/// `-v` names that are missing, as Docker.
pub fn resolve(
    hc: &HostConfig,
    config_volumes: &[String],
    inherited: Vec<MountPoint>,
    volumes: &Volumes,
) -> Result<Vec<MountPoint>, ContainerError> {
    let mut out: Vec<(MountPoint, Option<Wanted>)> = Vec::new();
    let mut make_dirs: Vec<PathBuf> = Vec::new();
    for spec in hc.binds.iter().flatten() {
        let (mp, wanted) = parse_bind(spec)?;
        if mp.kind == Kind::Bind && !Path::new(&mp.source).exists() {
            make_dirs.push(PathBuf::from(&mp.source));
        }
        out.push((mp, wanted));
    }
    for m in hc.mounts.iter().flatten() {
        out.push(parse_mount(m)?);
    }
    for (path, opts) in hc.tmpfs.iter().flatten() {
        out.push((parse_tmpfs(path, opts)?, None));
    }
    let mut seen = std::collections::HashSet::new();
    for (mp, _) in &out {
        if !seen.insert(clean(&mp.destination)) {
            return Err(invalid(format!(
                "Duplicate mount point: {}",
                mp.destination
            )));
        }
    }
    // `--volumes-from`'s, where the container mounts nothing of its own.
    for mp in inherited {
        if seen.insert(clean(&mp.destination)) {
            out.push((mp, None));
        }
    }
    // `-v /path` and the image's VOLUMEs: anonymous, unless mounted already.
    for dest in config_volumes {
        // dockerd takes an image's relative VOLUME (`VOLUME /a ["/b"]` makes
        // `[/b]`) as a path in the container's root, as the shim resolves it.
        if clean(dest) == "/" {
            check_destination("/", dest)?;
        }
        if seen.insert(clean(dest)) {
            out.push((
                volume_point(String::new(), dest, "", true, true),
                Some(Wanted {
                    name: None,
                    labels: HashMap::new(),
                }),
            ));
        }
    }
    for dir in make_dirs {
        std::fs::create_dir_all(&dir).map_err(|e| ContainerError::Io {
            context: format!("creating the bind source {}", dir.display()),
            source: e,
        })?;
    }
    let mut points = Vec::with_capacity(out.len());
    for (mut mp, wanted) in out {
        if let Some(w) = wanted {
            let (v, _) = volumes.create(w.name.as_deref(), w.labels)?;
            mp.source = v.name;
        }
        points.push(mp);
    }
    Ok(points)
}

fn clean(p: &str) -> String {
    let parts: Vec<&str> = p
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

fn check_destination(dest: &str, spec: &str) -> Result<(), ContainerError> {
    if !dest.starts_with('/') {
        return Err(invalid(format!(
            "invalid volume specification: '{spec}': invalid mount config: mount path must be absolute"
        )));
    }
    if clean(dest) == "/" {
        return Err(invalid(format!(
            "invalid volume specification: '{spec}': invalid mount config: destination can't be '/'"
        )));
    }
    Ok(())
}

fn volume_point(name: String, dest: &str, mode: &str, rw: bool, copy_up: bool) -> MountPoint {
    MountPoint {
        kind: Kind::Volume,
        anonymous: name.is_empty(),
        source: name,
        destination: dest.to_string(),
        mode: mode.to_string(),
        rw,
        propagation: String::new(),
        copy_up,
        tmpfs_flags: 0,
        tmpfs_data: String::new(),
        hidden: false,
    }
}

/// `-v src:dst[:opts]` or `-v dst` (Docker's Linux parser).
fn parse_bind(spec: &str) -> Result<(MountPoint, Option<Wanted>), ContainerError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dest, opts) = match parts.as_slice() {
        [d] => ("", *d, ""),
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => {
            return Err(invalid(format!(
                "invalid volume specification: '{spec}': too many colons"
            )))
        }
    };
    check_destination(dest, spec)?;
    let mut rw = true;
    let mut copy_up = true;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => rw = false,
            "rw" => rw = true,
            "nocopy" => copy_up = false,
            "rprivate" => {}
            "z" | "Z" => return Err(invalid(format!(
                "invalid volume specification: '{spec}': whale does not relabel mounts for SELinux (option {o:?}); leave it out"
            ))),
            "shared" | "rshared" | "slave" | "rslave" | "private" => return Err(invalid(format!(
                "invalid volume specification: '{spec}': whale mounts with rprivate propagation only (option {o:?}); leave it out"
            ))),
            "consistent" | "cached" | "delegated" => {}
            _ => return Err(invalid(format!("invalid mode: {o}"))),
        }
    }
    if src.is_empty() {
        return Ok((
            volume_point(String::new(), dest, opts, rw, copy_up),
            Some(Wanted {
                name: None,
                labels: HashMap::new(),
            }),
        ));
    }
    if src.starts_with('/') {
        if opts.split(',').any(|o| o == "nocopy") {
            return Err(invalid(format!("invalid mode: {opts}")));
        }
        return Ok((
            MountPoint {
                kind: Kind::Bind,
                source: clean(src),
                destination: dest.to_string(),
                mode: opts.to_string(),
                rw,
                propagation: "rprivate".into(),
                anonymous: false,
                copy_up: false,
                tmpfs_flags: 0,
                tmpfs_data: String::new(),
                hidden: false,
            },
            None,
        ));
    }
    if !is_valid_name(src) {
        return Err(VolumeError::InvalidName(src.to_string()).into());
    }
    let mode = if opts.is_empty() { "z" } else { opts };
    Ok((
        volume_point(src.to_string(), dest, mode, rw, copy_up),
        Some(Wanted {
            name: Some(src.to_string()),
            labels: HashMap::new(),
        }),
    ))
}

/// `--mount type=...` (HostConfig.Mounts).
fn parse_mount(m: &Mount) -> Result<(MountPoint, Option<Wanted>), ContainerError> {
    let target = m.target.clone().unwrap_or_default();
    let typ = m.typ.map(|t| t.to_string()).unwrap_or_default();
    let bad = |why: String| invalid(format!("invalid mount config for type \"{typ}\": {why}"));
    if target.is_empty() {
        return Err(bad("field Target must not be empty".into()));
    }
    check_destination(&target, &target)?;
    match m.consistency.as_deref().unwrap_or("") {
        "" | "default" | "consistent" => {}
        c => {
            return Err(bad(format!(
                "whale honours the default consistency only, not {c:?}"
            )))
        }
    }
    let rw = !m.read_only.unwrap_or(false);
    let source = m.source.clone().unwrap_or_default();
    match m.typ {
        Some(MountType::BIND) => {
            if m.volume_options.is_some() {
                return Err(bad("field VolumeOptions must not be specified".into()));
            }
            if m.tmpfs_options.is_some() {
                return Err(bad("field TmpfsOptions must not be specified".into()));
            }
            if source.is_empty() {
                return Err(bad("field Source must not be empty".into()));
            }
            if !source.starts_with('/') {
                return Err(bad(format!(
                    "invalid mount path: '{source}' mount path must be absolute"
                )));
            }
            if let Some(o) = &m.bind_options {
                match o.propagation {
                    None
                    | Some(MountBindOptionsPropagationEnum::EMPTY)
                    | Some(MountBindOptionsPropagationEnum::RPRIVATE) => {}
                    Some(p) => {
                        return Err(bad(format!(
                            "whale mounts with rprivate propagation only, not bind-propagation={p}"
                        )))
                    }
                }
                for (set, name) in [
                    (o.non_recursive, "bind-recursive=disabled (NonRecursive)"),
                    (o.create_mountpoint, "CreateMountpoint"),
                    (
                        o.read_only_non_recursive,
                        "bind-recursive=writable (ReadOnlyNonRecursive)",
                    ),
                    (
                        o.read_only_force_recursive,
                        "bind-recursive=readonly (ReadOnlyForceRecursive)",
                    ),
                ] {
                    if set == Some(true) {
                        return Err(bad(format!(
                            "whale does not support {name}; its binds are recursive and read-only as a whole with readonly"
                        )));
                    }
                }
            }
            if !Path::new(&source).exists() {
                return Err(bad(format!("bind source path does not exist: {source}")));
            }
            Ok((
                MountPoint {
                    kind: Kind::Bind,
                    source: clean(&source),
                    destination: target,
                    mode: String::new(),
                    rw,
                    propagation: "rprivate".into(),
                    anonymous: false,
                    copy_up: false,
                    tmpfs_flags: 0,
                    tmpfs_data: String::new(),
                    hidden: false,
                },
                None,
            ))
        }
        Some(MountType::VOLUME) => {
            if m.bind_options.is_some() {
                return Err(bad("field BindOptions must not be specified".into()));
            }
            if m.tmpfs_options.is_some() {
                return Err(bad("field TmpfsOptions must not be specified".into()));
            }
            let mut copy_up = true;
            let mut labels = HashMap::new();
            if let Some(o) = &m.volume_options {
                copy_up = !o.no_copy.unwrap_or(false);
                labels = o.labels.clone().unwrap_or_default();
                if o.subpath.as_deref().is_some_and(|s| !s.is_empty()) {
                    return Err(bad("whale does not mount a volume's subpath (volume-subpath); mount the whole volume".into()));
                }
                if let Some(d) = &o.driver_config {
                    if !matches!(d.name.as_deref(), None | Some("") | Some("local")) {
                        return Err(bad(format!(
                            "whale has the local volume driver only, not {:?}",
                            d.name.as_deref().unwrap_or("")
                        )));
                    }
                    if d.options.as_ref().is_some_and(|o| !o.is_empty()) {
                        return Err(bad(
                            "whale's local driver takes no options (volume-opt)".into()
                        ));
                    }
                }
            }
            if !source.is_empty() && !is_valid_name(&source) {
                return Err(VolumeError::InvalidName(source).into());
            }
            Ok((
                volume_point(source.clone(), &target, "", rw, copy_up),
                Some(Wanted {
                    name: (!source.is_empty()).then_some(source),
                    labels,
                }),
            ))
        }
        Some(MountType::TMPFS) => {
            if !source.is_empty() {
                return Err(bad("field Source must not be specified".into()));
            }
            if m.bind_options.is_some() || m.volume_options.is_some() {
                return Err(bad("only TmpfsOptions may be specified".into()));
            }
            let mut opts = Vec::new();
            if let Some(o) = &m.tmpfs_options {
                if let Some(s) = o.size_bytes.filter(|s| *s != 0) {
                    if s < 0 {
                        return Err(bad(format!("invalid tmpfs-size {s}")));
                    }
                    opts.push(format!("size={s}"));
                }
                if let Some(mode) = o.mode.filter(|m| *m != 0) {
                    opts.push(format!("mode={mode:o}"));
                }
                if o.options.as_ref().is_some_and(|o| !o.is_empty()) {
                    return Err(bad(
                        "whale takes tmpfs-size and tmpfs-mode only, not tmpfs options".into(),
                    ));
                }
            }
            let mut mp = parse_tmpfs(&target, &opts.join(","))?;
            mp.rw = rw;
            mp.hidden = false;
            Ok((mp, None))
        }
        _ => Err(invalid(format!(
            "mount type {typ:?} is not supported by whale: use bind, volume or tmpfs"
        ))),
    }
}

/// `--tmpfs /path[:opts]`: Docker's defaults are nosuid, nodev, noexec.
fn parse_tmpfs(path: &str, opts: &str) -> Result<MountPoint, ContainerError> {
    check_destination(path, path)?;
    let mut flags: u64 = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    let mut rw = true;
    let mut data = Vec::new();
    for o in opts.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let (key, value) = o.split_once('=').unwrap_or((o, ""));
        let flag = |f: libc::c_ulong| -> u64 { f };
        match (key, value.is_empty()) {
            ("ro", true) => rw = false,
            ("rw", true) => rw = true,
            ("exec", true) => flags &= !flag(libc::MS_NOEXEC),
            ("noexec", true) => flags |= flag(libc::MS_NOEXEC),
            ("suid", true) => flags &= !flag(libc::MS_NOSUID),
            ("nosuid", true) => flags |= flag(libc::MS_NOSUID),
            ("dev", true) => flags &= !flag(libc::MS_NODEV),
            ("nodev", true) => flags |= flag(libc::MS_NODEV),
            ("size", false) if is_size(value) => data.push(o.to_string()),
            ("mode", false) if u32::from_str_radix(value, 8).is_ok() => data.push(o.to_string()),
            ("uid" | "gid" | "nr_inodes", false) if value.parse::<u64>().is_ok() => {
                data.push(o.to_string())
            }
            _ => {
                return Err(invalid(format!(
                    "invalid tmpfs option {o:?} for {path}: whale takes ro, rw, exec, noexec, suid, nosuid, dev, nodev, size=, mode=, uid=, gid= and nr_inodes="
                )))
            }
        }
    }
    Ok(MountPoint {
        kind: Kind::Tmpfs,
        source: String::new(),
        destination: path.to_string(),
        mode: String::new(),
        rw,
        propagation: String::new(),
        anonymous: false,
        copy_up: false,
        tmpfs_flags: flags,
        tmpfs_data: data.join(","),
        hidden: true,
    })
}

/// What the kernel's tmpfs takes as `size=`: a number with k, m, g or %.
fn is_size(v: &str) -> bool {
    let digits = v.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G', '%']);
    !digits.is_empty() && digits.len() + 1 >= v.len() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_parse_as_docker() {
        let (b, w) = parse_bind("/h:/c:ro").unwrap();
        assert_eq!(
            (b.kind, b.source.as_str(), b.rw, b.mode.as_str()),
            (Kind::Bind, "/h", false, "ro")
        );
        assert!(w.is_none());
        let (v, w) = parse_bind("data:/d").unwrap();
        assert_eq!((v.kind, v.mode.as_str(), v.rw), (Kind::Volume, "z", true));
        assert_eq!(w.unwrap().name.as_deref(), Some("data"));
        let (a, w) = parse_bind("/anon").unwrap();
        assert!(a.anonymous && w.unwrap().name.is_none());
        for bad in [
            "/h:rel",
            "/h:/",
            "../x:/d",
            "/h:/c:shared",
            "/h:/c:Z",
            "/h:/c:bogus",
            "a:b:c:d",
        ] {
            assert!(parse_bind(bad).is_err(), "{bad}");
        }
        let e = parse_bind("/h:/c:rshared").unwrap_err().to_string();
        assert!(e.contains("rshared"), "{e}");
    }

    #[test]
    fn tmpfs_options_are_checked() {
        let t = parse_tmpfs("/t", "size=64m,mode=1777,exec").unwrap();
        assert_eq!(t.tmpfs_data, "size=64m,mode=1777");
        assert_eq!(t.tmpfs_flags & libc::MS_NOEXEC, 0);
        assert!(t.tmpfs_flags & libc::MS_NOSUID != 0);
        for bad in ["size=lots", "mode=999", "huge=always", "size=1mm"] {
            let e = parse_tmpfs("/t", bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn mounts_refuse_what_whale_cannot_do() {
        let mount = |typ, source: &str| Mount {
            typ: Some(typ),
            source: Some(source.into()),
            target: Some("/t".into()),
            ..Default::default()
        };
        let e = parse_mount(&mount(MountType::BIND, "/no/such/whale/dir"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid mount config for type \"bind\": bind source path does not exist: /no/such/whale/dir"
        );
        assert!(parse_mount(&mount(MountType::NPIPE, "x")).is_err());
        let mut m = mount(MountType::BIND, "/");
        m.bind_options = Some(bollard::models::MountBindOptions {
            propagation: Some(MountBindOptionsPropagationEnum::SHARED),
            ..Default::default()
        });
        assert!(parse_mount(&m)
            .unwrap_err()
            .to_string()
            .contains("bind-propagation"));
        let (v, w) = parse_mount(&mount(MountType::VOLUME, "")).unwrap();
        assert!(v.anonymous && w.unwrap().name.is_none());
    }
}
