//! Registry credentials as docker finds them: `$DOCKER_CONFIG/config.json` (or
//! `~/.docker/config.json`), then `$REGISTRY_AUTH_FILE`; `credHelpers`, `auths`, `credsStore`
//! (helpers run as `docker-credential-<name> get`). Secrets never reach a message.

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;

/// A user name and its password or token. `Debug` and `Display` never show the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    secret: String,
    /// Where they came from (`/home/u/.docker/config.json auths`, `docker-credential-pass`).
    pub origin: String,
}

impl Credentials {
    pub fn new(username: impl Into<String>, secret: impl Into<String>, origin: impl Into<String>) -> Self {
        Credentials { username: username.into(), secret: secret.into(), origin: origin.into() }
    }

    /// The secret, for the `Authorization` header only.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({} from {}, secret redacted)", self.username, self.origin)
    }
}

#[derive(Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// The config files to look in, in order.
fn config_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => out.push(PathBuf::from(d).join("config.json")),
        None => {
            if let Some(home) = std::env::var_os("HOME") {
                out.push(PathBuf::from(home).join(".docker").join("config.json"));
            }
        }
    }
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE") {
        out.push(PathBuf::from(f));
    }
    out
}

/// The keys a config file may use for `registry` (docker writes Docker Hub as
/// `https://index.docker.io/v1/`).
fn key_matches(key: &str, registry: &str) -> bool {
    let k = key.trim_start_matches("https://").trim_start_matches("http://");
    let k = k.split('/').next().unwrap_or(k);
    let hub = |h: &str| matches!(h, "docker.io" | "index.docker.io" | "registry-1.docker.io");
    k == registry || (hub(k) && hub(registry))
}

/// The server URL a credential helper is asked about.
fn helper_server(registry: &str) -> String {
    if matches!(registry, "docker.io" | "index.docker.io" | "registry-1.docker.io") {
        "https://index.docker.io/v1/".into()
    } else {
        registry.to_string()
    }
}

/// Credentials for `registry` (as docker names it), or `None` for anonymous access.
pub fn lookup(registry: &str) -> Result<Option<Credentials>, String> {
    for path in config_files() {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("reading {}: {e}", path.display())),
        };
        if bytes.len() > 4 << 20 {
            return Err(format!("{}: larger than 4 MiB; not read", path.display()));
        }
        // serde_json's message names a line and column, never the content.
        let cfg: ConfigFile =
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: not a docker config: {e}", path.display()))?;
        if let Some(c) = from_config(&cfg, registry, &path.display().to_string())? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

fn from_config(cfg: &ConfigFile, registry: &str, origin: &str) -> Result<Option<Credentials>, String> {
    if let Some((_, helper)) = cfg.cred_helpers.iter().find(|(k, _)| key_matches(k, registry)) {
        return run_helper(helper, &helper_server(registry));
    }
    if let Some((key, entry)) = cfg.auths.iter().find(|(k, _)| key_matches(k, registry)) {
        if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| format!("{origin}: auths[{key:?}].auth is not base64"))?;
            let text = String::from_utf8(decoded).map_err(|_| format!("{origin}: auths[{key:?}].auth is not UTF-8"))?;
            let (user, pass) =
                text.split_once(':').ok_or_else(|| format!("{origin}: auths[{key:?}].auth is not user:password"))?;
            return Ok(Some(Credentials::new(user, pass, format!("{origin} auths"))));
        }
        if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
            return Ok(Some(Credentials::new(u.clone(), p.clone(), format!("{origin} auths"))));
        }
    }
    if let Some(store) = cfg.creds_store.as_deref().filter(|s| !s.is_empty()) {
        return run_helper(store, &helper_server(registry));
    }
    Ok(None)
}

#[derive(Deserialize)]
struct HelperReply {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// Runs `docker-credential-<helper> get` with the server on stdin. "Not found" is `None`.
fn run_helper(helper: &str, server: &str) -> Result<Option<Credentials>, String> {
    if helper.is_empty() || !helper.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(format!("credential helper name {helper:?} is not valid"));
    }
    run_program(&format!("docker-credential-{helper}"), server)
}

fn run_program(program: &str, server: &str) -> Result<Option<Credentials>, String> {
    let mut child = Command::new(program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run credential helper {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let mut stdout = child.stdout.take().ok_or_else(|| format!("{program}: no stdout"))?;
    // Read on a thread so that a helper that hangs is given up on after 30 s.
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = (&mut stdout).take(1 << 20).read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("credential helper {program} did not answer within 30 s"));
            }
            Err(e) => return Err(format!("credential helper {program}: {e}")),
        }
    };
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        // The helper prints "credentials not found in native keychain" for an unknown server;
        // its output is not repeated (it could hold a secret).
        if String::from_utf8_lossy(&out).to_ascii_lowercase().contains("not found") {
            return Ok(None);
        }
        return Err(format!("credential helper {program} failed ({status})"));
    }
    let reply: HelperReply = serde_json::from_slice(&out)
        .map_err(|_| format!("credential helper {program} answered something else than JSON credentials"))?;
    Ok(Some(Credentials::new(reply.username, reply.secret, program.rsplit('/').next().unwrap_or(program))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: &str) -> ConfigFile {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn reads_auths_and_hub_keys() {
        let c = cfg(
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpwQHNz"},"127.0.0.1:5000":{"username":"a","password":"b"}}}"#,
        );
        let hub = from_config(&c, "docker.io", "f").unwrap().unwrap();
        assert_eq!((hub.username.as_str(), hub.secret()), ("u", "p@ss"));
        let local = from_config(&c, "127.0.0.1:5000", "f").unwrap().unwrap();
        assert_eq!((local.username.as_str(), local.secret()), ("a", "b"));
        assert!(from_config(&c, "ghcr.io", "f").unwrap().is_none());
        assert!(!format!("{hub:?}").contains("p@ss"));
    }

    #[test]
    fn bad_auth_is_an_error_without_the_secret() {
        let c = cfg(r#"{"auths":{"h":{"auth":"c2VjcmV0"}}}"#);
        let e = from_config(&c, "h", "f").unwrap_err();
        assert!(e.contains("user:password") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn helpers_are_run() {
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("docker-credential-lstest");
        std::fs::write(&helper, "#!/bin/sh\nread s\n[ \"$s\" = reg.example ] && echo '{\"Username\":\"h\",\"Secret\":\"s3\"}' && exit 0\necho 'credentials not found in native keychain'; exit 1\n").unwrap();
        std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        // Run by full path: PATH is process-wide and tests run in parallel.
        let program = helper.to_str().unwrap();
        let c = run_program(program, "reg.example").unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.secret(), c.origin.as_str()), ("h", "s3", "docker-credential-lstest"));
        assert_eq!(run_program(program, "other.example").unwrap(), None);
        let c = cfg(r#"{"credHelpers":{"reg.example":"nonexistent-helper-xyz"}}"#);
        let e = from_config(&c, "reg.example", "f").unwrap_err();
        assert!(e.contains("docker-credential-nonexistent-helper-xyz"), "{e}");
        let c = cfg(r#"{"credsStore":"bad name"}"#);
        assert!(from_config(&c, "x", "f").is_err());
    }
}
