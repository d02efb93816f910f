//! dive's CI rules (`scan --ci-config FILE`, dive's `.dive-ci`): `lowestEfficiency`,
//! `highestWastedBytes` and `highestUserWastedPercent` under `rules:`, each a number, a size
//! in dive's syntax (`20MB`, `20Mb`, `1GiB`) or `disabled`, judged with this scan's figures and
//! reported PASS/FAIL/SKIP per rule as dive does (on stderr: stdout holds the report).

use std::path::Path;

use anyhow::{bail, Context as _};
use layerscope::report::Bloat;
use yaml_rust2::{Yaml, YamlLoader};

/// A rule's threshold, or `None` when disabled or not given.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rules {
    pub lowest_efficiency: Option<f64>,
    pub highest_wasted_bytes: Option<u64>,
    pub highest_user_wasted_percent: Option<f64>,
}

fn number(v: &Yaml, key: &str) -> anyhow::Result<Option<f64>> {
    Ok(match v {
        Yaml::BadValue | Yaml::Null => None,
        Yaml::String(s) if s.trim().eq_ignore_ascii_case("disabled") => None,
        Yaml::String(s) => Some(s.trim().parse().with_context(|| format!("`{key}`: not a number: {s:?}"))?),
        Yaml::Real(r) => Some(r.parse().with_context(|| format!("`{key}`: not a number: {r:?}"))?),
        Yaml::Integer(i) => Some(*i as f64),
        other => bail!("`{key}`: expected a number or `disabled`, found {other:?}"),
    })
}

impl Rules {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let docs = YamlLoader::load_from_str(text).context("not YAML")?;
        let Some(doc) = docs.first() else { bail!("empty file") };
        let rules = &doc["rules"];
        if rules.is_badvalue() {
            bail!("no `rules:` mapping");
        }
        let size = |key: &str| -> anyhow::Result<Option<u64>> {
            match &rules[key] {
                Yaml::String(s) if !s.trim().eq_ignore_ascii_case("disabled") => {
                    layerscope::units::parse_bytes(s).map(Some).map_err(anyhow::Error::msg).context(format!("`{key}`"))
                }
                other => Ok(number(other, key)?.map(|n| n as u64)),
            }
        };
        Ok(Rules {
            lowest_efficiency: number(&rules["lowestEfficiency"], "lowestEfficiency")?,
            highest_wasted_bytes: size("highestWastedBytes")?,
            highest_user_wasted_percent: number(&rules["highestUserWastedPercent"], "highestUserWastedPercent")?,
        })
    }

    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("--ci-config {}", path.display()))?;
        Rules::parse(&text).with_context(|| format!("--ci-config {}", path.display()))
    }

    /// One line per rule (`PASS: lowestEfficiency`), and whether every rule passed.
    pub fn judge(&self, b: &Bloat) -> (Vec<String>, bool) {
        let mut lines = Vec::new();
        let mut ok = true;
        let mut line = |name: &str, verdict: Option<(bool, String)>| match verdict {
            None => lines.push(format!("SKIP: {name}: rule disabled")),
            Some((true, _)) => lines.push(format!("PASS: {name}")),
            Some((false, why)) => {
                ok = false;
                lines.push(format!("FAIL: {name}: {why}"));
            }
        };
        line(
            "lowestEfficiency",
            self.lowest_efficiency.map(|t| {
                (
                    b.efficiency >= t,
                    format!("image efficiency is too low (efficiency={:.4} < threshold={t})", b.efficiency),
                )
            }),
        );
        line(
            "highestWastedBytes",
            self.highest_wasted_bytes.map(|t| {
                (
                    b.reclaimable_bytes <= t,
                    format!("too many bytes wasted (wasted-bytes={} > threshold={t})", b.reclaimable_bytes),
                )
            }),
        );
        // dive: wasted bytes over the bytes of the layers above the base.
        let user_wasted = if b.user_bytes == 0 { 0.0 } else { b.reclaimable_bytes as f64 / b.user_bytes as f64 };
        line(
            "highestUserWastedPercent",
            self.highest_user_wasted_percent.map(|t| {
                (user_wasted <= t, format!("too many bytes wasted, relative to the user bytes added (%-user-wasted-bytes={user_wasted:.4} > threshold={t})"))
            }),
        );
        (lines, ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dive_files_parse_and_judge() {
        let r = Rules::parse(
            "rules:\n  # comment\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20Mb\n  highestUserWastedPercent: disabled\n",
        )
        .unwrap();
        assert_eq!(
            r,
            Rules {
                lowest_efficiency: Some(0.95),
                highest_wasted_bytes: Some(20_000_000),
                highest_user_wasted_percent: None
            }
        );
        let b = Bloat { efficiency: 0.9, reclaimable_bytes: 1_000, user_bytes: 10_000, ..Bloat::default() };
        let (lines, ok) = r.judge(&b);
        assert!(!ok);
        assert_eq!(
            lines[0],
            "FAIL: lowestEfficiency: image efficiency is too low (efficiency=0.9000 < threshold=0.95)"
        );
        assert_eq!(lines[1], "PASS: highestWastedBytes");
        assert_eq!(lines[2], "SKIP: highestUserWastedPercent: rule disabled");
        let r = Rules::parse("rules:\n  highestUserWastedPercent: 0.05\n").unwrap();
        let (lines, ok) = r.judge(&b);
        assert!(!ok && lines[2].starts_with("FAIL: highestUserWastedPercent"), "{lines:?}");
        assert!(Rules::parse("rules:\n  lowestEfficiency: lots\n").is_err());
        assert!(Rules::parse("nothing: here\n").is_err());
        assert!(Rules::parse("rules: [").is_err());
    }
}
