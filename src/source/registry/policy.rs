//! What the registry client may do: its bounds and timings ([`Settings`]), which hosts may be
//! spoken to in plain HTTP, where credentials may go, the one TLS configuration, and error text
//! without URLs' query strings.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

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

/// True for hosts that may be reached without TLS.
pub fn plain_http_allowed(host: &str, insecure: &[String]) -> bool {
    let name = super::reference::host_without_port(host);
    matches!(name, "localhost" | "127.0.0.1" | "::1") || insecure.iter().any(|h| h == host || h == name)
}

/// The TLS configuration every client shares: ring, the platform's verifier (the system's
/// certificates, as reqwest would load them), HTTP/1.1. Built once per process: loading the
/// system certificates for each client was half of a warm batch's CPU time.
pub(super) fn tls_config() -> Result<rustls::ClientConfig, String> {
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
pub(super) fn authority(url: &Url) -> String {
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

/// A reqwest error and its causes, without the URL (a redirect URL may carry a presigned
/// query string).
pub(crate) fn describe(e: &reqwest::Error) -> String {
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

pub(super) fn strip_urls(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
