//! How sizes and long strings are shown and read: decimal byte units (the report's, batch's,
//! summary's and the progress bars'), the size arguments users type, and clipping text from an
//! image or a server before it reaches a message.

/// `1234567` → `1.2 MB` (decimal units, one decimal; plain bytes below 1 kB).
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Parses a byte size the way dive's rules do: a number with an optional decimal (kB, MB, GB)
/// or binary (KiB, MiB, GiB) unit (`20MB`, `1.5GiB`, `1000000`).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("not a size: {s:?}"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024f64.powi(4),
        other => return Err(format!("unknown unit {other:?} in {s:?}")),
    };
    Ok((n * mult) as u64)
}

/// `1 file`, `3 files`: a count with its noun in the right number.
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// At most `n` characters of `s`, control characters dropped, `…` when something was cut: for
/// names, paths and server text quoted in messages.
pub fn clip(s: &str, n: usize) -> String {
    let t: String = s.chars().filter(|c| !c.is_control()).take(n).collect();
    if s.chars().filter(|c| !c.is_control()).nth(n).is_some() {
        format!("{t}…")
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_show_in_decimal_units() {
        assert_eq!(human(999), "999 B");
        assert_eq!(human(1000), "1.0 kB");
        assert_eq!(human(1_250_000), "1.2 MB");
        assert_eq!(human(3_000_000_000_000_000), "3000.0 TB");
    }

    #[test]
    fn sizes_parse_with_decimal_and_binary_units() {
        assert_eq!(parse_bytes("20MB"), Ok(20_000_000));
        assert_eq!(parse_bytes("1.5GiB"), Ok(1_610_612_736));
        assert_eq!(parse_bytes(" 1000000 "), Ok(1_000_000));
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("MB").is_err());
    }

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(count(1u32, "file", "files"), "1 file");
        assert_eq!(count(0u32, "file", "files"), "0 files");
        assert_eq!(count(2u64, "binary", "binaries"), "2 binaries");
    }

    #[test]
    fn clip_cuts_on_characters_and_drops_controls() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "abc…");
        assert_eq!(clip("é\nüx", 2), "éü…");
        assert_eq!(clip("a\x1b[31mb", 10), "a[31mb");
    }
}
