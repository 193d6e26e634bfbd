//! The bounds on what the store accepts from outside (`load`, `import`,
//! build layers), so a small hostile input cannot fill the disk or the
//! daemon's memory. Each has a default (the constants below) and an
//! environment variable read when the store opens (for the daemon: at
//! `whale daemon` start); a value is a byte count or count, with an
//! optional binary suffix `k`, `m`, `g` or `t` (`WHALE_MAX_LAYER_BYTES=20g`).
//! A value that does not parse stops the store from opening, naming the
//! variable: a limit is honoured or refused, never silently replaced.
//! See `docs/limits.md`.

use super::ImageError;

/// One uncompressed layer tar (a gzip layer is measured after gunzip).
pub const MAX_LAYER_BYTES: u64 = 8 << 30;
/// Entries in one layer tar (files, dirs, links; PAX/long-name records aside).
pub const MAX_LAYER_ENTRIES: u64 = 1_000_000;
/// One `load`'s archive, uncompressed: the sum of its file entries' sizes
/// (and the uploaded bytes, compressed or not).
pub const MAX_LOAD_BYTES: u64 = 32 << 30;
/// Entries in a `load` archive (a docker-archive has ~3 per layer).
pub const MAX_ARCHIVE_ENTRIES: u64 = 100_000;
/// A docker-archive's `manifest.json`.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// One image config (`<id>.json`): it is held in memory and parsed.
pub const MAX_CONFIG_BYTES: u64 = 8 << 20;
/// Tags (`RepoTags`) one `load` may set, over all its images.
pub const MAX_LOAD_TAGS: u64 = 1_000;
/// A PAX extended header or GNU long name/link record (Go's archive/tar
/// uses the same bound); not configurable.
pub const MAX_TAR_META_BYTES: u64 = 1 << 20;

/// The limits a store enforces (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub layer_bytes: u64,
    pub layer_entries: u64,
    pub load_bytes: u64,
    pub archive_entries: u64,
    pub manifest_bytes: u64,
    pub config_bytes: u64,
    pub load_tags: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            layer_bytes: MAX_LAYER_BYTES,
            layer_entries: MAX_LAYER_ENTRIES,
            load_bytes: MAX_LOAD_BYTES,
            archive_entries: MAX_ARCHIVE_ENTRIES,
            manifest_bytes: MAX_MANIFEST_BYTES,
            config_bytes: MAX_CONFIG_BYTES,
            load_tags: MAX_LOAD_TAGS,
        }
    }
}

/// `(environment variable, field)` for every configurable limit.
pub const ENV_VARS: [&str; 7] = [
    "WHALE_MAX_LAYER_BYTES",
    "WHALE_MAX_LAYER_ENTRIES",
    "WHALE_MAX_LOAD_BYTES",
    "WHALE_MAX_ARCHIVE_ENTRIES",
    "WHALE_MAX_MANIFEST_BYTES",
    "WHALE_MAX_CONFIG_BYTES",
    "WHALE_MAX_LOAD_TAGS",
];

impl Limits {
    fn field(&mut self, var: &str) -> &mut u64 {
        match var {
            "WHALE_MAX_LAYER_BYTES" => &mut self.layer_bytes,
            "WHALE_MAX_LAYER_ENTRIES" => &mut self.layer_entries,
            "WHALE_MAX_LOAD_BYTES" => &mut self.load_bytes,
            "WHALE_MAX_ARCHIVE_ENTRIES" => &mut self.archive_entries,
            "WHALE_MAX_MANIFEST_BYTES" => &mut self.manifest_bytes,
            "WHALE_MAX_CONFIG_BYTES" => &mut self.config_bytes,
            _ => &mut self.load_tags,
        }
    }

    /// The defaults, overridden by the `WHALE_MAX_*` variables that are set.
    pub fn from_env() -> Result<Limits, ImageError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Like `from_env`, from any lookup (tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Limits, ImageError> {
        let mut l = Limits::default();
        for var in ENV_VARS {
            if let Some(v) = get(var) {
                *l.field(var) = parse_amount(&v).ok_or_else(|| {
                    ImageError::BadInput(format!(
                        "{var}={v:?} is not a positive count or size (e.g. 1000, 512m, 8g)"
                    ))
                })?;
            }
        }
        Ok(l)
    }
}

/// `1000`, `512k`, `8g`, `1t` (binary multiples); 0 and garbage are None.
pub fn parse_amount(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_suffix('b').unwrap_or(&s);
    let (num, shift) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 10),
        'm' => (&s[..s.len() - 1], 20),
        'g' => (&s[..s.len() - 1], 30),
        't' => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    let n: u64 = num.trim().parse().ok()?;
    (n > 0).then_some(n)?.checked_mul(1u64 << shift)
}

/// The refusal for a limit that was hit: what, the limit, and the variable.
pub fn exceeded(what: &str, limit: u64, var: &str) -> ImageError {
    ImageError::BadInput(format!(
        "{what} exceeds whale's limit of {limit} (set {var} on the daemon to change it)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_env() {
        assert_eq!(parse_amount("1000"), Some(1000));
        assert_eq!(parse_amount("8g"), Some(8 << 30));
        assert_eq!(parse_amount("512MB"), Some(512 << 20));
        assert_eq!(parse_amount("0"), None);
        assert_eq!(parse_amount("lots"), None);
        let l = Limits::from_lookup(|k| (k == "WHALE_MAX_LOAD_TAGS").then(|| "5".into())).unwrap();
        assert_eq!(l.load_tags, 5);
        assert_eq!(l.layer_bytes, MAX_LAYER_BYTES);
        let e = Limits::from_lookup(|k| (k == "WHALE_MAX_CONFIG_BYTES").then(|| "x".into()))
            .unwrap_err();
        assert!(e.to_string().contains("WHALE_MAX_CONFIG_BYTES"), "{e}");
    }
}
