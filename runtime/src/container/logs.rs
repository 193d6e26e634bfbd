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

/// `seek_tail`'s first block: at least this much, or room for `n` entries
/// of `TYPICAL_ENTRY` bytes (a short line with its JSON and timestamp).
const FIRST_BLOCK: usize = 16 << 10;
const TYPICAL_ENTRY: usize = 256;

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

impl LogReader {
    /// Position the reader so that what it reads on holds the last `n`
    /// lines `o` selects (the whole log when it has fewer): the log is read
    /// backwards from its end a block at a time, counting, so `--tail 10` of
    /// a huge log touches its last few kilobytes, not all of it. The first
    /// block is sized for `n` lines of a typical entry and each next one
    /// doubles (up to `CHUNK`): parsing a whole megabyte of entries to find
    /// ten lines cost `--tail 10` about 25 ms.
    pub async fn seek_tail(&mut self, n: usize, o: &LogOptions) {
        use tokio::io::{AsyncSeekExt, SeekFrom};
        if self.file.is_none() {
            self.file = tokio::fs::File::open(&self.path).await.ok();
        }
        let Some(f) = self.file.as_mut() else { return };
        let Ok(len) = f.seek(SeekFrom::End(0)).await else {
            return;
        };
        let (mut pos, mut start_at, mut count) = (len, 0u64, 0usize);
        let mut size = n.saturating_mul(TYPICAL_ENTRY).clamp(FIRST_BLOCK, CHUNK) as u64;
        // The head of the block read last: an unfinished line, joined to the
        // block before it.
        let mut carry: Vec<u8> = Vec::new();
        while pos > 0 {
            let from = pos.saturating_sub(size);
            size = (size * 2).min(CHUNK as u64);
            let mut block = vec![0u8; (pos - from) as usize];
            if f.seek(SeekFrom::Start(from)).await.is_err()
                || f.read_exact(&mut block).await.is_err()
            {
                start_at = 0;
                break;
            }
            block.extend_from_slice(&carry);
            let cut = if from == 0 {
                0
            } else {
                match block.iter().position(|b| *b == b'\n') {
                    Some(i) => i + 1,
                    None => {
                        carry = block;
                        pos = from;
                        continue;
                    }
                }
            };
            count += select(&String::from_utf8_lossy(&block[cut..]), o).count();
            start_at = from + cut as u64;
            carry = block[..cut].to_vec();
            pos = from;
            if count >= n {
                break;
            }
        }
        if count < n {
            start_at = 0;
        }
        self.partial.clear();
        if f.seek(SeekFrom::Start(start_at)).await.is_err() {
            self.file = None;
        }
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
    async fn tail_seeks_back_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("container.log");
        let mut text = String::new();
        let n = 3 * CHUNK / 80;
        for i in 0..n {
            let stream = if i % 2 == 0 { "stdout" } else { "stderr" };
            text.push_str(&format!(
                "{{\"log\":\"line {i}\\n\",\"stream\":\"{stream}\",\"time\":\"2024-01-01T00:00:01Z\"}}\n"
            ));
        }
        text.push_str("{\"log\":\"unfinished");
        std::fs::write(&path, &text).unwrap();
        for (keep, stderr) in [(0, true), (1, true), (10, false), (n, true), (n + 5, true)] {
            let o = LogOptions {
                stdout: true,
                stderr,
                tty: true,
                tail: Some(keep),
                ..Default::default()
            };
            let mut r = LogReader::new(path.clone());
            r.seek_tail(keep, &o).await;
            let (mut tail, mut read) = (Tail::new(keep), 0);
            loop {
                let chunk = r.next_lines().await;
                if chunk.is_empty() {
                    break;
                }
                read += chunk.len();
                tail.feed(&chunk, &o);
            }
            let got = String::from_utf8(tail.render(&o)).unwrap();
            let want: Vec<String> = (0..n)
                .filter(|i| stderr || i % 2 == 0)
                .map(|i| format!("line {i}\n"))
                .collect();
            let want = want[want.len().saturating_sub(keep)..].concat();
            assert_eq!(got, want, "tail {keep} stderr {stderr}");
            if keep <= 10 {
                // The first block, not a megabyte: what made `--tail 10` slow.
                assert!(
                    read <= FIRST_BLOCK,
                    "tail {keep} read {read} bytes of {}",
                    text.len()
                );
            }
        }
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
