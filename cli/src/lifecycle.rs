//! `pause`, `unpause`, `rename`, `update`, and the `--restart` and health
//! flags of `create`/`run` turned into the API's shapes.

use bollard::models::{
    ContainerUpdateBody, HealthConfig, HostConfig, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::RenameContainerOptions;

use super::containers::each;
use super::{client, CliError, CliResult};
use whale_args::lifecycle::{parse_restart, PauseArgs, PolicyOpts, RenameArgs, UpdateArgs};
use whale_args::Cli;

/// The RestartPolicy for `--restart`; an unknown name goes to the daemon,
/// which refuses it with docker's message.
pub fn restart_policy(text: &str) -> Result<Option<RestartPolicy>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let (name, max) = parse_restart(text)?;
    let name: RestartPolicyNameEnum = serde_json::from_value(serde_json::json!(name))
        .map_err(|_| format!("invalid restart policy '{name}'"))?;
    Ok(Some(RestartPolicy {
        name: Some(name),
        maximum_retry_count: Some(max),
    }))
}

/// docker's checks of the run flags that conflict (exit 125 with these words).
pub fn check_policy_flags(p: &PolicyOpts, rm: bool) -> Result<(), String> {
    if rm && !matches!(p.restart.as_str(), "" | "no") {
        return Err("conflicting options: cannot specify both --restart and --rm".into());
    }
    let health_flags = p.health_cmd.is_some()
        || p.health_interval.is_some()
        || p.health_timeout.is_some()
        || p.health_start_period.is_some()
        || p.health_retries.is_some();
    if p.no_healthcheck && health_flags {
        return Err("--no-healthcheck conflicts with --health-* options".into());
    }
    for (flag, v) in [
        ("--health-interval", p.health_interval),
        ("--health-timeout", p.health_timeout),
        ("--health-start-period", p.health_start_period),
    ] {
        if v.is_some_and(|n| n < 0) {
            return Err(format!("{flag} cannot be negative"));
        }
    }
    if p.health_retries.is_some_and(|n| n < 0) {
        return Err("--health-retries cannot be negative".into());
    }
    Ok(())
}

/// The Healthcheck docker sends for these flags (none when no flag is given).
pub fn healthcheck(p: &PolicyOpts) -> Option<HealthConfig> {
    if p.no_healthcheck {
        return Some(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        });
    }
    let any = p.health_cmd.is_some()
        || p.health_interval.is_some()
        || p.health_timeout.is_some()
        || p.health_start_period.is_some()
        || p.health_retries.is_some();
    if !any {
        return None;
    }
    Some(HealthConfig {
        test: p
            .health_cmd
            .as_ref()
            .filter(|c| !c.is_empty())
            .map(|c| vec!["CMD-SHELL".into(), c.clone()]),
        interval: p.health_interval,
        timeout: p.health_timeout,
        start_period: p.health_start_period,
        retries: p.health_retries,
        ..Default::default()
    })
}

pub async fn pause(cli: &Cli, args: &PauseArgs) -> CliResult {
    let client = client(cli).await?;
    let docker = &client.docker;
    each(&args.containers, |name| async move {
        docker.pause_container(&name).await?;
        Ok(Some(name))
    })
    .await
}

pub async fn unpause(cli: &Cli, args: &PauseArgs) -> CliResult {
    let client = client(cli).await?;
    let docker = &client.docker;
    each(&args.containers, |name| async move {
        docker.unpause_container(&name).await?;
        Ok(Some(name))
    })
    .await
}

pub async fn rename(cli: &Cli, args: &RenameArgs) -> CliResult {
    let client = client(cli).await?;
    client
        .docker
        .rename_container(
            &args.container,
            RenameContainerOptions {
                name: args.new_name.clone(),
            },
        )
        .await?;
    Ok(())
}

pub async fn update(cli: &Cli, args: &UpdateArgs) -> CliResult {
    let restart_policy = match args.restart.as_deref() {
        Some(r) => restart_policy(r).map_err(CliError::Other)?,
        None => None,
    };
    let body = ContainerUpdateBody {
        memory: args.memory,
        memory_swap: args.memory_swap,
        nano_cpus: args.cpus,
        cpu_shares: args.cpu_shares,
        pids_limit: args.pids_limit,
        restart_policy,
        ..Default::default()
    };
    let client = client(cli).await?;
    let docker = &client.docker;
    let body = &body;
    each(&args.containers, |name| async move {
        docker.update_container(&name, body.clone()).await?;
        Ok(Some(name))
    })
    .await
}

/// Put `--restart` into a create body's host config.
pub fn apply_restart(hc: &mut HostConfig, restart: &str) -> Result<(), String> {
    hc.restart_policy = restart_policy(restart)?;
    Ok(())
}
