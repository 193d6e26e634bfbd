//! Capabilities: Docker's default set, and no_new_privs.

use std::io;

/// Docker's default capabilities (moby `oci/caps/defaults.go`).
pub const DOCKER_DEFAULT_CAPS: &[u32] = &[
    0,  // CAP_CHOWN
    1,  // CAP_DAC_OVERRIDE
    3,  // CAP_FOWNER
    4,  // CAP_FSETID
    5,  // CAP_KILL
    6,  // CAP_SETGID
    7,  // CAP_SETUID
    8,  // CAP_SETPCAP
    10, // CAP_NET_BIND_SERVICE
    13, // CAP_NET_RAW
    18, // CAP_SYS_CHROOT
    27, // CAP_MKNOD
    29, // CAP_AUDIT_WRITE
    31, // CAP_SETFCAP
];

/// The default set as the two 32-bit words capset(2) takes.
pub fn default_mask() -> u64 {
    DOCKER_DEFAULT_CAPS
        .iter()
        .fold(0u64, |m, c| m | (1u64 << c))
}

/// Capability names by number (linux/capability.h), as Docker spells them.
pub const CAP_NAMES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The number of a capability named as Docker spells it (`CAP_SYS_ADMIN`).
pub fn cap_number(name: &str) -> Option<u32> {
    CAP_NAMES.iter().position(|n| *n == name).map(|i| i as u32)
}

/// The highest capability this kernel knows (`/proc/sys/kernel/cap_last_cap`),
/// bounded by the names whale knows.
pub fn last_cap() -> u32 {
    let known = CAP_NAMES.len() as u32 - 1;
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .map_or(known, |k| k.min(known))
}

/// Every capability this kernel has and whale itself holds in its
/// bounding set: Docker's `ALL` and `--privileged`. (dockerd asks for the
/// kernel's whole list and fails to start the container when it runs
/// without one of them, e.g. in a container itself; whale gives what it has.)
pub fn all_mask() -> u64 {
    (0..=last_cap())
        .filter(|c| {
            // SAFETY: prctl with integer arguments only.
            unsafe { libc::prctl(libc::PR_CAPBSET_READ, *c as libc::c_ulong, 0, 0, 0) == 1 }
        })
        .fold(0u64, |m, c| m | (1u64 << c))
}

/// Drop every capability outside `keep` from the bounding set. Needs
/// CAP_SETPCAP, so call it before changing user.
pub fn limit_bounding_set(keep: u64) -> io::Result<()> {
    for cap in 0..64u32 {
        if keep & (1u64 << cap) != 0 {
            continue;
        }
        // SAFETY: prctl with integer arguments only.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if r != 0 {
            let e = io::Error::last_os_error();
            // EINVAL: past the kernel's last capability; we are done.
            if e.raw_os_error() == Some(libc::EINVAL) {
                break;
            }
            return Err(e);
        }
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Set effective and permitted to `mask`, clear inheritable and ambient.
///
/// Inheritable stays empty as in Docker since the fix for CVE-2022-29162
/// (moby 20.10.16, runc 1.1.2; this machine's docker shows CapInh 0): with
/// inheritable caps, a non-root user could gain them by running a binary
/// that carries file inheritable capabilities.
pub fn set_capabilities(mask: u64) -> io::Result<()> {
    let mut hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let lo = mask as u32;
    let hi = (mask >> 32) as u32;
    let data = [
        CapData {
            effective: lo,
            permitted: lo,
            inheritable: 0,
        },
        CapData {
            effective: hi,
            permitted: hi,
            inheritable: 0,
        },
    ];
    // SAFETY: header and a two-element data array of the v3 layout, both
    // alive for the call.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: prctl with integer arguments only.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Keep the permitted set across setuid (so we can set the final sets
/// ourselves afterwards).
pub fn keep_caps(on: bool) -> io::Result<()> {
    Ok(nix::sys::prctl::set_keepcaps(on)?)
}

pub fn set_no_new_privs() -> io::Result<()> {
    Ok(nix::sys::prctl::set_no_new_privs()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set_has_dockers_fourteen() {
        let m = default_mask();
        assert_eq!(m.count_ones(), 14);
        assert_eq!(m, 0xa80425fb); // CapBnd of a default `docker run`
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(cap_number("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(cap_number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(cap_number("SYS_ADMIN"), None);
        for c in DOCKER_DEFAULT_CAPS {
            assert!(CAP_NAMES[*c as usize].starts_with("CAP_"));
        }
        let all = all_mask();
        assert_eq!(all & default_mask(), default_mask());
        assert!(all.count_ones() >= 30, "{all:x}");
    }
}
