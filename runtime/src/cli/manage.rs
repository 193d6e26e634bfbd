//! docker's management commands: `whale container ls`, `whale image
//! inspect`, `whale container prune`. Every tutorial mixes both spellings
//! (`docker ps` and `docker container ls`), so whale accepts both: a
//! management form is rewritten to its classic verb right after parsing,
//! and only what has no classic verb (`prune`) is handled here.

use std::io::{BufRead, Write};

use bollard::query_parameters::PruneContainersOptions;
use clap::{Args, Subcommand};

use super::build::{BuildArgs, ExportArgs, HistoryArgs, LoadArgs, SaveArgs};
use super::exec::ExecArgs;
use super::opts::{
    AttachArgs, Cli, Command, CreateArgs, ImagesArgs, ImportArgs, InspectArgs, KillArgs, LogsArgs,
    ObjectType, PsArgs, RmArgs, RmiArgs, RunArgs, StartArgs, StopArgs, TagArgs, TopArgs, WaitArgs,
};
use super::{client, CliResult};

#[derive(Debug, Args)]
pub struct ContainerArgs {
    #[command(subcommand)]
    pub command: ContainerCommand,
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// List containers
    #[command(visible_aliases = ["ps", "list"])]
    Ls(PsArgs),
    /// Create a new container
    Create(CreateArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Attach to a running container's input and output
    Attach(AttachArgs),
    /// Run a command in a running container
    Exec(ExecArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Remove one or more containers
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Block until containers stop, then print their exit codes
    Wait(WaitArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Display detailed information on one or more containers
    Inspect(InspectArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(super::opts::DiffArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(super::copy::CpArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(super::stats::StatsArgs),
    /// Remove all stopped containers
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct ImageArgs {
    #[command(subcommand)]
    pub command: ImageCommand,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove")]
    Rm(RmiArgs),
    /// Display detailed information on one or more images
    Inspect(InspectArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Save one or more images to a tar archive
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Build an image from a Dockerfile
    Build(BuildArgs),
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>", "label=key=value")
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

/// The classic verb for a management command (`container ls` is `ps`);
/// `container prune` has none and stays as it is.
pub fn classic(command: Command) -> Command {
    match command {
        Command::Container(ContainerArgs { command }) => match command {
            ContainerCommand::Ls(a) => Command::Ps(a),
            ContainerCommand::Create(a) => Command::Create(a),
            ContainerCommand::Start(a) => Command::Start(a),
            ContainerCommand::Run(a) => Command::Run(a),
            ContainerCommand::Attach(a) => Command::Attach(a),
            ContainerCommand::Exec(a) => Command::Exec(a),
            ContainerCommand::Stop(a) => Command::Stop(a),
            ContainerCommand::Kill(a) => Command::Kill(a),
            ContainerCommand::Rm(a) => Command::Rm(a),
            ContainerCommand::Wait(a) => Command::Wait(a),
            ContainerCommand::Logs(a) => Command::Logs(a),
            ContainerCommand::Inspect(a) => Command::Inspect(InspectArgs {
                kind: Some(ObjectType::Container),
                ..a
            }),
            ContainerCommand::Top(a) => Command::Top(a),
            ContainerCommand::Export(a) => Command::Export(a),
            ContainerCommand::Diff(a) => Command::Diff(a),
            ContainerCommand::Cp(a) => Command::Cp(a),
            ContainerCommand::Stats(a) => Command::Stats(a),
            prune @ ContainerCommand::Prune(_) => {
                Command::Container(ContainerArgs { command: prune })
            }
        },
        Command::Image(ImageArgs { command }) => match command {
            ImageCommand::Ls(a) => Command::Images(a),
            ImageCommand::Rm(a) => Command::Rmi(a),
            ImageCommand::Inspect(a) => Command::Inspect(InspectArgs {
                kind: Some(ObjectType::Image),
                ..a
            }),
            ImageCommand::History(a) => Command::History(a),
            ImageCommand::Tag(a) => Command::Tag(a),
            ImageCommand::Save(a) => Command::Save(a),
            ImageCommand::Load(a) => Command::Load(a),
            ImageCommand::Import(a) => Command::Import(a),
            ImageCommand::Build(a) => Command::Build(a),
        },
        other => other,
    }
}

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
        crate::humanize::human_size(reclaimed.max(0) as u64)
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

    fn parse(args: &[&str]) -> Command {
        let cli = crate::cli::try_parse_from(std::iter::once("whale").chain(args.iter().copied()))
            .unwrap();
        cli.command
    }

    #[test]
    fn management_forms_become_classic_verbs() {
        assert!(matches!(parse(&["container", "ls", "-a"]), Command::Ps(a) if a.all));
        assert!(matches!(parse(&["container", "ps", "-q"]), Command::Ps(a) if a.quiet));
        assert!(matches!(parse(&["image", "ls"]), Command::Images(_)));
        assert!(matches!(parse(&["image", "rm", "x"]), Command::Rmi(_)));
        assert!(matches!(
            parse(&["image", "inspect", "busybox"]),
            Command::Inspect(InspectArgs {
                kind: Some(ObjectType::Image),
                ..
            })
        ));
        assert!(matches!(
            parse(&["container", "inspect", "-f", "{{.Id}}", "web"]),
            Command::Inspect(InspectArgs {
                kind: Some(ObjectType::Container),
                ..
            })
        ));
        assert!(matches!(
            parse(&["container", "run", "--rm", "busybox", "true"]),
            Command::Run(_)
        ));
        assert!(matches!(
            parse(&["container", "prune", "-f"]),
            Command::Container(ContainerArgs { command: ContainerCommand::Prune(p) }) if p.force
        ));
        // The unknown-flag rule of `run` holds for `container run` too.
        assert!(
            crate::cli::try_parse_from(["whale", "container", "run", "--bogus", "busybox"])
                .is_err()
        );
    }

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
