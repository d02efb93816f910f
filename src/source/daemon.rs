//! Images in a local engine's store, read through the Docker Engine API: `GET
//! /images/{name}/get` answers a `docker save` stream, read by [`super::stream`]. Docker is
//! found through `DOCKER_HOST` (`unix://`, or `tcp://` with `DOCKER_TLS_VERIFY` and
//! `DOCKER_CERT_PATH`), else `/var/run/docker.sock`; podman through its Docker-compatible API service
//! (`$XDG_RUNTIME_DIR/podman/podman.sock`, else `/run/podman/podman.sock`). See
//! docs/sources.md.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;

use super::channel::ChannelReader;

/// A local engine speaking the Docker Engine API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Docker,
    Podman,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Docker => "Docker",
            Engine::Podman => "podman",
        }
    }
}

/// Where an engine listens.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub engine: Engine,
    /// As the user would write it (`unix:///run/docker.sock`, `tcp://10.0.0.2:2376`).
    pub shown: String,
    unix: Option<PathBuf>,
    /// `http://host:port` or `https://…` for TCP; a placeholder host over a socket.
    base: String,
    /// CA, certificate and key files for `DOCKER_TLS_VERIFY`.
    tls: Option<PathBuf>,
}

impl Endpoint {
    /// The endpoint of `engine` from the environment, or its default socket.
    pub fn find(engine: Engine) -> Result<Endpoint, String> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match engine {
            Engine::Docker => match env("DOCKER_HOST") {
                Some(host) => Self::parse(engine, &host, env("DOCKER_TLS_VERIFY").is_some(), env("DOCKER_CERT_PATH")),
                None => Ok(Self::socket(engine, Path::new("/var/run/docker.sock"))),
            },
            Engine::Podman => {
                let path = env("XDG_RUNTIME_DIR")
                    .map(|d| Path::new(&d).join("podman/podman.sock"))
                    .filter(|p| p.exists())
                    .unwrap_or_else(|| PathBuf::from("/run/podman/podman.sock"));
                Ok(Self::socket(engine, &path))
            }
        }
    }

    fn socket(engine: Engine, path: &Path) -> Endpoint {
        Endpoint {
            engine,
            shown: format!("unix://{}", path.display()),
            unix: Some(path.to_path_buf()),
            base: "http://localhost".into(),
            tls: None,
        }
    }

    /// A `DOCKER_HOST` value.
    fn parse(engine: Engine, host: &str, tls_verify: bool, cert_path: Option<String>) -> Result<Endpoint, String> {
        if let Some(path) = host.strip_prefix("unix://") {
            return Ok(Self::socket(engine, Path::new(path)));
        }
        if let Some(addr) = host.strip_prefix("tcp://") {
            let addr = addr.trim_end_matches('/');
            if addr.is_empty() || addr.contains('/') {
                return Err(format!("DOCKER_HOST={host}: expected tcp://HOST:PORT"));
            }
            let tls = tls_verify.then(|| {
                cert_path
                    .map(PathBuf::from)
                    .unwrap_or_else(|| std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join(".docker"))
            });
            let scheme = if tls.is_some() { "https" } else { "http" };
            return Ok(Endpoint {
                engine,
                shown: host.to_string(),
                unix: None,
                base: format!("{scheme}://{addr}"),
                tls,
            });
        }
        Err(format!("DOCKER_HOST={host}: only unix:// and tcp:// hosts are supported"))
    }

    /// Whether something may listen there at all (a socket file exists, or TCP).
    pub fn plausible(&self) -> bool {
        self.unix.as_ref().is_none_or(|p| p.exists())
    }
}

/// A connection to an engine: its own small runtime and HTTP client.
pub struct Daemon {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    pub endpoint: Endpoint,
}

