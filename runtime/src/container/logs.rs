//! Reading a container's json-file log back for `logs`: the lines asked for
//! (streams, since/until, tail), as Docker encodes them (raw with a tty,
//! stdcopy frames without, optional timestamps).
//!
//! The log can be gigabytes, so it is read in chunks of whole lines and
//! rendered chunk by chunk; `tail` keeps only the last N lines. The daemon's
//! memory for one `logs` call is a chunk (or N lines), whatever the log's
//! size.

use std::collections::VecDeque;
use std::path::PathBuf;
use tokio::io::AsyncReadExt;
use whale_formats::stdcopy::{frame, STDERR, STDOUT};

/// About how many bytes of log one chunk holds (more only for one longer line).
pub const CHUNK: usize = 1 << 20;

/// What `/logs` was asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub tail: Option<usize>,
    pub since_nanos: Option<i64>,
    pub until_nanos: Option<i64>,
    pub timestamps: bool,
    pub tty: bool,
}

#[derive(serde::Deserialize)]
struct LogLine {
    log: String,
    #[serde(default)]
    stream: String,
    #[serde(default)]
    time: String,
}

/// Reads a json-file log incrementally, only ever handing out whole lines.
pub struct LogReader {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    partial: Vec<u8>,
}

impl LogReader {
    pub fn new(path: PathBuf) -> LogReader {
        LogReader {
            path,
            file: None,
            partial: Vec::new(),
        }
    }

    /// The next whole lines written since the last call, about `CHUNK`
    /// bytes; empty when nothing whole is left (for now: a follower calls
    /// again when the container writes more).
    pub async fn next_lines(&mut self) -> String {
        if self.file.is_none() {
            // No log yet: the container never produced one.
            self.file = tokio::fs::File::open(&self.path).await.ok();
        }
        let Some(f) = self.file.as_mut() else {
            return String::new();
        };
        loop {
            let read = f
                .take(CHUNK as u64)
                .read_to_end(&mut self.partial)
                .await
                .unwrap_or(0);
            // Go on only through a line longer than a chunk.
            if read < CHUNK || self.partial.contains(&b'\n') {
                break;
            }
        }
        let cut = self
            .partial
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let rest = self.partial.split_off(cut);
        let whole = std::mem::replace(&mut self.partial, rest);
        String::from_utf8_lossy(&whole).into_owned()
    }
}

/// The lines of `content` the options select by stream and time.
fn select<'a>(content: &'a str, o: &'a LogOptions) -> impl Iterator<Item = LogLine> + 'a {
    content
        .lines()
        .filter_map(|l| serde_json::from_str::<LogLine>(l).ok())
        .filter(|l| match l.stream.as_str() {
            "stderr" => o.stderr,
            _ => o.stdout,
        })
        .filter(|l| {
            if o.since_nanos.is_none() && o.until_nanos.is_none() {
                return true;
            }
            let t = chrono::DateTime::parse_from_rfc3339(&l.time)
                .ok()
                .and_then(|t| t.timestamp_nanos_opt())
                .unwrap_or(0);
            o.since_nanos.is_none_or(|s| t >= s) && o.until_nanos.is_none_or(|u| t <= u)
        })
}

/// Lines as Docker sends them: raw with a tty, framed without.
fn encode(lines: impl IntoIterator<Item = LogLine>, o: &LogOptions) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        let mut payload = Vec::with_capacity(l.log.len() + 32);
        if o.timestamps {
            payload.extend_from_slice(l.time.as_bytes());
            payload.push(b' ');
        }
        payload.extend_from_slice(l.log.as_bytes());
        if o.tty {
            out.extend_from_slice(&payload);
        } else {
            let stream = if l.stream == "stderr" { STDERR } else { STDOUT };
            out.extend_from_slice(&frame(stream, &payload));
        }
    }
    out
}

/// Select and encode the lines of one chunk of a json-file log (`tail`
/// aside: see `Tail`).
pub fn render(content: &str, o: &LogOptions) -> Vec<u8> {
    encode(select(content, o), o)
}

