//! The attach session of `run`, `start -a` and `attach`: attach, wait,
//! start, relay the streams (raw with a tty, demultiplexed without), watch
//! the detach keys, follow the window size and forward signals.

use std::io::Write;

use bollard::query_parameters::{
    KillContainerOptions, StartContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::connect::Client;
use super::{daemon_error, report};
use crate::run::{run_failure, start_error_code, ENGINE_FAILED};

/// Attach, wait and start one container, as `docker run` / `start -a` do.
pub(crate) struct Session<'a> {
    pub(crate) client: &'a Client,
    pub(crate) id: &'a str,
    pub(crate) stdin: bool,
    pub(crate) tty: bool,
    pub(crate) auto_remove: bool,
    /// `--detach-keys` as given, and as bytes.
    pub(crate) detach_keys: (&'a str, Vec<u8>),
    /// Start it (run, start -a) or only attach (attach).
    pub(crate) start: bool,
}

impl Session<'_> {
    /// Returns the container's exit code, or the CLI's own on failure
    /// (messages already printed).
    pub(crate) async fn attach_start_wait(&self, is_run: bool) -> Result<i32, i32> {
        let docker = &self.client.docker;
        let mut query = format!(
            "stream=1&stdout=1&stderr=1&stdin={}",
            if self.stdin { 1 } else { 0 }
        );
        if self.tty {
            query.push_str("&detachKeys=");
            query.push_str(&query_escape(self.detach_keys.0));
        }
        let attach = match self.client.attach_raw(self.id, &query).await {
            Ok(a) => a,
            Err(err) => {
                run_failure(err, false);
                return Err(ENGINE_FAILED);
            }
        };
        // Post /wait before /start, and start only once the daemon accepted
        // it: a quick container must not exit before anyone waits for it.
        let condition = if !self.start {
            // `attach`: it runs already; its exit is the next one or done.
            "not-running"
        } else if self.auto_remove {
            "removed"
        } else {
            "next-exit"
        };
        let accepted = self.client.wait_accepted.notified();
        tokio::pin!(accepted);
        accepted.as_mut().enable();
        let waiter = {
            let docker = docker.clone();
            let id = self.id.to_string();
            tokio::spawn(async move {
                let mut stream = docker.wait_container(
                    &id,
                    Some(WaitContainerOptions {
                        condition: condition.to_string(),
                    }),
                );
                stream.next().await
            })
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), accepted).await;

        let (mut output, input) = tokio::io::split(attach);
        // docker detects the detach keys on its side of a tty session.
        let (detached_tx, mut detached_rx) = tokio::sync::oneshot::channel::<()>();
        let input_task = if self.stdin {
            let scanner = self
                .tty
                .then(|| super::terminal::DetachScanner::new(self.detach_keys.1.clone()));
            Some(tokio::spawn(copy_stdin(input, scanner, detached_tx)))
        } else {
            drop(input);
            drop(detached_tx);
            None
        };

        let started = if self.start {
            docker
                .start_container(self.id, None::<StartContainerOptions>)
                .await
        } else {
            Ok(())
        };
        if let Err(err) = started {
            let err = daemon_error(err);
            if is_run {
                run_failure(&err, true);
            } else {
                report(&err);
            }
            waiter.abort();
            return Err(if is_run {
                start_error_code(&err.to_string())
            } else {
                1
            });
        }

        let signals = if self.tty {
            Some(tokio::spawn(follow_window_size(
                docker.clone(),
                self.id.to_string(),
            )))
        } else {
            Some(tokio::spawn(forward_signals(
                docker.clone(),
                self.id.to_string(),
            )))
        };
        let raw = if self.tty && self.stdin {
            super::terminal::RawMode::enable()
        } else {
            None
        };

        // Copy the container's output until it closes the stream, or the
        // user detaches.
        let detached = relay_output(&mut output, self.tty, &mut detached_rx, self.stdin).await;
        drop(raw);
        if let Some(task) = input_task {
            task.abort();
        }
        if detached {
            // The container goes on running; docker exits 0 at once.
            waiter.abort();
            if let Some(task) = signals {
                task.abort();
            }
            if !self.start {
                // `docker attach` ends with this error; run and start -a exit 0.
                eprintln!("read escape sequence");
                return Err(1);
            }
            return Ok(0);
        }
        let result = waiter.await;
        if let Some(task) = signals {
            task.abort();
        }
        match result {
            Ok(Some(Ok(resp))) => Ok(resp.status_code as i32),
            Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError { error, code }))) => {
                if error.is_empty() {
                    Ok(code as i32)
                } else {
                    eprintln!("whale: {error}");
                    Err(ENGINE_FAILED)
                }
            }
            Ok(Some(Err(err))) => {
                run_failure(daemon_error(err), false);
                Err(ENGINE_FAILED)
            }
            Ok(None) => {
                eprintln!("whale: the daemon closed the wait stream without an exit status");
                Err(ENGINE_FAILED)
            }
            Err(join) => {
                eprintln!("whale: waiting for the container failed: {join}");
                Err(ENGINE_FAILED)
            }
        }
    }
}

