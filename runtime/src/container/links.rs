//! `--link NAME[:ALIAS]` (`HostConfig.Links`), as dockerd 20.10 does it
//! without a bridge. On a bridge dockerd writes the linked container's
//! address into the environment (`ALIAS_PORT_...`, `ALIAS_NAME`) and into
//! /etc/hosts; on `--network none` it records the link and adds neither
//! (measured: no variable, no hosts line), and with the host's network it
//! refuses links. whale has no bridge, so it does what dockerd does on
//! none: the link is checked (the container must exist), recorded, shown
//! by inspect as `/TARGET:/SELF/ALIAS`, and removed by
//! `DELETE /containers/SELF/ALIAS?link=1`. On whale's default network
//! (loopback only, where dockerd would give addresses) links are refused
//! rather than recorded without the variables a user would expect.

use super::{Container, ContainerError, Store};
use bollard::models::HostConfig;

/// One link as the user wrote it: `NAME` or `NAME:ALIAS`.
fn split(link: &str) -> (&str, &str) {
    let link = link.trim_start_matches('/');
    match link.split_once(':') {
        Some((name, alias)) => (name, alias.trim_start_matches('/')),
        None => (link, link),
    }
}

/// Check the links of a create request and store each as `NAME:ALIAS`,
/// with the linked container's current name.
pub fn resolve(hc: &mut HostConfig, store: &Store) -> Result<(), ContainerError> {
    let Some(links) = hc.links.as_ref().filter(|l| !l.is_empty()) else {
        return Ok(());
    };
    match hc.network_mode.as_deref().unwrap_or("") {
        "host" => {
            return Err(ContainerError::Invalid(
                "conflicting options: host type networking can't be used with links. This would result in undefined behavior".into(),
            ))
        }
        "none" => {}
        m => {
            return Err(ContainerError::Invalid(format!(
                "whale does not support --link on the network {m:?}: links give a container the other's \
                 address on a bridge, which whale does not make; with --network none whale records a link \
                 as dockerd does there (no variables, no hosts entry)"
            )))
        }
    }
    let mut stored = Vec::with_capacity(links.len());
    for link in links {
        let (name, alias) = split(link);
        if name.is_empty() || alias.is_empty() {
            return Err(ContainerError::Invalid(format!(
                "invalid link {link:?}: write NAME or NAME:ALIAS"
            )));
        }
        let target = store.get(name).map_err(|e| {
            ContainerError::Invalid(format!("could not get container for {name}: {e}"))
        })?;
        stored.push(format!("{}:{alias}", target.name()));
    }
    hc.links = Some(stored);
    Ok(())
}

/// The links as dockerd's inspect shows them: `/TARGET:/SELF/ALIAS`.
pub fn shown(links: &[String], self_name: &str) -> Vec<String> {
    links
        .iter()
        .map(|l| {
            let (name, alias) = split(l);
            format!("/{name}:/{self_name}/{alias}")
        })
        .collect()
}

/// The names dockerd's `ps` adds for links: `/SELF/ALIAS` under the linked
/// container's name, for every link of every container.
pub fn names_by_target(
    containers: &[std::sync::Arc<Container>],
) -> std::collections::HashMap<String, Vec<String>> {
    let mut out: std::collections::HashMap<String, Vec<String>> = Default::default();
    for c in containers {
        for l in c.host_config().links.iter().flatten() {
            let (target, alias) = split(l);
            out.entry(target.to_string())
                .or_default()
                .push(format!("/{}/{alias}", c.name()));
        }
    }
    out
}

/// `DELETE /containers/SELF/ALIAS?link=1`: forget the link, leave both
/// containers be. `reference` is `SELF/ALIAS`, as the URL names it.
pub fn remove(store: &Store, reference: &str) -> Result<(), ContainerError> {
    let Some((owner, alias)) = reference.trim_start_matches('/').rsplit_once('/') else {
        // dockerd's words (and its 500) for a name without a link part.
        return Err(ContainerError::Internal(
            "Conflict, cannot remove the default link name of the container".into(),
        ));
    };
    let not_found = || ContainerError::NotFound(reference.to_string());
    let c: std::sync::Arc<Container> = store.get(owner).map_err(|_| not_found())?;
    let links = c.host_config().links.unwrap_or_default();
    if !links.iter().any(|l| split(l).1 == alias) {
        return Err(not_found());
    }
    c.change(|live| {
        let kept: Vec<String> = links
            .iter()
            .filter(|l| split(l).1 != alias)
            .cloned()
            .collect();
        live.host_config.links = (!kept.is_empty()).then_some(kept);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_shown_as_dockerd_shows_them() {
        let links = vec!["web:db".to_string(), "cache".to_string()];
        assert_eq!(
            shown(&links, "app"),
            vec!["/web:/app/db".to_string(), "/cache:/app/cache".to_string()]
        );
    }

    #[test]
    fn a_link_to_the_host_network_is_refused_with_dockerds_words() {
        let mut hc = HostConfig {
            network_mode: Some("host".into()),
            links: Some(vec!["x:y".into()]),
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let e = resolve(&mut hc, &store).unwrap_err().to_string();
        assert!(
            e.starts_with("conflicting options: host type networking"),
            "{e}"
        );
        hc.network_mode = Some("default".into());
        let e = resolve(&mut hc, &store).unwrap_err().to_string();
        assert!(e.contains("--link") && e.contains("--network none"), "{e}");
        hc.network_mode = Some("none".into());
        let e = resolve(&mut hc, &store).unwrap_err().to_string();
        assert_eq!(e, "could not get container for x: No such container: x");
    }
}
