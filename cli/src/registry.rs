//! `whale pull`, `push`, `login`, `logout`: the registry verbs, as the
//! docker CLI does them. The daemon talks to the registry; the CLI keeps the
//! credentials (a `~/.docker/config.json`-compatible file, mode 0600) and
//! hands them to the daemon in the `X-Registry-Auth` header.

use crate::{client, daemon_error, CliError, CliResult};
use base64::Engine as _;
use bollard::auth::DockerCredentials;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use whale_args::{Cli, LoginArgs, LogoutArgs, PullArgs, PushArgs};

/// The registry host a reference names (`127.0.0.1:5000/x` -> `127.0.0.1:5000`),
/// or Docker Hub's name for the rest (Docker's rule: the first component is a
/// host when it has a dot or a colon, or is `localhost`).
pub fn registry_of(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_string()
        }
        _ => "docker.io".to_string(),
    }
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`: where docker
/// keeps credentials, so one `login` serves both CLIs.
fn config_path() -> CliResult<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("config.json"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| {
            CliError::Other(
                "cannot find the credentials file: HOME is not set (set HOME or DOCKER_CONFIG)"
                    .into(),
            )
        })?;
    Ok(PathBuf::from(home).join(".docker").join("config.json"))
}

fn read_config(path: &std::path::Path) -> CliResult<serde_json::Value> {
    match std::fs::read(path) {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(serde_json::json!({})),
        Ok(b) => serde_json::from_slice(&b).map_err(|e| {
            CliError::Other(format!(
                "{} is not valid JSON ({e}); fix or remove it",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::json!({})),
        Err(e) => Err(CliError::Other(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn write_config(path: &std::path::Path, value: &serde_json::Value) -> CliResult {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::Other(format!("cannot create {}: {e}", dir.display())))?;
    }
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| CliError::Other(format!("encoding {}: {e}", path.display())))?;
    // write_atomic makes the file 0600: it holds passwords.
    whale_linux::fsutil::write_atomic(path, &bytes)
        .map_err(|e| CliError::Other(format!("cannot write {}: {e}", path.display())))
}

/// The saved credentials for `registry`, as the daemon wants them.
fn credentials_for(registry: &str) -> Option<DockerCredentials> {
    let path = config_path().ok()?;
    let config = read_config(&path).ok()?;
    let auth = config.get("auths")?.get(registry)?.get("auth")?.as_str()?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, pass) = decoded.split_once(':')?;
    Some(DockerCredentials {
        username: Some(user.to_string()),
        password: Some(pass.to_string()),
        serveraddress: Some(registry.to_string()),
        ..Default::default()
    })
}

/// Draws docker's progress: one line per layer, with a bar on a terminal;
/// plain status lines otherwise (the lines with progress left out, as
/// docker does when its output is not a terminal).
struct Progress {
    tty: bool,
    stderr: bool,
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
}

impl Progress {
    fn new(quiet: bool, stderr: bool) -> Progress {
        let (tty, target) = if stderr {
            (
                std::io::stderr().is_terminal(),
                ProgressDrawTarget::stderr(),
            )
        } else {
            (
                std::io::stdout().is_terminal(),
                ProgressDrawTarget::stdout(),
            )
        };
        let tty = tty && !quiet;
        let multi = MultiProgress::with_draw_target(target);
        Progress {
            tty,
            stderr,
            multi,
            bars: HashMap::new(),
        }
    }

    fn show(&mut self, id: Option<&str>, status: &str, progress: Option<(i64, i64)>, quiet: bool) {
        if quiet {
            return;
        }
        let Some(id) = id.filter(|i| !i.is_empty()) else {
            if self.tty {
                let _ = self.multi.println(status);
            } else {
                self.line(status);
            }
            return;
        };
        if !self.tty {
            if progress.is_none() {
                self.line(&format!("{id}: {status}"));
            }
            return;
        }
        let bar = self.bars.entry(id.to_string()).or_insert_with(|| {
            let b = self.multi.add(ProgressBar::new(0));
            b.set_style(
                ProgressStyle::with_template("{prefix}: {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.set_prefix(id.to_string());
            b
        });
        match progress {
            Some((current, total)) if total > 0 => {
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix}: {msg} [{bar:40}] {binary_bytes}/{binary_total_bytes}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_length(total as u64);
                bar.set_position(current.max(0) as u64);
            }
            _ => bar.set_style(
                ProgressStyle::with_template("{prefix}: {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
        }
        bar.set_message(status.to_string());
    }

    fn line(&self, s: &str) {
        if self.stderr {
            eprintln!("{s}");
        } else {
            println!("{s}");
        }
    }

    fn finish(self) {
        for b in self.bars.values() {
            b.finish();
        }
    }
}

/// Percent-encode a query value.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `X-Registry-Auth` header docker sends: base64url of the credentials JSON.
fn auth_header(registry: &str) -> Vec<(&'static str, String)> {
    match credentials_for(registry) {
        Some(c) => {
            let json = serde_json::json!({
                "username": c.username,
                "password": c.password,
                "serveraddress": c.serveraddress,
            });
            vec![(
                "X-Registry-Auth",
                base64::engine::general_purpose::URL_SAFE.encode(json.to_string()),
            )]
        }
        None => vec![],
    }
}

/// Read the daemon's JSON-lines progress and draw it; `Err` is the error
/// the daemon answered with, or sent inside the stream.
async fn follow(
    resp: hyper::Response<hyper::body::Incoming>,
    progress: &mut Progress,
    quiet: bool,
) -> Result<(), String> {
    use http_body_util::BodyExt;
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    let mut buf: Vec<u8> = Vec::new();
    let mut whole = Vec::new();
    loop {
        let frame = match body.frame().await {
            Some(Ok(f)) => f,
            Some(Err(e)) => return Err(format!("the daemon's answer broke off: {e}")),
            None => break,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if status != 200 {
            whole.extend_from_slice(&data);
            continue;
        }
        buf.extend_from_slice(&data);
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) else {
                continue;
            };
            if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
                return Err(e.to_string());
            }
            let text = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
            let status = text("status");
            let id = text("id");
            if status.is_empty() {
                continue; // `aux` (the pushed digest), already said in a status line
            }
            let detail = v.get("progressDetail");
            let prog =
                detail.and_then(|d| Some((d.get("current")?.as_i64()?, d.get("total")?.as_i64()?)));
            if status.starts_with("Pulling from") || status.starts_with("The push refers") {
                // `latest: Pulling from library/busybox` is one line, not a layer.
                let line = if id.is_empty() {
                    status
                } else {
                    format!("{id}: {status}")
                };
                progress.show(None, &line, None, quiet);
                continue;
            }
            progress.show(Some(&id), &status, prog, quiet);
        }
    }
    if status != 200 {
        let message = serde_json::from_slice::<serde_json::Value>(&whole)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(String::from))
            .unwrap_or_else(|| String::from_utf8_lossy(&whole).trim().to_string());
        return Err(message);
    }
    Ok(())
}

/// Split `name[:tag|@digest]` into the `fromImage` and `tag` parameters.
fn split_reference(reference: &str) -> (String, String) {
    if let Some((name, digest)) = reference.split_once('@') {
        return (name.to_string(), digest.to_string());
    }
    let last_slash = reference.rfind('/').map(|i| i + 1).unwrap_or(0);
    match reference[last_slash..].rfind(':') {
        Some(i) => (
            reference[..last_slash + i].to_string(),
            reference[last_slash + i + 1..].to_string(),
        ),
        None => (reference.to_string(), "latest".to_string()),
    }
}

/// Pull `reference` through the daemon, drawing its progress (on stderr for
/// `run`, as docker does); `Err` carries the daemon's message.
pub(crate) async fn pull_image(
    client: &crate::connect::Client,
    reference: &str,
    quiet: bool,
    to_stderr: bool,
) -> Result<(), String> {
    let (name, tag) = split_reference(reference);
    let path = format!(
        "/images/create?fromImage={}&tag={}",
        encode(&name),
        encode(&tag)
    );
    let resp = client
        .post_streaming(&path, &auth_header(&registry_of(reference)))
        .await
        .map_err(|e| daemon_error(e).to_string())?;
    let mut progress = Progress::new(quiet, to_stderr);
    let r = follow(resp, &mut progress, quiet).await;
    progress.finish();
    r
}

pub async fn pull(cli: &Cli, args: &PullArgs) -> CliResult {
    if args.all_tags {
        return Err(CliError::Usage(
            "whale pull: --all-tags is not supported; pull each tag by name (NAME:TAG)".into(),
        ));
    }
    if let Some(p) = &args.platform {
        return Err(CliError::Usage(format!(
            "whale pull: --platform {p} is not supported; whale pulls the host's platform (linux/{})",
            std::env::consts::ARCH
        )));
    }
    let (_, tag) = split_reference(&args.reference);
    let last = args.reference.rsplit('/').next().unwrap_or("");
    if !args.quiet && !args.reference.contains('@') && !last.contains(':') {
        println!("Using default tag: {tag}");
    }
    let client = client(cli).await?;
    pull_image(&client, &args.reference, args.quiet, false)
        .await
        .map_err(CliError::Daemon)?;
    // docker 28 ends with the full reference it pulled.
    let full = if args.reference.contains('@') {
        args.reference.clone()
    } else {
        crate::run::full_image_name(&args.reference)
    };
    println!("{full}");
    Ok(())
}

pub async fn push(cli: &Cli, args: &PushArgs) -> CliResult {
    if args.all_tags {
        return Err(CliError::Usage(
            "whale push: --all-tags is not supported; push each tag by name (NAME:TAG)".into(),
        ));
    }
    let client = client(cli).await?;
    let (name, tag) = split_reference(&args.reference);
    let path = format!("/images/{}/push?tag={}", encode(&name), encode(&tag));
    let resp = client
        .post_streaming(&path, &auth_header(&registry_of(&args.reference)))
        .await
        .map_err(daemon_error)?;
    let mut progress = Progress::new(args.quiet, false);
    let r = follow(resp, &mut progress, args.quiet).await;
    progress.finish();
    // An error inside the stream: docker prints it as it is.
    r.map_err(CliError::Daemon)?;
    if args.quiet {
        println!("{}", crate::run::full_image_name(&args.reference));
    }
    Ok(())
}

pub async fn login(cli: &Cli, args: &LoginArgs) -> CliResult {
    let server = args.server.clone().ok_or_else(|| {
        CliError::Usage(
            "whale login: name the registry (whale login HOST[:PORT]); whale has no default registry"
                .into(),
        )
    })?;
    let server = server
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();
    if args.password.is_some() && args.password_stdin {
        return Err(CliError::Usage(
            "--password and --password-stdin are mutually exclusive".into(),
        ));
    }
    let username = match &args.username {
        Some(u) => u.clone(),
        None if args.password_stdin => {
            return Err(CliError::Usage(
                "Must provide --username with --password-stdin".into(),
            ))
        }
        None => prompt("Username: ")?,
    };
    let password = if args.password_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| CliError::Other(format!("reading the password from stdin: {e}")))?;
        s.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = &args.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p.clone()
    } else {
        prompt("Password: ")?
    };
    if username.is_empty() || password.is_empty() {
        return Err(CliError::Other(
            "Cannot perform an interactive login from a non TTY device".into(),
        ));
    }
    // The daemon checks the credentials against the registry (POST /auth).
    let client = client(cli).await?;
    let body = serde_json::json!({
        "username": username,
        "password": password,
        "serveraddress": server,
    });
    let (status, answer) = client
        .post_json_raw("/auth", &body)
        .await
        .map_err(daemon_error)?;
    if status != 200 {
        let message = serde_json::from_slice::<serde_json::Value>(&answer)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(String::from))
            .unwrap_or_else(|| String::from_utf8_lossy(&answer).into_owned());
        return Err(CliError::Daemon(message));
    }
    let path = config_path()?;
    let mut config = read_config(&path)?;
    if !config.is_object() {
        config = serde_json::json!({});
    }
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    config
        .as_object_mut()
        .map(|o| o.entry("auths").or_insert_with(|| serde_json::json!({})))
        .and_then(|a| a.as_object_mut())
        .map(|a| a.insert(server.clone(), serde_json::json!({ "auth": auth })));
    write_config(&path, &config)?;
    println!("Login Succeeded");
    Ok(())
}

pub fn logout(args: &LogoutArgs) -> CliResult {
    let server = args.server.clone().ok_or_else(|| {
        CliError::Usage(
            "whale logout: name the registry (whale logout HOST[:PORT]); whale has no default registry"
                .into(),
        )
    })?;
    let path = config_path()?;
    let mut config = read_config(&path)?;
    let removed = config
        .get_mut("auths")
        .and_then(|a| a.as_object_mut())
        .and_then(|a| a.remove(&server))
        .is_some();
    if removed {
        write_config(&path, &config)?;
        println!("Removing login credentials for {server}");
    } else {
        // docker says nothing more when there was nothing to remove.
        println!("Not logged in to {server}");
    }
    Ok(())
}

fn prompt(label: &str) -> CliResult<String> {
    use std::io::Write;
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Other(
            "Cannot perform an interactive login from a non TTY device".into(),
        ));
    }
    eprint!("{label}");
    let _ = std::io::stderr().flush();
    let mut s = String::new();
    std::io::stdin()
        .read_line(&mut s)
        .map_err(|e| CliError::Other(format!("reading {label}: {e}")))?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_host_follows_docker() {
        assert_eq!(registry_of("127.0.0.1:5000/busybox"), "127.0.0.1:5000");
        assert_eq!(registry_of("localhost/a/b:1"), "localhost");
        assert_eq!(registry_of("busybox"), "docker.io");
        assert_eq!(registry_of("library/busybox"), "docker.io");
        assert_eq!(registry_of("reg.example.com/x"), "reg.example.com");
    }

    #[test]
    fn references_split_into_name_and_tag() {
        assert_eq!(
            split_reference("127.0.0.1:5000/bb"),
            ("127.0.0.1:5000/bb".into(), "latest".into())
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/bb:v1"),
            ("127.0.0.1:5000/bb".into(), "v1".into())
        );
        assert_eq!(
            split_reference("h:1/bb@sha256:ab"),
            ("h:1/bb".into(), "sha256:ab".into())
        );
    }
}
