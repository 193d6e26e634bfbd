//! A resolved profile compiled to classic BPF, the program seccomp(2)
//! runs on every system call with `struct seccomp_data` as its packet:
//!
//! ```text
//! nr: u32 @0 | arch: u32 @4 | instruction_pointer: u64 @8 | args: [u64; 6] @16
//! ```
//!
//! Layout: the arch is checked first (a foreign one is killed: its syscall
//! numbers mean other calls); on x86_64, x32 numbers (bit 30) are killed
//! too. Then one `jeq nr` per syscall that has rules, each followed by its
//! body: the conditional rules in profile order, then the syscall's
//! unconditional rule, or the default action. Bodies always end in `ret`,
//! so the accumulator still holds `nr` when the chain moves on. Jumps in
//! classic BPF are relative, so each body is assembled on its own and
//! placed anywhere.

use std::collections::BTreeMap;

use super::profile::{Action, Cond, Op, Resolved};
use super::SeccompError;

/// One instruction, laid out as the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD (0) | BPF_W (0) | BPF_ABS
const BPF_ALU_AND_K: u16 = 0x04 | 0x50; // BPF_ALU | BPF_AND | BPF_K
const BPF_JA: u16 = 0x05; // BPF_JMP | BPF_JA
const BPF_JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
const BPF_JGT_K: u16 = 0x05 | 0x20;
const BPF_JGE_K: u16 = 0x05 | 0x30;
const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K

/// The kernel's limit on a classic BPF program (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;

/// Where the low and high 32-bit halves of argument `i` sit.
fn arg_offsets(i: u8) -> (u32, u32) {
    let base = 16 + 8 * u32::from(i);
    if cfg!(target_endian = "little") {
        (base, base + 4)
    } else {
        (base + 4, base)
    }
}

/// The native arch, as the filter checks it.
#[derive(Debug, Clone, Copy)]
pub struct ArchCheck {
    /// `AUDIT_ARCH_*` of the native ABI.
    pub audit_arch: u32,
    /// Syscall numbers at or above this are another ABI on the same
    /// `audit_arch` (x86_64's x32: 0x4000_0000).
    pub nr_limit: Option<u32>,
}

/// A jump target while a body is assembled.
#[derive(Debug, Clone, Copy)]
enum To {
    Next,
    Label(usize),
}

struct Asm {
    code: Vec<(u16, To, To, u32)>,
    labels: Vec<Option<usize>>,
}

impl Asm {
    fn new() -> Asm {
        Asm {
            code: Vec::new(),
            labels: Vec::new(),
        }
    }
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }
    fn bind(&mut self, l: usize) {
        self.labels[l] = Some(self.code.len());
    }
    fn stmt(&mut self, code: u16, k: u32) {
        self.code.push((code, To::Next, To::Next, k));
    }
    fn jump(&mut self, code: u16, k: u32, jt: To, jf: To) {
        self.code.push((code, jt, jf, k));
    }
    fn finish(self) -> Result<Vec<Insn>, SeccompError> {
        let labels = &self.labels;
        let off = |at: usize, to: To| -> Result<u8, SeccompError> {
            match to {
                To::Next => Ok(0),
                To::Label(l) => {
                    let target = labels[l].expect("every label is bound");
                    u8::try_from(target - at - 1).map_err(|_| {
                        SeccompError::Profile(
                            "a syscall rule has too many argument conditions to compile".into(),
                        )
                    })
                }
            }
        };
        self.code
            .iter()
            .enumerate()
            .map(|(at, (code, jt, jf, k))| {
                Ok(Insn {
                    code: *code,
                    jt: off(at, *jt)?,
                    jf: off(at, *jf)?,
                    k: *k,
                })
            })
            .collect()
    }
}

