//! Rootless mode, the engine's side: a daemon started by a normal user
//! moves into the user namespace kept for its store (see
//! `linux::userns`) before it does anything else, and the rest of the
//! engine asks [`active`] where rootless differs (no cgroups without
//! delegation, ports below 1024, /sys of the host's network).

/// Is this process part of a rootless engine (in a user namespace of its
/// own rather than the host's)?
pub fn active() -> bool {
    crate::linux::userns::in_rootless_namespace()
}

/// As a normal user, enter the rootless user namespace for `root` (made
/// if need be; its holder keeps it for the shims and the next daemon).
/// As root, nothing: root mode is the host's namespace, as always. Must be
/// called while the process is single-threaded.
pub fn enter_if_unprivileged(root: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    crate::paths::close_root(root)
        .with_context(|| format!("creating the root dir {} (mode 0700)", root.display()))?;
    let entered = crate::linux::userns::enter(root).context("rootless mode")?;
    let how = if entered.created { "made" } else { "joined" };
    eprintln!(
        "whale daemon: rootless: {how} the user namespace of pid {} (uids {}, gids {})",
        entered.holder_pid,
        crate::linux::userns::IdMap::describe(&entered.map.uids),
        crate::linux::userns::IdMap::describe(&entered.map.gids),
    );
    if entered.map.is_single() {
        eprintln!(
            "whale daemon: note: {}",
            crate::linux::userns::SINGLE_ID_NOTE
        );
    }
    use crate::linux::cgroup::delegation;
    match delegation::current() {
        Ok(base) => {
            if let Err(e) = delegation::settle_daemon(&base, std::process::id() as i32) {
                eprintln!(
                    "whale daemon: rootless: cannot leave the delegated cgroup {} for its leaf ({e}); container limits will fail until it holds no other process",
                    base.display()
                );
            }
            // Single-threaded still: the shims inherit where containers go.
            std::env::set_var(delegation::BASE_ENV, &base);
            eprintln!(
                "whale daemon: rootless: container cgroups under {}",
                base.display()
            );
        }
        Err(missing) => eprintln!("whale daemon: rootless: no cgroup limits ({missing})"),
    }
    Ok(())
}

/// `name=rootless,uidmap=0:1000:1 1:100000:65536,gidmap=...` for
/// `SecurityOptions` (the docker CLI shows each key under the option's
/// name); `None` in root mode.
pub fn info_option() -> Option<String> {
    if !active() {
        return None;
    }
    let map = crate::linux::userns::current_map();
    let show = |r: &[crate::linux::userns::IdRange]| {
        crate::linux::userns::IdMap::describe(r).replace(',', " ")
    };
    Some(format!(
        "name=rootless,uidmap={},gidmap={}",
        show(&map.uids),
        show(&map.gids)
    ))
}

/// What `info` warns of in rootless mode: a single-id map, no cgroups.
pub fn warnings() -> Vec<String> {
    let mut out = Vec::new();
    if !active() {
        return out;
    }
    if crate::linux::userns::current_map().is_single() {
        out.push(format!("WARNING: {}", crate::linux::userns::SINGLE_ID_NOTE));
    }
    if let Some(missing) = crate::linux::cgroup::delegation::cgroups_unavailable() {
        out.push(format!(
            "WARNING: No cgroup limits in rootless mode ({missing}): --memory, --cpus, --pids-limit \
             and the other limits are refused; {}",
            crate::linux::cgroup::delegation::HOW_TO_DELEGATE
        ));
    }
    out
}

/// The lowest port a user may bind (`net.ipv4.ip_unprivileged_port_start`,
/// 1024 when it cannot be read).
pub fn unprivileged_port_start() -> u16 {
    crate::linux::procfs::unprivileged_port_start()
}

/// Whether the engine can enforce resource limits: always as root; rootless
/// only with a delegated cgroup v2 subtree (without one, limits are refused).
pub fn limits_enforced() -> bool {
    crate::linux::cgroup::delegation::cgroups_unavailable().is_none()
}
