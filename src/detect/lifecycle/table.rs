//! The built-in table of release lifecycles, from the distributions' own published schedules
//! (each source in a comment). `support` is the end of regular security support, `eol` the end
//! of every kind of support (LTS, ESM, ELS); equal when a release has no long-term stage.
//! Dates marked "expected" are the schedule's announced or computed ones. A user with newer
//! dates passes `--eol-data FILE` (docs/report.md §3.13) instead of waiting for a release.

/// The day this table was last checked against its sources (`layerscope version`).
pub const TABLE_DATE: &str = "2026-11-30";

/// One release cycle.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// os-release `ID` (`centos-stream` for CentOS Stream, whose ID is `centos`).
    pub distro: &'static str,
    pub release: &'static str,
    /// What users call it in a fix ("Debian 13").
    pub name: &'static str,
    pub released: &'static str,
    pub support: &'static str,
    pub eol: &'static str,
    /// A release to suggest moving to (Ubuntu's LTS releases, not its interim ones).
    pub suggest: bool,
}

const fn row(
    distro: &'static str,
    release: &'static str,
    name: &'static str,
    released: &'static str,
    support: &'static str,
    eol: &'static str,
    suggest: bool,
) -> Row {
    Row { distro, release, name, released, support, eol, suggest }
}

pub const ROWS: &[Row] = &[
    // Debian: https://wiki.debian.org/DebianReleases (security support) and
    // https://wiki.debian.org/LTS (long-term support). Trixie's regular support: expected.
    row("debian", "10", "Debian 10", "2019-07-06", "2022-09-10", "2024-06-30", true),
    row("debian", "11", "Debian 11", "2021-08-14", "2024-08-14", "2026-08-31", true),
    row("debian", "12", "Debian 12", "2023-06-10", "2026-06-10", "2028-06-30", true),
    row("debian", "13", "Debian 13", "2025-08-09", "2028-08-09", "2030-06-30", true),
    // Ubuntu: https://ubuntu.com/about/release-cycle (standard support, then ESM for LTS
    // releases); interim releases have nine months and no ESM.
    row("ubuntu", "16.04", "Ubuntu 16.04", "2016-04-21", "2021-04-30", "2026-04-30", true),
    row("ubuntu", "18.04", "Ubuntu 18.04", "2018-04-26", "2023-05-31", "2028-04-30", true),
    row("ubuntu", "20.04", "Ubuntu 20.04", "2020-04-23", "2025-05-29", "2030-04-30", true),
    row("ubuntu", "20.10", "Ubuntu 20.10", "2020-10-22", "2021-07-22", "2021-07-22", false),
    row("ubuntu", "21.04", "Ubuntu 21.04", "2021-04-22", "2022-01-20", "2022-01-20", false),
    row("ubuntu", "21.10", "Ubuntu 21.10", "2021-10-14", "2022-07-14", "2022-07-14", false),
    row("ubuntu", "22.04", "Ubuntu 22.04", "2022-04-21", "2027-06-30", "2032-04-30", true),
    row("ubuntu", "22.10", "Ubuntu 22.10", "2022-10-20", "2023-07-20", "2023-07-20", false),
    row("ubuntu", "23.04", "Ubuntu 23.04", "2023-04-20", "2024-01-25", "2024-01-25", false),
    row("ubuntu", "23.10", "Ubuntu 23.10", "2023-10-12", "2024-07-11", "2024-07-11", false),
    row("ubuntu", "24.04", "Ubuntu 24.04", "2024-04-25", "2029-05-31", "2034-04-30", true),
    row("ubuntu", "24.10", "Ubuntu 24.10", "2024-10-10", "2025-07-10", "2025-07-10", false),
    row("ubuntu", "25.04", "Ubuntu 25.04", "2025-04-17", "2026-01-15", "2026-01-15", false),
    // Alpine: https://alpinelinux.org/releases/ (end of support of the main repository).
    row("alpine", "3.12", "Alpine 3.12", "2020-05-29", "2022-05-01", "2022-05-01", true),
    row("alpine", "3.13", "Alpine 3.13", "2021-01-14", "2022-11-01", "2022-11-01", true),
    row("alpine", "3.14", "Alpine 3.14", "2021-06-15", "2023-05-01", "2023-05-01", true),
    row("alpine", "3.15", "Alpine 3.15", "2021-11-24", "2023-11-01", "2023-11-01", true),
    row("alpine", "3.16", "Alpine 3.16", "2022-05-23", "2024-05-23", "2024-05-23", true),
    row("alpine", "3.17", "Alpine 3.17", "2022-11-22", "2024-11-22", "2024-11-22", true),
    row("alpine", "3.18", "Alpine 3.18", "2023-05-09", "2025-05-09", "2025-05-09", true),
    row("alpine", "3.19", "Alpine 3.19", "2023-12-07", "2025-11-01", "2025-11-01", true),
    row("alpine", "3.20", "Alpine 3.20", "2024-05-22", "2026-04-01", "2026-04-01", true),
    row("alpine", "3.21", "Alpine 3.21", "2024-12-05", "2026-11-01", "2026-11-01", true),
    row("alpine", "3.22", "Alpine 3.22", "2025-05-30", "2027-05-01", "2027-05-01", true),
    // Red Hat Enterprise Linux and UBI: https://access.redhat.com/support/policy/updates/errata
    // (end of maintenance support, then Extended Life-cycle Support).
    row("rhel", "7", "RHEL 7 / UBI 7", "2014-06-10", "2024-06-30", "2028-06-30", true),
    row("rhel", "8", "RHEL 8 / UBI 8", "2019-05-07", "2029-05-31", "2032-05-31", true),
    row("rhel", "9", "RHEL 9 / UBI 9", "2022-05-17", "2032-05-31", "2035-05-31", true),
    row("rhel", "10", "RHEL 10 / UBI 10", "2025-05-20", "2035-05-31", "2038-05-31", true),
    // Rocky Linux: https://wiki.rockylinux.org/rocky/version/ (end of security support).
    row("rocky", "8", "Rocky Linux 8", "2021-06-21", "2029-05-31", "2029-05-31", true),
    row("rocky", "9", "Rocky Linux 9", "2022-07-14", "2032-05-31", "2032-05-31", true),
    row("rocky", "10", "Rocky Linux 10", "2025-06-11", "2035-05-31", "2035-05-31", true),
    // AlmaLinux: https://wiki.almalinux.org/release-notes/ (end of security support).
    row("almalinux", "8", "AlmaLinux 8", "2021-03-30", "2029-03-01", "2029-03-01", true),
    row("almalinux", "9", "AlmaLinux 9", "2022-05-26", "2032-05-31", "2032-05-31", true),
    row("almalinux", "10", "AlmaLinux 10", "2025-05-27", "2035-05-31", "2035-05-31", true),
    // CentOS Linux and Stream: https://www.centos.org/centos-linux-eol/ and
    // https://www.centos.org/cl-vs-cs/ (Stream 9 and 10: expected).
    row("centos", "7", "CentOS 7", "2014-07-07", "2024-06-30", "2024-06-30", false),
    row("centos", "8", "CentOS 8", "2019-09-24", "2021-12-31", "2021-12-31", false),
    row("centos-stream", "8", "CentOS Stream 8", "2019-09-24", "2024-05-31", "2024-05-31", true),
    row("centos-stream", "9", "CentOS Stream 9", "2021-12-03", "2027-05-31", "2027-05-31", true),
    row("centos-stream", "10", "CentOS Stream 10", "2024-12-12", "2030-01-01", "2030-01-01", true),
    // Amazon Linux: https://aws.amazon.com/amazon-linux-2/faqs/ and
    // https://docs.aws.amazon.com/linux/al2023/ug/release-cadence.html (standard support, then
    // maintenance).
    row("amzn", "2", "Amazon Linux 2", "2018-06-26", "2026-06-30", "2026-06-30", true),
    row("amzn", "2023", "Amazon Linux 2023", "2023-03-15", "2027-06-30", "2029-06-30", true),
    // Fedora: https://docs.fedoraproject.org/en-US/releases/eol/ and the schedules of
    // https://fedorapeople.org/groups/schedule/ (42 and 43: expected).
    row("fedora", "40", "Fedora 40", "2024-04-23", "2025-05-13", "2025-05-13", true),
    row("fedora", "41", "Fedora 41", "2024-10-29", "2025-12-15", "2025-12-15", true),
    row("fedora", "42", "Fedora 42", "2025-04-15", "2026-05-13", "2026-05-13", true),
    row("fedora", "43", "Fedora 43", "2025-10-28", "2026-12-09", "2026-12-09", true),
    // openSUSE Leap: https://en.opensuse.org/Lifetime (16.0: expected).
    row("opensuse-leap", "15.5", "openSUSE Leap 15.5", "2023-06-07", "2024-12-31", "2024-12-31", true),
    row("opensuse-leap", "15.6", "openSUSE Leap 15.6", "2024-06-12", "2026-04-30", "2026-04-30", true),
    row("opensuse-leap", "16.0", "openSUSE Leap 16.0", "2025-10-01", "2027-10-31", "2027-10-31", true),
];

