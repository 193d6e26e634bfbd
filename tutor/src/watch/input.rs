//! What wakes the lesson loop: keys from a raw terminal, engine events, a
//! ticker and termination signals, all sent down one channel; and the line
//! editor for typing a quiz answer.

use super::WatchError;
use bollard::Docker;
use futures_util::StreamExt;
use std::io::{IsTerminal, Read};
use std::os::fd::AsFd;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Keys without Enter, no echo; restored when dropped (also on panic).
pub(super) struct RawMode {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawMode {
    pub(super) fn enter() -> Result<RawMode, WatchError> {
        use nix::sys::termios::{
            tcgetattr, tcsetattr, LocalFlags, SetArg, SpecialCharacterIndices,
        };
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Ok(RawMode { saved: None });
        }
        let saved = tcgetattr(stdin.as_fd()).map_err(WatchError::Terminal)?;
        let mut raw = saved.clone();
        // Output processing stays on so "\n" still returns the carriage;
        // ISIG is off so Ctrl-C arrives as a key and we restore the terminal.
        raw.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG);
        raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).map_err(WatchError::Terminal)?;
        Ok(RawMode { saved: Some(saved) })
    }

    fn restore(&self) {
        if let Some(s) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin().as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                s,
            );
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        self.restore();
    }
}

pub(super) enum Wake {
    Key(u8),
    Quit,
    Event,
    /// An image was built or tagged: the student's build just ended, so
    /// the step is checked at once and a failure is said without `c`.
    Built,
    /// The terminal changed size: draw the step again at the new width.
    Resize,
    Tick,
}

/// Whether an engine event is the end of a build: whale and podman send
/// an image `build` event, dockerd's classic builder a `tag` for `-t`.
pub(super) fn ends_a_build(e: &bollard::models::EventMessage) -> bool {
    use bollard::models::EventMessageTypeEnum;
    e.typ == Some(EventMessageTypeEnum::IMAGE)
        && matches!(e.action.as_deref(), Some("build") | Some("tag"))
}

/// The tasks feeding the wake channel; they stop when this is dropped.
/// (The key reader is a blocking thread: it ends with the process.)
pub(super) struct Wakers {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Wakers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Start every source of wake-ups: keys, engine events, signals, a ticker.
pub(super) fn wakers(docker: &Docker) -> (mpsc::Receiver<Wake>, Wakers) {
    let (tx, rx) = mpsc::channel::<Wake>(64);
    // Keys: a blocking reader thread; it ends with the process.
    let ktx = tx.clone();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut b = [0u8; 1];
        while let Ok(1) = stdin.read(&mut b) {
            if ktx.blocking_send(Wake::Key(b[0])).is_err() {
                break;
            }
        }
    });
    // Engine events: any of them may change what the checks see.
    let etx = tx.clone();
    let docker = docker.clone();
    let events = tokio::spawn(async move {
        loop {
            let mut s = docker.events(None);
            while let Some(e) = s.next().await {
                let Ok(e) = e else { break };
                let wake = if ends_a_build(&e) {
                    Wake::Built
                } else {
                    Wake::Event
                };
                if etx.send(wake).await.is_err() {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    // A terminal closed or a kill: leave like `q`, restoring the terminal.
    let stx = tx.clone();
    let signals = tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        let _ = stx.send(Wake::Quit).await;
    });
    let rtx = tx.clone();
    let resizes = tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut winch) = signal(SignalKind::window_change()) else {
            return;
        };
        while winch.recv().await.is_some() {
            if rtx.send(Wake::Resize).await.is_err() {
                break;
            }
        }
    });
    let ttx = tx;
    let ticker = tokio::spawn(async move {
        let mut t = tokio::time::interval(Duration::from_millis(500));
        loop {
            t.tick().await;
            if ttx.send(Wake::Tick).await.is_err() {
                break;
            }
        }
    });
    (
        rx,
        Wakers {
            tasks: vec![events, signals, resizes, ticker],
        },
    )
}

/// What one key does to a quiz answer being typed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Edit {
    /// Enter: the answer is complete.
    Submit,
    /// Ctrl-C or Escape: stop answering.
    Cancel,
    /// Echo this to the terminal (a typed character or an erase).
    Echo(String),
    Ignore,
}

/// Apply key `k` to the answer `buf` being typed.
pub(super) fn edit(buf: &mut String, k: u8) -> Edit {
    match k {
        b'\r' | b'\n' => Edit::Submit,
        3 | 27 => Edit::Cancel,
        127 | 8 if buf.pop().is_some() => Edit::Echo("\u{8} \u{8}".into()),
        127 | 8 => Edit::Ignore,
        k if k >= 32 => {
            buf.push(k as char);
            Edit::Echo((k as char).to_string())
        }
        _ => Edit::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_or_a_tag_ends_a_build() {
        use bollard::models::{EventMessage, EventMessageTypeEnum};
        let ev = |typ, action: &str| EventMessage {
            typ: Some(typ),
            action: Some(action.into()),
            ..Default::default()
        };
        assert!(ends_a_build(&ev(EventMessageTypeEnum::IMAGE, "build")));
        assert!(ends_a_build(&ev(EventMessageTypeEnum::IMAGE, "tag")));
        assert!(!ends_a_build(&ev(EventMessageTypeEnum::IMAGE, "delete")));
        assert!(!ends_a_build(&ev(
            EventMessageTypeEnum::CONTAINER,
            "create"
        )));
    }

    #[test]
    fn typing_an_answer() {
        let mut buf = String::new();
        assert_eq!(edit(&mut buf, b'a'), Edit::Echo("a".into()));
        assert_eq!(edit(&mut buf, 127), Edit::Echo("\u{8} \u{8}".into()));
        assert_eq!(edit(&mut buf, 127), Edit::Ignore);
        assert_eq!(edit(&mut buf, 1), Edit::Ignore);
        assert_eq!(edit(&mut buf, b'\r'), Edit::Submit);
        assert_eq!(edit(&mut buf, 27), Edit::Cancel);
    }
}
