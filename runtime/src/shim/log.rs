//! Docker's json-file log: one JSON object per line of output,
//! `{"log":"hi\n","stream":"stdout","time":"2026-...Z"}`.

use std::fs::File;
use std::io::Write;

/// Docker splits lines longer than this into partial entries.
const MAX_ENTRY: usize = 16 * 1024;

pub(crate) struct JsonLog {
    file: Option<File>,
    /// Bytes of an unfinished line, per stream (index 1 stdout, 2 stderr).
    partial: [Vec<u8>; 3],
}

fn stream_name(stream: u8) -> &'static str {
    if stream == 2 {
        "stderr"
    } else {
        "stdout"
    }
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn entry(out: &mut Vec<u8>, bytes: &[u8], stream: u8, time: &str) {
    let text = String::from_utf8_lossy(bytes);
    let log = serde_json::to_string(&text).unwrap_or_else(|_| "\"\"".to_string());
    out.extend_from_slice(b"{\"log\":");
    out.extend_from_slice(log.as_bytes());
    out.extend_from_slice(b",\"stream\":\"");
    out.extend_from_slice(stream_name(stream).as_bytes());
    out.extend_from_slice(b"\",\"time\":\"");
    out.extend_from_slice(time.as_bytes());
    out.extend_from_slice(b"\"}\n");
}

impl JsonLog {
    pub(crate) fn new(file: Option<File>) -> JsonLog {
        JsonLog {
            file,
            partial: Default::default(),
        }
    }

    /// Log a chunk of output: every complete line becomes an entry; the rest
    /// waits for its newline (or [`JsonLog::flush`]).
    pub(crate) fn write(&mut self, stream: u8, data: &[u8]) {
        let idx = usize::from(stream.min(2));
        let time = now_rfc3339();
        let mut out = Vec::with_capacity(data.len() + 80);
        let mut rest = data;
        while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
            let (line, tail) = rest.split_at(nl + 1);
            if self.partial[idx].is_empty() {
                entry(&mut out, line, stream, &time);
            } else {
                self.partial[idx].extend_from_slice(line);
                let whole = std::mem::take(&mut self.partial[idx]);
                entry(&mut out, &whole, stream, &time);
            }
            rest = tail;
        }
        self.partial[idx].extend_from_slice(rest);
        if self.partial[idx].len() >= MAX_ENTRY {
            let whole = std::mem::take(&mut self.partial[idx]);
            entry(&mut out, &whole, stream, &time);
        }
        self.emit(&out);
    }

    /// Write out unfinished lines (the container has exited).
    pub(crate) fn flush(&mut self) {
        let time = now_rfc3339();
        let mut out = Vec::new();
        for idx in 1..3 {
            if !self.partial[idx].is_empty() {
                let whole = std::mem::take(&mut self.partial[idx]);
                entry(&mut out, &whole, idx as u8, &time);
            }
        }
        self.emit(&out);
    }

    fn emit(&mut self, out: &[u8]) {
        if out.is_empty() {
            return;
        }
        if let Some(f) = &mut self.file {
            if let Err(e) = f.write_all(out) {
                eprintln!("whale shim: cannot write the container log: {e}; logging stops");
                self.file = None;
            }
        }
    }
}

/// Open (creating it) a log the shim appends to: the container's output
/// or the shim's own words, readable by the engine's user alone (0600; a
/// log made by an older whale with 0644 is closed too). Output can carry
/// secrets, and Docker's logs are 0600 as well.
pub(crate) fn open_private(path: &std::path::Path) -> std::io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn logs_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("old.log");
        std::fs::write(&p, "x").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mode =
            |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        drop(open_private(&p).unwrap());
        assert_eq!(mode(&p), 0o600);
        let n = t.path().join("new.log");
        drop(open_private(&n).unwrap());
        assert_eq!(mode(&n), 0o600);
    }

    #[test]
    fn lines_split_and_partials_joined() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("c.log");
        let mut log = JsonLog::new(Some(File::create(&p).unwrap()));
        log.write(1, b"hi\nhal");
        log.write(2, b"oops\n");
        log.write(1, b"f\n\"q\"");
        log.flush();
        let v = lines(&p);
        assert_eq!(v.len(), 4);
        assert_eq!(v[0]["log"], "hi\n");
        assert_eq!(v[0]["stream"], "stdout");
        assert_eq!(v[1]["log"], "oops\n");
        assert_eq!(v[1]["stream"], "stderr");
        assert_eq!(v[2]["log"], "half\n");
        assert_eq!(v[3]["log"], "\"q\"");
        let time = v[0]["time"].as_str().unwrap();
        assert!(time.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(time).is_ok());
    }
}
