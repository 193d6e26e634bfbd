//! The cgroup options whose support depends on the host: swappiness, cpusets
//! and device cgroup rules, checked at create as dockerd checks them, and
//! refused with the reason where the host's cgroup version cannot carry
//! them out (never accepted and dropped).

use super::ContainerError;
use crate::linux::cgroup::{self, cpuset, Version};
use bollard::models::HostConfig;
use std::path::Path;

pub(super) fn validate(hc: &HostConfig, version: Version) -> Result<(), ContainerError> {
    let invalid = |m: String| Err(ContainerError::Invalid(m));
    // -1 is what the docker CLI sends when the flag is not given.
    if let Some(s) = hc.memory_swappiness.filter(|s| *s != -1) {
        if !(0..=100).contains(&s) {
            return invalid(format!(
                "Invalid value: {s}, valid memory swappiness range is 0-100"
            ));
        }
        if version == Version::V2 {
            return invalid(
                "HostConfig.MemorySwappiness (--memory-swappiness) is not supported by whale on \
                 cgroup v2: v2 has no per-cgroup swappiness (dockerd discards the value with a \
                 warning); leave it unset, or limit swap with --memory-swap"
                    .into(),
            );
        }
    }
    let root = Path::new(cgroup::CGROUP_ROOT);
    for (kind, value) in [
        (cpuset::Kind::Cpus, &hc.cpuset_cpus),
        (cpuset::Kind::Mems, &hc.cpuset_mems),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            cpuset::check(kind, v, &cpuset::host_list(root, kind))
                .map_err(ContainerError::Invalid)?;
        }
    }
    let rules = hc.device_cgroup_rules.as_deref().unwrap_or_default();
    for rule in rules {
        if !is_device_rule(rule) {
            return invalid(format!(
                "invalid device cgroup rule format: '{rule}' (write TYPE MAJOR:MINOR ACCESS, like 'c 7:128 rwm')"
            ));
        }
    }
    if !rules.is_empty() && version == Version::V2 && !hc.privileged.unwrap_or(false) {
        return invalid(
            "HostConfig.DeviceCgroupRules (--device-cgroup-rule) is not supported by whale on \
             cgroup v2: device access there is an eBPF program, which whale does not load; use \
             --device for a host node, or --privileged"
                .into(),
        );
    }
    Ok(())
}

/// The cgroup limits `hc` asks for, by their flags: what a rootless engine
/// without a delegated cgroup must refuse (it has nowhere to write them).
pub(super) fn requested_limits(hc: &HostConfig) -> Vec<&'static str> {
    let set = |v: Option<i64>| v.is_some_and(|v| v > 0);
    let nonempty = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
    [
        (set(hc.memory), "--memory"),
        (set(hc.memory_swap), "--memory-swap"),
        (set(hc.nano_cpus), "--cpus"),
        (set(hc.cpu_shares), "--cpu-shares"),
        (set(hc.pids_limit), "--pids-limit"),
        (
            hc.memory_swappiness.is_some_and(|s| s != -1),
            "--memory-swappiness",
        ),
        (nonempty(&hc.cpuset_cpus), "--cpuset-cpus"),
        (nonempty(&hc.cpuset_mems), "--cpuset-mems"),
        (
            hc.device_cgroup_rules
                .as_ref()
                .is_some_and(|r| !r.is_empty()),
            "--device-cgroup-rule",
        ),
    ]
    .into_iter()
    .filter_map(|(asked, flag)| asked.then_some(flag))
    .collect()
}

/// Refuse every limit when this engine has no cgroup to write it in
/// (rootless without delegation), saying why and what would enable it.
pub(super) fn refuse_without_cgroups(
    hc: &HostConfig,
    missing: Option<cgroup::delegation::Missing>,
) -> Result<(), ContainerError> {
    let Some(missing) = missing else {
        return Ok(());
    };
    let flags = requested_limits(hc);
    if flags.is_empty() {
        return Ok(());
    }
    Err(ContainerError::Invalid(format!(
        "{} refused: whale runs rootless and has no cgroup to enforce limits in ({missing}); {}",
        flags.join(", "),
        cgroup::delegation::HOW_TO_DELEGATE
    )))
}

