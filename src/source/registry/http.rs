//! The registry's HTTP API (distribution spec) on reqwest: auth challenges (Basic, Bearer
//! tokens), retries with backoff for 5xx and 429 honouring `Retry-After`, size-capped bodies,
//! blob streams that resume with a Range request when the connection is cut.
//!
//! Why not oci-client's `Client` here (see the module doc of `registry`): it reads manifest and
//! token bodies without a bound, drops `Retry-After` (no 429 handling), `unwrap`s a token into
//! an `Authorization` header (a panic on a token with a newline), sends Basic credentials to any
//! token realm, and falls back to a layer's foreign `urls` on its own.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_RANGE, RANGE, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode, Url};

use super::auth::Credentials;
use crate::units::clip;

/// Bounds and timings of the client, and what it may fetch.
#[derive(Debug, Clone)]
pub struct Settings {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Retries after a 5xx, a 429 or a transport error; also the resumes of one blob.
    pub retries: u32,
    /// The longest `Retry-After` waited for; a longer one is an error.
    pub max_wait: Duration,
    /// First backoff; doubled at each retry.
    pub backoff: Duration,
    /// Token and error bodies.
    pub token_bytes: u64,
    /// Fetch a blob the registry does not have (404) from its descriptor's foreign `urls`
    /// (`--allow-foreign-urls`): https, or plain http to the hosts allowed it; never with
    /// credentials; the same size and digest checks.
    pub allow_foreign_urls: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            retries: 3,
            max_wait: Duration::from_secs(60),
            backoff: Duration::from_millis(500),
            token_bytes: 1 << 20,
            allow_foreign_urls: false,
        }
    }
}

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
    fn new(kind: Kind, message: impl Into<String>) -> Self {
        HttpError { kind, message: message.into() }
    }
    fn other(message: impl Into<String>) -> Self {
        Self::new(Kind::Other, message)
    }
}

/// A client for one repository of one registry.
pub struct Client {
    http: reqwest::Client,
    /// `https://host[:port]` or `http://…`.
    base: String,
    /// As the user named it (`docker.io`), for messages.
    registry: String,
    repository: String,
    creds: Option<Credentials>,
    /// Hosts that may be spoken to in plain HTTP (loopback and `--insecure-registry`).
    plain_ok: Vec<String>,
    /// The `Authorization` header the last challenge led to, shared by every request.
    auth: Mutex<Option<HeaderValue>>,
    settings: Settings,
}

/// True for hosts that may be reached without TLS.
pub fn plain_http_allowed(host: &str, insecure: &[String]) -> bool {
    let name = super::reference::host_without_port(host);
    matches!(name, "localhost" | "127.0.0.1" | "::1") || insecure.iter().any(|h| h == host || h == name)
}

/// The TLS configuration every client shares: ring, the platform's verifier (the system's
/// certificates, as reqwest would load them), HTTP/1.1. Built once per process: loading the
/// system certificates for each client was half of a warm batch's CPU time.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    static CONFIG: std::sync::OnceLock<Result<rustls::ClientConfig, String>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
                .map_err(|e| format!("cannot load the system's certificates: {e}"))?;
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS set-up: {e}"))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(config)
        })
        .clone()
}

/// `host[:port]` of a URL, as `--insecure-registry` names hosts.
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// May a request carrying credentials (a token request to a realm, a redirect followed with
/// them, a foreign URL) go to `url`? https anywhere; plain http only to loopback and the
/// hosts named with `--insecure-registry`; no other scheme.
pub fn url_allowed(url: &Url, plain_ok: &[String]) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if plain_http_allowed(&authority(url), plain_ok) => Ok(()),
        "http" => Err(format!(
            "plain http to {} is refused (https only, or a host named with --insecure-registry)",
            authority(url)
        )),
        s => Err(format!("a {s}: URL is refused (http and https only)")),
    }
}

impl Client {
    pub fn new(
        registry: &str,
        api_host: &str,
        repository: &str,
        creds: Option<Credentials>,
        insecure: &[String],
        settings: Settings,
    ) -> Result<Self, String> {
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
        Ok(Client {
            http,
            base: format!("{scheme}://{api_host}"),
            registry: registry.to_string(),
            repository: repository.to_string(),
            creds,
            plain_ok,
            auth: Mutex::new(None),
            settings,
        })
    }

