//! Flags and verbs of what changes a container after create: restart
//! policies, health checks, `pause`, `unpause`, `rename`, `update`.

use clap::Args;

/// `--restart` and the health-check flags of `create` and `run`.
#[derive(Debug, Args, Clone, Default)]
pub struct PolicyOpts {
    /// Restart policy to apply when a container exits (no, on-failure[:max-retries], always, unless-stopped)
    #[arg(long, default_value = "no", value_name = "POLICY")]
    pub restart: String,
    /// Command to run to check health
    #[arg(long, value_name = "CMD")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h)
    #[arg(long, value_parser = crate::units::parse_duration_flag, value_name = "DURATION")]
    pub health_interval: Option<i64>,
    /// Maximum time to allow one check to run (ms|s|m|h)
    #[arg(long, value_parser = crate::units::parse_duration_flag, value_name = "DURATION")]
    pub health_timeout: Option<i64>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)
    #[arg(long, value_parser = crate::units::parse_duration_flag, value_name = "DURATION")]
    pub health_start_period: Option<i64>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long, value_name = "N")]
    pub health_retries: Option<i64>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long)]
    pub no_healthcheck: bool,
}

#[derive(Debug, Args)]
pub struct PauseArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
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
    /// Restart policy to apply when a container exits
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// docker's parsing of `--restart`: a name and, for on-failure, `:N`.
pub fn parse_restart(policy: &str) -> Result<(String, i64), String> {
    let (name, max) = match policy.split_once(':') {
        Some((n, m)) => {
            let max = m.parse::<i64>().map_err(|_| {
                format!(
                    "invalid restart policy format: maximum retry count must be an integer: {m:?}"
                )
            })?;
            (n, max)
        }
        None => (policy, 0),
    };
    if policy.contains(':') && name != "on-failure" {
        return Err(
            "invalid restart policy format: maximum retry count can only be used with 'on-failure'"
                .to_string(),
        );
    }
    Ok((name.to_string(), max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_parse_like_docker() {
        assert_eq!(parse_restart("no").unwrap(), ("no".into(), 0));
        assert_eq!(
            parse_restart("on-failure:3").unwrap(),
            ("on-failure".into(), 3)
        );
        assert_eq!(parse_restart("always").unwrap(), ("always".into(), 0));
        assert!(parse_restart("always:3").is_err());
        assert!(parse_restart("on-failure:x").is_err());
    }
}
