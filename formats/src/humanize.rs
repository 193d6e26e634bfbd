//! Docker's human-readable figures (go-units), shared by the daemon (the
//! `Status` column of /containers/json) and the CLI (`CREATED`, `SIZE`).

/// go-units `HumanDuration`: "Less than a second", "3 seconds",
/// "About a minute", "5 minutes", "About an hour", "3 hours", "2 days", ...
pub fn human_duration(secs: f64) -> String {
    let secs = secs.max(0.0);
    let seconds = secs as i64;
    if seconds < 1 {
        return "Less than a second".to_string();
    }
    if seconds == 1 {
        return "1 second".to_string();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = (secs / 60.0) as i64;
    if minutes == 1 {
        return "About a minute".to_string();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (secs / 3600.0 + 0.5) as i64;
    if hours == 1 {
        return "About an hour".to_string();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", hours / 24 / 365)
}

/// go-units `BytesSize`: binary units with two decimals ("23.48GiB").
pub fn human_binary_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    // go-units prints "%.4g": four significant digits.
    let digits_before = size.trunc().to_string().len();
    let decimals = 4usize.saturating_sub(digits_before);
    let mut out = format!("{size:.decimals$}");
    if out.contains('.') {
        while out.ends_with('0') {
            out.pop();
        }
        if out.ends_with('.') {
            out.pop();
        }
    }
    format!("{out}{}", UNITS[unit])
}

/// go-units `HumanSizeWithPrecision(size, 3)`: decimal units, three
/// significant digits, as `docker images` prints them ("4.26MB", "123B").
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    format!("{}{}", format_g3(size), UNITS[unit])
}

/// C's `%.3g` for 0 <= x < 1000: three significant digits, trailing zeros trimmed.
fn format_g3(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string();
    }
    let magnitude = x.log10().floor() as i32;
    let decimals = (2 - magnitude).max(0) as usize;
    let mut s = format!("{x:.decimals$}");
    // Rounding can carry into a new digit (999.6 -> "1000"); %g would then
    // switch to exponent form, which go-units never reaches below 1000.
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_in_binary_units() {
        assert_eq!(human_binary_size(25_213_624_320), "23.48GiB");
        assert_eq!(human_binary_size(512), "512B");
        assert_eq!(human_binary_size(1024), "1KiB");
    }

    #[test]
    fn durations_read_like_docker() {
        assert_eq!(human_duration(0.4), "Less than a second");
        assert_eq!(human_duration(1.0), "1 second");
        assert_eq!(human_duration(3.2), "3 seconds");
        assert_eq!(human_duration(61.0), "About a minute");
        assert_eq!(human_duration(5.0 * 60.0), "5 minutes");
        assert_eq!(human_duration(3600.0), "About an hour");
        assert_eq!(human_duration(3.0 * 3600.0), "3 hours");
        assert_eq!(human_duration(3.0 * 86400.0), "3 days");
        assert_eq!(human_duration(20.0 * 86400.0), "2 weeks");
        assert_eq!(human_duration(90.0 * 86400.0), "3 months");
        assert_eq!(human_duration(800.0 * 86400.0), "2 years");
    }

    #[test]
    fn sizes_read_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(123), "123B");
        assert_eq!(human_size(4_261_552), "4.26MB");
        assert_eq!(human_size(1_200_000), "1.2MB");
        assert_eq!(human_size(116_000_000), "116MB");
        assert_eq!(human_size(1_000), "1kB");
        assert_eq!(human_size(77_800_000_000), "77.8GB");
    }
}
