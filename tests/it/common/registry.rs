//! A real registry for tests: Debian's `docker-registry` (the CNCF distribution registry)
//! started on 127.0.0.1 with a free port and temporary storage, killed on drop; images pushed
//! into it with skopeo. Both are required (scripts/test.sh installs them): tests fail without
//! them, they never skip.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub const USER: &str = "scanner";
pub const PASSWORD: &str = "pw-Zq8x-never-printed";

/// A registry process on 127.0.0.1, killed on drop.
pub struct Registry {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Registry {
    /// Starts a registry; with `with_auth`, htpasswd Basic auth for [`USER`] / [`PASSWORD`].
    pub fn start(with_auth: bool) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n\
             validation:\n  manifests:\n    urls:\n      allow:\n        - '^http://127\\.0\\.0\\.1:'\n",
            dir.path().join("data").display()
        );
        if with_auth {
            let hash = bcrypt::hash(PASSWORD, 4).unwrap();
            std::fs::write(dir.path().join("htpasswd"), format!("{USER}:{hash}\n")).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: layerscope-test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry must be installed (scripts/test.sh installs the Debian package)");
        let r = Registry { child, dir, port };
        r.wait_ready();
        r
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
                let mut head = String::new();
                if BufReader::new(s).read_line(&mut head).is_ok() && head.starts_with("HTTP/") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default();
        panic!("registry on port {} did not start:\n{log}", self.port);
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Pushes testdata/images/<name>/oci as <name>:<tag> (`--all` keeps every platform).
    pub fn push(&self, name: &str, tag: &str) {
        self.push_as(name, name, tag)
    }

    /// Pushes testdata/images/<name>/oci as <repo>:<tag>.
    pub fn push_as(&self, name: &str, repo: &str, tag: &str) {
        self.push_layout(&super::testdata(&format!("images/{name}/oci")), repo, tag)
    }

    /// Pushes the one image of the OCI layout `dir` as <repo>:<tag>.
    pub fn push_layout(&self, dir: &Path, repo: &str, tag: &str) {
        let policy = self.dir.path().join("policy.json");
        std::fs::write(&policy, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
        let src = format!("oci:{}", dir.display());
        let dest = format!("docker://{}/{repo}:{tag}", self.host());
        let mut cmd = Command::new("skopeo");
        cmd.args(["--policy", policy.to_str().unwrap(), "copy", "-q", "--all", "--dest-tls-verify=false"]);
        if self.dir.path().join("htpasswd").exists() {
            cmd.arg(format!("--dest-creds={USER}:{PASSWORD}"));
        }
        let out = cmd
            .args([&src, &dest])
            .env("REGISTRY_AUTH_FILE", self.dir.path().join("skopeo-auth.json"))
            .output()
            .expect("skopeo must be installed (scripts/test.sh installs it)");
        assert!(out.status.success(), "skopeo copy {src} {dest}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The file holding blob `digest` in the registry's storage.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir.path().join(format!("data/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A docker config directory (`DOCKER_CONFIG`) holding `user:password` for `registry`.
pub fn docker_config(registry: &str, user: &str, password: &str) -> tempfile::TempDir {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(dir.path().join("config.json"), format!(r#"{{"auths":{{"{registry}":{{"auth":"{auth}"}}}}}}"#))
        .unwrap();
    dir
}
