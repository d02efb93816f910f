//! Calendar dates as days since 1970-01-01 (proleptic Gregorian, UTC): parsed from
//! `YYYY-MM-DD` and from the date part of RFC 3339 timestamps, printed back, and today's date,
//! which `--now` or `SOURCE_DATE_EPOCH` can fix for reproducible runs.

/// Days since 1970-01-01.
pub type Day = i64;

/// Days from the civil date (Howard Hinnant's `days_from_civil`).
pub fn from_civil(y: i64, m: u32, d: u32) -> Day {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day (`civil_from_days`).
pub fn to_civil(z: Day) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Parses `YYYY-MM-DD` (also the date part of `YYYY-MM-DDTHH:MM:SSZ`).
pub fn parse(s: &str) -> Option<Day> {
    let s = s.trim();
    let date = s.get(..10)?;
    if s.len() > 10 && !s[10..].starts_with(['T', 't', ' ']) {
        return None;
    }
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 || !date.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return None;
    }
    let (y, m, d): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days_in_month).contains(&d).then(|| from_civil(y, m, d))
}

/// `YYYY-MM-DD`.
pub fn format(day: Day) -> String {
    let (y, m, d) = to_civil(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Today: `SOURCE_DATE_EPOCH` (seconds) when set, else the system clock.
pub fn today() -> Day {
    let secs =
        std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
        });
    secs.div_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(from_civil(1970, 1, 1), 0);
        assert_eq!(parse("2000-03-01"), Some(11_017));
        assert_eq!(format(11_016), "2000-02-29");
        for day in [-1_000_000, -1, 0, 59, 10_956, 20_000, 2_932_896] {
            let (y, m, d) = to_civil(day);
            assert_eq!(from_civil(y, m, d), day);
        }
        assert_eq!(parse("2026-06-10T12:00:00Z").map(format).as_deref(), Some("2026-06-10"));
    }

    #[test]
    fn bad_dates_are_none() {
        for s in ["", "2026-6-10", "2026-02-30", "2025-02-29", "2026-13-01", "20260610", "2026-06-10x", "abcd-ef-gh"] {
            assert_eq!(parse(s), None, "{s}");
        }
        assert!(parse("2024-02-29").is_some());
    }
}
