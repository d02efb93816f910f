//! The registry source (`docker://REF` and bare references): fetches the top manifest by tag
//! once to learn its digest (the pin), then everything by digest, streaming blobs from the
//! network into the scanner through bounded channels. The async client runs on its session's
//! tokio runtime (shared with a batch's catalog) and never leaves this module.
//!
//! oci-client (the maintained successor of oci-distribution) was the planned client. Its
//! `Client` is not used for the HTTP requests: it cannot bound manifest or token bodies (it
//! reads them whole), it drops `Retry-After` and has no 429 handling, it `unwrap`s a token into
//! a header (a panic on a token holding a newline), it sends Basic credentials to any token
//! realm, and on a failed blob GET it fetches the layer's foreign `urls` by itself. Wrapping
//! every call could fix none of these, so `http.rs` speaks the distribution API on reqwest (the
//! HTTP client oci-client itself uses), and references are parsed with oci-spec's
//! `distribution::Reference`, the type oci-client re-exports.

mod api;
pub mod auth;
mod blobs;
pub mod catalog;
mod facts;
pub mod http;
pub mod policy;
pub mod reference;
mod token;

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use sha2::{Digest as _, Sha256, Sha512};

use super::channel::ChannelReader;
use super::{ArcBytes, ImageSource, Roots};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::oci::{self, Descriptor};
pub use facts::RegistryFacts;
pub use http::Session;
pub use policy::Settings;
use reference::{check_digest, RegistryRef};

/// Registry options from the command line.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Hosts (`host` or `host:port`) that may be reached over plain HTTP.
    pub insecure: Vec<String>,
    /// Fetch a layer the registry lacks from its descriptor's foreign `urls`
    /// (`--allow-foreign-urls`).
    pub allow_foreign_urls: bool,
    /// The longest wait for data on a connection (60 s when `None`).
    pub read_timeout: Option<std::time::Duration>,
    /// A session to the registry to reuse (a batch's, shared with its catalog); used when it is
    /// the session of the image's registry.
    pub session: Option<Arc<Session>>,
}

impl RegistryOptions {
    /// The settings of a new session for these options.
    pub fn settings(&self) -> Settings {
        let mut settings = Settings { allow_foreign_urls: self.allow_foreign_urls, ..Settings::default() };
        if let Some(t) = self.read_timeout {
            settings.read_timeout = t;
        }
        settings
    }
}

/// Every manifest media type the scanner reads.
pub(crate) const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// Chunks buffered between the download and the scanner, per blob (reqwest's chunks are
/// 8–16 KiB, so a few hundred KiB at most).
const CHANNEL_CHUNKS: usize = 16;

/// An image in a registry.
pub struct RegistrySource {
    reference: String,
    rref: RegistryRef,
    client: Arc<http::Client>,
    limits: Limits,
    /// Manifests fetched so far, by digest (the top one is fetched by tag).
    manifests: Mutex<HashMap<String, Arc<Vec<u8>>>>,
    facts: Mutex<Option<RegistryFacts>>,
}

impl RegistrySource {
    /// Opens `reference` (as the user wrote it); `name` is it without `docker://`.
    pub fn open(reference: &str, name: &str, limits: &Limits, opts: &RegistryOptions) -> Result<Self> {
        Self::with_settings(reference, name, limits, opts, opts.settings())
    }

    pub fn with_settings(
        reference: &str,
        name: &str,
        limits: &Limits,
        opts: &RegistryOptions,
        settings: Settings,
    ) -> Result<Self> {
        let fail = |m: String| Error::reference(reference, m);
        let rref = RegistryRef::parse(name).map_err(fail)?;
        let creds = || auth::lookup(&rref.registry).map_err(|m| format!("credentials: {m}"));
        let session = match opts.session.as_ref().filter(|s| s.registry == rref.registry) {
            Some(s) => s.clone(),
            None => Session::open(&rref.registry, rref.api_host(), creds().map_err(fail)?, &opts.insecure, settings)
                .map_err(fail)?,
        };
        let client = http::Client::new(session, &rref.repository);
        Ok(RegistrySource {
            reference: reference.to_string(),
            rref,
            client: Arc::new(client),
            limits: limits.clone(),
            manifests: Mutex::new(HashMap::new()),
            facts: Mutex::new(None),
        })
    }

