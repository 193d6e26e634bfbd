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
}
