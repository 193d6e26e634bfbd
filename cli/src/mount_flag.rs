//! `-v`, `--mount` and `--tmpfs` into the create body, as the docker CLI
//! sends them: `-v SRC:DST` in HostConfig.Binds, `-v DST` in
//! Config.Volumes, `--mount` in HostConfig.Mounts, `--tmpfs` in
//! HostConfig.Tmpfs. The daemon checks (and refuses) what it cannot do.

use bollard::models::{
    Mount, MountBindOptions, MountBindOptionsPropagationEnum, MountTmpfsOptions, MountType,
    MountVolumeOptions, MountVolumeOptionsDriverConfig,
};
use std::collections::HashMap;

/// What `-v` values become: (Binds, Config.Volumes).
pub fn split_volumes(flags: &[String]) -> (Vec<String>, Vec<String>) {
    let mut binds = Vec::new();
    let mut anonymous = Vec::new();
    for v in flags {
        if v.contains(':') {
            binds.push(v.clone());
        } else {
            anonymous.push(v.clone());
        }
    }
    (binds, anonymous)
}

/// `--tmpfs /path[:opts]` into HostConfig.Tmpfs.
pub fn tmpfs_map(flags: &[String]) -> HashMap<String, String> {
    flags
        .iter()
        .map(|t| match t.split_once(':') {
            Some((p, o)) => (p.to_string(), o.to_string()),
            None => (t.clone(), String::new()),
        })
        .collect()
}

fn truthy(key: &str, v: Option<&str>) -> Result<bool, String> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("1" | "true") => Ok(true),
        Some("0" | "false") => Ok(false),
        Some(other) => Err(format!("invalid value for {key}: {other}")),
    }
}

/// One `--mount` value (docker's CSV of key=value pairs).
pub fn parse_mount(spec: &str) -> Result<Mount, String> {
    let wrap = |e: String| format!("invalid argument \"{spec}\" for \"--mount\" flag: {e}");
    let mut m = Mount {
        typ: Some(MountType::VOLUME),
        ..Default::default()
    };
    let mut bind = MountBindOptions::default();
    let mut vol = MountVolumeOptions::default();
    let mut tmpfs = MountTmpfsOptions::default();
    let (mut has_bind, mut has_vol, mut has_tmpfs) = (false, false, false);
    let mut driver = MountVolumeOptionsDriverConfig::default();
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need = || {
            value.ok_or_else(|| wrap(format!("invalid field '{field}' must be a key=value pair")))
        };
        match key.as_str() {
            "type" => {
                m.typ = Some(match need()? {
                    "bind" => MountType::BIND,
                    "volume" => MountType::VOLUME,
                    "tmpfs" => MountType::TMPFS,
                    "npipe" => MountType::NPIPE,
                    "cluster" => MountType::CLUSTER,
                    "image" => MountType::IMAGE,
                    other => return Err(wrap(format!("invalid mount type {other:?}"))),
                })
            }
            "source" | "src" => m.source = Some(need()?.to_string()),
            "target" | "dst" | "destination" => m.target = Some(need()?.to_string()),
            "readonly" | "ro" => m.read_only = Some(truthy(&key, value).map_err(wrap)?),
            "consistency" => m.consistency = Some(need()?.to_string()),
            "bind-propagation" => {
                has_bind = true;
                bind.propagation = Some(match need()? {
                    "private" => MountBindOptionsPropagationEnum::PRIVATE,
                    "rprivate" => MountBindOptionsPropagationEnum::RPRIVATE,
                    "shared" => MountBindOptionsPropagationEnum::SHARED,
                    "rshared" => MountBindOptionsPropagationEnum::RSHARED,
                    "slave" => MountBindOptionsPropagationEnum::SLAVE,
                    "rslave" => MountBindOptionsPropagationEnum::RSLAVE,
                    other => return Err(wrap(format!("invalid bind-propagation {other:?}"))),
                })
            }
            "bind-nonrecursive" => {
                has_bind = true;
                bind.non_recursive = Some(truthy(&key, value).map_err(wrap)?);
            }
            "bind-recursive" => {
                has_bind = true;
                match need()? {
                    "enabled" => {}
                    "disabled" => bind.non_recursive = Some(true),
                    "writable" => bind.read_only_non_recursive = Some(true),
                    "readonly" => bind.read_only_force_recursive = Some(true),
                    other => return Err(wrap(format!("invalid bind-recursive {other:?}"))),
                }
            }
            "bind-create-src" => {
                has_bind = true;
                bind.create_mountpoint = Some(truthy(&key, value).map_err(wrap)?);
            }
            "volume-nocopy" => {
                has_vol = true;
                vol.no_copy = Some(truthy(&key, value).map_err(wrap)?);
            }
            "volume-label" => {
                has_vol = true;
                let (k, v) = need()?.split_once('=').unwrap_or((need()?, ""));
                vol.labels
                    .get_or_insert_with(HashMap::new)
                    .insert(k.to_string(), v.to_string());
            }
            "volume-driver" => {
                has_vol = true;
                driver.name = Some(need()?.to_string());
            }
            "volume-opt" => {
                has_vol = true;
                let (k, v) = need()?.split_once('=').unwrap_or((need()?, ""));
                driver
                    .options
                    .get_or_insert_with(HashMap::new)
                    .insert(k.to_string(), v.to_string());
            }
            "volume-subpath" => {
                has_vol = true;
                vol.subpath = Some(need()?.to_string());
            }
            "tmpfs-size" => {
                has_tmpfs = true;
                tmpfs.size_bytes = Some(
                    whale_args::units::ram_in_bytes(need()?)
                        .map_err(|e| wrap(format!("invalid tmpfs-size: {e}")))?,
                );
            }
            "tmpfs-mode" => {
                has_tmpfs = true;
                tmpfs.mode =
                    Some(i64::from_str_radix(need()?, 8).map_err(|_| {
                        wrap(format!("invalid tmpfs-mode {:?}", value.unwrap_or("")))
                    })?);
            }
            _ => return Err(wrap(format!("unexpected key '{key}' in '{field}'"))),
        }
    }
    if driver.name.is_some() || driver.options.is_some() {
        vol.driver_config = Some(driver);
    }
    m.bind_options = has_bind.then_some(bind);
    m.volume_options = has_vol.then_some(vol);
    m.tmpfs_options = has_tmpfs.then_some(tmpfs);
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_flags_split_as_docker() {
        let (b, a) = split_volumes(&["/h:/c:ro".into(), "/anon".into(), "n:/d".into()]);
        assert_eq!(b, ["/h:/c:ro", "n:/d"]);
        assert_eq!(a, ["/anon"]);
        assert_eq!(tmpfs_map(&["/t:size=1m".into()])["/t"], "size=1m");
    }

    #[test]
    fn mount_flags_parse() {
        let m = parse_mount("type=bind,src=/h,target=/c,readonly").unwrap();
        assert_eq!(m.typ, Some(MountType::BIND));
        assert_eq!(m.read_only, Some(true));
        let m = parse_mount("type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770").unwrap();
        let t = m.tmpfs_options.unwrap();
        assert_eq!((t.size_bytes, t.mode), (Some(1 << 20), Some(0o1770)));
        let m = parse_mount("source=v,target=/d,volume-nocopy").unwrap();
        assert_eq!(m.typ, Some(MountType::VOLUME));
        assert!(parse_mount("type=bind,bogus=1")
            .unwrap_err()
            .contains("bogus"));
    }
}
