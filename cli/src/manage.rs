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

fn filter_map(
    filter: &[String],
) -> Result<std::collections::HashMap<String, Vec<String>>, super::CliError> {
    let mut filters = std::collections::HashMap::<String, Vec<String>>::new();
    for f in filter {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            super::CliError::Usage(format!("bad format of filter (expected name=value): {f:?}"))
        })?;
        filters
            .entry(k.to_string())
            .or_default()
            .push(v.to_string());
    }
    Ok(filters)
}

/// The images part of `image prune` and `system prune`: docker's
/// "Deleted Images:" lines (`untagged: ...`, `deleted: ...`) and the bytes.
async fn prune_images(
    client: &super::connect::Client,
    all: bool,
    mut filters: std::collections::HashMap<String, Vec<String>>,
) -> Result<(String, i64), super::CliError> {
    if all {
        filters.insert("dangling".into(), vec!["false".into()]);
    }
    let resp = client
        .docker
        .prune_images(Some(bollard::query_parameters::PruneImagesOptions {
            filters: (!filters.is_empty()).then_some(filters),
        }))
        .await?;
    let mut out = String::new();
    let items = resp.images_deleted.unwrap_or_default();
    if !items.is_empty() {
        out.push_str("Deleted Images:\n");
        for it in items {
            if let Some(u) = it.untagged {
                out.push_str(&format!("untagged: {u}\n"));
            }
            if let Some(d) = it.deleted {
                out.push_str(&format!("deleted: {d}\n"));
            }
        }
        out.push('\n');
    }
    Ok((out, resp.space_reclaimed.unwrap_or(0)))
}

/// `whale image prune [-a]`: dangling images (with `-a`, every image no
/// container uses), after asking, as docker does.
pub async fn image_prune(cli: &Cli, args: &whale_args::ImagePruneArgs) -> CliResult {
    let warning = if args.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    let filters = filter_map(&args.filter)?;
    if !args.force && !confirm(warning)? {
        return Ok(());
    }
    let client = client(cli).await?;
    let (text, reclaimed) = prune_images(&client, args.all, filters).await?;
    print!("{text}");
    println!(
        "Total reclaimed space: {}",
        whale_formats::humanize::human_size(reclaimed.max(0) as u64)
    );
    Ok(())
}

/// `whale system prune`: stopped containers, then dangling (or with `-a`
/// unused) images; whale has no networks to prune and its build cache is
/// the intermediate images, which go with their images. `--volumes` also
/// prunes the anonymous volumes no container uses, as docker 28 does.
pub async fn system_prune(cli: &Cli, args: &whale_args::SystemPruneArgs) -> CliResult {
    let filters = filter_map(&args.filter)?;
    let mut warning = String::from(
        "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n",
    );
    if args.volumes {
        warning.push_str("  - all anonymous volumes not used by at least one container\n");
    }
    warning.push_str(if args.all {
        "  - all images without at least one container associated to them\n  - all build cache\n"
    } else {
        "  - all dangling images\n  - unused build cache\n"
    });
    if !args.force && !confirm(&warning)? {
        return Ok(());
    }
    let client = client(cli).await?;
    let resp = client
        .docker
        .prune_containers(Some(PruneContainersOptions {
            filters: (!filters.is_empty()).then(|| filters.clone()),
        }))
        .await?;
    let deleted = resp.containers_deleted.unwrap_or_default();
    let mut reclaimed = resp.space_reclaimed.unwrap_or(0);
    if !deleted.is_empty() {
        println!("Deleted Containers:");
        for id in &deleted {
            println!("{id}");
        }
        println!();
    }
    if args.volumes {
        // After the containers: the volumes they held are unused now.
        let resp = client
            .docker
            .prune_volumes(Some(bollard::query_parameters::PruneVolumesOptions {
                filters: (!filters.is_empty()).then(|| filters.clone()),
            }))
            .await?;
        let deleted = resp.volumes_deleted.unwrap_or_default();
        reclaimed += resp.space_reclaimed.unwrap_or(0);
        if !deleted.is_empty() {
            println!("Deleted Volumes:");
            for v in &deleted {
                println!("{v}");
            }
            println!();
        }
    }
    let (text, bytes) = prune_images(&client, args.all, filters).await?;
    print!("{text}");
    reclaimed += bytes;
    println!(
        "Total reclaimed space: {}",
        whale_formats::humanize::human_size(reclaimed.max(0) as u64)
    );
    Ok(())
}

pub(crate) fn prune_report(heading: &str, deleted: &[String], reclaimed: i64) -> String {
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
pub(crate) fn confirm(warning: &str) -> Result<bool, super::CliError> {
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
