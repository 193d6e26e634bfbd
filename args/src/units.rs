//! docker's flag units: go-units `RAMInBytes` (binary multiples: `32m` is
//! 32 MiB) and `--cpus` as a decimal turned into NanoCpus.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnitError {
    #[error(
        "invalid size: '{0}' (a number of bytes with an optional unit b, k, m, g, t or p: 32m, 1g)"
    )]
    Size(String),
    #[error("invalid number of CPUs: '{0}' (a positive decimal such as 0.5 or 2)")]
    Cpus(String),
    #[error("value is too precise: '{0}' (at most 9 decimals)")]
    TooPrecise(String),
}

/// go-units `RAMInBytes`: `"32m"` -> 33554432, `"1.5g"`, `"512"`, `"10 KiB"`.
pub fn ram_in_bytes(text: &str) -> Result<i64, UnitError> {
    let bad = || UnitError::Size(text.to_string());
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, rest) = text.split_at(digits_end);
    // go-units' pattern: ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$
    if number.is_empty()
        || number.starts_with('.')
        || number.ends_with('.')
        || number.contains("..")
    {
        return Err(bad());
    }
    let value: f64 = number
        .split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".")
        .parse()
        .map_err(|_| bad())?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let mut chars = rest.chars().peekable();
    let mut multiplier: f64 = 1.0;
    if let Some(c) = chars.peek().copied() {
        let power = match c.to_ascii_lowercase() {
            'k' => Some(1),
            'm' => Some(2),
            'g' => Some(3),
            't' => Some(4),
            'p' => Some(5),
            _ => None,
        };
        if let Some(p) = power {
            multiplier = 1024f64.powi(p);
            chars.next();
        }
    }
    if matches!(chars.peek(), Some('i' | 'I')) {
        chars.next();
    }
    if matches!(chars.peek(), Some('b' | 'B')) {
        chars.next();
    }
    if chars.next().is_some() {
        return Err(bad());
    }
    let bytes = value * multiplier;
    if !bytes.is_finite() || bytes > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as i64)
}

/// `--cpus 1.5` -> 1_500_000_000 NanoCpus.
pub fn nano_cpus(text: &str) -> Result<i64, UnitError> {
    let bad = || UnitError::Cpus(text.to_string());
    let trimmed = text.trim();
    let (int_part, frac_part) = trimmed.split_once('.').unwrap_or((trimmed, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(bad());
    }
    if !int_part.chars().all(|c| c.is_ascii_digit())
        || !frac_part.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let frac_digits = frac_part.trim_end_matches('0');
    if frac_digits.len() > 9 {
        return Err(UnitError::TooPrecise(text.to_string()));
    }
    let whole: i64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| bad())?
    };
    let mut frac: i64 = 0;
    for (i, d) in frac_digits.chars().enumerate() {
        let digit = i64::from(d as u8 - b'0');
        frac += digit * 10i64.pow(8 - i as u32);
    }
    whole
        .checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(frac))
        .ok_or_else(bad)
}

/// A Go duration (`1s`, `500ms`, `1m30s`, `2h`) in nanoseconds, as docker
/// takes `--health-interval` and friends.
pub fn go_duration_nanos(text: &str) -> Result<i64, String> {
    let bad =
        || format!("invalid duration {text:?}: use a number with a unit (ms, s, m, h), e.g. 30s");
    if text == "0" {
        return Ok(0);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    if total > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(total as i64)
}

pub(crate) fn parse_duration_flag(text: &str) -> Result<i64, String> {
    go_duration_nanos(text)
}

pub(crate) fn parse_ram_flag(text: &str) -> Result<i64, String> {
    ram_in_bytes(text).map_err(|e| e.to_string())
}

/// One `--ulimit`, as go-units ParseUlimit reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// The resources `--ulimit` knows (go-units' names).
const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// `--ulimit nofile=1024:2048` (a lone soft value is the hard one too;
/// -1 is unlimited), with docker's messages.
pub fn parse_ulimit_flag(text: &str) -> Result<Ulimit, String> {
    let Some((name, limits)) = text.split_once('=') else {
        return Err(format!("invalid ulimit argument: {text}"));
    };
    if !ULIMIT_NAMES.contains(&name) {
        return Err(format!("invalid ulimit type: {name}"));
    }
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    let num = |v: &str| {
        v.parse::<i64>().map_err(|_| {
            format!("invalid ulimit value {v:?} in {text} (a number, or -1 for unlimited)")
        })
    };
    let (soft, hard) = (num(soft)?, num(hard)?);
    if hard >= 0 && (soft < 0 || soft > hard) {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

/// `--sysctl KEY=VALUE`: both halves present (whether the key is allowed
/// is the daemon's to say).
pub(crate) fn parse_sysctl_flag(text: &str) -> Result<String, String> {
    match text.split_once('=') {
        Some((k, _)) if !k.is_empty() => Ok(text.to_string()),
        _ => Err(format!("sysctl '{text}' is not KEY=VALUE")),
    }
}

pub(crate) fn parse_swap_flag(text: &str) -> Result<i64, String> {
    if text == "-1" {
        return Ok(-1);
    }
    ram_in_bytes(text).map_err(|e| e.to_string())
}

pub(crate) fn parse_cpus_flag(text: &str) -> Result<i64, String> {
    nano_cpus(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_units_are_binary_like_go_units() {
        assert_eq!(ram_in_bytes("32m"), Ok(33_554_432));
        assert_eq!(ram_in_bytes("32M"), Ok(33_554_432));
        assert_eq!(ram_in_bytes("32mb"), Ok(33_554_432));
        assert_eq!(ram_in_bytes("32MiB"), Ok(33_554_432));
        assert_eq!(ram_in_bytes("1g"), Ok(1_073_741_824));
        assert_eq!(ram_in_bytes("1.5g"), Ok(1_610_612_736));
        assert_eq!(ram_in_bytes("512"), Ok(512));
        assert_eq!(ram_in_bytes("512b"), Ok(512));
        assert_eq!(ram_in_bytes("10 k"), Ok(10_240));
        assert_eq!(ram_in_bytes("2t"), Ok(2 * 1024i64.pow(4)));
    }

    #[test]
    fn bad_sizes_are_refused() {
        for bad in [
            "", "m", "lots", "32x", "-1", "1..5m", ".5m", "32mm", "32 m b",
        ] {
            assert!(ram_in_bytes(bad).is_err(), "{bad:?} parsed");
        }
        assert!(ram_in_bytes("99999999999p").is_err());
    }

    #[test]
    fn cpus_become_nanocpus() {
        assert_eq!(nano_cpus("1"), Ok(1_000_000_000));
        assert_eq!(nano_cpus("0.5"), Ok(500_000_000));
        assert_eq!(nano_cpus(".25"), Ok(250_000_000));
        assert_eq!(nano_cpus("2.000000001"), Ok(2_000_000_001));
        assert!(matches!(
            nano_cpus("0.0000000001"),
            Err(UnitError::TooPrecise(_))
        ));
        assert!(nano_cpus("-1").is_err());
        assert!(nano_cpus("one").is_err());
        assert!(nano_cpus(".").is_err());
    }

    #[test]
    fn swap_takes_minus_one() {
        assert_eq!(parse_swap_flag("-1"), Ok(-1));
        assert_eq!(parse_swap_flag("64m"), Ok(64 << 20));
    }
}
