//! What a batch scans: the repositories and tags wanted (catalog or `--from`, globs, shard),
//! the manifest digest of each tag, and the images not stored yet, grouped by digest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use globset::{GlobSet, GlobSetBuilder};
use sha2::{Digest as _, Sha256};

use super::store::Store;
use super::{BatchError, BatchOptions, RunStats};
use crate::progress::Task;
use crate::source::registry::catalog::Catalog;

/// A stable share of the repositories: those whose name hashes to `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based, as Kubernetes' `JOB_COMPLETION_INDEX`.
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Parses `K/N` with 0 ≤ K < N.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (k, n) = s.split_once('/').ok_or_else(|| format!("{s:?}: a shard is K/N, e.g. 0/4"))?;
        let index: u64 = k.trim().parse().map_err(|_| format!("{s:?}: K is not a number"))?;
        let count: u64 = n.trim().parse().map_err(|_| format!("{s:?}: N is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!(
                "{s:?}: K counts from 0 and must be below N (0/{count} … {}/{count})",
                count.max(1) - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// True when `repository` belongs to this shard (SHA-256 of the name: the same on every
    /// machine and in every version).
    pub fn contains(&self, repository: &str) -> bool {
        let h = Sha256::digest(repository.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&h[..8]);
        u64::from_be_bytes(first) % self.count == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One line of `--from FILE`: a repository, with a tag or digest or neither (every tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub repository: String,
    /// A tag or a digest; `None` lists the repository's tags.
    pub reference: Option<String>,
}

/// Reads `--from FILE`: one `REPOSITORY[:TAG|@DIGEST]` per line, optionally prefixed with the
/// registry (`REGISTRY/REPOSITORY:TAG`); blank lines and `#` comments skipped.
/// Reference schemes of images outside a registry (docs/sources.md).
const LOCAL_SCHEMES: &[&str] =
    &["docker-daemon:", "docker:", "podman:", "oci:", "oci-dir:", "oci-archive:", "docker-archive:"];

pub fn read_wanted(path: &Path, registry: &str) -> Result<Vec<Wanted>, BatchError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| BatchError::Usage(format!("--from {}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |m: &str| BatchError::Usage(format!("--from {} line {}: {line:?}: {m}", path.display(), n + 1));
        if let Some(scheme) = LOCAL_SCHEMES.iter().find(|s| line.starts_with(*s)) {
            return Err(bad(&format!(
                "{scheme} names a local image; a batch reads one registry (scan or compare read local images)"
            )));
        }
        let rest = line.strip_prefix("docker://").or_else(|| line.strip_prefix("registry:")).unwrap_or(line);
        let rest = rest.strip_prefix(&format!("{registry}/")).unwrap_or(rest);
        let (repository, reference) = if let Some((r, d)) = rest.split_once('@') {
            (r, Some(d.to_string()))
        } else {
            match rest.rsplit_once(':') {
                Some((r, t)) if !t.contains('/') => (r, Some(t.to_string())),
                _ => (rest, None),
            }
        };
        if repository.is_empty()
            || repository.split('/').any(|c| c.is_empty())
            || !repository.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c))
        {
            return Err(bad("not a repository of this registry (lower-case name, optional :TAG or @DIGEST)"));
        }
        if let Some(d) = reference.as_deref().filter(|d| d.contains(':')) {
            crate::source::registry::reference::check_digest(d).map_err(|m| bad(&m))?;
        }
        out.push(Wanted { repository: repository.to_string(), reference });
    }
    Ok(out)
}

/// An image to scan: a repository and the manifest digest its tags point at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Job {
    repository: String,
    digest: String,
}

/// Steps 1 to 3 of a run: what to look at (from `--from`, else the catalog), the tags and the
/// digests they point at (recorded in the store as they are learnt), and the images to scan,
/// grouped by manifest digest (the same manifest in several repositories is scanned once and
/// copied). Images the store has are counted as skipped unless asked to scan again.
pub(super) fn plan(
    catalog: &Catalog,
    store: &Store,
    opts: &BatchOptions,
    stats: &mut RunStats,
    task: &dyn Task,
) -> Result<BTreeMap<String, Vec<String>>, BatchError> {
    let registry = stats.registry.clone();
    let wanted = wanted_repositories(catalog, opts, task)?;
    stats.repositories = wanted.len() as u64;

    task.message(&format!("listing the tags of {} repositories", wanted.len()));
    let tag_globs = globs(&opts.tags, "--tag")?;
    let listings =
        list_tags(catalog, &wanted, &|t: &str| tag_globs.as_ref().is_none_or(|g| g.is_match(t)), opts.page_size);
    let mut planned: BTreeSet<Job> = BTreeSet::new();
    for (repo, listing) in wanted.keys().zip(listings) {
        let pairs = match listing {
            Ok(p) => p,
            Err(e) => {
                stats.failures += 1;
                store.put_repository(&registry, repo, Some(&e.to_string()))?;
                continue;
            }
        };
        store.put_repository(&registry, repo, None)?;
        for (reference, digest) in pairs {
            let is_digest = reference.contains(':');
            stats.tags += u64::from(!is_digest);
            match digest {
                Ok(d) => {
                    if !is_digest {
                        store.put_tag(&registry, repo, &reference, Some(&d), None)?;
                    }
                    planned.insert(Job { repository: repo.clone(), digest: d });
                }
                Err(e) => {
                    stats.failures += 1;
                    let tag = if is_digest { format!("@{reference}") } else { reference };
                    store.put_tag(&registry, repo, &tag, None, Some(&e.to_string()))?;
                }
            }
        }
    }
    stats.images = planned.len() as u64;

    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for job in planned {
        let status = store.image_status(&registry, &job.repository, &job.digest)?;
        let again = match status.as_deref() {
            None => true,
            Some("failed") => opts.rescan || opts.retry_failed,
            Some(_) => opts.rescan,
        };
        if again {
            groups.entry(job.digest).or_default().push(job.repository);
        } else {
            stats.images_skipped += 1;
        }
    }
    Ok(groups)
}

