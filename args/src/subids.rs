//! Subordinate ids: the ranges of uids and gids `/etc/subuid` and
//! `/etc/subgid` grant a normal user, which `newuidmap`/`newgidmap` (Debian's
//! `uidmap`) map into the user's namespaces. Rootless whale's daemon,
//! `whale bootstrap debian` (mmdebstrap `--mode=unshare`) and the tutor's
//! `doctor` all ask the same question: does this user have a range?

use std::path::Path;

/// Where the uid ranges are granted.
pub const SUBUID_FILE: &str = "/etc/subuid";
/// Where the gid ranges are granted.
pub const SUBGID_FILE: &str = "/etc/subgid";

/// One granted range: ids `start .. start + count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub start: u64,
    pub count: u64,
}

/// The ranges `text` (a subuid/subgid file) grants the user called `name`
/// whose id is `id`: the file names an owner by name or by number. Lines
/// that are comments, malformed or of a count of 0 grant nothing.
pub fn ranges_in(text: &str, name: &str, id: u32) -> Vec<IdRange> {
    let id = id.to_string();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let mut fields = l.trim().split(':');
            let owner = fields.next()?;
            let start = fields.next()?.parse().ok()?;
            let count = fields.next()?.parse().ok()?;
            ((owner == name || owner == id) && count > 0).then_some(IdRange { start, count })
        })
        .collect()
}

/// The ranges the file at `path` grants the user (`name`, `id`). A file
/// that is absent grants nothing; one that cannot be read is an error.
pub fn ranges_from(path: &Path, name: &str, id: u32) -> std::io::Result<Vec<IdRange>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(ranges_in(&text, name, id)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// How many ids the ranges hold together.
pub fn total(ranges: &[IdRange]) -> u64 {
    ranges.iter().map(|r| r.count).sum()
}

/// The line an administrator runs to grant `user` the usual 65536 ids
/// (what `useradd` gives a new user on Debian): shown wherever a missing
/// range stops something.
pub fn grant_line(user: &str) -> String {
    format!("sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_by_name_or_number() {
        let text = "# granted by useradd\nalice:100000:65536\n1001:200000:1000\n\
                    bob:300000:65536\nalice:400000:0\nalice:bad:1\nalice:500000\n";
        assert_eq!(
            ranges_in(text, "alice", 1001),
            [
                IdRange {
                    start: 100000,
                    count: 65536
                },
                IdRange {
                    start: 200000,
                    count: 1000
                }
            ]
        );
        assert_eq!(total(&ranges_in(text, "alice", 1001)), 66536);
        assert!(ranges_in(text, "carol", 1002).is_empty());
        assert!(ranges_in("", "alice", 1001).is_empty());
    }

    #[test]
    fn an_absent_file_grants_nothing() {
        let r = ranges_from(Path::new("/nonexistent/subuid"), "alice", 1001).unwrap();
        assert!(r.is_empty());
    }
}