/// Jump to `pass` or `fail` by comparing argument `c.index` with `c.value`
/// as unsigned 64-bit numbers, one 32-bit half at a time.
fn emit_cond(a: &mut Asm, c: &Cond, fail: usize) {
    let (lo, hi) = arg_offsets(c.index);
    let (v_lo, v_hi) = (c.value as u32, (c.value >> 32) as u32);
    let pass = a.label();
    let (p, f) = (To::Label(pass), To::Label(fail));
    match c.op {
        Op::Eq | Op::Ne | Op::MaskedEq(_) => {
            let mask = match c.op {
                Op::MaskedEq(m) => Some(m),
                _ => None,
            };
            // Eq: both halves equal. Ne: either half differs.
            let (hi_differs, lo_equal, lo_differs) = match c.op {
                Op::Ne => (p, f, p),
                _ => (f, p, f),
            };
            a.stmt(BPF_LD_W_ABS, hi);
            if let Some(m) = mask {
                a.stmt(BPF_ALU_AND_K, (m >> 32) as u32);
            }
            a.jump(BPF_JEQ_K, v_hi, To::Next, hi_differs);
            a.stmt(BPF_LD_W_ABS, lo);
            if let Some(m) = mask {
                a.stmt(BPF_ALU_AND_K, m as u32);
            }
            a.jump(BPF_JEQ_K, v_lo, lo_equal, lo_differs);
        }
        Op::Gt | Op::Ge | Op::Lt | Op::Le => {
            // x > v or x >= v: decided by the high half unless equal, then
            // by the low half. Lt and Le are their negations.
            let (when_true, when_false) = match c.op {
                Op::Gt | Op::Ge => (p, f),
                _ => (f, p),
            };
            let lo_op = match c.op {
                Op::Gt | Op::Le => BPF_JGT_K,
                _ => BPF_JGE_K,
            };
            a.stmt(BPF_LD_W_ABS, hi);
            a.jump(BPF_JGT_K, v_hi, when_true, To::Next);
            a.jump(BPF_JEQ_K, v_hi, To::Next, when_false);
            a.stmt(BPF_LD_W_ABS, lo);
            a.jump(lo_op, v_lo, when_true, when_false);
        }
    }
    a.bind(pass);
}

/// The body of one syscall: its conditional rules, then its fallback.
fn body(rules: &[(&[Cond], Action)], fallback: Action) -> Result<Vec<Insn>, SeccompError> {
    let mut a = Asm::new();
    for (conds, action) in rules {
        let next_rule = a.label();
        for c in *conds {
            emit_cond(&mut a, c, next_rule);
        }
        a.stmt(BPF_RET_K, action.ret());
        a.bind(next_rule);
    }
    a.stmt(BPF_RET_K, fallback.ret());
    a.finish()
}

/// One syscall's conditional rules (in order) and its unconditional action.
type SyscallRules<'a> = (Vec<(&'a [Cond], Action)>, Option<Action>);

