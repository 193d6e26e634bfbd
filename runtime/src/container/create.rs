//! Create: Docker's merge of the image config into the request, the host
//! config whale honours or refuses, Path/Args, and the record.

use super::{Container, ContainerError, Engine, NewContainer};
use crate::image::config::RunConfig;
use bollard::models::{ContainerConfig, HostConfig};
use std::collections::HashMap;
use std::sync::Arc;

/// Docker's floor for `--memory`.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// A create request, as the API splits Docker's create body.
pub struct CreateRequest {
    pub name: Option<String>,
    /// With `config.image` naming the image to run.
    pub config: ContainerConfig,
    pub host_config: HostConfig,
}

/// Resolve the image, merge its config, refuse what whale cannot honour,
/// and write the record.
pub async fn create<E: Engine>(
    e: &Arc<E>,
    req: CreateRequest,
) -> Result<Arc<Container>, ContainerError> {
    let CreateRequest {
        name,
        config,
        mut host_config,
    } = req;
    if let Some(n) = &name {
        if !super::names::is_valid_name(n) {
            return Err(ContainerError::InvalidName(n.clone()));
        }
    }
    let image_ref = config
        .image
        .clone()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| {
            ContainerError::Invalid("Config.Image is empty: say which image to run".into())
        })?;
    let image = e.images().resolve(&image_ref).map_err(|err| {
        if err.status_code() == 404 {
            ContainerError::NoSuchImage(whale_formats::reference::with_default_tag(&image_ref))
        } else {
            ContainerError::Image(err)
        }
    })?;
    validate_host_config(&mut host_config)?;
    let mut config = config;
    super::network::validate_create(&mut config, &mut host_config, e.containers())?;
    super::links::resolve(&mut host_config, e.containers())?;
    super::health::validate(config.healthcheck.as_ref()).map_err(ContainerError::Invalid)?;
    let mut cfg = merge_image_config(config, &image.config.config);
    super::ports::validate(&cfg, &host_config)?;
    cfg.image = Some(image_ref.clone());
    let (path, args) = path_and_args(&cfg)?;
    let mut config_volumes: Vec<String> = cfg.volumes.clone().unwrap_or_default();
    for v in image.config.config.volumes.iter().flat_map(|v| v.keys()) {
        if !config_volumes.contains(v) {
            config_volumes.push(v.clone());
        }
    }
    let mounts = {
        let e2 = e.clone();
        let hc = host_config.clone();
        tokio::task::spawn_blocking(move || {
            let inherited = super::volumes_from::inherited(&hc, e2.containers())?;
            super::mounts::resolve(&hc, &config_volumes, inherited, e2.containers().volumes())
        })
        .await
        .map_err(super::error::task_err("resolving the mounts"))??
    };
    let new = NewContainer {
        build_step: false,
        name,
        image_id: image.id.clone(),
        image: image_ref,
        path,
        args,
        config: cfg,
        host_config,
        mounts,
    };
    super::trace(|| "create: image resolved".to_string());
    let e2 = e.clone();
    tokio::task::spawn_blocking(move || {
        let anonymous: Vec<String> = new
            .mounts
            .iter()
            .filter(|m| m.anonymous)
            .filter_map(|m| m.volume_name().map(str::to_string))
            .collect();
        let made = create_record(&*e2, new);
        if made.is_err() {
            // The anonymous volumes were made for this container alone.
            for name in anonymous {
                let _ = e2.containers().volumes().remove(&name, Vec::new());
            }
        }
        made
    })
    .await
    .map_err(super::error::task_err("creating the container"))?
}

/// Write the record (blocking on the disk) and announce it.
pub fn create_record<E: Engine>(
    e: &E,
    new: NewContainer,
) -> Result<Arc<Container>, ContainerError> {
    let c = e.containers().create(new)?;
    // dockerd announces every volume a new container names, made now or not.
    for name in c.record.mounts.iter().filter_map(|m| m.volume_name()) {
        e.volume_event(name, "create", &[]);
    }
    e.container_event(&c, "create", &[]);
    Ok(c)
}