/// The repositories to look at, each with the tags or digests `--from` named (`None`: all of
/// its tags), after `--repo` and `--shard`.
fn wanted_repositories(
    catalog: &Catalog,
    opts: &BatchOptions,
    task: &dyn Task,
) -> Result<BTreeMap<String, Option<BTreeSet<String>>>, BatchError> {
    let repo_globs = globs(&opts.repos, "--repo")?;
    let mut wanted: BTreeMap<String, Option<BTreeSet<String>>> = BTreeMap::new();
    match &opts.from {
        Some(list) => {
            for w in list {
                let entry = wanted.entry(w.repository.clone()).or_insert_with(|| Some(BTreeSet::new()));
                match (&w.reference, entry.as_mut()) {
                    (Some(r), Some(set)) => {
                        set.insert(r.clone());
                    }
                    _ => *entry = None,
                }
            }
        }
        None => {
            task.message(&format!("listing the repositories of {}", catalog.registry));
            for r in catalog.repositories(opts.page_size)? {
                wanted.insert(r, None);
            }
        }
    }
    wanted.retain(|r, _| repo_globs.as_ref().is_none_or(|g| g.is_match(r)) && opts.shard.is_none_or(|s| s.contains(r)));
    Ok(wanted)
}

/// Requests in flight while listing tags and their digests (one repository per thread).
const LISTING_THREADS: usize = 16;

/// What a repository's listing gave: (tag or digest, manifest digest or why not).
type Listing = crate::error::Result<Vec<(String, crate::error::Result<String>)>>;

/// Lists the tags (with digests) of every wanted repository, a few repositories at a time;
/// results in the order of `wanted`.
fn list_tags(
    catalog: &Catalog,
    wanted: &BTreeMap<String, Option<BTreeSet<String>>>,
    keep: &(dyn Fn(&str) -> bool + Sync),
    page_size: usize,
) -> Vec<Listing> {
    let repos: Vec<(&String, &Option<BTreeSet<String>>)> = wanted.iter().collect();
    let next = AtomicU64::new(0);
    let results: Mutex<BTreeMap<usize, Listing>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..LISTING_THREADS.min(repos.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some((repo, refs)) = repos.get(i) else { break };
                let listing = match refs {
                    Some(set) => Ok(set.iter().map(|r| (r.clone(), catalog.manifest_digest(repo, r))).collect()),
                    None => catalog.tag_digests(repo, page_size, keep),
                };
                if let Ok(mut r) = results.lock() {
                    r.insert(i, listing);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    (0..repos.len())
        .map(|i| {
            results.remove(&i).unwrap_or_else(|| {
                Err(crate::error::Error::reference(repos[i].0, "the listing thread stopped".to_string()))
            })
        })
        .collect()
}

fn globs(patterns: &[String], flag: &str) -> Result<Option<GlobSet>, BatchError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let g = globset::GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .map_err(|e| BatchError::Usage(format!("{flag} {p:?}: {e}")))?;
        b.add(g);
    }
    b.build().map(Some).map_err(|e| BatchError::Usage(format!("{flag}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_every_name_once() {
        let shards: Vec<Shard> = (0..3).map(|k| Shard::parse(&format!("{k}/3")).unwrap()).collect();
        for i in 0..1000 {
            let name = format!("team-{}/service-{i}", i % 7);
            assert_eq!(shards.iter().filter(|s| s.contains(&name)).count(), 1, "{name}");
        }
        let per: Vec<usize> =
            shards.iter().map(|s| (0..3000).filter(|i| s.contains(&format!("r{i}"))).count()).collect();
        assert!(per.iter().all(|&n| n > 800), "shards are roughly even: {per:?}");
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("0/0").is_err());
        assert!(Shard::parse("x").is_err());
    }

    #[test]
    fn from_file_lines() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("list");
        std::fs::write(
            &f,
            "# a comment\n\nregistry:team/api:1.0\nreg.example:5000/team/web\nteam/db@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
        )
        .unwrap();
        let w = read_wanted(&f, "reg.example:5000").unwrap();
        assert_eq!(
            w,
            vec![
                Wanted { repository: "team/api".into(), reference: Some("1.0".into()) },
                Wanted { repository: "team/web".into(), reference: None },
                Wanted {
                    repository: "team/db".into(),
                    reference: Some("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into())
                },
            ]
        );
        std::fs::write(&f, "Team/API\n").unwrap();
        assert!(read_wanted(&f, "x").unwrap_err().to_string().contains("line 1"));
        std::fs::write(&f, "team/db@sha256:../../x\n").unwrap();
        assert!(read_wanted(&f, "x").is_err());
        std::fs::write(&f, "team/a:1\ndocker-daemon:myapp\n").unwrap();
        let e = read_wanted(&f, "x").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("docker-daemon: names a local image"), "{e}");
    }
}