/// The last N selected lines of a log fed chunk by chunk.
pub struct Tail {
    keep: usize,
    lines: VecDeque<LogLine>,
}

impl Tail {
    pub fn new(keep: usize) -> Tail {
        Tail {
            keep,
            lines: VecDeque::new(),
        }
    }

    pub fn feed(&mut self, content: &str, o: &LogOptions) {
        for line in select(content, o) {
            if self.lines.len() == self.keep {
                self.lines.pop_front();
            }
            if self.keep > 0 {
                self.lines.push_back(line);
            }
        }
    }

    pub fn render(self, o: &LogOptions) -> Vec<u8> {
        encode(self.lines, o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = concat!(
        r#"{"log":"one\n","stream":"stdout","time":"2024-01-01T00:00:01.000000000Z"}"#,
        "\n",
        r#"{"log":"err\n","stream":"stderr","time":"2024-01-01T00:00:02.000000000Z"}"#,
        "\n",
        r#"{"log":"two\n","stream":"stdout","time":"2024-01-01T00:00:03.000000000Z"}"#,
        "\n",
        "garbage line\n"
    );

    /// What `logs` sends for LOG fed in two chunks, as the API does.
    fn logs(o: &LogOptions) -> Vec<u8> {
        let (a, b) = LOG.split_at(LOG.find("\n{").unwrap() + 1);
        match o.tail {
            Some(n) => {
                let mut t = Tail::new(n);
                t.feed(a, o);
                t.feed(b, o);
                t.render(o)
            }
            None => [render(a, o), render(b, o)].concat(),
        }
    }

    #[test]
    fn logs_select_streams_tail_and_since() {
        let opts = |stdout, stderr, tail, since_nanos| LogOptions {
            stdout,
            stderr,
            tail,
            since_nanos,
            tty: true,
            ..Default::default()
        };
        let raw = |o, e, t, s| String::from_utf8(logs(&opts(o, e, t, s))).unwrap();
        assert_eq!(raw(true, true, None, None), "one\nerr\ntwo\n");
        assert_eq!(raw(true, false, None, None), "one\ntwo\n");
        assert_eq!(raw(false, true, None, None), "err\n");
        assert_eq!(raw(true, true, Some(1), None), "two\n");
        assert_eq!(raw(true, true, Some(2), None), "err\ntwo\n");
        assert_eq!(raw(true, true, Some(0), None), "");
        assert_eq!(
            raw(true, true, None, Some(1_704_067_202_000_000_000)),
            "err\ntwo\n"
        );
        let ts = LogOptions {
            timestamps: true,
            ..opts(true, false, Some(1), None)
        };
        let ts = String::from_utf8(logs(&ts)).unwrap();
        assert_eq!(ts, "2024-01-01T00:00:03.000000000Z two\n");
        let mux = LogOptions {
            tty: false,
            ..opts(false, true, None, None)
        };
        assert_eq!(logs(&mux), frame(2, b"err\n"));
    }

    #[tokio::test]
    async fn a_big_log_comes_in_bounded_chunks_of_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("container.log");
        let line = r#"{"log":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n","stream":"stdout","time":"2024-01-01T00:00:01Z"}"#;
        let n = 3 * CHUNK / line.len();
        let mut text = String::new();
        for _ in 0..n {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str("{\"log\":\"unfinished");
        std::fs::write(&path, &text).unwrap();
        let mut r = LogReader::new(path);
        let (mut lines, mut chunks) = (0, 0);
        loop {
            let chunk = r.next_lines().await;
            if chunk.is_empty() {
                break;
            }
            assert!(chunk.len() <= CHUNK + line.len(), "{}", chunk.len());
            assert!(chunk.ends_with('\n'));
            lines += chunk.lines().count();
            chunks += 1;
        }
        assert_eq!(
            lines, n,
            "every whole line once, the unfinished one held back"
        );
        assert!(chunks >= 3, "{chunks} chunks");
    }
}
