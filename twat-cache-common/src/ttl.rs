//! Parsing `ttl` values: seconds (integer or float) or duration strings.
//!
//! Our own small parser rather than `humantime`: it also takes bare and fractional
//! seconds (`"1.5"`, as Python users write them), and its errors name the `ttl` field.

use std::time::Duration;

use crate::ConfigError;

const ALLOWED: &str =
    "seconds (e.g. 60 or 1.5) or a duration such as \"90s\", \"1h30m\", \"500ms\", \"2d\"";

/// Parses a `ttl`: a number of seconds (`"60"`, `"0.25"`) or a duration string made of
/// number–unit pairs (`"90s"`, `"1h30m"`, `"1h 30m"`, `"500ms"`, `"2d"`, `"1w"`).
///
/// Units: `ns`, `us`/`µs`, `ms`, `s`/`sec`/`secs`, `m`/`min`/`mins`, `h`/`hr`/`hour(s)`,
/// `d`/`day(s)`, `w`/`week(s)`. Negative, NaN and empty values are refused.
///
/// ```
/// use std::time::Duration;
/// use twat_cache_common::parse_ttl;
/// assert_eq!(parse_ttl("90s").unwrap(), Duration::from_secs(90));
/// assert_eq!(parse_ttl("1h30m").unwrap(), Duration::from_secs(5400));
/// assert_eq!(parse_ttl("1.5").unwrap(), Duration::from_millis(1500));
/// assert!(parse_ttl("-5").is_err());
/// assert!(parse_ttl("10 parsecs").is_err());
/// ```
pub fn parse_ttl(text: &str) -> Result<Duration, ConfigError> {
    let err = || ConfigError::invalid("ttl", format!("{text:?}"), ALLOWED);
    let s = text.trim();
    if s.is_empty() {
        return Err(err());
    }
    if let Ok(secs) = s.parse::<f64>() {
        return ttl_from_secs_f64(secs);
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(err());
        }
        let number: f64 = rest[..num_len]
            .replace('_', "")
            .parse()
            .map_err(|_| err())?;
        rest = rest[num_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86_400.0,
            "w" | "week" | "weeks" => 604_800.0,
            _ => return Err(err()),
        };
        total = total
            .checked_add(Duration::try_from_secs_f64(number * scale).map_err(|_| err())?)
            .ok_or_else(err)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Converts seconds to a ttl, refusing negative, NaN and infinite values.
///
/// ```
/// use std::time::Duration;
/// use twat_cache_common::ttl::ttl_from_secs_f64;
/// assert_eq!(ttl_from_secs_f64(2.5).unwrap(), Duration::from_millis(2500));
/// assert!(ttl_from_secs_f64(f64::NAN).is_err());
/// ```
pub fn ttl_from_secs_f64(secs: f64) -> Result<Duration, ConfigError> {
    if !secs.is_finite() || secs < 0.0 {
        return Err(ConfigError::invalid("ttl", secs, ALLOWED));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| ConfigError::invalid("ttl", secs, ALLOWED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_forms() {
        let cases = [
            ("60", 60_000),
            ("0.25", 250),
            ("90s", 90_000),
            ("1h30m", 5_400_000),
            ("1h 30m", 5_400_000),
            ("500ms", 500),
            ("2d", 172_800_000),
            ("1w", 604_800_000),
            ("1m30s", 90_000),
            ("1.5h", 5_400_000),
        ];
        for (text, millis) in cases {
            assert_eq!(parse_ttl(text).unwrap().as_millis(), millis, "{text}");
        }
    }

    #[test]
    fn refuses_bad_input_naming_the_field() {
        for bad in ["", "-1", "NaN", "inf", "5 parsecs", "h", "1h-5m", "--"] {
            let e = parse_ttl(bad).expect_err(bad);
            assert_eq!(e.field(), "ttl", "{bad}");
        }
    }
}
