//! Seccomp: Docker's default profile (or a profile of the user's, or none),
//! resolved for a container, compiled to classic BPF in pure Rust (no
//! libseccomp: students' machines need no C library) and installed right
//! before execve, after no_new_privs.
//!
//! Only the native ABI is let through: on x86_64 a 32-bit (i386) or x32
//! system call kills the process, where Docker's profile (through
//! libseccomp) lists those ABIs too. Names a profile uses that the syscall
//! table lacks are skipped, as libseccomp skips names it does not know, so
//! they get the default action.

pub mod bpf;
pub mod profile;
#[cfg(target_arch = "x86_64")]
mod syscalls_x86_64;

use serde::{Deserialize, Serialize};
use std::io;
use std::sync::OnceLock;

pub use profile::{Action, Profile, Resolved, Target};

/// Docker's default seccomp profile, `seccomp/default.json` of
/// github.com/moby/profiles v0.2.3 (vendored in github.com/moby/moby at
/// b985e2313a8676e18072b442911fc8f64f17d440), Copyright Docker, Inc. and
/// the moby authors, licensed under the Apache License 2.0
/// (<https://www.apache.org/licenses/LICENSE-2.0>). Data, embedded as is.
pub const DEFAULT_PROFILE: &str = include_str!("default.json");

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp profile: {0}")]
    Profile(String),
    #[error("seccomp: whale has no system call table for this architecture ({0}); run with --security-opt seccomp=unconfined, or add a table (linux/scripts/gen-syscall-table.sh)")]
    UnsupportedArch(&'static str),
    #[error("cannot install the seccomp filter: {0}")]
    Install(io::Error),
}

/// Which filter a container runs under (Docker's `--security-opt seccomp=`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seccomp {
    /// Docker's default profile ([`DEFAULT_PROFILE`]).
    #[default]
    Builtin,
    /// No filter at all.
    Unconfined,
    /// A profile in Docker's JSON format, as the client sent it.
    Custom(String),
    /// A filter the daemon already resolved and compiled for this
    /// container, each instruction packed in a u64 (`code, jt, jf, k`):
    /// what the shim gets, so a container start parses and compiles
    /// nothing (Docker's profile is ~900 lines of JSON).
    Compiled { program: Vec<u64>, flags: u32 },
}

impl Seccomp {
    /// The filter for a container whose bounding set is `caps`, on this
    /// machine; None when unconfined.
    pub fn filter(&self, caps: u64) -> Result<Option<Filter>, SeccompError> {
        let json = match self {
            Seccomp::Unconfined => return Ok(None),
            Seccomp::Builtin => DEFAULT_PROFILE,
            Seccomp::Custom(json) => json.as_str(),
            Seccomp::Compiled { program, flags } => {
                return Ok(Some(Filter {
                    program: program.iter().map(|&p| unpack(p)).collect(),
                    flags: *flags,
                }))
            }
        };
        Filter::compile(&Profile::parse(json)?, caps).map(Some)
    }

    /// This choice compiled for `caps` on this machine, ready for a shim.
    /// The default profile is compiled once per process (the daemon's) and
    /// reused for every container with the same capabilities.
    pub fn compiled(&self, caps: u64) -> Result<Seccomp, SeccompError> {
        static BUILTIN: OnceLock<(u64, Filter)> = OnceLock::new();
        let filter = match self {
            Seccomp::Unconfined | Seccomp::Compiled { .. } => return Ok(self.clone()),
            Seccomp::Builtin => match BUILTIN.get() {
                Some((c, f)) if *c == caps => f.clone(),
                _ => {
                    let f = Filter::compile(&Profile::parse(DEFAULT_PROFILE)?, caps)?;
                    let _ = BUILTIN.set((caps, f.clone()));
                    f
                }
            },
            Seccomp::Custom(json) => Filter::compile(&Profile::parse(json)?, caps)?,
        };
        Ok(Seccomp::Compiled {
            program: filter.program.iter().map(|&i| pack(i)).collect(),
            flags: filter.flags,
        })
    }
}

fn pack(i: bpf::Insn) -> u64 {
    (i.code as u64) << 48 | (i.jt as u64) << 40 | (i.jf as u64) << 32 | i.k as u64
}

fn unpack(p: u64) -> bpf::Insn {
    bpf::Insn {
        code: (p >> 48) as u16,
        jt: (p >> 40) as u8,
        jf: (p >> 32) as u8,
        k: p as u32,
    }
}

/// A compiled filter, ready to install.
#[derive(Debug, Clone)]
pub struct Filter {
    pub program: Vec<bpf::Insn>,
    pub flags: u32,
}

/// What this machine's filters are compiled for.
struct Native {
    go_arch: &'static str,
    syscalls: &'static [(&'static str, u32)],
    arch: bpf::ArchCheck,
}