/// A distribution's name in messages ("Debian", "Alpine").
pub fn display_name(distro: &str) -> &str {
    match distro {
        "debian" => "Debian",
        "ubuntu" => "Ubuntu",
        "alpine" => "Alpine",
        "rhel" => "RHEL",
        "rocky" => "Rocky Linux",
        "almalinux" => "AlmaLinux",
        "centos" => "CentOS",
        "centos-stream" => "CentOS Stream",
        "amzn" => "Amazon Linux",
        "fedora" => "Fedora",
        "opensuse-leap" => "openSUSE Leap",
        other => other,
    }
}

/// Debian's code names, for an os-release without `VERSION_ID` (testing, or a trimmed file).
pub const DEBIAN_CODENAMES: &[(&str, &str)] =
    &[("buster", "10"), ("bullseye", "11"), ("bookworm", "12"), ("trixie", "13"), ("forky", "14")];

/// endoflife.date's product names for the distributions above (`--eol-data` accepts both).
pub const PRODUCT_NAMES: &[(&str, &str)] = &[
    ("alpine-linux", "alpine"),
    ("amazon-linux", "amzn"),
    ("rocky-linux", "rocky"),
    ("opensuse", "opensuse-leap"),
    ("red-hat-enterprise-linux", "rhel"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_has_valid_ordered_dates() {
        for r in ROWS {
            let [released, support, eol] =
                [r.released, r.support, r.eol].map(|d| crate::dates::parse(d).unwrap_or_else(|| panic!("{r:?}")));
            assert!(released < support && support <= eol, "{r:?}");
        }
        let mut seen = std::collections::HashSet::new();
        assert!(ROWS.iter().all(|r| seen.insert((r.distro, r.release))), "a release listed twice");
    }
}
