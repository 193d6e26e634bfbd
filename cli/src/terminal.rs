//! The local terminal for `run -it` / `start -ai`: raw mode while attached,
//! the detach keys (docker's default Ctrl-P Ctrl-Q), and the window size.

use std::os::fd::AsFd;

use nix::sys::termios::{self, SetArg, Termios};

/// docker's default `--detach-keys`.
pub use whale_args::DEFAULT_DETACH_KEYS;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TerminalError {
    #[error("invalid detach keys {0:?}: use a comma-separated list of single characters or ctrl-<letter> (a-z, @, [, \\, ], ^, _), like ctrl-p,ctrl-q")]
    BadKeys(String),
}

/// `--detach-keys` as bytes: `ctrl-p,ctrl-q` -> [0x10, 0x11], `a,ctrl-[` -> [b'a', 0x1b].
/// The syntax is the one the daemon and the shim accept, so one parser
/// serves all three.
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, TerminalError> {
    whale_formats::detach_keys::parse_detach_keys(spec)
        .ok_or_else(|| TerminalError::BadKeys(spec.to_string()))
}

/// Finds the detach sequence in the bytes we send, like docker's escape
/// proxy: bytes that may start the sequence are held back until it is
/// either complete (detach; they are never sent) or broken (sent late).
#[derive(Debug, Clone)]
pub struct DetachScanner {
    keys: Vec<u8>,
    matched: usize,
}

/// What to send on, and whether the user asked to detach.
#[derive(Debug, PartialEq, Eq)]
pub struct Scan {
    pub pass: Vec<u8>,
    pub detach: bool,
}

impl DetachScanner {
    pub fn new(keys: Vec<u8>) -> DetachScanner {
        DetachScanner { keys, matched: 0 }
    }

    pub fn feed(&mut self, chunk: &[u8]) -> Scan {
        let mut pass = Vec::with_capacity(chunk.len());
        for &b in chunk {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Scan { pass, detach: true };
                }
                continue;
            }
            // The held bytes were not the sequence after all.
            pass.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return Scan { pass, detach: true };
                }
            } else {
                pass.push(b);
            }
        }
        Scan {
            pass,
            detach: false,
        }
    }
}

/// Raw mode on stdin while it lives (restored on drop, even on errors, and
/// when a signal ends the process: SIGTERM, SIGHUP, SIGINT, SIGQUIT).
pub struct RawMode {
    saved: Termios,
    on_signal: Option<tokio::task::JoinHandle<()>>,
}

impl RawMode {
    /// None when stdin is not a terminal. Call it inside the tokio runtime.
    pub fn enable() -> Option<RawMode> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        let on_signal = tokio::runtime::Handle::try_current()
            .ok()
            .map(|h| h.spawn(restore_on_signal(saved.clone())));
        Some(RawMode { saved, on_signal })
    }
}

/// A signal that would kill us must not leave the terminal raw: restore
/// it, then die as the shell expects (128 + the signal).
async fn restore_on_signal(saved: Termios) {
    use tokio::signal::unix::{signal, SignalKind};
    let kinds = [
        (SignalKind::terminate(), 15),
        (SignalKind::hangup(), 1),
        (SignalKind::interrupt(), 2),
        (SignalKind::quit(), 3),
    ];
    let mut streams = Vec::new();
    for (kind, n) in kinds {
        if let Ok(s) = signal(kind) {
            streams.push((s, n));
        }
    }
    if streams.is_empty() {
        return;
    }
    let waits = streams.iter_mut().map(|(s, n)| {
        let n = *n;
        Box::pin(async move {
            s.recv().await;
            n
        })
    });
    let (n, _, _) = futures_util::future::select_all(waits).await;
    let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &saved);
    std::process::exit(128 + n);
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = self.on_signal.take() {
            t.abort();
        }
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

/// Our terminal's (height, width), from stdout.
pub fn size() -> Option<(u16, u16)> {
    let (terminal_size::Width(w), terminal_size::Height(h)) =
        terminal_size::terminal_size_of(std::io::stdout())?;
    Some((h, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_docker() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q"), Ok(vec![0x10, 0x11]));
        assert_eq!(parse_detach_keys("ctrl-a"), Ok(vec![1]));
        assert_eq!(parse_detach_keys("a,ctrl-[,ctrl-@"), Ok(vec![b'a', 27, 0]));
        assert_eq!(parse_detach_keys("ctrl-Z"), Ok(vec![26]));
        for bad in ["", "ctrl-", "ctrl-pq", "ab", "ctrl-1", "é"] {
            assert!(parse_detach_keys(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn scanner_detaches_on_the_sequence() {
        let mut s = DetachScanner::new(vec![0x10, 0x11]);
        assert_eq!(
            s.feed(b"ls\r"),
            Scan {
                pass: b"ls\r".to_vec(),
                detach: false
            }
        );
        assert_eq!(
            s.feed(&[b'x', 0x10, 0x11, b'y']),
            Scan {
                pass: b"x".to_vec(),
                detach: true
            }
        );
    }

    #[test]
    fn scanner_holds_a_prefix_across_reads() {
        let mut s = DetachScanner::new(vec![0x10, 0x11]);
        assert_eq!(
            s.feed(&[b'a', 0x10]),
            Scan {
                pass: b"a".to_vec(),
                detach: false
            }
        );
        assert_eq!(
            s.feed(&[0x11]),
            Scan {
                pass: vec![],
                detach: true
            }
        );
    }

    #[test]
    fn scanner_releases_a_broken_prefix() {
        let mut s = DetachScanner::new(vec![0x10, 0x11]);
        assert_eq!(
            s.feed(&[0x10]),
            Scan {
                pass: vec![],
                detach: false
            }
        );
        // Ctrl-P then "k" (shell history): both go through.
        assert_eq!(
            s.feed(b"k"),
            Scan {
                pass: vec![0x10, b'k'],
                detach: false
            }
        );
        // Ctrl-P Ctrl-P Ctrl-Q: the first is sent, the pair detaches.
        assert_eq!(
            s.feed(&[0x10, 0x10, 0x11]),
            Scan {
                pass: vec![0x10],
                detach: true
            }
        );
    }

    #[test]
    fn single_key_sequences() {
        let mut s = DetachScanner::new(vec![0x1d]);
        assert_eq!(
            s.feed(&[b'a', 0x1d, b'b']),
            Scan {
                pass: b"a".to_vec(),
                detach: true
            }
        );
    }
}