/// Compile `r` for `arch`.
pub fn compile(r: &Resolved, arch: ArchCheck) -> Result<Vec<Insn>, SeccompError> {
    let ret = |k: u32| Insn {
        code: BPF_RET_K,
        jt: 0,
        jf: 0,
        k,
    };
    let kill = Action::KillProcess.ret();
    let mut out = vec![
        Insn {
            code: BPF_LD_W_ABS,
            jt: 0,
            jf: 0,
            k: OFF_ARCH,
        },
        Insn {
            code: BPF_JEQ_K,
            jt: 1,
            jf: 0,
            k: arch.audit_arch,
        },
        ret(kill),
        Insn {
            code: BPF_LD_W_ABS,
            jt: 0,
            jf: 0,
            k: OFF_NR,
        },
    ];
    if let Some(limit) = arch.nr_limit {
        out.push(Insn {
            code: BPF_JGE_K,
            jt: 0,
            jf: 1,
            k: limit,
        });
        out.push(ret(kill));
    }

    // Per syscall: conditional rules in profile order, then the first
    // unconditional one (the rest can never be reached).
    let mut by_nr: BTreeMap<u32, SyscallRules> = BTreeMap::new();
    for rule in &r.rules {
        let e = by_nr.entry(rule.nr).or_default();
        if rule.conds.is_empty() {
            e.1.get_or_insert(rule.action);
        } else {
            e.0.push((&rule.conds, rule.action));
        }
    }
    for (nr, (conds, unconditional)) in &by_nr {
        let b = body(conds, unconditional.unwrap_or(r.default_action))?;
        match u8::try_from(b.len()) {
            // jeq nr: fall into the body, else jump over it.
            Ok(len) => out.push(Insn {
                code: BPF_JEQ_K,
                jt: 0,
                jf: len,
                k: *nr,
            }),
            // Too long for an 8-bit jump: hop over a long `ja` instead.
            Err(_) => {
                out.push(Insn {
                    code: BPF_JEQ_K,
                    jt: 1,
                    jf: 0,
                    k: *nr,
                });
                out.push(Insn {
                    code: BPF_JA,
                    jt: 0,
                    jf: 0,
                    k: b.len() as u32,
                });
            }
        }
        out.extend(b);
    }
    out.push(ret(r.default_action.ret()));
    if out.len() > MAX_INSNS {
        return Err(SeccompError::Profile(format!(
            "the profile compiles to {} BPF instructions, more than the kernel's {MAX_INSNS}",
            out.len()
        )));
    }
    Ok(out)
}