    fn current_auth(&self) -> Option<HeaderValue> {
        self.auth.lock().ok().and_then(|g| g.clone())
    }

    fn set_auth(&self, v: HeaderValue) {
        if let Ok(mut g) = self.auth.lock() {
            *g = Some(v);
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.settings.backoff.saturating_mul(1 << attempt.min(10).saturating_sub(1))
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
    async fn request_v2(
        &self,
        method: Method,
        v2_path: &str,
        accept: Option<&str>,
        range_from: Option<u64>,
    ) -> Result<Response, HttpError> {
        let url = format!("{}/v2/{v2_path}", self.base);
        let what = format!("{} {}/{}", method, self.registry, v2_path);
        let mut challenged = false;
        let mut attempt = 0u32;
        loop {
            let mut rb = self.http.request(method.clone(), &url);
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
                    if attempt < self.settings.retries && !e.is_redirect() && !e.is_builder() {
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
                if wait > self.settings.max_wait {
                    let remaining = resp
                        .headers()
                        .get("ratelimit-remaining")
                        .and_then(|v| v.to_str().ok())
                        .map(|v| format!(" (ratelimit-remaining: {})", clip(v, 60)))
                        .unwrap_or_default();
                    return Err(HttpError::other(format!(
                        "{what}: the registry answered {status} and asks to wait {} s (Retry-After){remaining}, more than the {} s layerscope waits; try again later",
                        wait.as_secs(),
                        self.settings.max_wait.as_secs()
                    )));
                }
                if attempt >= self.settings.retries {
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
                    Some(u) => url_allowed(&u, &self.plain_ok).err().unwrap_or_else(|| "not followed".into()),
                    None => "no usable Location".into(),
                };
                return Err(HttpError::other(format!(
                    "{what}: the registry answered {status}; redirect refused: {why}"
                )));
            }
            return Ok(resp);
        }
    }

    fn unauthorized(&self, what: &str) -> HttpError {
        let message = match &self.creds {
            Some(c) => format!(
                "{what}: the registry refused the credentials of user {:?} (from {}): check the user name and password",
                c.username, c.origin
            ),
            None => format!(
                "{what}: the registry requires authentication and no credentials for {} were found ($DOCKER_CONFIG/config.json or ~/.docker/config.json, $REGISTRY_AUTH_FILE)",
                self.registry
            ),
        };
        HttpError::new(Kind::Unauthorized, message)
    }

    /// Answers a `WWW-Authenticate` challenge: Basic with the configured credentials, or a
    /// Bearer token fetched from the realm (with the credentials, when there are some).
    async fn authenticate(&self, challenge: &str) -> Result<(), HttpError> {
        let (scheme, params) = parse_challenge(challenge);
        let what = format!("authenticating to {}", self.registry);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => {
                let c = self.creds.as_ref().ok_or_else(|| self.unauthorized(&what))?;
                let raw = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.secret()));
                let mut v = HeaderValue::from_str(&format!("Basic {raw}"))
                    .map_err(|_| HttpError::other(format!("{what}: credentials are not a valid header value")))?;
                v.set_sensitive(true);
                self.set_auth(v);
                Ok(())
            }
            "bearer" => {
                let realm = params.iter().find(|(k, _)| k == "realm").map(|(_, v)| v.as_str()).unwrap_or("");
                let mut url = Url::parse(realm).map_err(|_| {
                    HttpError::other(format!("{what}: the token realm {:?} is not a URL", clip(realm, 100)))
                })?;
                let host = authority(&url);
                // Case 50 of docs/hostile-inputs.md: a realm on plain http elsewhere would receive the
                // Basic credentials in clear; no request is sent at all.
                if let Err(m) = url_allowed(&url, &self.plain_ok) {
                    return Err(HttpError::other(format!(
                        "{what}: token realm on {host}: {m}; no credentials or token request sent"
                    )));
                }
                let scope = params
                    .iter()
                    .find(|(k, _)| k == "scope")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| format!("repository:{}:pull", self.repository));
                {
                    let mut q = url.query_pairs_mut();
                    if let Some((_, s)) = params.iter().find(|(k, _)| k == "service") {
                        q.append_pair("service", s);
                    }
                    q.append_pair("scope", &scope);
                }
                let mut rb = self.http.get(url);
                if let Some(c) = &self.creds {
                    rb = rb.basic_auth(&c.username, Some(c.secret()));
                }
                let resp = rb
                    .send()
                    .await
                    .map_err(|e| HttpError::other(format!("{what}: token request to {host}: {}", describe(&e))))?;
                let status = resp.status();
                if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                    return Err(self.unauthorized(&what));
                }
                if !status.is_success() {
                    return Err(HttpError::other(format!("{what}: the token endpoint on {host} answered {status}")));
                }
                let body = read_capped(resp, self.settings.token_bytes, "token response").await?;
                // `expires_in` is not read (a negative or absurd one cannot break anything): the
                // token is used until the registry answers 401, then one new one is asked for.
                #[derive(serde::Deserialize)]
                struct Token {
                    token: Option<String>,
                    access_token: Option<String>,
                }
                let t: Token = serde_json::from_slice(&body).map_err(|_| {
                    HttpError::other(format!(
                        "{what}: the token endpoint on {host} answered something else than a token"
                    ))
                })?;
                let token = t.token.or(t.access_token).filter(|t| !t.is_empty()).ok_or_else(|| {
                    HttpError::other(format!("{what}: the token endpoint on {host} answered no token"))
                })?;
                // oci-client `unwrap`s this conversion; a token with a control character must
                // be an error, not a panic.
                let mut v = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                    HttpError::other(format!(
                        "{what}: the token endpoint on {host} answered a token that is not a valid header value"
                    ))
                })?;
                v.set_sensitive(true);
                self.set_auth(v);
                Ok(())
            }
            "" => Err(self.unauthorized(&what)),
            other => Err(HttpError::new(
                Kind::Unauthorized,
                format!("{what}: unsupported authentication scheme {:?}", clip(other, 40)),
            )),
        }
    }

    /// The `errors[0]` of a registry error body, as ` (CODE: message)`.
    async fn error_detail(&self, resp: Response) -> String {
        let Ok(body) = read_capped(resp, 64 << 10, "error body").await else { return String::new() };
        #[derive(serde::Deserialize)]
        struct Envelope {
            errors: Vec<Item>,
        }
        #[derive(serde::Deserialize)]
        struct Item {
            code: Option<String>,
            message: Option<String>,
        }
        match serde_json::from_slice::<Envelope>(&body) {
            Ok(e) => e
                .errors
                .first()
                .map(|i| {
                    format!(
                        " ({}: {})",
                        clip(i.code.as_deref().unwrap_or("?"), 60),
                        clip(i.message.as_deref().unwrap_or(""), 200)
                    )
                })
                .unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// `GET /v2/<v2_path>`: the response when 200, `None` when 404, else an error quoting
    /// the registry's own error.
    async fn get_found(&self, v2_path: &str, accept: &str) -> Result<Option<Response>, HttpError> {
        let resp = self.request_v2(Method::GET, v2_path, Some(accept), None).await?;
        match resp.status() {
            StatusCode::OK => Ok(Some(resp)),
            StatusCode::NOT_FOUND => Ok(None),
            status => {
                let detail = self.error_detail(resp).await;
                Err(HttpError::other(format!(
                    "GET {}/{}: the registry answered {status}{detail}",
                    self.registry,
                    clip(v2_path, 200)
                )))
            }
        }
    }

    /// Fetches a manifest by tag or digest: (body, content type, `Docker-Content-Digest`).
    /// `None` when the registry does not have it.
    pub async fn manifest(
        &self,
        reference: &str,
        accept: &str,
        cap: u64,
    ) -> Result<Option<(Vec<u8>, Option<String>, Option<String>)>, HttpError> {
        let path = format!("{}/manifests/{reference}", self.repository);
        let Some(resp) = self.get_found(&path, accept).await? else { return Ok(None) };
        let header = |h: &str| resp.headers().get(h).and_then(|v| v.to_str().ok()).map(str::to_string);
        let content_type = header("content-type");
        let digest = header("docker-content-digest");
        let body = read_capped(resp, cap, &format!("manifest {reference}")).await?;
        Ok(Some((body, content_type, digest)))
    }

    /// One page of a paginated list, `_catalog` or `<repo>/tags/list` (`v2_path` is what
    /// follows `/v2/`, with its query): the body and, from the `Link` header, the next page's
    /// `v2_path`. `None` when the registry has no such list (404).
    pub async fn list_page(&self, v2_path: &str, cap: u64) -> Result<Option<(Vec<u8>, Option<String>)>, HttpError> {
        let Some(resp) = self.get_found(v2_path, "application/json").await? else { return Ok(None) };
        let next = resp.headers().get(reqwest::header::LINK).and_then(|v| v.to_str().ok()).and_then(next_link);
        let next = match next {
            Some(link) => Some(self.same_origin_v2_path(&link).ok_or_else(|| {
                HttpError::other(format!(
                    "GET {}/{}: the next page's Link {:?} leaves the registry's /v2/ API",
                    self.registry,
                    clip(v2_path, 200),
                    clip(&link, 200)
                ))
            })?),
            None => None,
        };
        let body = read_capped(resp, cap, &format!("list {}", clip(v2_path, 200))).await?;
        Ok(Some((body, next)))
    }

    /// The part after `/v2/` of a link on this registry (relative, or absolute on the same
    /// origin); `None` for any other place.
    fn same_origin_v2_path(&self, link: &str) -> Option<String> {
        let base = Url::parse(&format!("{}/v2/", self.base)).ok()?;
        let url = base.join(link).ok()?;
        if url.origin() != base.origin() {
            return None;
        }
        let rest = url.path().strip_prefix("/v2/")?;
        Some(match url.query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_string(),
        })
    }

    /// True when the registry has a manifest with this tag or digest.
    pub async fn manifest_exists(&self, reference: &str, accept: &str) -> Result<bool, HttpError> {
        let resp = self.request(Method::HEAD, &format!("manifests/{reference}"), Some(accept), None).await?;
        match resp.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            s => Err(HttpError::other(format!("HEAD manifests/{reference}: the registry answered {s}"))),
        }
    }

    /// The `Docker-Content-Digest` a `HEAD` of a manifest answers: `Ok(None)` when the
    /// registry does not have the manifest, `Ok(Some(None))` when it has it but sends no
    /// usable digest header (the caller then GETs and hashes it).
    pub async fn manifest_head(&self, reference: &str, accept: &str) -> Result<Option<Option<String>>, HttpError> {
        let resp = self.request(Method::HEAD, &format!("manifests/{reference}"), Some(accept), None).await?;
        match resp.status() {
            StatusCode::OK => Ok(Some(
                resp.headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .filter(|d| super::reference::check_digest(d).is_ok())
                    .map(str::to_string),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(HttpError::other(format!("HEAD manifests/{reference}: the registry answered {s}"))),
        }
    }

    /// The OCI referrers API: `None` when the registry does not have it (404).
    pub async fn referrers(&self, digest: &str, cap: u64) -> Result<Option<Vec<u8>>, HttpError> {
        let resp = self.request(Method::GET, &format!("referrers/{digest}"), Some(crate::oci::OCI_INDEX), None).await?;
        match resp.status() {
            StatusCode::OK => Ok(Some(read_capped(resp, cap, "referrers index").await?)),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(HttpError::other(format!("GET referrers/{digest}: the registry answered {s}"))),
        }
    }

    /// A GET of a foreign-layer URL: no credentials, no retries (the next URL is tried).
    async fn foreign_get(&self, url: &Url, range_from: Option<u64>) -> Result<Response, String> {
        let mut rb = self.http.get(url.clone());
        if let Some(off) = range_from {
            rb = rb.header(RANGE, format!("bytes={off}-"));
        }
        rb.send().await.map_err(|e| describe(&e))
    }

    /// Streams blob `digest` into `tx`, at most `size + 1` bytes (the reader notices an
    /// oversized blob). A connection lost mid-blob resumes with `Range: bytes=N-`; a server
    /// that answers 200 instead of 206 is read again from the start, skipping what was already
    /// passed on, so the stream the caller hashes is the blob exactly once. A blob the registry
    /// does not have is fetched from the descriptor's foreign `urls` only with
    /// `allow_foreign_urls` (oci-client does it unasked).
    pub async fn stream_blob(
        self: Arc<Self>,
        digest: String,
        size: u64,
        urls: Vec<String>,
        tx: tokio::sync::mpsc::Sender<io::Result<bytes::Bytes>>,
    ) {
        let fail = |m: String| io::Error::other(m);
        let limit = size.saturating_add(1);
        let mut offset = 0u64;
        let mut resumes = 0u32;
        // `None`: the registry; else the foreign URL being read.
        let mut foreign: Option<Url> = None;
        let mut candidates = urls.iter();
        let mut refused: Vec<String> = Vec::new();
        loop {
            let range = (offset > 0).then_some(offset);
            let resp = match &foreign {
                None => self.request(Method::GET, &format!("blobs/{digest}"), None, range).await.map_err(|e| e.message),
                Some(u) => {
                    self.foreign_get(u, range).await.map_err(|e| format!("foreign URL {}: {e}", strip_urls(u.as_str())))
                }
            };
            let resp = match resp {
                Ok(r) => r,
                Err(m) => {
                    let _ = tx.send(Err(fail(m))).await;
                    return;
                }
            };
            let status = resp.status();
            let mut skip = 0u64;
            match status {
                StatusCode::OK => skip = offset,
                StatusCode::PARTIAL_CONTENT => {
                    let start = resp
                        .headers()
                        .get(CONTENT_RANGE)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("bytes "))
                        .and_then(|v| v.split('-').next())
                        .and_then(|v| v.parse::<u64>().ok());
                    if start != Some(offset) {
                        let _ = tx
                            .send(Err(fail(format!(
                                "resuming at byte {offset}: the server answered a range that does not start there"
                            ))))
                            .await;
                        return;
                    }
                }
                s if s == StatusCode::NOT_FOUND || foreign.is_some() => {
                    if let Some(u) = &foreign {
                        refused.push(format!("{} answered {s}", strip_urls(u.as_str())));
                    } else if urls.is_empty() {
                        let _ = tx.send(Err(fail("blob not found in the registry".to_string()))).await;
                        return;
                    } else if !self.settings.allow_foreign_urls {
                        let _ = tx
                            .send(Err(fail(format!(
                                "blob not found in the registry; it is a foreign layer with {} URL(s) in its descriptor, which are not fetched unless --allow-foreign-urls is given",
                                urls.len()
                            ))))
                            .await;
                        return;
                    }
                    // The next foreign URL that may be fetched.
                    foreign = None;
                    for u in candidates.by_ref() {
                        match Url::parse(u) {
                            Ok(url) => match url_allowed(&url, &self.plain_ok) {
                                Ok(()) => {
                                    foreign = Some(url);
                                    break;
                                }
                                Err(m) => refused.push(format!("{}: {m}", strip_urls(u))),
                            },
                            Err(_) => refused.push(format!("{:?} is not a URL", clip(u, 100))),
                        }
                    }
                    if foreign.is_none() {
                        let _ = tx
                            .send(Err(fail(format!(
                                "blob not found in the registry, nor at its foreign URLs: {}",
                                refused.join("; ")
                            ))))
                            .await;
                        return;
                    }
                    continue;
                }
                s => {
                    let detail = self.error_detail(resp).await;
                    let _ = tx.send(Err(fail(format!("GET blob: the registry answered {s}{detail}")))).await;
                    return;
                }
            }
            let mut resp = resp;
            let cut = loop {
                match resp.chunk().await {
                    Ok(Some(mut b)) => {
                        if skip > 0 {
                            let n = skip.min(b.len() as u64) as usize;
                            let _ = b.split_to(n);
                            skip -= n as u64;
                            if b.is_empty() {
                                continue;
                            }
                        }
                        let room = limit - offset;
                        if b.len() as u64 > room {
                            b.truncate(room as usize);
                        }
                        offset += b.len() as u64;
                        if tx.send(Ok(b)).await.is_err() || offset >= limit {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => break e,
                }
            };
            if resumes >= self.settings.retries {
                let why = if cut.is_timeout() {
                    format!("no data for {} s (read timeout)", self.settings.read_timeout.as_secs_f32())
                } else {
                    describe(&cut)
                };
                let _ = tx
                    .send(Err(fail(format!(
                        "connection lost after {offset} of {size} bytes, {resumes} resumes: {why}"
                    ))))
                    .await;
                return;
            }
            resumes += 1;
            tokio::time::sleep(self.backoff(resumes)).await;
        }
    }
}

/// The target of `rel="next"` in a `Link` header (`</v2/_catalog?last=b&n=2>; rel="next"`).
pub fn next_link(h: &str) -> Option<String> {
    h.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let next = params.split(';').any(|p| {
            let p = p.trim().to_ascii_lowercase();
            p == "rel=\"next\"" || p == "rel=next"
        });
        next.then(|| target.to_string())
    })
}

