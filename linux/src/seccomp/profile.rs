//! Docker's seccomp profile format (moby `profiles/seccomp`), and its
//! resolution for one container: the rules whose `includes`/`excludes`
//! match the container's capabilities, the native arch and the running
//! kernel, with syscall names turned into numbers. The result is what the
//! BPF compiler takes; nothing here talks to the kernel.
//!
//! Resolution follows moby's `setupSeccomp` and runc's filter building:
//! `name` and `names` are one list; an exclude that matches drops the rule,
//! an include that does not match drops it; rules whose action is the
//! default action are dropped (runc); a rule naming one argument index more
//! than once becomes one rule per condition, OR'ed (runc), else its
//! conditions are AND'ed; names the syscall table lacks are skipped (as
//! libseccomp skips names it does not know).

use serde::Deserialize;

use super::SeccompError;
// Profiles name capabilities as Docker does: one table for the crate.
use crate::caps::CAP_NAMES;

/// A profile as Docker's JSON spells it. Unknown fields (`comment`, ...)
/// are ignored, as Go's decoder ignores them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: String,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
    #[serde(default)]
    pub arch_map: Option<Vec<ArchMap>>,
    #[serde(default)]
    pub flags: Option<Vec<String>>,
    #[serde(default)]
    pub listener_path: Option<String>,
    #[serde(default)]
    pub syscalls: Option<Vec<Syscall>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: String,
    #[serde(default)]
    pub sub_architectures: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Syscall {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub names: Option<Vec<String>>,
    pub action: String,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<Arg>>,
    #[serde(default)]
    pub includes: Option<Filter>,
    #[serde(default)]
    pub excludes: Option<Filter>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: u32,
    #[serde(default)]
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default)]
    pub caps: Option<Vec<String>>,
    #[serde(default)]
    pub arches: Option<Vec<String>>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// What a matching rule (or the default) does, as the kernel encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Errno(u16),
    KillThread,
    KillProcess,
    Trap,
    Trace(u16),
    Log,
}

impl Action {
    /// The filter's return value (`SECCOMP_RET_*`).
    pub fn ret(self) -> u32 {
        match self {
            Action::KillProcess => 0x8000_0000,
            Action::KillThread => 0x0000_0000,
            Action::Trap => 0x0003_0000,
            Action::Errno(e) => 0x0005_0000 | u32::from(e),
            Action::Trace(d) => 0x7ff0_0000 | u32::from(d),
            Action::Log => 0x7ffc_0000,
            Action::Allow => 0x7fff_0000,
        }
    }

    /// runc's reading: ERRNO and TRACE take `errnoRet` (EPERM when
    /// absent); the other actions refuse it.
    fn parse(name: &str, errno_ret: Option<u32>) -> Result<Action, SeccompError> {
        let errno = || -> Result<u16, SeccompError> {
            let e = errno_ret.unwrap_or(libc::EPERM as u32);
            u16::try_from(e)
                .ok()
                .filter(|e| u32::from(*e) < 4096)
                .ok_or_else(|| SeccompError::Profile(format!("errnoRet {e} is out of range")))
        };
        let plain = |a: Action| match errno_ret {
            None => Ok(a),
            Some(_) => Err(SeccompError::Profile(format!(
                "errnoRet is only supported with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not {name}"
            ))),
        };
        match name {
            "SCMP_ACT_ALLOW" => plain(Action::Allow),
            "SCMP_ACT_ERRNO" => Ok(Action::Errno(errno()?)),
            "SCMP_ACT_TRACE" => Ok(Action::Trace(errno()?)),
            "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => plain(Action::KillThread),
            "SCMP_ACT_KILL_PROCESS" => plain(Action::KillProcess),
            "SCMP_ACT_TRAP" => plain(Action::Trap),
            "SCMP_ACT_LOG" => plain(Action::Log),
            "SCMP_ACT_NOTIFY" => Err(SeccompError::Profile(
                "SCMP_ACT_NOTIFY needs a seccomp agent (listenerPath), which whale does not run"
                    .into(),
            )),
            other => Err(SeccompError::Profile(format!(
                "unknown action {other:?} (expected SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_TRACE or SCMP_ACT_LOG)"
            ))),
        }
    }
}

