//! The registry client's core: a [`Session`] per registry (runtime, HTTP client, credentials),
//! a [`Client`] per repository, and the request loop every call goes through: auth challenges
//! answered (`token.rs`), 5xx and 429 retried with backoff honouring `Retry-After`, redirects
//! checked, bodies read with a cap. The distribution API calls are in `api.rs`, blob streaming
//! in `blobs.rs`, what may be done in `policy.rs`.
//!
//! Why not oci-client's `Client` here (see the module doc of `registry`): it reads manifest and
//! token bodies without a bound, drops `Retry-After` (no 429 handling), `unwrap`s a token into
//! an `Authorization` header (a panic on a token with a newline), sends Basic credentials to any
//! token realm, and falls back to a layer's foreign `urls` on its own.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, RANGE, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode, Url};

use super::auth::Credentials;
use super::policy::{describe, plain_http_allowed, tls_config, url_allowed, Settings};
use crate::units::clip;

/// How a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    NotFound,
    Unauthorized,
    Other,
}

/// A failed request: one line, never holding a credential, token or query string.
#[derive(Debug, Clone)]
pub struct HttpError {
    pub kind: Kind,
    pub message: String,
}

impl HttpError {
    pub(super) fn new(kind: Kind, message: impl Into<String>) -> Self {
        HttpError { kind, message: message.into() }
    }
    pub(super) fn other(message: impl Into<String>) -> Self {
        Self::new(Kind::Other, message)
    }
}

/// What every request to one registry shares: the network runtime, the HTTP client (its
/// connections), the credentials and the settings. The image source and the catalog of a batch
/// use one session; each repository gets its own [`Client`] (tokens are per repository).
pub struct Session {
    /// Runs the requests; the blocking callers wait on it with `block_on`.
    pub runtime: tokio::runtime::Runtime,
    pub(super) http: reqwest::Client,
    /// `https://host[:port]` or `http://…`.
    pub(super) base: String,
    /// As the user named it (`docker.io`), for messages.
    pub registry: String,
    pub(super) creds: Option<Credentials>,
    /// Hosts that may be spoken to in plain HTTP (loopback and `--insecure-registry`).
    pub(super) plain_ok: Vec<String>,
    pub(super) settings: Settings,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("registry", &self.registry).field("base", &self.base).finish()
    }
}

impl Session {
    /// Sets up the HTTP client (TLS, redirects, timeouts) and the runtime for one registry.
    pub fn open(
        registry: &str,
        api_host: &str,
        creds: Option<Credentials>,
        insecure: &[String],
        settings: Settings,
    ) -> Result<Arc<Self>, String> {
        // reqwest is built without a bundled crypto provider; ring is ours. A second install
        // (several sources in one process) fails harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut plain_ok: Vec<String> = insecure.to_vec();
        plain_ok.extend(["localhost", "127.0.0.1", "::1"].map(String::from));
        let allowed = plain_ok.clone();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            // Blob GETs are redirected to storage (S3, CDNs). reqwest drops `Authorization` on
            // a redirect to another host; here: no loops, no other schemes, no downgrade to
            // plain HTTP except to hosts allowed it.
            if attempt.previous().len() >= 10 {
                return attempt.error("more than 10 redirects");
            }
            match url_allowed(attempt.url(), &allowed) {
                Ok(()) => attempt.follow(),
                Err(m) => attempt.error(format!("redirect refused: {m}")),
            }
        });
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.read_timeout)
            .redirect(redirects)
            .user_agent(concat!("layerscope/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {}", describe(&e)))?;
        let scheme = if plain_http_allowed(registry, insecure) { "http" } else { "https" };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("layerscope-registry")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the network runtime: {e}"))?;
        Ok(Arc::new(Session {
            runtime,
            http,
            base: format!("{scheme}://{api_host}"),
            registry: registry.to_string(),
            creds,
            plain_ok,
            settings,
        }))
    }
}

/// A client for one repository of one registry, on a shared [`Session`].
pub struct Client {
    pub(super) session: Arc<Session>,
    pub(super) repository: String,
    /// The `Authorization` header the last challenge led to, shared by every request.
    pub(super) auth: Mutex<Option<HeaderValue>>,
}

impl Client {
    /// A client for `repository` on `session`.
    pub fn new(session: Arc<Session>, repository: &str) -> Self {
        Client { session, repository: repository.to_string(), auth: Mutex::new(None) }
    }

    /// The session this client runs on.
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    fn current_auth(&self) -> Option<HeaderValue> {
        self.auth.lock().ok().and_then(|g| g.clone())
    }

