//! What can be asked of a running container: its processes (`top`) and
//! its tty's size.

use super::error::{io_err, shim_err};
use super::{Container, ContainerError, Store};
use crate::shim::client as shim_client;
use std::sync::Arc;

/// The container `reference` names, if it is running.
pub fn running(store: &Store, reference: &str) -> Result<Arc<Container>, ContainerError> {
    let c = store.get(reference)?;
    if !c.state().running() {
        return Err(ContainerError::NotRunning(c.id().to_string()));
    }
    Ok(c)
}

/// PIDs (host view) of every process in the container, sorted; blocks on
/// the cgroup's files. Rootless without a cgroup: the init's PID namespace.
pub fn processes(c: &Container) -> Result<Vec<i32>, ContainerError> {
    if crate::linux::cgroup::delegation::cgroups_unavailable().is_some() {
        return Ok(crate::linux::procfs::container_processes(c.state().pid));
    }
    let mut pids = crate::linux::cgroup::container_pids(&super::cgroup_path(c.id()))
        .map_err(io_err(format!("listing the processes of {}", c.name())))?;
    pids.sort_unstable();
    Ok(pids)
}

/// Docker's `top` with ps options: the host's ps run with them, its rows
/// kept for the container's processes. Blocks.
pub fn ps(ps_args: &str, pids: &[i32]) -> Result<(Vec<String>, Vec<Vec<String>>), ContainerError> {
    let out = std::process::Command::new("ps")
        .args(ps_args.split_whitespace())
        .output()
        .map_err(io_err(format!("running ps {ps_args}")))?;
    if !out.status.success() {
        return Err(ContainerError::Internal(format!(
            "ps {ps_args} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    parse_ps(&String::from_utf8_lossy(&out.stdout), pids)
}

/// Docker's parsing of `ps` output: the header gives the titles, the last
/// column takes the rest of the line, rows are kept when their PID is one
/// of `pids`.
pub fn parse_ps(
    output: &str,
    pids: &[i32],
) -> Result<(Vec<String>, Vec<Vec<String>>), ContainerError> {
    let mut lines = output.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(String::from)
        .collect();
    let pid_col = titles.iter().position(|t| t == "PID").ok_or_else(|| {
        ContainerError::Internal(
            "Couldn't find PID field in ps output: give ps options that print PID".into(),
        )
    })?;
    let mut rows = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < titles.len() {
            continue;
        }
        let Ok(pid) = fields[pid_col].parse::<i32>() else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        let mut row: Vec<String> = fields[..titles.len() - 1]
            .iter()
            .map(|s| s.to_string())
            .collect();
        row.push(fields[titles.len() - 1..].join(" "));
        rows.push(row);
    }
    Ok((titles, rows))
}

/// Set the size of the container's tty.
pub async fn resize(c: &Container, rows: u16, cols: u16) -> Result<(), ContainerError> {
    shim_client::resize(&c.paths.socket(), rows, cols)
        .await
        .map_err(shim_err(format!("resizing the tty of {}", c.name())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_output_is_filtered_by_pid() {
        let out = "  PID USER     COMMAND\n    1 root     init\n   42 root     sleep 100\n   43 bob      sh -c x\n";
        let (titles, rows) = parse_ps(out, &[42, 43]).unwrap();
        assert_eq!(titles, ["PID", "USER", "COMMAND"]);
        assert_eq!(
            rows,
            [
                vec!["42", "root", "sleep 100"],
                vec!["43", "bob", "sh -c x"]
            ]
        );
        assert!(parse_ps("USER COMMAND\nroot x\n", &[1]).is_err());
    }
}