/// A comparison of one 64-bit syscall argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `(arg & mask) == value`: Docker's `value` is the mask, `valueTwo`
    /// the value (libseccomp's datum_a and datum_b).
    MaskedEq(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cond {
    pub index: u8,
    pub op: Op,
    pub value: u64,
}

impl Cond {
    fn parse(a: &Arg) -> Result<Cond, SeccompError> {
        let index = u8::try_from(a.index)
            .ok()
            .filter(|i| *i < 6)
            .ok_or_else(|| {
                SeccompError::Profile(format!(
                    "argument index {} is out of range (a syscall has 6 arguments, 0 to 5)",
                    a.index
                ))
            })?;
        let (op, value) = match a.op.as_str() {
            "SCMP_CMP_NE" => (Op::Ne, a.value),
            "SCMP_CMP_LT" => (Op::Lt, a.value),
            "SCMP_CMP_LE" => (Op::Le, a.value),
            "SCMP_CMP_EQ" => (Op::Eq, a.value),
            "SCMP_CMP_GE" => (Op::Ge, a.value),
            "SCMP_CMP_GT" => (Op::Gt, a.value),
            "SCMP_CMP_MASKED_EQ" => (Op::MaskedEq(a.value), a.value_two),
            other => {
                return Err(SeccompError::Profile(format!(
                    "unknown argument operator {other:?} (expected SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT or SCMP_CMP_MASKED_EQ)"
                )))
            }
        };
        Ok(Cond { index, op, value })
    }
}

/// One resolved rule: when syscall `nr` is made and every condition holds
/// (none: always), the filter returns `action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub nr: u32,
    pub conds: Vec<Cond>,
    pub action: Action,
}

/// A profile resolved for one container: ready to compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub default_action: Action,
    /// In profile order.
    pub rules: Vec<Rule>,
    /// `SECCOMP_FILTER_FLAG_*` for seccomp(2).
    pub flags: u32,
}

/// What a profile is resolved against.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Go's name of the arch, as profiles' `arches` spell it ("amd64").
    pub go_arch: &'static str,
    /// name -> number for that arch.
    pub syscalls: &'static [(&'static str, u32)],
    /// The container's capabilities (bounding set), bit n = capability n.
    pub caps: u64,
    /// The running kernel's (major, minor).
    pub kernel: (u32, u32),
}

/// Whether `caps` holds the capability named `name`; an unknown name is
/// held by no one.
fn has_cap(caps: u64, name: &str) -> bool {
    CAP_NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name))
        .is_some_and(|i| caps & (1u64 << i) != 0)
}

/// "4.8" -> (4, 8), as moby reads `minKernel` (and a kernel release,
/// "6.1.0-18-amd64").
pub fn parse_kernel_version(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor_text: String = parts
        .next()?
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    Some((major, minor_text.parse().ok()?))
}

fn min_kernel(f: &Filter) -> Result<Option<(u32, u32)>, SeccompError> {
    match &f.min_kernel {
        None => Ok(None),
        Some(v) => parse_kernel_version(v).map(Some).ok_or_else(|| {
            SeccompError::Profile(format!(
                "minKernel {v:?} is not a kernel version like \"4.8\""
            ))
        }),
    }
}

fn flag(name: &str) -> Result<u32, SeccompError> {
    match name {
        "SECCOMP_FILTER_FLAG_TSYNC" => Ok(1),
        "SECCOMP_FILTER_FLAG_LOG" => Ok(2),
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => Ok(4),
        other => Err(SeccompError::Profile(format!(
            "unknown flag {other:?} (expected SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_LOG or SECCOMP_FILTER_FLAG_SPEC_ALLOW)"
        ))),
    }
}