/// Reads a body, refusing more than `cap` bytes.
async fn read_capped(mut resp: Response, cap: u64, what: &str) -> Result<Vec<u8>, HttpError> {
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

/// A reqwest error and its causes, without the URL (a redirect URL may carry a presigned
/// query string).
fn describe(e: &reqwest::Error) -> String {
    let mut parts = vec![if e.is_timeout() { "timed out".to_string() } else { e.to_string() }];
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    parts.into_iter().map(|p| strip_urls(&p)).collect::<Vec<_>>().join(": ")
}

fn strip_urls(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let t = w.trim_matches(|c| c == '(' || c == ')');
            if t.starts_with("http://") || t.starts_with("https://") {
                match t.split_once('?') {
                    Some((base, _)) => w.replace(t, &format!("{base}?…")),
                    None => w.to_string(),
                }
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits `Bearer realm="…",service="…",scope="a:b:pull,push"` into the scheme and its
/// parameters (quoted values may hold commas).
pub fn parse_challenge(h: &str) -> (String, Vec<(String, String)>) {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect::<String>().trim().to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect::<String>().trim().to_string();
        }
        params.push((key, value));
    }
    (scheme.to_string(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#,
        );
        assert_eq!(s, "Bearer");
        assert_eq!(
            p,
            vec![
                ("realm".into(), "https://auth.docker.io/token".into()),
                ("service".into(), "registry.docker.io".into()),
                ("scope".into(), "repository:library/alpine:pull,push".into())
            ]
        );
        let (s, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!((s.as_str(), p.len()), ("Basic", 1));
        assert_eq!(parse_challenge("").0, "");
        assert_eq!(parse_challenge("Bearer realm=x, error=invalid_token").1.len(), 2);
    }

    #[test]
    fn plain_http_only_for_loopback_and_named_hosts() {
        assert!(plain_http_allowed("127.0.0.1:5000", &[]));
        assert!(plain_http_allowed("localhost", &[]));
        assert!(!plain_http_allowed("registry.example:5000", &[]));
        assert!(plain_http_allowed("registry.example:5000", &["registry.example".into()]));
        assert!(plain_http_allowed("registry.example:5000", &["registry.example:5000".into()]));
        assert!(!plain_http_allowed("evil.example", &["registry.example".into()]));
    }

    #[test]
    fn credentials_go_to_https_or_allowed_plain_hosts_only() {
        let ok = |u: &str, insecure: &[&str]| {
            let plain_ok: Vec<String> =
                insecure.iter().map(|s| s.to_string()).chain(["localhost".into(), "127.0.0.1".into()]).collect();
            url_allowed(&Url::parse(u).unwrap(), &plain_ok)
        };
        assert!(ok("https://auth.example/token", &[]).is_ok());
        assert!(ok("http://127.0.0.1:5000/token", &[]).is_ok());
        // Case 50 of docs/hostile-inputs.md: a plain-http realm elsewhere.
        let e = ok("http://evil.example/token", &[]).unwrap_err();
        assert!(e.contains("plain http to evil.example is refused"), "{e}");
        assert!(ok("http://evil.example/token", &["evil.example"]).is_ok());
        assert!(ok("http://evil.example:8080/token", &["evil.example:8080"]).is_ok());
        assert!(ok("http://evil.example:8080/token", &["evil.example:9090"]).is_err());
        assert!(ok("http://169.254.169.254/latest/meta-data", &[]).is_err());
        assert!(ok("file:///etc/passwd", &[]).unwrap_err().contains("a file: URL is refused"));
    }

    #[test]
    fn urls_lose_their_query() {
        assert_eq!(
            strip_urls("error for url (https://s3.example/blob?X-Amz-Signature=secret) x"),
            "error for url (https://s3.example/blob?…) x"
        );
    }

    #[test]
    fn next_links() {
        assert_eq!(next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(), Some("/v2/_catalog?last=b&n=2"));
        assert_eq!(next_link(r#"<a>; rel="prev", <b>; rel=next"#).as_deref(), Some("b"));
        assert_eq!(next_link(r#"<a>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn retry_after_seconds() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after", HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), None);
    }
}