/// A classic BPF interpreter for the instructions [`compile`] emits, so
/// tests can run a filter on made-up system calls without installing it.
#[cfg(test)]
pub fn run(prog: &[Insn], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
    let mut data = Vec::with_capacity(64);
    data.extend_from_slice(&nr.to_ne_bytes());
    data.extend_from_slice(&arch.to_ne_bytes());
    data.extend_from_slice(&0u64.to_ne_bytes());
    for a in args {
        data.extend_from_slice(&a.to_ne_bytes());
    }
    let mut acc: u32 = 0;
    let mut pc = 0usize;
    loop {
        let i = prog[pc];
        pc += 1;
        let k = i.k;
        let cond = |taken: bool| usize::from(if taken { i.jt } else { i.jf });
        match i.code {
            BPF_LD_W_ABS => {
                let o = k as usize;
                acc = u32::from_ne_bytes(data[o..o + 4].try_into().unwrap());
            }
            BPF_ALU_AND_K => acc &= k,
            BPF_JA => pc += k as usize,
            BPF_JEQ_K => pc += cond(acc == k),
            BPF_JGT_K => pc += cond(acc > k),
            BPF_JGE_K => pc += cond(acc >= k),
            BPF_RET_K => return k,
            other => panic!("opcode {other:#x} not emitted by the compiler"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::profile::Rule;
    use super::*;

    const ARCH: ArchCheck = ArchCheck {
        audit_arch: 0xc000_003e,
        nr_limit: Some(0x4000_0000),
    };
    const ALLOW: u32 = 0x7fff_0000;
    const EPERM: u32 = 0x0005_0001;

    fn one(op: Op, value: u64) -> Vec<Insn> {
        let r = Resolved {
            default_action: Action::Errno(1),
            rules: vec![Rule {
                nr: 7,
                conds: vec![Cond {
                    index: 2,
                    op,
                    value,
                }],
                action: Action::Allow,
            }],
            flags: 0,
        };
        compile(&r, ARCH).unwrap()
    }

    fn allowed(p: &[Insn], x: u64) -> bool {
        run(p, 7, ARCH.audit_arch, [0, 0, x, 0, 0, 0]) == ALLOW
    }

    #[test]
    fn comparisons_are_unsigned_64_bit() {
        let probes: [u64; 9] = [
            0,
            1,
            0xffff_ffff,
            0x1_0000_0000,
            0x1_0000_0001,
            0x2_0000_0000,
            0xffff_ffff_0000_0000,
            u64::MAX - 1,
            u64::MAX,
        ];
        for v in probes {
            for x in probes {
                let cases: [(Op, bool); 6] = [
                    (Op::Eq, x == v),
                    (Op::Ne, x != v),
                    (Op::Lt, x < v),
                    (Op::Le, x <= v),
                    (Op::Gt, x > v),
                    (Op::Ge, x >= v),
                ];
                for (op, want) in cases {
                    assert_eq!(allowed(&one(op, v), x), want, "{x:#x} {op:?} {v:#x}");
                }
                let mask = 0xff00_0000_0000_00ff;
                let masked = one(Op::MaskedEq(mask), v & mask);
                assert_eq!(allowed(&masked, x), x & mask == v & mask, "{x:#x} & mask");
            }
        }
    }

    #[test]
    fn foreign_arch_and_x32_are_killed_other_syscalls_get_the_default() {
        let p = one(Op::Eq, 0);
        assert_eq!(run(&p, 7, 0x4000_0003, [0; 6]), 0x8000_0000); // i386
        assert_eq!(
            run(&p, 7 | 0x4000_0000, ARCH.audit_arch, [0; 6]),
            0x8000_0000
        );
        assert_eq!(run(&p, 8, ARCH.audit_arch, [0; 6]), EPERM);
        assert_eq!(run(&p, 7, ARCH.audit_arch, [0; 6]), ALLOW);
        assert_eq!(run(&p, 7, ARCH.audit_arch, [0, 0, 1, 0, 0, 0]), EPERM);
    }

    #[test]
    fn conditional_rules_come_before_the_unconditional_and_and_or_hold() {
        let c = |index, value| Cond {
            index,
            op: Op::Eq,
            value,
        };
        let r = Resolved {
            default_action: Action::Allow,
            rules: vec![
                Rule {
                    nr: 3,
                    conds: vec![],
                    action: Action::Errno(38),
                },
                Rule {
                    nr: 3,
                    conds: vec![c(0, 1), c(1, 2)],
                    action: Action::Trap,
                },
                Rule {
                    nr: 3,
                    conds: vec![c(0, 5)],
                    action: Action::Log,
                },
            ],
            flags: 0,
        };
        let p = compile(&r, ARCH).unwrap();
        let a = ARCH.audit_arch;
        assert_eq!(run(&p, 3, a, [1, 2, 0, 0, 0, 0]), Action::Trap.ret());
        assert_eq!(run(&p, 3, a, [1, 3, 0, 0, 0, 0]), 0x0005_0026);
        assert_eq!(run(&p, 3, a, [5, 3, 0, 0, 0, 0]), Action::Log.ret());
        assert_eq!(run(&p, 4, a, [5, 3, 0, 0, 0, 0]), ALLOW);
    }

    #[test]
    fn long_bodies_are_jumped_over() {
        let conds: Vec<Cond> = (0..60)
            .map(|i| Cond {
                index: (i % 6) as u8,
                op: Op::Ne,
                value: 1000 + i,
            })
            .collect();
        let rules = (0..5)
            .map(|_| Rule {
                nr: 9,
                conds: conds[..30].to_vec(),
                action: Action::Trap,
            })
            .chain([Rule {
                nr: 10,
                conds: vec![],
                action: Action::Allow,
            }])
            .collect();
        let r = Resolved {
            default_action: Action::Errno(1),
            rules,
            flags: 0,
        };
        let p = compile(&r, ARCH).unwrap();
        assert!(p.len() > 300);
        assert_eq!(run(&p, 10, ARCH.audit_arch, [0; 6]), ALLOW);
        assert_eq!(run(&p, 9, ARCH.audit_arch, [0; 6]), Action::Trap.ret());
        assert_eq!(run(&p, 9, ARCH.audit_arch, [1000, 0, 0, 0, 0, 0]), EPERM);
    }
}