#[cfg(target_arch = "x86_64")]
fn native() -> Result<Native, SeccompError> {
    Ok(Native {
        go_arch: "amd64",
        syscalls: syscalls_x86_64::SYSCALLS,
        arch: bpf::ArchCheck {
            audit_arch: 0xc000_003e,     // AUDIT_ARCH_X86_64
            nr_limit: Some(0x4000_0000), // __X32_SYSCALL_BIT
        },
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn native() -> Result<Native, SeccompError> {
    Err(SeccompError::UnsupportedArch(std::env::consts::ARCH))
}

/// The running kernel's (major, minor), for profiles' `minKernel`.
pub fn kernel_version() -> Result<(u32, u32), SeccompError> {
    // SAFETY: zeroed utsname is a valid out-parameter for uname.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname writes only into `u`.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(SeccompError::Install(io::Error::last_os_error()));
    }
    let release: String = u
        .release
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8 as char)
        .collect();
    profile::parse_kernel_version(&release).ok_or_else(|| {
        SeccompError::Profile(format!("cannot read the kernel version from {release:?}"))
    })
}

impl Filter {
    /// Resolve `p` for a container with `caps` on this machine, and compile it.
    pub fn compile(p: &Profile, caps: u64) -> Result<Filter, SeccompError> {
        let n = native()?;
        let resolved = p.resolve(&Target {
            go_arch: n.go_arch,
            syscalls: n.syscalls,
            caps,
            kernel: kernel_version()?,
        })?;
        Ok(Filter {
            program: bpf::compile(&resolved, n.arch)?,
            flags: resolved.flags,
        })
    }

    /// Install the filter on the calling thread: seccomp(2)
    /// SECCOMP_SET_MODE_FILTER. Needs no_new_privs (or CAP_SYS_ADMIN);
    /// irrevocable, inherited across fork and execve. Allocates nothing.
    pub fn install(&self) -> Result<(), SeccompError> {
        install_program(&self.program, self.flags)
    }
}

fn install_program(program: &[bpf::Insn], flags: u32) -> Result<(), SeccompError> {
    const _: () = assert!(std::mem::size_of::<bpf::Insn>() == 8);
    const _: () = assert!(std::mem::size_of::<libc::sock_filter>() == 8);
    const _: () = assert!(std::mem::offset_of!(bpf::Insn, jt) == 2);
    const _: () = assert!(std::mem::offset_of!(bpf::Insn, jf) == 3);
    const _: () = assert!(std::mem::offset_of!(bpf::Insn, k) == 4);
    let len = u16::try_from(program.len())
        .map_err(|_| SeccompError::Install(io::Error::from_raw_os_error(libc::EINVAL)))?;
    let prog = libc::sock_fprog {
        len,
        // The kernel only reads the program; Insn is repr(C) with
        // sock_filter's layout (u16 code, u8 jt, u8 jf, u32 k), checked by
        // the asserts above.
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `program`, alive for the call; seccomp only
    // reads it (and copies the program into the kernel).
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            flags as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    if r != 0 {
        return Err(SeccompError::Install(io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::caps;

    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

    fn nr(name: &str) -> u32 {
        let t = syscalls_x86_64::SYSCALLS;
        t[t.binary_search_by(|(n, _)| (*n).cmp(name)).unwrap()].1
    }

    fn default_filter(caps: u64) -> Filter {
        Seccomp::Builtin.filter(caps).unwrap().unwrap()
    }

    fn verdict(f: &Filter, name: &str, args: [u64; 6]) -> u32 {
        bpf::run(&f.program, nr(name), AUDIT_ARCH_X86_64, args)
    }

    const ALLOW: u32 = 0x7fff_0000;
    const EPERM: u32 = 0x0005_0001;
    const ENOSYS: u32 = 0x0005_0026;

    #[test]
    fn table_is_sorted_and_knows_the_usual_calls() {
        let t = syscalls_x86_64::SYSCALLS;
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(nr("read"), 0);
        assert_eq!(nr("keyctl"), 250);
        assert_eq!(nr("clone3"), 435);
    }

    #[test]
    fn docker_default_profile_with_default_caps() {
        let f = default_filter(caps::default_mask());
        assert!(f.program.len() < bpf::MAX_INSNS);
        for ok in [
            "read",
            "write",
            "execve",
            "exit_group",
            "openat",
            "mmap",
            "chroot",
        ] {
            assert_eq!(verdict(&f, ok, [0; 6]), ALLOW, "{ok}");
        }
        for denied in [
            "keyctl",
            "add_key",
            "request_key",
            "unshare",
            "mount",
            "perf_event_open",
            "bpf",
            "init_module",
            "reboot",
            "setns",
        ] {
            assert_eq!(verdict(&f, denied, [0; 6]), EPERM, "{denied}");
        }
        assert_eq!(verdict(&f, "clone3", [0; 6]), ENOSYS);
        // personality: only the values Docker lists.
        assert_eq!(verdict(&f, "personality", [0; 6]), ALLOW);
        assert_eq!(
            verdict(&f, "personality", [0xffff_ffff, 0, 0, 0, 0, 0]),
            ALLOW
        );
        assert_eq!(
            verdict(&f, "personality", [0x0004_0000, 0, 0, 0, 0, 0]),
            EPERM
        ); // ADDR_NO_RANDOMIZE
           // clone: threads and forks yes, new namespaces no.
        let thread = 0x3d0f00; // glibc's pthread_create flags
        assert_eq!(verdict(&f, "clone", [thread, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(verdict(&f, "clone", [0x1000_0000, 0, 0, 0, 0, 0]), EPERM); // CLONE_NEWUSER
                                                                               // socket: Docker allows families < 38, 39 and > 40.
        assert_eq!(verdict(&f, "socket", [2, 1, 0, 0, 0, 0]), ALLOW);
        assert_eq!(verdict(&f, "socket", [39, 1, 0, 0, 0, 0]), ALLOW);
        assert_eq!(verdict(&f, "socket", [40, 1, 0, 0, 0, 0]), EPERM);
        // An unknown number gets the default action; x32 and i386 are killed.
        assert_eq!(bpf::run(&f.program, 9999, AUDIT_ARCH_X86_64, [0; 6]), EPERM);
        assert_eq!(
            bpf::run(&f.program, 0x4000_0000, AUDIT_ARCH_X86_64, [0; 6]),
            0x8000_0000
        );
        assert_eq!(bpf::run(&f.program, 0, 0x4000_0003, [0; 6]), 0x8000_0000);
    }

    #[test]
    fn cap_sys_admin_opens_what_docker_opens() {
        let f = default_filter(caps::default_mask() | 1 << 21);
        for ok in ["mount", "unshare", "setns", "clone3"] {
            assert_eq!(verdict(&f, ok, [0; 6]), ALLOW, "{ok}");
        }
        assert_eq!(verdict(&f, "clone", [0x1000_0000, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(verdict(&f, "keyctl", [0; 6]), EPERM);
    }

    #[test]
    fn unconfined_has_no_filter() {
        assert!(Seccomp::Unconfined.filter(0).unwrap().is_none());
        let json = serde_json::to_string(&Seccomp::Custom("{}".into())).unwrap();
        assert_eq!(json, r#"{"custom":"{}"}"#);
        assert_eq!(
            serde_json::from_str::<Seccomp>("\"builtin\"").unwrap(),
            Seccomp::Builtin
        );
    }

    /// The filter in a real process: a forked child installs it and makes
    /// a denied call, an ENOSYS call and an allowed call; the exit code
    /// carries the three results.
    #[test]
    fn installed_filter_denies_and_allows() {
        let f = default_filter(caps::default_mask());
        // SAFETY: the child only makes raw system calls and _exits (no
        // allocation, no locks), so forking a threaded test binary is sound.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = (|| {
                // SAFETY: prctl with integer arguments only.
                if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                    return 10;
                }
                if let Err(SeccompError::Install(e)) = install_program(&f.program, f.flags) {
                    return 100 + e.raw_os_error().unwrap_or(0);
                }
                let errno = || io::Error::last_os_error().raw_os_error().unwrap_or(0);
                // SAFETY: keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0): integers only.
                let r = unsafe { libc::syscall(libc::SYS_keyctl, 0, -4i64, 0) };
                if r != -1 || errno() != libc::EPERM {
                    return 12;
                }
                // SAFETY: clone3 with a null argument: the filter answers before the kernel reads it.
                let r = unsafe { libc::syscall(libc::SYS_clone3, 0usize, 0usize) };
                if r != -1 || errno() != libc::ENOSYS {
                    return 13;
                }
                // SAFETY: getpid takes no arguments.
                if unsafe { libc::syscall(libc::SYS_getpid) } <= 0 {
                    return 14;
                }
                0
            })();
            // SAFETY: _exit ends the child without running the parent's destructors.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for our own child; `status` is a valid out-parameter.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(r, pid);
        assert!(libc::WIFEXITED(status), "child died: status {status:#x}");
        assert_eq!(libc::WEXITSTATUS(status), 0, "see the codes in the child");
    }

    #[test]
    fn a_compiled_choice_carries_the_same_program() {
        let caps = caps::default_mask();
        let direct = Seccomp::Builtin.filter(caps).unwrap().unwrap();
        let compiled = Seccomp::Builtin.compiled(caps).unwrap();
        let again = Seccomp::Builtin.compiled(caps).unwrap();
        assert_eq!(compiled, again, "the cached default is the same filter");
        let json = serde_json::to_string(&compiled).unwrap();
        let back: Seccomp = serde_json::from_str(&json).unwrap();
        let f = back.filter(caps).unwrap().unwrap();
        assert_eq!(f.program, direct.program);
        assert_eq!(f.flags, direct.flags);
        assert_eq!(
            Seccomp::Unconfined.compiled(caps).unwrap(),
            Seccomp::Unconfined
        );
        let i = bpf::Insn {
            code: 0x15,
            jt: 3,
            jf: 250,
            k: 0xdead_beef,
        };
        assert_eq!(unpack(pack(i)), i);
    }
}
