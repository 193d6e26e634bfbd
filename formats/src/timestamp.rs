//! Docker's time values for `--since`, `--until` and the `until` filter
//! (moby's `api/types/time.GetTimestamp`): a Go duration back from now
//! (`10m`, `1h30m`, `1.5s`), an RFC 3339 time with or without a zone or
//! seconds, a date, or unix seconds with an optional fraction.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// A Go `time.ParseDuration` string as nanoseconds (`300ms`, `-1.5h`,
/// `2h45m`); None when `s` is not one.
pub fn parse_go_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." {
            return None;
        }
        let value: f64 = num.parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += value * scale;
    }
    let n = total.round() as i64;
    Some(if neg { -n } else { n })
}

/// `value` as unix nanoseconds, `now_nanos` being the time a duration
/// counts back from. The error says what was wrong and what is accepted.
pub fn parse_timestamp(value: &str, now_nanos: i64) -> Result<i64, String> {
    let v = value.trim();
    let bad = || {
        format!(
            "invalid time {value:?}: use a duration back from now (10m, 1h30m), RFC 3339 (2024-01-02T15:04:05Z), a date (2024-01-02) or unix seconds (1700000000.5)"
        )
    };
    if v.is_empty() {
        return Err(bad());
    }
    if let Some(d) = parse_go_duration(v).filter(|_| v.contains(|c: char| c.is_ascii_alphabetic()))
    {
        return Ok(now_nanos - d);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return t.timestamp_nanos_opt().ok_or_else(bad);
    }
    // Without a zone, Go's ParseInLocation reads the time as local.
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, fmt) {
            return local_nanos(t).ok_or_else(bad);
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H:%MZ",
    ] {
        if let Ok(t) = DateTime::parse_from_str(v, fmt) {
            return t.timestamp_nanos_opt().ok_or_else(bad);
        }
        if fmt.ends_with('Z') {
            if let Ok(t) = NaiveDateTime::parse_from_str(v, fmt) {
                return Utc
                    .from_utc_datetime(&t)
                    .timestamp_nanos_opt()
                    .ok_or_else(bad);
            }
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return local_nanos(d.and_hms_opt(0, 0, 0).ok_or_else(bad)?).ok_or_else(bad);
    }
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    if !frac.bytes().all(|c| c.is_ascii_digit()) || frac.len() > 9 {
        return Err(bad());
    }
    let nanos: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().map_err(|_| bad())?
    };
    secs.checked_mul(1_000_000_000)
        .and_then(|s| s.checked_add(nanos))
        .ok_or_else(bad)
}

fn local_nanos(t: NaiveDateTime) -> Option<i64> {
    chrono::Local
        .from_local_datetime(&t)
        .earliest()?
        .timestamp_nanos_opt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("10m"), Some(600_000_000_000));
        assert_eq!(parse_go_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_go_duration("-2s"), Some(-2_000_000_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("10x"), None);
        assert_eq!(parse_go_duration("m"), None);
    }

    #[test]
    fn timestamps_as_docker_reads_them() {
        let now = 2_000_000_000_000_000_000;
        assert_eq!(parse_timestamp("10m", now), Ok(now - 600_000_000_000));
        assert_eq!(
            parse_timestamp("1700000000", now),
            Ok(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_timestamp("1700000000.5", now),
            Ok(1_700_000_000_500_000_000)
        );
        assert_eq!(
            parse_timestamp("1970-01-01T00:00:01Z", now),
            Ok(1_000_000_000)
        );
        assert_eq!(
            parse_timestamp("1970-01-01T01:00:01+01:00", now),
            Ok(1_000_000_000)
        );
        assert_eq!(
            parse_timestamp("1970-01-01T00:01Z", now),
            Ok(60_000_000_000)
        );
        assert!(parse_timestamp("2024-01-02", now).is_ok());
        assert!(parse_timestamp("2024-01-02T03:04:05", now).is_ok());
        for bad in ["", "soon", "10 m", "1.2.3", "17000000000000000000"] {
            let e = parse_timestamp(bad, now).unwrap_err();
            assert!(
                e.contains("duration") && e.contains("RFC 3339"),
                "{bad}: {e}"
            );
        }
    }
}