/// Percent-encode a query value.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Copy an attach or exec stream to our stdout/stderr (raw with a tty,
/// demultiplexed without) until it ends, or until `detach` fires while
/// `watch_detach`; true when the user detached.
pub(super) async fn relay_output<R: tokio::io::AsyncRead + Unpin>(
    output: &mut R,
    tty: bool,
    detach: &mut tokio::sync::oneshot::Receiver<()>,
    watch_detach: bool,
) -> bool {
    let mut out = std::io::stdout();
    let mut err_out = std::io::stderr();
    let mut demux = super::connect::Demux::default();
    let mut buf = vec![0u8; 32 * 1024];
    let mut detach_open = watch_detach;
    loop {
        let read = tokio::select! {
            read = output.read(&mut buf) => read,
            got = &mut *detach, if detach_open => {
                detach_open = false;
                if got.is_ok() {
                    return true;
                }
                continue;
            }
        };
        let n = match read {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        if tty {
            if out.write_all(&buf[..n]).and_then(|_| out.flush()).is_err() {
                return false;
            }
            continue;
        }
        for (stream, payload) in demux.feed(&buf[..n]) {
            let w: &mut dyn Write = if stream == 2 { &mut err_out } else { &mut out };
            let _ = w.write_all(&payload).and_then(|_| w.flush());
        }
    }
}

/// Our stdin to the container; half-close when it ends so the container
/// sees EOF (`echo 'exit 3' | whale run -i busybox sh`).
pub(super) async fn copy_stdin(
    mut input: impl tokio::io::AsyncWrite + Unpin,
    mut scanner: Option<super::terminal::DetachScanner>,
    detached: tokio::sync::oneshot::Sender<()>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    // A plain thread: a blocked read of a terminal must not hold up the
    // runtime's shutdown, and dies with the process.
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match std::io::Read::read(&mut stdin, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    while let Some(chunk) = rx.recv().await {
        let (chunk, detach) = match scanner.as_mut() {
            Some(s) => {
                let scan = s.feed(&chunk);
                (scan.pass, scan.detach)
            }
            None => (chunk, false),
        };
        if input.write_all(&chunk).await.is_err() || input.flush().await.is_err() {
            return;
        }
        if detach {
            let _ = detached.send(());
            return;
        }
    }
    let _ = input.shutdown().await;
}

/// Keep the container's pty the size of our terminal (SIGWINCH).
async fn follow_window_size(docker: bollard::Docker, id: String) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut winch) = signal(SignalKind::window_change()) else {
        return;
    };
    while winch.recv().await.is_some() {
        if let Some((h, w)) = super::terminal::size() {
            let _ = docker
                .resize_container_tty(
                    &id,
                    bollard::query_parameters::ResizeContainerTTYOptions {
                        h: i32::from(h),
                        w: i32::from(w),
                    },
                )
                .await;
        }
    }
}

/// docker's sig-proxy: SIGINT/SIGTERM/SIGHUP/SIGQUIT we get go to the container.
async fn forward_signals(docker: bollard::Docker, id: String) {
    use tokio::signal::unix::{signal, SignalKind};
    let kinds = [
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::quit(), "SIGQUIT"),
    ];
    let mut streams = Vec::new();
    for (kind, name) in kinds {
        if let Ok(s) = signal(kind) {
            streams.push((s, name));
        }
    }
    if streams.is_empty() {
        return;
    }
    loop {
        let futures = streams
            .iter_mut()
            .map(|(s, name)| {
                let name = *name;
                Box::pin(async move {
                    s.recv().await;
                    name
                })
            })
            .collect::<Vec<_>>();
        let (name, _, _) = futures_util::future::select_all(futures).await;
        let _ = docker
            .kill_container(
                &id,
                Some(KillContainerOptions {
                    signal: name.to_string(),
                }),
            )
            .await;
    }
}
