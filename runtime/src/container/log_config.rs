//! `--log-driver` and `--log-opt` (`HostConfig.LogConfig`), checked at
//! create as dockerd checks them: whale keeps Docker's `json-file` log (the
//! default) or, with `none`, no log at all; every other driver is refused,
//! naming it.
//!
//! Of json-file's options whale honours `max-file`: dockerd rotates only
//! when `max-size` is set, so without it `max-file` changes nothing there
//! either, and whale accepts it (checked as dockerd checks it). `max-size`
//! (rotation) and the options that add attributes to each entry are refused.

use super::ContainerError;
use bollard::models::HostConfig;

/// The default driver, which dockerd shows for `Type: ""`.
pub const JSON_FILE: &str = "json-file";
/// The driver that keeps nothing: `logs` answers 501, as dockerd.
pub const NONE: &str = "none";

/// dockerd's own drivers, refused by name (an unknown name gets dockerd's
/// plugin-lookup error instead).
const DOCKER_DRIVERS: &[&str] = &[
    "local",
    "syslog",
    "journald",
    "gelf",
    "fluentd",
    "awslogs",
    "splunk",
    "etwlogs",
    "gcplogs",
    "logentries",
];

/// json-file options whale does not carry out, and why.
const JSON_FILE_REFUSED: &[(&str, &str)] = &[
    ("max-size", "whale does not rotate json-file logs"),
    (
        "compress",
        "whale does not rotate json-file logs, so has none to compress",
    ),
    ("labels", "whale adds no attributes to log entries"),
    ("labels-regex", "whale adds no attributes to log entries"),
    ("env", "whale adds no attributes to log entries"),
    ("env-regex", "whale adds no attributes to log entries"),
    ("tag", "whale adds no attributes to log entries"),
];

/// Check the log config and store `Type: ""` as the driver used.
pub fn validate(hc: &mut HostConfig) -> Result<(), ContainerError> {
    let lc = hc.log_config.get_or_insert_with(Default::default);
    let driver = match lc.typ.as_deref().unwrap_or("") {
        "" => JSON_FILE.to_string(),
        d => d.to_string(),
    };
    let opts = lc.config.clone().unwrap_or_default();
    let mut keys: Vec<&String> = opts.keys().collect();
    keys.sort();
    match driver.as_str() {
        JSON_FILE => {
            for key in keys {
                if let Some((_, why)) = JSON_FILE_REFUSED.iter().find(|(k, _)| k == key) {
                    return Err(ContainerError::Invalid(format!(
                        "whale does not support the json-file log option {key} (--log-opt {key}=...): {why}; \
                         it keeps the whole log (max-file alone is accepted)"
                    )));
                }
                if key != "max-file" {
                    // dockerd's message for an option its driver lacks.
                    return Err(ContainerError::Invalid(format!(
                        "unknown log opt '{key}' for json-file log driver"
                    )));
                }
            }
            if let Some(n) = opts.get("max-file") {
                let n: i64 = n.parse().map_err(|_| {
                    ContainerError::Invalid(format!(
                        "invalid max-file {n:?}: give a whole number of files, 1 or more"
                    ))
                })?;
                if n < 1 {
                    return Err(ContainerError::Invalid(
                        "max-file cannot be less than 1".into(),
                    ));
                }
            }
        }
        NONE => {
            if let Some(key) = keys.first() {
                return Err(ContainerError::Invalid(format!(
                    "the none log driver keeps no log, so it takes no options (--log-opt {key}): leave them out"
                )));
            }
        }
        d if DOCKER_DRIVERS.contains(&d) => {
            return Err(ContainerError::Invalid(format!(
                "whale does not support the log driver {d} (--log-driver {d}): it keeps Docker's json-file log \
                 (the default) or none"
            )))
        }
        // dockerd looks an unknown driver up as a plugin; clients (docker-py's
        // tests among them) match its words.
        d => {
            return Err(ContainerError::Invalid(format!(
                "error looking up logging plugin {d}: plugin \"{d}\" not found"
            )))
        }
    }
    lc.typ = Some(driver);
    Ok(())
}

/// Whether the container keeps no log (`--log-driver none`).
pub fn keeps_no_log(hc: &HostConfig) -> bool {
    hc.log_config
        .as_ref()
        .and_then(|l| l.typ.as_deref())
        .is_some_and(|t| t == NONE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::HostConfigLogConfig;

    fn hc(typ: &str, opts: &[(&str, &str)]) -> HostConfig {
        HostConfig {
            log_config: Some(HostConfigLogConfig {
                typ: Some(typ.into()),
                config: Some(
                    opts.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
            }),
            ..Default::default()
        }
    }

    fn err(mut h: HostConfig) -> String {
        validate(&mut h).unwrap_err().to_string()
    }

    #[test]
    fn the_default_is_stored_as_json_file() {
        let mut h = hc("", &[("max-file", "100")]);
        validate(&mut h).unwrap();
        assert_eq!(h.log_config.unwrap().typ.as_deref(), Some("json-file"));
        let mut h = HostConfig::default();
        validate(&mut h).unwrap();
        assert!(!keeps_no_log(&h));
    }

    #[test]
    fn none_keeps_no_log() {
        let mut h = hc("none", &[]);
        validate(&mut h).unwrap();
        assert!(keeps_no_log(&h));
        assert!(err(hc("none", &[("max-size", "1k")])).contains("--log-opt max-size"));
    }

    #[test]
    fn refusals_name_the_driver_or_option() {
        assert!(err(hc("syslog", &[])).contains("--log-driver syslog"));
        assert_eq!(
            err(hc("asdf", &[])),
            "error looking up logging plugin asdf: plugin \"asdf\" not found"
        );
        assert!(err(hc("json-file", &[("max-size", "1m")])).contains("max-size"));
        assert_eq!(
            err(hc("json-file", &[("foo", "1")])),
            "unknown log opt 'foo' for json-file log driver"
        );
        assert!(err(hc("json-file", &[("max-file", "x")])).contains("max-file"));
        assert!(err(hc("json-file", &[("max-file", "0")])).contains("less than 1"));
    }
}