impl Profile {
    pub fn parse(json: &str) -> Result<Profile, SeccompError> {
        serde_json::from_str(json)
            .map_err(|e| SeccompError::Profile(format!("not a seccomp profile: {e}")))
    }

    /// The rules that apply to a container on `t`.
    pub fn resolve(&self, t: &Target) -> Result<Resolved, SeccompError> {
        if self.arch_map.as_ref().is_some_and(|m| !m.is_empty())
            && self.architectures.as_ref().is_some_and(|a| !a.is_empty())
        {
            return Err(SeccompError::Profile(
                "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'".into(),
            ));
        }
        if self.listener_path.as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(SeccompError::Profile(
                "listenerPath (a seccomp agent) is not supported by whale".into(),
            ));
        }
        let default_action = Action::parse(&self.default_action, self.default_errno_ret)?;
        let mut flags = 0;
        for f in self.flags.iter().flatten() {
            flags |= flag(f)?;
        }
        let mut rules = Vec::new();
        'calls: for call in self.syscalls.iter().flatten() {
            let mut names: Vec<&str> = call.names.iter().flatten().map(String::as_str).collect();
            if let Some(n) = &call.name {
                if !names.is_empty() {
                    return Err(SeccompError::Profile(format!(
                        "syscall rule {n:?} uses both 'name' and 'names': use either"
                    )));
                }
                names.push(n);
            }
            let action = Action::parse(&call.action, call.errno_ret)?;
            let conds = call
                .args
                .iter()
                .flatten()
                .map(Cond::parse)
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(ex) = &call.excludes {
                if ex.arches.iter().flatten().any(|a| a == t.go_arch) {
                    continue 'calls;
                }
                if ex.caps.iter().flatten().any(|c| has_cap(t.caps, c)) {
                    continue 'calls;
                }
                if min_kernel(ex)?.is_some_and(|v| t.kernel >= v) {
                    continue 'calls;
                }
            }
            if let Some(inc) = &call.includes {
                if let Some(arches) = inc.arches.as_ref().filter(|a| !a.is_empty()) {
                    if !arches.iter().any(|a| a == t.go_arch) {
                        continue 'calls;
                    }
                }
                if !inc.caps.iter().flatten().all(|c| has_cap(t.caps, c)) {
                    continue 'calls;
                }
                if min_kernel(inc)?.is_some_and(|v| t.kernel < v) {
                    continue 'calls;
                }
            }
            if action == default_action {
                continue;
            }
            let mut per_index = [0u8; 6];
            for c in &conds {
                per_index[c.index as usize] += 1;
            }
            let groups: Vec<Vec<Cond>> = if per_index.iter().any(|n| *n > 1) {
                conds.iter().map(|c| vec![*c]).collect()
            } else {
                vec![conds]
            };
            for name in names {
                let Ok(i) = t.syscalls.binary_search_by(|(n, _)| (*n).cmp(name)) else {
                    continue;
                };
                let nr = t.syscalls[i].1;
                for conds in &groups {
                    rules.push(Rule {
                        nr,
                        conds: conds.clone(),
                        action,
                    });
                }
            }
        }
        Ok(Resolved {
            default_action,
            rules,
            flags,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[(&str, u32)] = &[("a", 1), ("b", 2), ("c", 3)];

    fn target(caps: u64) -> Target {
        Target {
            go_arch: "amd64",
            syscalls: TABLE,
            caps,
            kernel: (5, 10),
        }
    }

    fn resolve(json: &str, caps: u64) -> Result<Resolved, SeccompError> {
        Profile::parse(json)?.resolve(&target(caps))
    }

    #[test]
    fn includes_and_excludes_follow_caps_arches_and_kernel() {
        let json = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"syscalls":[
            {"names":["a","zzz_unknown"],"action":"SCMP_ACT_ALLOW"},
            {"names":["b"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}},
            {"names":["b"],"action":"SCMP_ACT_ERRNO","errnoRet":38,"excludes":{"caps":["CAP_SYS_ADMIN"]}},
            {"names":["c"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["arm64"]}},
            {"names":["c"],"action":"SCMP_ACT_LOG","includes":{"minKernel":"5.11"}},
            {"names":["c"],"action":"SCMP_ACT_TRAP","excludes":{"minKernel":"6.0"}},
            {"name":"a","action":"SCMP_ACT_ERRNO","comment":"default action: dropped"}
        ]}"#;
        let r = resolve(json, 0).unwrap();
        assert_eq!(r.default_action, Action::Errno(1));
        let got: Vec<(u32, Action)> = r.rules.iter().map(|r| (r.nr, r.action)).collect();
        assert_eq!(
            got,
            vec![
                (1, Action::Allow),
                (2, Action::Errno(38)),
                (3, Action::Trap)
            ]
        );
        let sys_admin = 1u64 << 21;
        let r = resolve(json, sys_admin).unwrap();
        let got: Vec<(u32, Action)> = r.rules.iter().map(|r| (r.nr, r.action)).collect();
        assert_eq!(
            got,
            vec![(1, Action::Allow), (2, Action::Allow), (3, Action::Trap)]
        );
    }

    #[test]
    fn repeated_argument_index_splits_into_or_rules() {
        let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["a"],"action":"SCMP_ACT_ERRNO","args":[
                {"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]},
            {"names":["b"],"action":"SCMP_ACT_KILL","args":[
                {"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":1,"value":255,"valueTwo":7,"op":"SCMP_CMP_MASKED_EQ"}]}
        ]}"#;
        let r = resolve(json, 0).unwrap();
        assert_eq!(r.rules.len(), 3);
        assert_eq!(r.rules[0].conds.len(), 1);
        assert_eq!(r.rules[1].conds[0].value, 2);
        assert_eq!(r.rules[2].conds.len(), 2);
        assert_eq!(r.rules[2].conds[1].op, Op::MaskedEq(255));
        assert_eq!(r.rules[2].conds[1].value, 7);
        assert_eq!(r.rules[2].action, Action::KillThread);
    }

    #[test]
    fn bad_profiles_name_what_is_wrong() {
        let bad = |json: &str, needle: &str| {
            let e = resolve(json, 0).unwrap_err().to_string();
            assert!(e.contains(needle), "{e:?} lacks {needle:?}");
        };
        bad("{", "not a seccomp profile");
        bad(r#"{"syscalls":[]}"#, "defaultAction");
        bad(r#"{"defaultAction":"SCMP_ACT_NOPE"}"#, "SCMP_ACT_NOPE");
        bad(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
            "index 6",
        );
        bad(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_ALMOST"}]}]}"#,
            "SCMP_CMP_ALMOST",
        );
        bad(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_KILL","errnoRet":1}]}"#,
            "errnoRet",
        );
        bad(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}"#,
            "archMap",
        );
        bad(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_NOTIFY"}]}"#,
            "SCMP_ACT_NOTIFY",
        );
        bad(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"four"}}]}"#,
            "minKernel",
        );
    }

    #[test]
    fn kernel_versions_parse_like_moby() {
        assert_eq!(parse_kernel_version("4.8"), Some((4, 8)));
        assert_eq!(parse_kernel_version("6.1.0-18-amd64"), Some((6, 1)));
        assert_eq!(parse_kernel_version("6.18.44-fc-v1147"), Some((6, 18)));
        assert_eq!(parse_kernel_version("6.0rc1"), Some((6, 0)));
        assert_eq!(parse_kernel_version("six"), None);
        assert!(has_cap(1 << 21, "CAP_SYS_ADMIN"));
        assert!(!has_cap(u64::MAX, "CAP_NOT_A_CAP"));
    }
}
