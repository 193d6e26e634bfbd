//! `whale exec`: run a command in a running container, as `docker exec`
//! (create the exec, start it on a hijacked connection, follow the window
//! size, and exit with the command's code).

use std::io::IsTerminal;

use bollard::models::ExecConfig;
use hyper_util::rt::TokioIo;

use super::connect::Client;
use super::{client, CliError, CliResult};
use whale_args::ExecArgs;

/// The ExecConfig docker would send for these flags.
pub fn exec_config(args: &ExecArgs, lookup_env: &dyn Fn(&str) -> Option<String>) -> ExecConfig {
    let env = super::run::env_from_flags(&args.env, lookup_env);
    let console_size = if args.tty {
        super::terminal::size().map(|(h, w)| vec![usize::from(h), usize::from(w)])
    } else {
        None
    };
    ExecConfig {
        attach_stdin: Some(args.interactive && !args.detach),
        attach_stdout: Some(!args.detach),
        attach_stderr: Some(!args.detach),
        console_size,
        detach_keys: Some(args.detach_keys.clone()),
        tty: Some(args.tty),
        env: (!env.is_empty()).then_some(env),
        cmd: Some(args.command.clone()),
        privileged: Some(args.privileged),
        user: args.user.clone(),
        working_dir: args.workdir.clone(),
    }
}

pub async fn exec(cli: &super::Cli, args: &ExecArgs) -> CliResult {
    let keys = super::terminal::parse_detach_keys(&args.detach_keys)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    if !args.detach && args.interactive && args.tty && !std::io::stdin().is_terminal() {
        return Err(CliError::Other("the input device is not a TTY".into()));
    }
    let client = client(cli).await?;
    let config = exec_config(args, &|k| std::env::var(k).ok());
    let created = client
        .docker
        .create_exec(&args.container, config.clone())
        .await?;
    let id = created.id;
    if args.detach {
        let body = serde_json::json!({ "Detach": true, "Tty": args.tty });
        let (status, message) = post(&client, &format!("/exec/{id}/start"), body, false)
            .await
            .map(|r| match r {
                Started::Refused(status, message) => (status, message),
                Started::Stream(_) | Started::Done => (200, String::new()),
            })?;
        if !(200..300).contains(&status) {
            return Err(CliError::Daemon(message));
        }
        return Ok(());
    }
    let body = serde_json::json!({
        "Detach": false,
        "Tty": args.tty,
        "ConsoleSize": config.console_size,
    });
    let stream = match post(&client, &format!("/exec/{id}/start"), body, true).await? {
        Started::Stream(s) => s,
        Started::Refused(_, message) => return Err(CliError::Daemon(message)),
        Started::Done => {
            return Err(CliError::Other(
                "the daemon did not switch the exec connection to a stream".into(),
            ))
        }
    };
    let detached = session(&client, &id, stream, args.interactive, args.tty, keys).await;
    if detached {
        // docker's hijacked stream ends with this error after the detach keys.
        eprintln!("read escape sequence");
        return Err(CliError::Exit(1));
    }
    let info = client.docker.inspect_exec(&id).await?;
    match info.exit_code.unwrap_or(0) {
        0 => Ok(()),
        code => Err(CliError::Exit(code as i32)),
    }
}

enum Started {
    Stream(TokioIo<hyper::upgrade::Upgraded>),
    Refused(u16, String),
    Done,
}

/// POST with a JSON body; with `upgrade`, hijack the connection.
async fn post(
    client: &Client,
    path: &str,
    body: serde_json::Value,
    upgrade: bool,
) -> CliResult<Started> {
    use http_body_util::BodyExt;
    let io = |e: &dyn std::fmt::Display| CliError::Other(format!("talking to the daemon: {e}"));
    let uri = format!("http://localhost/v{}{path}", client.docker.client_version());
    let mut req = hyper::Request::post(uri)
        .header(hyper::header::HOST, "localhost")
        .header(hyper::header::CONTENT_TYPE, "application/json");
    if upgrade {
        req = req
            .header(hyper::header::CONNECTION, "Upgrade")
            .header(hyper::header::UPGRADE, "tcp");
    }
    let req = req
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .map_err(|e| io(&e))?;
    let sock = tokio::net::UnixStream::connect(&client.socket)
        .await
        .map_err(|e| io(&e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(sock))
        .await
        .map_err(|e| io(&e))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let resp = sender.send_request(req).await.map_err(|e| io(&e))?;
    let status = resp.status();
    if status == hyper::StatusCode::SWITCHING_PROTOCOLS {
        let upgraded = hyper::upgrade::on(resp).await.map_err(|e| io(&e))?;
        return Ok(Started::Stream(TokioIo::new(upgraded)));
    }
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if status.is_success() {
        return Ok(Started::Done);
    }
    #[derive(serde::Deserialize)]
    struct Message {
        message: String,
    }
    let message = serde_json::from_slice::<Message>(&bytes)
        .map(|m| m.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).trim().to_string());
    Ok(Started::Refused(status.as_u16(), message))
}