    /// Waits for a request on the session's runtime.
    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.client.session().runtime.block_on(f)
    }

    fn fail(&self, m: impl Into<String>) -> Error {
        Error::reference(&self.reference, m)
    }

    /// Fetches a manifest by tag or digest; checks the digest when one was asked for and the
    /// registry's `Docker-Content-Digest`. Returns (bytes, digest, media type).
    fn fetch_manifest(&self, by: &str, cap: u64) -> Result<(Vec<u8>, String, Option<String>)> {
        let got = self.block_on(self.client.manifest(by, ACCEPT, cap)).map_err(|e| self.fail(e.message))?;
        let Some((bytes, content_type, header)) = got else {
            let what = if by.contains(':') { "digest" } else { "tag" };
            return Err(self.fail(format!(
                "manifest unknown: {}/{} has no {what} {by}",
                self.rref.registry, self.rref.repository
            )));
        };
        let digest = hash_like(by, &bytes);
        if by.contains(':') && digest != by {
            return Err(self.fail(format!("the registry served manifest {by} with content that hashes to {digest}")));
        }
        if let Some(h) = header.filter(|h| h.starts_with("sha256:") && digest.starts_with("sha256:")) {
            if h != digest {
                return Err(self.fail(format!(
                    "the registry says manifest {by} is {h} (Docker-Content-Digest), its content hashes to {digest}"
                )));
            }
        }
        let media_type = content_type
            .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
            .filter(|c| oci::is_index_type(c) || oci::is_manifest_type(c));
        Ok((bytes, digest, media_type))
    }

    /// Signature tag and referrers of the pinned digest. Failures become notes.
    fn collect_facts(&self, digest: &str, media_type: &str, bytes: &[u8]) -> RegistryFacts {
        let mut notes = Vec::new();
        let annotations: BTreeMap<String, String> = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| serde_json::from_value(v.get("annotations")?.clone()).ok())
            .unwrap_or_default();
        let hex = digest.split_once(':').map(|(a, h)| format!("{a}-{h}")).unwrap_or_default();
        let sig = format!("{hex}.sig");
        let signature_tag = match self.block_on(self.client.manifest_exists(&sig, ACCEPT)) {
            Ok(true) => Some(sig),
            Ok(false) => None,
            Err(e) => {
                notes.push(format!("signature tag: {}", e.message));
                None
            }
        };
        let count = |b: &[u8]| -> Option<usize> {
            serde_json::from_slice::<serde_json::Value>(b).ok()?.get("manifests")?.as_array().map(Vec::len)
        };
        let referrers = match self.block_on(self.client.referrers(digest, self.limits.json_bytes)) {
            Ok(Some(b)) => count(&b),
            // No referrers API: the referrers tag schema (`sha256-<hex>`).
            Ok(None) => match self.block_on(self.client.manifest(&hex, oci::OCI_INDEX, self.limits.json_bytes)) {
                Ok(Some((b, _, _))) => count(&b),
                Ok(None) => Some(0),
                Err(e) => {
                    notes.push(format!("referrers tag: {}", e.message));
                    None
                }
            },
            Err(e) => {
                notes.push(format!("referrers: {}", e.message));
                None
            }
        };
        RegistryFacts {
            registry: self.rref.registry.clone(),
            repository: self.rref.repository.clone(),
            media_type: media_type.to_string(),
            manifest_list: oci::is_index_type(media_type),
            annotations,
            signature_tag,
            referrers,
            docker_official_image: self.rref.is_docker_official(),
            notes,
        }
    }

    fn manifest_reader(&self, d: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        let digest = d.digest().to_string();
        let cached = self.manifests.lock().ok().and_then(|m| m.get(&digest).cloned());
        let bytes = match cached {
            Some(b) => b,
            None => {
                let cap = self.limits.json_bytes.min(d.size().saturating_add(1));
                let (bytes, _, served) = self
                    .fetch_manifest(&digest, cap)
                    .map_err(|e| Error::Blob { digest: digest.clone(), message: e.to_string() })?;
                // The Content-Type must agree with the descriptor that led here (the document's
                // own mediaType is checked against the descriptor when it is parsed).
                let declared = d.media_type().to_string();
                if let Some(served) = served.filter(|s| *s != declared) {
                    return Err(Error::Blob {
                        digest: digest.clone(),
                        message: format!(
                            "the registry serves it as {served} (Content-Type), the descriptor pointing at it says {declared}"
                        ),
                    });
                }
                let bytes = Arc::new(bytes);
                if let Ok(mut m) = self.manifests.lock() {
                    m.insert(digest, bytes.clone());
                }
                bytes
            }
        };
        Ok(Box::new(Cursor::new(ArcBytes(bytes))))
    }
}

