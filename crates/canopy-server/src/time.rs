//! Dates as the API filters on them: a day as inclusive Unix seconds, and back.

use chrono::{DateTime, NaiveDate};

/// The whole UTC day of a `YYYY-MM-DD` date, as inclusive Unix seconds.
pub fn day_interval(date: &str) -> Option<(i64, i64)> {
    let d = NaiveDate::parse_from_str(date.get(..10)?, "%Y-%m-%d").ok()?;
    let start = d.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
    Some((start, start + 86_399))
}

/// Unix seconds to RFC 3339 (UTC).
pub fn rfc3339(t: i64) -> String {
    DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}