/// Relay the terminal and the exec stream until the stream ends; true when
/// the user typed the detach keys.
async fn session(
    client: &Client,
    id: &str,
    stream: TokioIo<hyper::upgrade::Upgraded>,
    stdin: bool,
    tty: bool,
    keys: Vec<u8>,
) -> bool {
    let (mut output, input) = tokio::io::split(stream);
    let resizer = tty.then(|| tokio::spawn(follow_window_size(client.clone(), id.to_string())));
    let raw = if tty && stdin {
        super::terminal::RawMode::enable()
    } else {
        None
    };
    let (detach_tx, mut detach_rx) = tokio::sync::oneshot::channel::<()>();
    let input_task = if stdin {
        let scanner = tty.then(|| super::terminal::DetachScanner::new(keys));
        Some(tokio::spawn(super::session::copy_stdin(
            input, scanner, detach_tx,
        )))
    } else {
        drop(input);
        drop(detach_tx);
        None
    };

    let detached = super::session::relay_output(&mut output, tty, &mut detach_rx, stdin).await;
    drop(raw);
    if let Some(t) = input_task {
        t.abort();
    }
    if let Some(t) = resizer {
        t.abort();
    }
    detached
}

/// Size the exec's pty like our terminal now and on every SIGWINCH.
async fn follow_window_size(client: Client, id: String) {
    use tokio::signal::unix::{signal, SignalKind};
    let resize = |client: Client, id: String| async move {
        if let Some((h, w)) = super::terminal::size() {
            let _ = client
                .docker
                .resize_exec(
                    &id,
                    bollard::exec::ResizeExecOptions {
                        height: h,
                        width: w,
                    },
                )
                .await;
        }
    };
    let Ok(mut winch) = signal(SignalKind::window_change()) else {
        return;
    };
    resize(client.clone(), id.clone()).await;
    while winch.recv().await.is_some() {
        resize(client.clone(), id.clone()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> ExecArgs {
        let cli =
            super::super::Cli::try_parse_from(["whale", "exec"].iter().chain(args.iter())).unwrap();
        match cli.command {
            super::super::Command::Exec(e) => e,
            _ => unreachable!(),
        }
    }

    #[test]
    fn flags_become_dockers_exec_config() {
        let a = parse(&[
            "-i",
            "-e",
            "A=1",
            "-e",
            "FROM_HOST",
            "-e",
            "UNSET",
            "-u",
            "nobody",
            "-w",
            "/tmp",
            "first",
            "sh",
            "-c",
            "echo hi",
        ]);
        let lookup = |k: &str| (k == "FROM_HOST").then(|| "h".to_string());
        let c = exec_config(&a, &lookup);
        assert_eq!(
            c.cmd,
            Some(vec!["sh".into(), "-c".into(), "echo hi".into()])
        );
        assert_eq!(c.env, Some(vec!["A=1".into(), "FROM_HOST=h".into()]));
        assert_eq!(c.attach_stdin, Some(true));
        assert_eq!(c.attach_stdout, Some(true));
        assert_eq!(c.tty, Some(false));
        assert_eq!(c.user.as_deref(), Some("nobody"));
        assert_eq!(c.working_dir.as_deref(), Some("/tmp"));
        assert_eq!(a.container, "first");
        let d = exec_config(&parse(&["-d", "-i", "c", "top"]), &|_| None);
        assert_eq!(d.attach_stdin, Some(false));
        assert_eq!(d.attach_stdout, Some(false));
    }

    #[test]
    fn a_command_is_required() {
        assert!(super::super::Cli::try_parse_from(["whale", "exec", "first"]).is_err());
    }
}