/// The digest of `bytes` with the algorithm of `like` (sha512 when it names one).
pub(crate) fn hash_like(like: &str, bytes: &[u8]) -> String {
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    if like.starts_with("sha512:") {
        format!("sha512:{}", hex(&Sha512::digest(bytes)))
    } else {
        format!("sha256:{}", hex(&Sha256::digest(bytes)))
    }
}

impl ImageSource for RegistrySource {
    fn reference(&self) -> &str {
        &self.reference
    }

    fn roots(&self) -> Result<Roots> {
        let by = self.rref.manifest_ref().to_string();
        let (bytes, digest, media_type) = self.fetch_manifest(&by, self.limits.json_bytes)?;
        let media_type = match media_type {
            Some(m) => m,
            None => match oci::doc_kind(&bytes, &format!("manifest {digest}"), None)? {
                oci::DocKind::Index => oci::OCI_INDEX.to_string(),
                oci::DocKind::Manifest => oci::OCI_MANIFEST.to_string(),
            },
        };
        let descriptor = Descriptor::new(
            oci_spec::image::MediaType::from(media_type.as_str()),
            bytes.len() as u64,
            oci_spec::image::Digest::from_str(&digest).map_err(|e| self.fail(format!("digest {digest}: {e}")))?,
        );
        let facts = self.collect_facts(&digest, &media_type, &bytes);
        let notes = facts.notes.clone();
        if let Ok(mut f) = self.facts.lock() {
            *f = Some(facts);
        }
        if let Ok(mut m) = self.manifests.lock() {
            m.insert(digest.clone(), Arc::new(bytes));
        }
        Ok(Roots {
            descriptors: vec![descriptor],
            pin: Some(digest),
            notes,
            name: Some(self.rref.name_with_tag()),
            tag: self.rref.tag.clone(),
        })
    }

    fn open_blob(&self, d: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        let digest = d.digest().to_string();
        check_digest(&digest).map_err(|m| Error::Blob { digest: digest.clone(), message: m })?;
        let mt = d.media_type().to_string();
        if oci::is_index_type(&mt) || oci::is_manifest_type(&mt) {
            return self.manifest_reader(d);
        }
        let (tx, rx) = tokio::sync::mpsc::channel(CHANNEL_CHUNKS);
        let urls = d.urls().clone().unwrap_or_default();
        let task = self.client.session().runtime.spawn(self.client.clone().stream_blob(digest, d.size(), urls, tx));
        Ok(Box::new(ChannelReader::new(rx, task)))
    }

    fn registry_facts(&self) -> Option<RegistryFacts> {
        self.facts.lock().ok().and_then(|f| f.clone())
    }
}
