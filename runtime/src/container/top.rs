//! `docker top`: the processes of a container's cgroup, as `ps -ef` rows.

use crate::linux::{cgroup, procfs};

/// `ps -ef`'s columns, the titles of [`ps_rows`]'s rows.
pub const PS_TITLES: &[&str] = &["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];

/// Host PIDs of every process in the container's cgroup (`cgroup_path` as
/// in its spec), sorted.
pub fn pids(cgroup_path: &str) -> std::io::Result<Vec<i32>> {
    cgroup::container_pids(cgroup_path)
}

fn user_name(uid: u32, passwd: &str) -> String {
    passwd
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let _ = f.next();
            (f.next()?.parse::<u32>().ok()? == uid).then(|| name.to_string())
        })
        .unwrap_or_else(|| uid.to_string())
}

fn tty_name(tty_nr: u64) -> String {
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        0 => "?".to_string(),
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        4 if minor < 64 => format!("tty{minor}"),
        _ => "?".to_string(),
    }
}

/// `ps -ef` rows (UID PID PPID C STIME TTY TIME CMD) for `pids`; a process
/// that exited meanwhile has none.
pub fn ps_rows(pids: &[i32]) -> Vec<Vec<String>> {
    let hz = procfs::clock_ticks();
    let btime = procfs::boot_time();
    // The daemon's users: the processes' uids are host uids.
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let now = chrono::Local::now();
    let uptime = procfs::uptime_secs();
    let mut rows = Vec::new();
    for &pid in pids {
        let Some(stat) = procfs::pid_stat(pid) else {
            continue;
        };
        let cpu_ticks = stat.utime + stat.stime;
        let uid = procfs::pid_uid(pid).unwrap_or(0);
        let cmdline = procfs::pid_cmdline(pid);
        let cmd = if cmdline.is_empty() {
            format!("[{}]", stat.comm)
        } else {
            String::from_utf8_lossy(&cmdline)
                .trim_end_matches('\0')
                .replace('\0', " ")
        };
        let started_secs = btime + (stat.starttime / hz) as i64;
        let stime = chrono::DateTime::from_timestamp(started_secs, 0)
            .map(|t| t.with_timezone(&chrono::Local))
            .map(|t| {
                if t.date_naive() == now.date_naive() {
                    t.format("%H:%M").to_string()
                } else {
                    t.format("%b%d").to_string()
                }
            })
            .unwrap_or_default();
        let elapsed = uptime - stat.starttime as f64 / hz as f64;
        let cpu_secs = cpu_ticks / hz;
        let c = if elapsed > 0.0 {
            ((cpu_ticks as f64 / hz as f64) * 100.0 / elapsed) as u64
        } else {
            0
        };
        rows.push(vec![
            user_name(uid, &passwd),
            pid.to_string(),
            stat.ppid.to_string(),
            c.to_string(),
            stime,
            tty_name(stat.tty_nr),
            format!(
                "{:02}:{:02}:{:02}",
                cpu_secs / 3600,
                cpu_secs / 60 % 60,
                cpu_secs % 60
            ),
            cmd,
        ]);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_rows_of_self() {
        let me = std::process::id() as i32;
        let rows = ps_rows(&[me, i32::MAX]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].len(), PS_TITLES.len());
        assert_eq!(rows[0][1], me.to_string());
        assert!(!rows[0][7].is_empty());
    }

    #[test]
    fn tty_names() {
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name((136 << 8) | 3), "pts/3");
    }

    #[test]
    fn user_names_from_passwd() {
        let p = "root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n";
        assert_eq!(user_name(0, p), "root");
        assert_eq!(user_name(1000, p), "bob");
        assert_eq!(user_name(42, p), "42");
    }
}