/// Docker's merge of the image config into the container config
/// (daemon/commit.go `merge`): the request wins; an empty Entrypoint in the
/// request takes the image's Cmd only when the request has no Cmd either.
pub fn merge_image_config(mut cfg: ContainerConfig, image: &RunConfig) -> ContainerConfig {
    if cfg.user.as_deref().unwrap_or("").is_empty() && !image.user.is_empty() {
        cfg.user = Some(image.user.clone());
    }
    if let Some(ports) = &image.exposed_ports {
        let mut mine = cfg.exposed_ports.take().unwrap_or_default();
        for p in ports.keys() {
            if !mine.contains(p) {
                mine.push(p.clone());
            }
        }
        cfg.exposed_ports = Some(mine);
    }
    match (&mut cfg.env, &image.env) {
        (None, Some(ie)) => cfg.env = Some(ie.clone()),
        (Some(e), Some(ie)) if e.is_empty() => *e = ie.clone(),
        (Some(e), Some(ie)) => {
            for ienv in ie {
                let key = ienv.split('=').next().unwrap_or("");
                if !e.iter().any(|x| x.split('=').next() == Some(key)) {
                    e.push(ienv.clone());
                }
            }
        }
        _ => {}
    }
    if let Some(il) = &image.labels {
        let labels = cfg.labels.get_or_insert_with(HashMap::new);
        for (k, v) in il {
            labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    // `--entrypoint ""` arrives as [""]: it clears the image's entrypoint.
    if cfg
        .entrypoint
        .as_ref()
        .is_some_and(|e| e.len() == 1 && e[0].is_empty())
    {
        cfg.entrypoint = Some(vec![]);
    }
    if cfg.entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
        if cfg.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            cfg.cmd = image.cmd.clone();
        }
        if cfg.entrypoint.is_none() {
            cfg.entrypoint = image.entrypoint.clone();
        }
    }
    if cfg.working_dir.as_deref().unwrap_or("").is_empty() && !image.working_dir.is_empty() {
        cfg.working_dir = Some(image.working_dir.clone());
    }
    cfg.healthcheck = super::health::merge(
        cfg.healthcheck.take(),
        image
            .healthcheck
            .as_ref()
            .map(super::health::from_image)
            .as_ref(),
    );
    if cfg.stop_signal.as_deref().unwrap_or("").is_empty() {
        if let Some(s) = &image.stop_signal {
            cfg.stop_signal = Some(s.clone());
        }
    }
    cfg
}

/// Path and Args as Docker splits Entrypoint + Cmd.
pub fn path_and_args(cfg: &ContainerConfig) -> Result<(String, Vec<String>), ContainerError> {
    let mut argv: Vec<String> = cfg.entrypoint.clone().unwrap_or_default();
    argv.extend(cfg.cmd.clone().unwrap_or_default());
    if argv.is_empty() {
        return Err(ContainerError::Invalid("No command specified".into()));
    }
    let path = argv.remove(0);
    Ok((path, argv))
}

/// `--add-host NAME:IP` as Docker takes it (an IPv6 address keeps its
/// colons): the name and the address.
pub fn split_extra_host(h: &str) -> Result<(String, String), ContainerError> {
    let bad = |why: &str| {
        ContainerError::Invalid(format!(
            "invalid extra host {h:?}: {why}; write NAME:IP, like db:127.0.0.1"
        ))
    };
    let (name, ip) = h.split_once(':').ok_or_else(|| bad("no ':'"))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(bad("the name is empty or has spaces"));
    }
    if ip == "host-gateway" {
        return Err(bad(
            "host-gateway needs a bridge, which whale does not make; name the address",
        ));
    }
    ip.parse::<std::net::IpAddr>()
        .map_err(|_| bad("not an IP address"))?;
    Ok((name.to_string(), ip.to_string()))
}

/// A checked `--add-host` entry, as given.
pub fn parse_extra_host(h: &str) -> Result<String, ContainerError> {
    split_extra_host(h).map(|_| h.to_string())
}

/// Docker's checks of a HostConfig (create; the builder's RUN steps).
pub fn validate_host_config(hc: &mut HostConfig) -> Result<(), ContainerError> {
    for h in hc.extra_hosts.iter().flatten() {
        split_extra_host(h)?;
    }
    match hc.network_mode.as_deref().unwrap_or("") {
        "" => hc.network_mode = Some("default".to_string()),
        "default" | "bridge" | "none" | "host" => {}
        // Checked with the config by network.rs.
        m if m.starts_with("container:") => {}
        m => return Err(ContainerError::NoSuchNetwork(m.to_string())),
    }
    validate_runtime(hc)?;
    validate_limits(hc)?;
    super::log_config::validate(hc)?;
    super::restart::validate(hc)?;
    // Honour or refuse: seccomp profiles and no-new-privileges are whale's;
    // apparmor, labels and anything else are refused, naming the option.
    super::security::seccomp_from_security_opts(hc.security_opt.as_deref())
        .map_err(|e| ContainerError::Invalid(e.to_string()))?;
    super::privileges::resolve(hc).map_err(ContainerError::Invalid)?;
    Ok(())
}

/// `--runtime`: whale runs every container with its own shim, so it takes
/// its own name, or runc: Docker's default runtime, which clients name to
/// mean "the standard one" and whose part the shim plays. Any other runtime
/// (gVisor, kata, nvidia...) would be a promise whale cannot keep.
fn validate_runtime(hc: &HostConfig) -> Result<(), ContainerError> {
    match hc.runtime.as_deref().unwrap_or("") {
        "" | "whale" | "runc" => Ok(()),
        r => Err(ContainerError::Invalid(format!(
            "Unknown runtime specified {r}: whale runs containers with its own runtime only \
             (--runtime whale, or runc, Docker's default, whose part whale's shim plays)"
        ))),
    }
}

