//! docker's management commands: `whale container ls`, `whale image
//! inspect`, `whale container prune`. Every tutorial mixes both spellings
//! (`docker ps` and `docker container ls`), so whale accepts both: a
//! management form is rewritten to its classic verb right after parsing,
//! and only what has no classic verb (`prune`) is handled here.

use std::io::{BufRead, Write};

use bollard::query_parameters::PruneContainersOptions;

use super::{client, CliResult};
use whale_args::{Cli, PruneArgs};

/// `whale container prune`: remove every stopped container, after asking,
/// and print what went and the bytes it gave back, as docker does.
pub async fn container_prune(cli: &Cli, args: &PruneArgs) -> CliResult {
    if !args.force && !confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(());
    }
    let mut filters = std::collections::HashMap::<String, Vec<String>>::new();
    for f in &args.filter {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            super::CliError::Usage(format!("bad format of filter (expected name=value): {f:?}"))
        })?;
        filters
            .entry(k.to_string())
            .or_default()
            .push(v.to_string());
    }
    let client = client(cli).await?;
    let resp = client
        .docker
        .prune_containers(Some(PruneContainersOptions {
            filters: (!filters.is_empty()).then_some(filters),
        }))
        .await?;
    print!(
        "{}",
        prune_report(
            "Deleted Containers:",
            &resp.containers_deleted.unwrap_or_default(),
            resp.space_reclaimed.unwrap_or(0)
        )
    );
    Ok(())
}

fn prune_report(heading: &str, deleted: &[String], reclaimed: i64) -> String {
    let mut out = String::new();
    if !deleted.is_empty() {
        out.push_str(heading);
        out.push('\n');
        for id in deleted {
            out.push_str(id);
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "Total reclaimed space: {}\n",
        whale_formats::humanize::human_size(reclaimed.max(0) as u64)
    ));
    out
}

/// docker's `[y/N]` prompt; anything but yes (EOF included) is a no.
fn confirm(warning: &str) -> Result<bool, super::CliError> {
    let mut stdout = std::io::stdout();
    let _ = write!(
        stdout,
        "{warning}\nAre you sure you want to continue? [y/N] "
    );
    let _ = stdout.flush();
    // A piped answer counts too (`yes | whale container prune`).
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| super::CliError::Other(format!("cannot read the answer: {e}")))?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_reports_like_docker() {
        assert_eq!(
            prune_report("Deleted Containers:", &["abc".into(), "def".into()], 1234),
            "Deleted Containers:\nabc\ndef\n\nTotal reclaimed space: 1.23kB\n"
        );
        assert_eq!(
            prune_report("Deleted Containers:", &[], 0),
            "Total reclaimed space: 0B\n"
        );
    }
}