    pub(super) fn set_auth(&self, v: HeaderValue) {
        if let Ok(mut g) = self.auth.lock() {
            *g = Some(v);
        }
    }

    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        self.session.settings.backoff.saturating_mul(1 << attempt.min(10).saturating_sub(1))
    }

    /// Sends `GET|HEAD /v2/<repo>/<path>`, answering auth challenges and retrying 5xx, 429
    /// and transport errors. Any other status is returned to the caller.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        accept: Option<&str>,
        range_from: Option<u64>,
    ) -> Result<Response, HttpError> {
        self.request_v2(method, &format!("{}/{path}", self.repository), accept, range_from).await
    }

    /// Like [`Client::request`] for any path under `/v2/` (`_catalog?n=100`).
    pub(super) async fn request_v2(
        &self,
        method: Method,
        v2_path: &str,
        accept: Option<&str>,
        range_from: Option<u64>,
    ) -> Result<Response, HttpError> {
        let url = format!("{}/v2/{v2_path}", self.session.base);
        let what = format!("{} {}/{}", method, self.session.registry, v2_path);
        let mut challenged = false;
        let mut attempt = 0u32;
        loop {
            let mut rb = self.session.http.request(method.clone(), &url);
            if let Some(a) = accept {
                rb = rb.header(ACCEPT, a);
            }
            if let Some(off) = range_from {
                rb = rb.header(RANGE, format!("bytes={off}-"));
            }
            if let Some(h) = self.current_auth() {
                rb = rb.header(AUTHORIZATION, h);
            }
            let resp = match rb.send().await {
                Ok(r) => r,
                Err(e) => {
                    if attempt < self.session.settings.retries && !e.is_redirect() && !e.is_builder() {
                        attempt += 1;
                        tokio::time::sleep(self.backoff(attempt)).await;
                        continue;
                    }
                    return Err(HttpError::other(format!("{what}: {}", describe(&e))));
                }
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED {
                if !challenged {
                    challenged = true;
                    let challenge =
                        resp.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                    self.authenticate(&challenge).await?;
                    continue;
                }
                return Err(self.unauthorized(&what));
            }
            if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                let wait = retry_after(resp.headers()).unwrap_or_else(|| self.backoff(attempt + 1));
                if wait > self.session.settings.max_wait {
                    let remaining = resp
                        .headers()
                        .get("ratelimit-remaining")
                        .and_then(|v| v.to_str().ok())
                        .map(|v| format!(" (ratelimit-remaining: {})", clip(v, 60)))
                        .unwrap_or_default();
                    return Err(HttpError::other(format!(
                        "{what}: the registry answered {status} and asks to wait {} s (Retry-After){remaining}, more than the {} s layerscope waits; try again later",
                        wait.as_secs(),
                        self.session.settings.max_wait.as_secs()
                    )));
                }
                if attempt >= self.session.settings.retries {
                    let detail = self.error_detail(resp).await;
                    return Err(HttpError::other(format!(
                        "{what}: the registry answered {status} {} times; giving up{detail}",
                        attempt + 1
                    )));
                }
                attempt += 1;
                tokio::time::sleep(wait).await;
                continue;
            }
            if status.is_redirection() {
                // A redirect reqwest did not follow: a Location it cannot use (another scheme).
                let to = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| Url::parse(&url).ok()?.join(l).ok());
                let why = match to {
                    Some(u) => url_allowed(&u, &self.session.plain_ok).err().unwrap_or_else(|| "not followed".into()),
                    None => "no usable Location".into(),
                };
                return Err(HttpError::other(format!(
                    "{what}: the registry answered {status}; redirect refused: {why}"
                )));
            }
            return Ok(resp);
        }
    }
}

/// Reads a body, refusing more than `cap` bytes.
pub(super) async fn read_capped(mut resp: Response, cap: u64, what: &str) -> Result<Vec<u8>, HttpError> {
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(HttpError::other(format!("{what}: larger than {cap} bytes; not read")));
    }
    let mut out = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(b)) => {
                if out.len() as u64 + b.len() as u64 > cap {
                    return Err(HttpError::other(format!("{what}: larger than {cap} bytes; not read")));
                }
                out.extend_from_slice(&b);
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(HttpError::other(format!("{what}: {}", describe(&e)))),
        }
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not read: the default backoff applies).
fn retry_after(h: &HeaderMap) -> Option<Duration> {
    h.get("retry-after")?.to_str().ok()?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after", HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), None);
    }
}
