//! The command line, in docker's shape (flag names and short flags).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
whale speaks the Docker Engine API: the same flags and output as docker.
Without a running daemon, the first command starts one in the background
(its log is <root>/daemon.log).";

#[derive(Debug, Parser)]
#[command(
    name = "whale",
    version,
    about = "A minimal but real container engine: docker's verbs, no registry needed",
    after_help = AFTER_HELP,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Daemon socket to connect to (unix:///path or a plain path) [env:
    /// WHALE_HOST] [default: /run/whale/whale.sock as root,
    /// $XDG_RUNTIME_DIR/whale/whale.sock as a normal user]
    #[arg(short = 'H', long, value_name = "SOCKET")]
    pub host: Option<String>,

    /// Root dir of the engine's state, used when the CLI starts the daemon
    /// [env: WHALE_ROOT] [default: /var/lib/whale as root,
    /// ~/.local/share/whale as a normal user]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Print what the CLI does (connection, daemon start)
    #[arg(short = 'D', long)]
    pub debug: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the engine's daemon (serves the Docker Engine API on a Unix socket)
    Daemon(DaemonArgs),
    /// Make a base image without a registry: busybox:latest or debian:bookworm
    Bootstrap(BootstrapArgs),
    /// List images
    Images(ImagesArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Log in to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Create a new container
    Create(CreateArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Return low-level information on containers or images
    Inspect(InspectArgs),
    /// List containers
    Ps(PsArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Pause all processes within one or more containers
    Pause(crate::lifecycle::PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(crate::lifecycle::PauseArgs),
    /// Rename a container
    Rename(crate::lifecycle::RenameArgs),
    /// Update configuration of one or more containers
    Update(crate::lifecycle::UpdateArgs),
    /// Show the whale version information
    Version(VersionArgs),
    /// Display system-wide information
    Info(InfoArgs),
    /// Build an image from a Dockerfile
    Build(crate::build::BuildArgs),
    /// Show the history of an image
    History(crate::build::HistoryArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(crate::build::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(crate::build::LoadArgs),
    /// Export a container's filesystem as a tar archive
    Export(crate::build::ExportArgs),
    /// Manage containers (`container ls`, `container prune`, ...)
    Container(crate::manage::ContainerArgs),
    /// Manage images (`image ls`, `image inspect`, ...)
    Image(crate::manage::ImageArgs),
    /// Manage volumes (`volume create`, `volume ls`, `volume rm`, ...)
    Volume(crate::manage::VolumeArgs),
    /// Manage whale (disk usage: system df)
    System(crate::build::SystemArgs),
    /// Manage networks
    Network(crate::manage::NetworkArgs),
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Root dir of the engine's state [env: WHALE_ROOT] [default: /var/lib/whale
    /// as root, ~/.local/share/whale as a normal user]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Socket to listen on (unix:///path or a plain path); defaults to the global -H
    #[arg(short = 'H', long, value_name = "SOCKET")]
    pub host: Option<String>,
    /// A registry (HOST[:PORT]) to reach over plain HTTP although it is not on loopback
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registries: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Download all tagged images in the repository (whale refuses it: name one tag)
    #[arg(short, long)]
    pub all_tags: bool,
    /// Skip image verification (accepted: whale has no content trust)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub disable_content_trust: bool,
    /// Set platform if server is multi-platform capable (whale pulls the host's platform only)
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub reference: String,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push all tags of an image to the repository (whale refuses it: name one tag)
    #[arg(short, long)]
    pub all_tags: bool,
    /// Skip image signing (accepted: whale has no content trust)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub disable_content_trust: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(value_name = "NAME[:TAG]")]
    pub reference: String,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Username
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// The registry (HOST[:PORT]); whale has no default registry
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (HOST[:PORT])
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BaseImage {
    /// busybox:latest from the host's static busybox (Debian busybox-static)
    Busybox,
    /// debian:bookworm with mmdebstrap from the host's apt sources
    Debian,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Which base image to make
    #[arg(value_enum)]
    pub image: BaseImage,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (whale has no intermediate images; accepted for docker compatibility)
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Only images matching REPOSITORY[:TAG]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, STOPSIGNAL)
    #[arg(short, long = "change", value_name = "LINE")]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short, long)]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub pause: bool,
    pub container: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE)
    #[arg(short, long = "change", value_name = "LINE")]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long)]
    pub message: Option<String>,
    /// A rootfs tar file, or - for standard input
    #[arg(value_name = "file|-")]
    pub file: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// Everything `create` and `run` share.
#[derive(Debug, Args, Clone, Default)]
pub struct ContainerOpts {
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long)]
    pub rm: bool,
    /// Set environment variables (KEY=VALUE; KEY alone takes the value from here)
    #[arg(short, long, value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<std::path::PathBuf>,
    /// Read in a line delimited file of labels
    #[arg(long, value_name = "FILE")]
    pub label_file: Vec<std::path::PathBuf>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Memory limit (bytes, or with a unit: 32m, 1g)
    #[arg(short, long, value_parser = crate::units::parse_ram_flag)]
    pub memory: Option<i64>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, value_parser = crate::units::parse_swap_flag, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// Number of CPUs (may be fractional: 0.5)
    #[arg(long, value_parser = crate::units::parse_cpus_flag)]
    pub cpus: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Connect a container to a network: none, host, or default (loopback only on whale)
    #[arg(long, visible_alias = "net", default_value = "default")]
    pub network: String,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// Add a link to another container (NAME[:ALIAS]; recorded as dockerd does on --network none: no variables, no hosts entry)
    #[arg(long, value_name = "NAME[:ALIAS]")]
    pub link: Vec<String>,
    /// Logging driver for the container: json-file (the default) or none
    #[arg(long, value_name = "DRIVER")]
    pub log_driver: Option<String>,
    /// Log driver options (json-file: max-file=N)
    #[arg(long, value_name = "KEY=VALUE")]
    pub log_opt: Vec<String>,
    /// Runtime to use for this container: whale (the default) or runc, whose part whale's shim plays
    #[arg(long, value_name = "RUNTIME")]
    pub runtime: Option<String>,
    /// Publish a container's port(s) to the host: [IP:][HOSTPORT:]CPORT[/tcp] (no HOSTPORT: an ephemeral one)
    #[arg(short = 'p', long = "publish", value_name = "PORT")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long, value_name = "PORT")]
    pub expose: Vec<String>,
    /// Set meta data on a container (KEY=VALUE)
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Signal to stop the container
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Bind mount a host dir or mount a volume: /host:/path[:ro], NAME:/path[:ro], or /path (anonymous volume)
    #[arg(short = 'v', long, value_name = "[SRC:]DST[:OPTS]")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount: type=bind|volume|tmpfs,source=..,target=..[,readonly][,tmpfs-size=..,tmpfs-mode=..]
    #[arg(long, value_name = "MOUNT")]
    pub mount: Vec<String>,
    /// Mount volumes from the specified container(s): CONTAINER[:ro|:rw]
    #[arg(long, value_name = "CONTAINER[:MODE]")]
    pub volumes_from: Vec<String>,
    /// Mount a tmpfs directory: /path[:size=64m,mode=1777,...]
    #[arg(long, value_name = "PATH[:OPTS]")]
    pub tmpfs: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub read_only: bool,
    /// Security options: seccomp=unconfined, seccomp=PROFILE.json (read by the client), no-new-privileges
    #[arg(long, value_name = "OPTION")]
    pub security_opt: Vec<String>,
    #[command(flatten)]
    pub policy: crate::lifecycle::PolicyOpts,
    /// Add Linux capabilities (NAME, CAP_NAME or ALL)
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities (NAME, CAP_NAME or ALL)
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container: all capabilities, the host's devices, no seccomp, nothing masked
    #[arg(long)]
    pub privileged: bool,
    /// PID namespace to use: host, or the container's own (default)
    #[arg(long, value_name = "MODE")]
    pub pid: Option<String>,
    /// IPC mode to use: host, private (default), shareable or none
    #[arg(long, value_name = "MODE")]
    pub ipc: Option<String>,
    /// UTS namespace to use: host, or the container's own (default)
    #[arg(long, value_name = "MODE")]
    pub uts: Option<String>,
    /// Add additional groups to join (names from the container's /etc/group, or numbers)
    #[arg(long, value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Ulimit options (NAME=SOFT[:HARD], e.g. nofile=1024:2048)
    #[arg(long, value_name = "NAME=SOFT[:HARD]", value_parser = crate::units::parse_ulimit_flag)]
    pub ulimit: Vec<crate::units::Ulimit>,
    /// Set custom DNS servers
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long, value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long, value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Size of /dev/shm (bytes, or with a unit: 64m)
    #[arg(long, value_name = "SIZE", value_parser = crate::units::parse_ram_flag)]
    pub shm_size: Option<i64>,
    /// Add a host device to the container (HOST[:CONTAINER][:PERMISSIONS], under /dev)
    #[arg(long, value_name = "HOST[:CONTAINER][:PERMS]")]
    pub device: Vec<String>,
    /// Sysctl options (namespaced ones only: net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)
    #[arg(long, value_name = "KEY=VALUE", value_parser = crate::units::parse_sysctl_flag)]
    pub sysctl: Vec<String>,
    /// The image, then the command and its arguments (flags after IMAGE belong to the command)
    #[arg(
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "IMAGE [COMMAND] [ARG...]"
    )]
    pub args: Vec<String>,
}

impl ContainerOpts {
    /// The image to start the container from.
    pub fn image(&self) -> &str {
        self.args.first().map(String::as_str).unwrap_or("")
    }

    /// The command that replaces the image's CMD (empty: keep it).
    pub fn command(&self) -> &[String] {
        self.args.get(1..).unwrap_or(&[])
    }
}

#[derive(Debug, Args)]
#[command(
    disable_help_flag = true,
    override_usage = "whale create [OPTIONS] IMAGE [COMMAND] [ARG...]"
)]
pub struct CreateArgs {
    #[command(flatten)]
    pub opts: ContainerOpts,
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

#[derive(Debug, Args)]
#[command(
    disable_help_flag = true,
    override_usage = "whale run [OPTIONS] IMAGE [COMMAND] [ARG...]"
)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, default_value = crate::DEFAULT_DETACH_KEYS, value_name = "KEYS")]
    pub detach_keys: String,
    #[command(flatten)]
    pub opts: ContainerOpts,
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, default_value = crate::DEFAULT_DETACH_KEYS, value_name = "KEYS")]
    pub detach_keys: String,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, default_value = crate::DEFAULT_DETACH_KEYS, value_name = "KEYS")]
    pub detach_keys: String,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", alias = "timeout", default_value_t = 10)]
    pub time: i32,
    /// Signal to send to the container
    #[arg(short, long)]
    pub signal: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs ("all" for all)
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long)]
    pub until: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ObjectType {
    Container,
    Image,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a Go template ('json' for JSON)
    #[arg(short, long)]
    pub format: Option<String>,
    /// Only inspect objects of this type
    #[arg(long = "type", value_enum)]
    pub kind: Option<ObjectType>,
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long, allow_hyphen_values = true)]
    pub last: Option<i32>,
    /// Show the latest created container (includes all states)
    #[arg(short, long)]
    pub latest: bool,
    /// Filter output based on conditions provided (KEY=VALUE: name, id, status, label, ...)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// PRIVATE_PORT[/PROTO]: only this port's mappings
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub port: Option<String>,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// ps options (default -ef)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ps OPTIONS"
    )]
    pub ps_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Format output using a Go template
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Format output using a Go template
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information); accepted, as whale
    /// always keeps modes and the tar's owners are not applied
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol links in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// CONTAINER:SRC_PATH, a host path, or - (a tar on stdin)
    #[arg(value_name = "SRC")]
    pub src: String,
    /// CONTAINER:DEST_PATH, a host path, or - (a tar on stdout)
    #[arg(value_name = "DEST")]
    pub dest: String,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, default_value = crate::DEFAULT_DETACH_KEYS, value_name = "KEYS")]
    pub detach_keys: String,
    /// Set environment variables (KEY=VALUE; KEY alone takes the value from here)
    #[arg(short, long, value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Give extended privileges to the command: every capability (the container's seccomp filter and masks still hold)
    #[arg(long)]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(
        value_name = "COMMAND",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template
    #[arg(long)]
    pub format: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("whale").chain(args.iter().copied()))
    }

    fn run_args(args: &[&str]) -> RunArgs {
        match parse(args).unwrap().command {
            Command::Run(r) => r,
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn run_takes_the_command_after_the_image() {
        let r = run_args(&["run", "--rm", "busybox", "sh", "-c", "echo $$"]);
        assert!(r.opts.rm);
        assert_eq!(r.opts.image(), "busybox");
        assert_eq!(r.opts.command(), vec!["sh", "-c", "echo $$"]);
    }

    #[test]
    fn flags_after_the_image_belong_to_the_command() {
        let r = run_args(&["run", "busybox", "-d", "--rm", "-it"]);
        assert!(!r.detach && !r.opts.rm && !r.opts.tty);
        assert_eq!(r.opts.command(), vec!["-d", "--rm", "-it"]);
        let r = run_args(&["run", "busybox", "ls", "-l", "--name", "x"]);
        assert_eq!(r.opts.name, None);
        assert_eq!(r.opts.command(), vec!["ls", "-l", "--name", "x"]);
    }

    #[test]
    fn an_unknown_flag_before_the_image_is_an_error() {
        let whale =
            |a: &[&str]| crate::try_parse_from(std::iter::once("whale").chain(a.iter().copied()));
        // Not an image called "--bogus" (docker: unknown flag: --bogus).
        let err = whale(&["run", "--bogus", "busybox"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
        assert!(err.to_string().contains("unknown flag: --bogus"), "{err}");
        assert!(whale(&["create", "-Z", "busybox", "sh"]).is_err());
        // Dashes after the image belong to the command.
        assert!(whale(&["run", "busybox", "ls", "-l"]).is_ok());
        assert!(whale(&["run", "-d", "busybox", "--x"]).is_ok());
    }

    #[test]
    fn short_flags_combine() {
        let r = run_args(&["run", "-it", "--name", "first", "busybox", "sh"]);
        assert!(r.opts.interactive && r.opts.tty);
        assert_eq!(r.opts.name.as_deref(), Some("first"));
        let r = run_args(&["run", "-dit", "busybox"]);
        assert!(r.detach && r.opts.interactive && r.opts.tty);
        assert!(r.opts.command().is_empty());
    }

    #[test]
    fn rm_and_detach_go_together_as_in_docker_28() {
        let r = run_args(&["run", "--rm", "-d", "busybox", "sleep", "1"]);
        assert!(r.opts.rm && r.detach);
    }

    #[test]
    fn dash_h_is_the_hostname_for_run() {
        let r = run_args(&["run", "-h", "box", "busybox"]);
        assert_eq!(r.opts.hostname.as_deref(), Some("box"));
    }

    #[test]
    fn resources_parse_with_docker_units() {
        let r = run_args(&[
            "run",
            "-m",
            "32m",
            "--memory-swap",
            "-1",
            "--cpus",
            "1.5",
            "--pids-limit",
            "20",
            "--net",
            "host",
            "busybox",
        ]);
        assert_eq!(r.opts.memory, Some(32 * 1024 * 1024));
        assert_eq!(r.opts.memory_swap, Some(-1));
        assert_eq!(r.opts.cpus, Some(1_500_000_000));
        assert_eq!(r.opts.pids_limit, Some(20));
        assert_eq!(r.opts.network, "host");
        assert!(parse(&["run", "-m", "lots", "busybox"]).is_err());
    }

    #[test]
    fn repeatable_env_and_labels() {
        let r = run_args(&["run", "-e", "A=1", "--env", "B", "-l", "k=v", "busybox"]);
        assert_eq!(r.opts.env, vec!["A=1", "B"]);
        assert_eq!(r.opts.label, vec!["k=v"]);
    }

    #[test]
    fn globals_and_env_host() {
        let cli = parse(&["-H", "unix:///tmp/w.sock", "--root", "/tmp/r", "ps", "-aq"]).unwrap();
        assert_eq!(cli.host.as_deref(), Some("unix:///tmp/w.sock"));
        assert_eq!(cli.root, Some(PathBuf::from("/tmp/r")));
        match cli.command {
            Command::Ps(p) => assert!(p.all && p.quiet),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stop_defaults_to_ten_seconds() {
        match parse(&["stop", "a", "b"]).unwrap().command {
            Command::Stop(s) => {
                assert_eq!(s.time, 10);
                assert_eq!(s.containers, vec!["a", "b"]);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["stop", "-t", "1", "a"]).unwrap().command {
            Command::Stop(s) => assert_eq!(s.time, 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn top_passes_ps_args() {
        match parse(&["top", "c", "-o", "pid,comm"]).unwrap().command {
            Command::Top(t) => assert_eq!(t.ps_args, vec!["-o", "pid,comm"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
