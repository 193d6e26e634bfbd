//! `--security-opt` as the docker CLI sends it (cli/command/container
//! opts.go parseSecurityOpts): a seccomp profile is read here, on the
//! client, and sent as its compacted JSON content, `seccomp={...}`; the
//! daemon never opens a client's path.

use std::path::Path;

/// The SecurityOpt list to send for the `--security-opt` flags; Err is the
/// message to print (exit 125). `read` reads a profile file.
pub fn resolve(
    flags: &[String],
    read: &dyn Fn(&Path) -> std::io::Result<Vec<u8>>,
) -> Result<Vec<String>, String> {
    flags
        .iter()
        .map(|opt| {
            let opt = opt.trim();
            if opt == "no-new-privileges" {
                return Ok(opt.to_string());
            }
            let Some((key, value)) = opt.split_once('=').or_else(|| opt.split_once(':')) else {
                return Err(format!("invalid --security-opt: {opt:?}"));
            };
            if key != "seccomp" || value == "unconfined" || value == "builtin" {
                return Ok(opt.to_string());
            }
            let bytes = read(Path::new(value))
                .map_err(|e| format!("opening seccomp profile ({value}) failed: {e}"))?;
            let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                format!("compacting json for seccomp profile ({value}) failed: {e}")
            })?;
            Ok(format!("seccomp={json}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(p: &Path) -> std::io::Result<Vec<u8>> {
        match p.to_str() {
            Some("p.json") => Ok(
                b"{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": []\n}\n".to_vec(),
            ),
            Some("bad.json") => Ok(b"{ nope".to_vec()),
            _ => Err(std::io::ErrorKind::NotFound.into()),
        }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn profiles_are_sent_as_compact_json_the_rest_as_given() {
        let got = resolve(
            &s(&[
                "seccomp=p.json",
                "seccomp=unconfined",
                "no-new-privileges",
                "apparmor=x",
            ]),
            &files,
        )
        .unwrap();
        assert_eq!(
            got,
            s(&[
                r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}"#,
                "seccomp=unconfined",
                "no-new-privileges",
                "apparmor=x"
            ])
        );
        let e = resolve(&s(&["seccomp=missing.json"]), &files).unwrap_err();
        assert!(
            e.starts_with("opening seccomp profile (missing.json) failed: "),
            "{e}"
        );
        let e = resolve(&s(&["seccomp=bad.json"]), &files).unwrap_err();
        assert!(
            e.starts_with("compacting json for seccomp profile (bad.json) failed"),
            "{e}"
        );
        let e = resolve(&s(&["nonsense"]), &files).unwrap_err();
        assert_eq!(e, "invalid --security-opt: \"nonsense\"");
    }
}