/// The TLS set-up of `DOCKER_TLS_VERIFY`: the CA of `DOCKER_CERT_PATH` and its client key pair.
fn tls_config(dir: &Path) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let file = |n: &str| dir.join(n);
    let certs = |n: &str| -> Result<Vec<CertificateDer<'static>>, String> {
        CertificateDer::pem_file_iter(file(n))
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("{}: {e}", file(n).display()))
    };
    let mut roots = rustls::RootCertStore::empty();
    for c in certs("ca.pem")? {
        roots.add(c).map_err(|e| format!("{}: {e}", file("ca.pem").display()))?;
    }
    let key =
        PrivateKeyDer::from_pem_file(file("key.pem")).map_err(|e| format!("{}: {e}", file("key.pem").display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs("cert.pem")?, key)
        .map_err(|e| format!("{}: {e}", file("cert.pem").display()))
}

/// Characters of an image name sent as they are in the request path.
fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"._-/:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Daemon {
    pub fn connect(endpoint: Endpoint) -> Result<Daemon, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .read_timeout(Duration::from_secs(300))
            .user_agent(concat!("layerscope/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &endpoint.unix {
            builder = builder.unix_socket(path.as_path());
        }
        if let Some(dir) = &endpoint.tls {
            builder = builder.tls_backend_preconfigured(tls_config(dir)?);
        }
        let http = builder.build().map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("layerscope-daemon")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the network runtime: {e}"))?;
        Ok(Daemon { runtime, http, endpoint })
    }

    fn url(&self, name: &str, what: &str) -> String {
        format!("{}/images/{}/{what}", self.endpoint.base, encode_name(name))
    }

    fn unreachable(&self, e: &reqwest::Error) -> String {
        let cause = super::registry::policy::describe(e);
        format!("cannot reach the {} daemon at {} ({cause})", self.endpoint.engine.name(), self.endpoint.shown)
    }

    /// Whether the engine has the image; an `Err` when it cannot be asked.
    pub fn has_image(&self, name: &str) -> Result<bool, String> {
        let url = self.url(name, "json");
        self.runtime.block_on(async {
            let resp = self.http.get(&url).send().await.map_err(|e| self.unreachable(&e))?;
            match resp.status() {
                StatusCode::OK => Ok(true),
                StatusCode::NOT_FOUND => Ok(false),
                s => Err(format!("the {} daemon at {} answered {s}", self.endpoint.engine.name(), self.endpoint.shown)),
            }
        })
    }

    /// The `docker save` stream of one image.
    pub fn export(&self, name: &str) -> Result<ChannelReader, String> {
        let url = self.url(name, "get");
        let engine = self.endpoint.engine.name();
        let shown = self.endpoint.shown.clone();
        let resp =
            self.runtime.block_on(async { self.http.get(&url).send().await }).map_err(|e| self.unreachable(&e))?;
        match resp.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Err(format!("the {engine} daemon at {shown} has no image {name:?}")),
            s => return Err(format!("the {engine} daemon at {shown} answered {s} to the export of {name:?}")),
        }
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let task = self.runtime.spawn(async move {
            let mut resp = resp;
            loop {
                let next = match resp.chunk().await {
                    Ok(Some(b)) => Ok(b),
                    Ok(None) => return,
                    Err(e) => Err(std::io::Error::other(format!("the {engine} daemon's export was cut: {e}"))),
                };
                let stop = next.is_err();
                if tx.send(next).await.is_err() || stop {
                    return;
                }
            }
        });
        Ok(ChannelReader::new(rx, task))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_forms() {
        let e = Endpoint::parse(Engine::Docker, "unix:///tmp/d.sock", false, None).unwrap();
        assert_eq!(e.unix.as_deref(), Some(Path::new("/tmp/d.sock")));
        let e = Endpoint::parse(Engine::Docker, "tcp://127.0.0.1:2375", false, None).unwrap();
        assert_eq!(e.base, "http://127.0.0.1:2375");
        let e = Endpoint::parse(Engine::Docker, "tcp://h:2376", true, Some("/c".into())).unwrap();
        assert_eq!((e.base.as_str(), e.tls.as_deref()), ("https://h:2376", Some(Path::new("/c"))));
        assert!(Endpoint::parse(Engine::Docker, "ssh://u@h", false, None).unwrap_err().contains("ssh://u@h"));
    }

    #[test]
    fn names_are_encoded() {
        assert_eq!(encode_name("reg:5000/a/b:t"), "reg:5000/a/b:t");
        assert_eq!(encode_name("a b?#"), "a%20b%3F%23");
    }
}
