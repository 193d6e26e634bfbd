//! docker's management commands (`container ls`, `image inspect`, ...):
//! every tutorial mixes both spellings, so whale accepts both, and a
//! management form is rewritten to its classic verb right after parsing.

use clap::{Args, Subcommand};

use crate::build::{BuildArgs, ExportArgs, HistoryArgs, LoadArgs, SaveArgs};
use crate::commands::*;

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
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Remove all stopped containers
    Prune(PruneArgs),
    /// Pause all processes within one or more containers
    Pause(crate::lifecycle::PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(crate::lifecycle::PauseArgs),
    /// Rename a container
    Rename(crate::lifecycle::RenameArgs),
    /// Update configuration of one or more containers
    Update(crate::lifecycle::UpdateArgs),
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
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Remove unused images
    Prune(ImagePruneArgs),
}

#[derive(Debug, Args)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>", "label=key=value")
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Prune anonymous volumes
    #[arg(long)]
    pub volumes: bool,
    /// Provide filter values (e.g. "label=<key>=<value>")
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkArgs {
    #[command(subcommand)]
    pub command: NetworkCommand,
}

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// List networks
    #[command(visible_alias = "list")]
    Ls(NetworkLsArgs),
    /// Display detailed information on one or more networks
    Inspect(NetworkInspectArgs),
    /// Create a network (refused: whale makes no bridges)
    Create(NetworkRefusedArgs),
    /// Remove one or more networks (refused: whale's networks are built in)
    #[command(visible_alias = "remove")]
    Rm(NetworkRefusedArgs),
    /// Connect a container to a network (refused)
    Connect(NetworkRefusedArgs),
    /// Disconnect a container from a network (refused)
    Disconnect(NetworkRefusedArgs),
    /// Remove all unused networks (whale's built-in ones never are)
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct NetworkLsArgs {
    /// Only display network IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
    /// Provide filter values (e.g. "driver=host")
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output using a Go template
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct NetworkInspectArgs {
    /// Format output using a Go template
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true, value_name = "NETWORK")]
    pub networks: Vec<String>,
}

/// Whatever docker's form takes: the daemon refuses the verb itself.
#[derive(Debug, Args)]
pub struct NetworkRefusedArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumeArgs {
    #[command(subcommand)]
    pub command: VolumeCommand,
}

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    Create(VolumeCreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(VolumeLsArgs),
    /// Display detailed information on one or more volumes
    Inspect(VolumeInspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(VolumeRmArgs),
    /// Remove unused local volumes (anonymous ones; all unused with --all)
    Prune(VolumePruneArgs),
}

#[derive(Debug, Args)]
pub struct VolumeCreateArgs {
    /// Volume driver name (whale has the local driver only)
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Driver specific options (whale's local driver takes none)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub opt: Vec<String>,
    /// Set metadata for a volume (KEY=VALUE)
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// The volume's name (a random one when left out)
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct VolumeLsArgs {
    /// Only display volume names
    #[arg(short, long)]
    pub quiet: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Provide filter values (dangling=true, name=..., label=..., driver=local)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumeInspectArgs {
    /// Format output using a Go template ('json' for JSON)
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumeRmArgs {
    /// Do not fail when a volume does not exist
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumePruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "label=key=value")
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
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
            ContainerCommand::Port(a) => Command::Port(a),
            ContainerCommand::Export(a) => Command::Export(a),
            ContainerCommand::Diff(a) => Command::Diff(a),
            ContainerCommand::Cp(a) => Command::Cp(a),
            ContainerCommand::Stats(a) => Command::Stats(a),
            ContainerCommand::Pause(a) => Command::Pause(a),
            ContainerCommand::Unpause(a) => Command::Unpause(a),
            ContainerCommand::Rename(a) => Command::Rename(a),
            ContainerCommand::Update(a) => Command::Update(a),
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
            ImageCommand::Pull(a) => Command::Pull(a),
            ImageCommand::Push(a) => Command::Push(a),
            prune @ ImageCommand::Prune(_) => Command::Image(ImageArgs { command: prune }),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Command {
        let cli =
            crate::try_parse_from(std::iter::once("whale").chain(args.iter().copied())).unwrap();
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
            crate::try_parse_from(["whale", "container", "run", "--bogus", "busybox"]).is_err()
        );
    }
}