/// Docker's checks of the limits (create and update).
pub(super) fn validate_limits(hc: &HostConfig) -> Result<(), ContainerError> {
    if let Some(m) = hc.memory.filter(|m| *m != 0) {
        if m < MIN_MEMORY {
            return Err(ContainerError::Invalid(
                "Minimum memory limit allowed is 6MB".into(),
            ));
        }
        if let Some(s) = hc.memory_swap.filter(|s| *s > 0) {
            if s < m {
                return Err(ContainerError::Invalid(
                    "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
                ));
            }
        }
    }
    if hc.nano_cpus.is_some_and(|n| n < 0) {
        return Err(ContainerError::Invalid(
            "Range of CPUs is from 0.01 to the number of CPUs available".into(),
        ));
    }
    super::cgroup_options::refuse_without_cgroups(
        hc,
        crate::linux::cgroup::delegation::cgroups_unavailable(),
    )?;
    super::cgroup_options::validate(hc, crate::linux::cgroup::host_version())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|x| x.to_string()).collect())
    }

    fn image() -> RunConfig {
        RunConfig {
            cmd: s(&["sh"]),
            entrypoint: None,
            env: s(&["PATH=/img/bin", "A=image"]),
            working_dir: "/srv".into(),
            user: "nobody".into(),
            labels: Some([("l".to_string(), "image".to_string())].into()),
            exposed_ports: None,
            stop_signal: Some("SIGQUIT".into()),
            ..Default::default()
        }
    }

    #[test]
    fn merge_takes_image_defaults() {
        let m = merge_image_config(ContainerConfig::default(), &image());
        assert_eq!(m.cmd, s(&["sh"]));
        assert_eq!(m.entrypoint, None);
        assert_eq!(m.env, s(&["PATH=/img/bin", "A=image"]));
        assert_eq!(m.working_dir.as_deref(), Some("/srv"));
        assert_eq!(m.user.as_deref(), Some("nobody"));
        assert_eq!(m.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(path_and_args(&m).unwrap(), ("sh".to_string(), vec![]));
    }

    #[test]
    fn merge_request_wins() {
        let req = ContainerConfig {
            cmd: s(&["echo", "hi"]),
            env: s(&["A=mine", "B=1"]),
            user: Some("0".into()),
            ..Default::default()
        };
        let m = merge_image_config(req, &image());
        assert_eq!(m.cmd, s(&["echo", "hi"]));
        assert_eq!(m.env, s(&["A=mine", "B=1", "PATH=/img/bin"]));
        assert_eq!(m.user.as_deref(), Some("0"));
    }

    #[test]
    fn entrypoint_in_request_drops_image_cmd() {
        let mut img = image();
        img.entrypoint = s(&["/entry"]);
        let m = merge_image_config(
            ContainerConfig {
                entrypoint: s(&["/bin/date"]),
                ..Default::default()
            },
            &img,
        );
        assert_eq!(
            (m.entrypoint.clone(), m.cmd.clone()),
            (s(&["/bin/date"]), None)
        );
        assert_eq!(path_and_args(&m).unwrap().0, "/bin/date");
        // Image entrypoint + request cmd.
        let m = merge_image_config(
            ContainerConfig {
                cmd: s(&["-x"]),
                ..Default::default()
            },
            &img,
        );
        assert_eq!(
            path_and_args(&m).unwrap(),
            ("/entry".to_string(), vec!["-x".to_string()])
        );
        // `--entrypoint ""` clears the image's and runs the image's Cmd.
        let m = merge_image_config(
            ContainerConfig {
                entrypoint: s(&[""]),
                ..Default::default()
            },
            &img,
        );
        assert_eq!(path_and_args(&m).unwrap().0, "sh");
    }

    #[test]
    fn no_command_is_an_error() {
        let mut img = image();
        img.cmd = None;
        let m = merge_image_config(ContainerConfig::default(), &img);
        assert_eq!(
            path_and_args(&m).unwrap_err().to_string(),
            "No command specified"
        );
    }

    #[test]
    fn host_config_validation() {
        let mut hc = HostConfig::default();
        validate_host_config(&mut hc).unwrap();
        assert_eq!(hc.network_mode.as_deref(), Some("default"));
        hc.memory = Some(1024);
        assert!(matches!(
            validate_host_config(&mut hc),
            Err(ContainerError::Invalid(_))
        ));
        let mut hc = HostConfig {
            network_mode: Some("mynet".into()),
            ..Default::default()
        };
        assert!(matches!(
            validate_host_config(&mut hc),
            Err(ContainerError::NoSuchNetwork(_))
        ));
        // Security options are honoured or refused, naming the option.
        let opts = |o: &[&str]| HostConfig {
            security_opt: s(o),
            ..Default::default()
        };
        for ok in [&["seccomp=unconfined"][..], &["no-new-privileges"], &[]] {
            validate_host_config(&mut opts(ok)).unwrap();
        }
        for bad in [
            "apparmor=unconfined",
            "label=disable",
            "seccomp={not json",
            "no-new-privileges:false",
        ] {
            match validate_host_config(&mut opts(&[bad])) {
                Err(ContainerError::Invalid(m)) => {
                    let key = bad.split(['=', ':']).next().unwrap();
                    assert!(m.contains(key), "{bad}: {m}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
