//! `ADD <url>`: the download, with Docker's rules. The file is fetched at
//! build time (its content, not the URL, is the cache key), named after
//! the URL's last path segment, mode 0600, and its mtime is the server's
//! `Last-Modified` (the Unix epoch when there is none, as Docker sets it).

use super::BuildError;
use std::path::Path;

/// The file name Docker gives a URL's download.
pub fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let after_host = path.splitn(4, '/').nth(3).unwrap_or("");
    let name = after_host.rsplit('/').next().unwrap_or("");
    if name.is_empty() {
        "index.html".to_string()
    } else {
        name.to_string()
    }
}

/// Fetch `url` into `to` with the host's curl (whale links no TLS stack),
/// and set its mtime from `Last-Modified`.
pub fn fetch(url: &str, to: &Path) -> Result<(), BuildError> {
    let headers = to.with_extension("headers");
    let out = std::process::Command::new("curl")
        .args(["-sSL", "--connect-timeout", "15", "--max-time", "600"])
        .args(["-w", "%{http_code}", "-D"])
        .arg(&headers)
        .arg("-o")
        .arg(to)
        .arg("--")
        .arg(url)
        .output()
        .map_err(|e| {
            BuildError::Invalid(format!(
                "ADD {url}: cannot run curl to fetch it ({e}); install curl, or download the file into the build context and ADD it from there"
            ))
        })?;
    let head = std::fs::read_to_string(&headers).unwrap_or_default();
    let _ = std::fs::remove_file(&headers);
    if !out.status.success() {
        return Err(BuildError::Invalid(format!(
            "ADD failed: cannot fetch {url}: {} (is the server up and the URL right?)",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let code = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !code.starts_with('2') {
        let _ = std::fs::remove_file(to);
        return Err(BuildError::Invalid(format!(
            "ADD failed: failed to GET {url} with status {}: check the URL",
            status_line(&head).unwrap_or(code)
        )));
    }
    let mtime = last_modified(&head).unwrap_or(0);
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime.max(0) as u64);
    std::fs::File::options()
        .write(true)
        .open(to)
        .and_then(|f| f.set_modified(t))
        .map_err(|source| BuildError::Io {
            action: "set the mtime of",
            path: to.to_path_buf(),
            source,
        })
}

/// The headers of the last response (curl writes every redirect's).
fn last_response(head: &str) -> &str {
    match head.rfind("\r\n\r\nHTTP/") {
        Some(i) => &head[i + 4..],
        None => head,
    }
}

/// `404 Not Found` from the last response's status line.
fn status_line(head: &str) -> Option<String> {
    let first = last_response(head).lines().next()?;
    let (_, rest) = first.split_once(' ')?;
    Some(rest.trim().to_string())
}

/// `Last-Modified` of the last response, in Unix seconds.
fn last_modified(head: &str) -> Option<i64> {
    last_response(head).lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        if !k.trim().eq_ignore_ascii_case("last-modified") {
            return None;
        }
        chrono::DateTime::parse_from_rfc2822(v.trim())
            .ok()
            .map(|t| t.timestamp())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(file_name("http://x/a/b.tar.gz?x=1"), "b.tar.gz");
        assert_eq!(file_name("https://x/"), "index.html");
        assert_eq!(file_name("https://x"), "index.html");
    }

    #[test]
    fn headers() {
        let h = "HTTP/1.1 301 Moved\r\nLocation: /b\r\nLast-Modified: Mon, 01 Jan 2001 00:00:00 GMT\r\n\r\nHTTP/1.1 200 OK\r\nlast-modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n";
        assert_eq!(last_modified(h), Some(784111777));
        assert_eq!(status_line(h).as_deref(), Some("200 OK"));
        assert_eq!(last_modified("HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(
            status_line("HTTP/1.0 404 Not Found\r\n\r\n").as_deref(),
            Some("404 Not Found")
        );
    }
}