/// dockerd's `^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$`.
fn is_device_rule(rule: &str) -> bool {
    let number = |s: &str| s == "*" || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    let parts: Vec<&str> = rule.split(' ').collect();
    let [kind, numbers, access] = parts[..] else {
        return false;
    };
    let Some((major, minor)) = numbers.split_once(':') else {
        return false;
    };
    matches!(kind, "a" | "b" | "c")
        && number(major)
        && number(minor)
        && (1..=3).contains(&access.len())
        && access.bytes().all(|b| matches!(b, b'r' | b'w' | b'm'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootless_without_delegation_refuses_every_limit_with_the_reason() {
        let missing = || {
            Some(cgroup::delegation::Missing {
                why: "this host runs cgroup v1".into(),
            })
        };
        let limited = hc(|h| {
            h.memory = Some(32 << 20);
            h.pids_limit = Some(5);
            h.memory_swappiness = Some(-1);
        });
        let err = refuse_without_cgroups(&limited, missing())
            .unwrap_err()
            .to_string();
        assert!(err.contains("--memory, --pids-limit refused"), "{err}");
        assert!(
            err.contains("cgroup v1") && err.contains("Delegate=yes"),
            "{err}"
        );
        // Nothing asked (the CLI's -1 and 0 mean unset): nothing refused.
        let plain = hc(|h| {
            h.memory = Some(0);
            h.memory_swappiness = Some(-1);
        });
        assert!(refuse_without_cgroups(&plain, missing()).is_ok());
        // Root mode or a delegated subtree: limits go through.
        assert!(refuse_without_cgroups(&limited, None).is_ok());
    }

    fn hc(f: impl FnOnce(&mut HostConfig)) -> HostConfig {
        let mut h = HostConfig::default();
        f(&mut h);
        h
    }

    fn err(h: &HostConfig, v: Version) -> String {
        validate(h, v).unwrap_err().to_string()
    }

    #[test]
    fn swappiness_in_range_on_v1_refused_on_v2() {
        let ok = hc(|h| h.memory_swappiness = Some(40));
        validate(&ok, Version::V1).unwrap();
        validate(&hc(|h| h.memory_swappiness = Some(-1)), Version::V2).unwrap();
        assert!(err(&ok, Version::V2).contains("cgroup v2"));
        let bad = hc(|h| h.memory_swappiness = Some(101));
        assert!(err(&bad, Version::V1).contains("valid memory swappiness range is 0-100"));
    }

    #[test]
    fn device_rules_in_dockers_format() {
        for good in ["c 7:128 rwm", "b *:* m", "a 1:2 r"] {
            assert!(is_device_rule(good), "{good}");
        }
        for bad in [
            "c 7:128",
            "x 1:2 r",
            "c 1:2 rwmw",
            "c a:2 r",
            "c 1:2  r",
            "",
        ] {
            assert!(!is_device_rule(bad), "{bad:?}");
        }
        let rules = |r: &str| hc(|h| h.device_cgroup_rules = Some(vec![r.to_string()]));
        validate(&rules("c 7:128 rwm"), Version::V1).unwrap();
        assert!(err(&rules("c 7 rwm"), Version::V1).contains("'c 7 rwm'"));
        assert!(err(&rules("c 7:128 rwm"), Version::V2).contains("eBPF"));
    }

    #[test]
    fn cpusets_must_parse() {
        let bad = hc(|h| h.cpuset_cpus = Some("0-".into()));
        assert!(err(&bad, Version::V1).starts_with("Invalid value 0- for cpuset cpus"));
        // CPU 0 exists on every host.
        validate(&hc(|h| h.cpuset_cpus = Some("0".into())), Version::V1).unwrap();
    }
}
