//! `HostConfig.SecurityOpt`, read the way Docker's daemon reads it
//! (moby `daemon/create.go` parseSecurityOpt): honoured, or refused with
//! the option named. whale has no AppArmor and no SELinux labels, and sets
//! no_new_privs on every process, so what it honours is the seccomp choice
//! and `no-new-privileges` (true).
//!
//! The docker CLI (and whale's) sends a profile as its JSON content,
//! `seccomp={"defaultAction":...}`, having read the file itself.

use crate::linux::{caps, seccomp};

pub use crate::linux::seccomp::Seccomp;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecurityOptError {
    #[error("invalid --security-opt: {0:?} (expected KEY=VALUE, e.g. seccomp=unconfined)")]
    Malformed(String),
    #[error("--security-opt {0:?} is not supported: whale has no AppArmor or SELinux; it honours seccomp=unconfined, seccomp=builtin, seccomp=<profile JSON> and no-new-privileges")]
    Unsupported(String),
    #[error("--security-opt {0:?}: whale always sets no_new_privs on container processes (as with no-new-privileges:true); it cannot be turned off")]
    NoNewPrivilegesOff(String),
    #[error("invalid --security-opt {opt:?}: {value:?} is not a boolean")]
    NotABool { opt: String, value: String },
    #[error("Decoding seccomp profile failed: {0}")]
    BadProfile(String),
}

/// Go's strconv.ParseBool.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The seccomp filter `HostConfig.SecurityOpt` asks for (None or empty:
/// Docker's default profile). A custom profile is parsed and compiled for
/// this machine and Docker's default capabilities here, so a bad one is a
/// 400 at create, never a failed start. Every error names the option.
pub fn seccomp_from_security_opts(opts: Option<&[String]>) -> Result<Seccomp, SecurityOptError> {
    let mut choice = Seccomp::Builtin;
    for opt in opts.unwrap_or_default() {
        if opt == "no-new-privileges" {
            continue;
        }
        // moby: `=` first; `:` is the deprecated separator.
        let split = opt.split_once('=').or_else(|| opt.split_once(':'));
        let Some((key, value)) = split else {
            return Err(SecurityOptError::Malformed(opt.clone()));
        };
        match key {
            "seccomp" => {
                choice = match value {
                    "unconfined" => Seccomp::Unconfined,
                    "" | "builtin" => Seccomp::Builtin,
                    json => {
                        let profile = seccomp::Profile::parse(json)
                            .map_err(|e| SecurityOptError::BadProfile(e.to_string()))?;
                        seccomp::Filter::compile(&profile, caps::default_mask())
                            .map_err(|e| SecurityOptError::BadProfile(e.to_string()))?;
                        Seccomp::Custom(json.to_string())
                    }
                }
            }
            "no-new-privileges" => match parse_bool(value) {
                Some(true) => {}
                Some(false) => return Err(SecurityOptError::NoNewPrivilegesOff(opt.clone())),
                None => {
                    return Err(SecurityOptError::NotABool {
                        opt: opt.clone(),
                        value: value.to_string(),
                    })
                }
            },
            _ => return Err(SecurityOptError::Unsupported(opt.clone())),
        }
    }
    Ok(choice)
}

/// `info`'s SecurityOptions: what every container gets by default.
pub const INFO_SECURITY_OPTIONS: &[&str] =
    &["name=seccomp,profile=builtin", "name=no-new-privileges"];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(opts: &[&str]) -> Result<Seccomp, SecurityOptError> {
        let v: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
        seccomp_from_security_opts(Some(&v))
    }

    #[test]
    fn seccomp_choices() {
        assert_eq!(seccomp_from_security_opts(None), Ok(Seccomp::Builtin));
        assert_eq!(parse(&[]), Ok(Seccomp::Builtin));
        assert_eq!(parse(&["seccomp=unconfined"]), Ok(Seccomp::Unconfined));
        assert_eq!(parse(&["seccomp:unconfined"]), Ok(Seccomp::Unconfined));
        assert_eq!(parse(&["seccomp=builtin"]), Ok(Seccomp::Builtin));
        assert_eq!(
            parse(&["seccomp=unconfined", "seccomp=builtin"]),
            Ok(Seccomp::Builtin)
        );
        let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["keyctl"],"action":"SCMP_ACT_ERRNO"}]}"#;
        assert_eq!(
            parse(&[&format!("seccomp={json}")]),
            Ok(Seccomp::Custom(json.to_string()))
        );
        assert_eq!(
            parse(&[
                "seccomp=unconfined",
                "no-new-privileges",
                "no-new-privileges:true",
                "no-new-privileges=1"
            ]),
            Ok(Seccomp::Unconfined)
        );
    }

    #[test]
    fn refusals_name_the_option() {
        let msg = |opts: &[&str]| parse(opts).unwrap_err().to_string();
        for opt in [
            "apparmor=unconfined",
            "label=disable",
            "label:type:x",
            "systempaths=unconfined",
        ] {
            let m = msg(&[opt]);
            assert!(m.contains(opt) && m.contains("not supported"), "{m}");
        }
        assert!(msg(&["disable"]).contains("invalid --security-opt: \"disable\""));
        let m = msg(&["no-new-privileges:false"]);
        assert!(
            m.contains("no-new-privileges:false") && m.contains("cannot be turned off"),
            "{m}"
        );
        assert!(msg(&["no-new-privileges=maybe"]).contains("\"maybe\" is not a boolean"));
        let m = msg(&["seccomp={not json"]);
        assert!(m.starts_with("Decoding seccomp profile failed: "), "{m}");
        let m = msg(&[r#"seccomp={"defaultAction":"SCMP_ACT_SOMETIMES"}"#]);
        assert!(m.contains("SCMP_ACT_SOMETIMES"), "{m}");
        let m = msg(&[
            r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":9,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#,
        ]);
        assert!(m.contains("index 9"), "{m}");
    }
}
