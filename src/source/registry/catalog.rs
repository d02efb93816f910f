//! Listing a registry for a batch: repositories through `/v2/_catalog`, tags through
//! `/v2/<name>/tags/list`, both page by page (`n`, `last`, and the `Link` header), and the
//! manifest digest a tag points at.

use std::collections::HashSet;

use std::sync::Arc;

use super::http::{Client, Session};
use super::reference::RegistryRef;
use super::{auth, hash_like, RegistryOptions, ACCEPT};
use crate::error::{Error, Result};
use crate::limits::Limits;

/// The most pages one list may take (a registry whose `Link` never ends is an error).
const MAX_PAGES: usize = 100_000;

/// A registry to list, on a session the batch's image sources share.
pub struct Catalog {
    /// As the user named it (`127.0.0.1:5000`, `docker.io`).
    pub registry: String,
    session: Arc<Session>,
    limits: Limits,
}

impl Catalog {
    /// `registry` is a host (`host[:port]`), as in `docker://host/...`.
    pub fn open(registry: &str, limits: &Limits, opts: &RegistryOptions) -> Result<Self> {
        let fail = |m: String| Error::reference(registry, m);
        if registry.is_empty() || registry.contains('/') {
            return Err(fail("a registry is a host name with an optional port (registry.example:5000)".into()));
        }
        // Not through the reference parser: its regex takes longer to build than a warm run
        // of a small registry takes to list.
        let host_ok = registry.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
        if !host_ok {
            return Err(fail("a registry is a host name with an optional port (registry.example:5000)".into()));
        }
        let probe = RegistryRef {
            registry: if registry == "index.docker.io" { "docker.io".into() } else { registry.to_string() },
            repository: String::new(),
            tag: None,
            digest: None,
        };
        let creds = auth::lookup(&probe.registry).map_err(|m| fail(format!("credentials: {m}")))?;
        let session =
            Session::open(&probe.registry, probe.api_host(), creds, &opts.insecure, opts.settings()).map_err(fail)?;
        Ok(Catalog { registry: probe.registry.clone(), session, limits: limits.clone() })
    }

    /// The session the catalog lists with, for the image sources of the same batch.
    pub fn session(&self) -> Arc<Session> {
        self.session.clone()
    }

    fn client(&self, repository: &str) -> Client {
        Client::new(self.session.clone(), repository)
    }

    /// Every repository of the catalog, `page_size` per request.
    pub fn repositories(&self, page_size: usize) -> Result<Vec<String>> {
        let client = self.client("");
        let first = format!("_catalog?n={page_size}");
        self.paginate(&client, first, "repositories", &format!("{}/v2/_catalog", self.registry))
    }

    /// Every tag of `repository`, `page_size` per request.
    pub fn tags(&self, repository: &str, page_size: usize) -> Result<Vec<String>> {
        let client = self.client(repository);
        let first = format!("{repository}/tags/list?n={page_size}");
        self.paginate(&client, first, "tags", &format!("{}/{repository}", self.registry))
    }

    /// Follows `Link` from page to page, collecting the names under `key`. A page without a
    /// `Link` ends the list; so does an empty page. A `Link` seen twice is an error.
    fn paginate(&self, client: &Client, first: String, key: &str, what: &str) -> Result<Vec<String>> {
        let fail = |m: String| Error::reference(what, m);
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut next = Some(first);
        while let Some(path) = next.take() {
            if !seen.insert(path.clone()) || seen.len() > MAX_PAGES {
                return Err(fail(format!("the registry's pages of {key} do not end (Link back to {path:?})")));
            }
            let page = self
                .session
                .runtime
                .block_on(client.list_page(&path, self.limits.json_bytes))
                .map_err(|e| fail(e.message))?;
            let Some((body, link)) = page else {
                return Err(fail(format!("the registry has no list of {key} here (404)")));
            };
            let v: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| fail(format!("the list of {key} is not JSON: {e}")))?;
            let names: Vec<String> = match v.get(key) {
                Some(serde_json::Value::Array(a)) => a.iter().filter_map(|n| n.as_str().map(str::to_string)).collect(),
                // distribution answers `"tags": null` for a repository without tags.
                Some(serde_json::Value::Null) | None => Vec::new(),
                Some(_) => return Err(fail(format!("the list of {key} is not an array"))),
            };
            if names.is_empty() {
                break;
            }
            out.extend(names);
            next = link;
        }
        Ok(out)
    }

    /// The tags of `repository` that `wanted` keeps, each with the digest of the manifest it
    /// points at (or why that could not be had), `page_size` tags per list request.
    pub fn tag_digests(
        &self,
        repository: &str,
        page_size: usize,
        wanted: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<(String, Result<String>)>> {
        let client = self.client(repository);
        let first = format!("{repository}/tags/list?n={page_size}");
        let tags = self.paginate(&client, first, "tags", &format!("{}/{repository}", self.registry))?;
        Ok(tags
            .into_iter()
            .filter(|t| wanted(t))
            .map(|t| {
                let d = self.tag_digest(&client, repository, &t);
                (t, d)
            })
            .collect())
    }

    /// Where a tag points: the `Docker-Content-Digest` of a `HEAD` (one round trip, no body;
    /// the scan by digest verifies it), else the hash of the manifest a `GET` returns.
    fn tag_digest(&self, client: &Client, repository: &str, tag: &str) -> Result<String> {
        match self.session.runtime.block_on(client.manifest_head(tag, ACCEPT)) {
            Ok(Some(Some(d))) => Ok(d),
            Ok(None) => {
                Err(Error::reference(format!("{}/{repository}:{tag}", self.registry), "manifest unknown (404)"))
            }
            Ok(Some(None)) | Err(_) => self.digest(client, repository, tag),
        }
    }

    /// The digest of the manifest `repository:reference` points at (hashed from its bytes; the
    /// registry's `Docker-Content-Digest` must agree).
    pub fn manifest_digest(&self, repository: &str, reference: &str) -> Result<String> {
        self.digest(&self.client(repository), repository, reference)
    }

    fn digest(&self, client: &Client, repository: &str, reference: &str) -> Result<String> {
        let sep = if reference.contains(':') { '@' } else { ':' };
        let what = format!("{}/{repository}{sep}{reference}", self.registry);
        let fail = |m: String| Error::reference(&what, m);
        let got = self
            .session
            .runtime
            .block_on(client.manifest(reference, ACCEPT, self.limits.json_bytes))
            .map_err(|e| fail(e.message))?;
        let Some((bytes, _, header)) = got else {
            return Err(fail("manifest unknown (404)".into()));
        };
        let like = if reference.contains(':') { reference } else { "sha256:" };
        let digest = hash_like(like, &bytes);
        if reference.contains(':') && digest != reference {
            return Err(fail(format!("the registry served content that hashes to {digest}")));
        }
        if let Some(h) = header.filter(|h| h.starts_with("sha256:") && digest.starts_with("sha256:")) {
            if h != digest {
                return Err(fail(format!(
                    "the registry says {h} (Docker-Content-Digest), the manifest hashes to {digest}"
                )));
            }
        }
        Ok(digest)
    }
}
