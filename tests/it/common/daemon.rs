//! A real Docker daemon for tests: Debian's `dockerd` with its own data and exec roots and a
//! socket in a temporary directory (vfs storage, no networking, no containers run), filled with
//! `docker load`, stopped on drop. Required (scripts/test.sh installs `docker.io`): tests fail
//! without it, they never skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Dockerd {
    child: Child,
    pub dir: tempfile::TempDir,
    /// Also listening on 127.0.0.1:`tls_port` with TLS and client certificates (openssl-made,
    /// in `certs()`: ca.pem, cert.pem, key.pem, as `DOCKER_CERT_PATH` holds them).
    pub tls_port: u16,
}

/// Runs openssl in `dir`, failing loudly.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl must be installed");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA, a server certificate for 127.0.0.1 and a client key pair.
fn make_certs(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n").unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    let req = |key: &str, csr: &str, cn: &str| {
        openssl(dir, &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", cn]);
    };
    let sign = |csr: &str, out: &str, ext: &str| {
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-out",
                out,
                "-days",
                "2",
                "-extfile",
                ext,
            ],
        );
    };
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=layerscope-test-ca",
        ],
    );
    req("server-key.pem", "server.csr", "/CN=127.0.0.1");
    sign("server.csr", "server-cert.pem", "server.ext");
    req("key.pem", "client.csr", "/CN=client");
    sign("client.csr", "cert.pem", "client.ext");
}

impl Dockerd {
    pub fn start() -> Dockerd {
        // A short path: a unix socket's path is limited to 108 bytes.
        let dir = tempfile::Builder::new().prefix("ls-dockerd").tempdir_in("/tmp").unwrap();
        let d = dir.path();
        let log = std::fs::File::create(d.join("log")).unwrap();
        let certs = d.join("certs");
        make_certs(&certs);
        let tls_port = super::registry::free_port();
        let child = Command::new("dockerd")
            .args(["--storage-driver=vfs", "--iptables=false", "--ip6tables=false", "--bridge=none"])
            .arg(format!("--data-root={}", d.join("data").display()))
            .arg(format!("--exec-root={}", d.join("exec").display()))
            .arg(format!("--pidfile={}", d.join("pid").display()))
            .arg(format!("--host=unix://{}", d.join("docker.sock").display()))
            .arg(format!("--host=tcp://127.0.0.1:{tls_port}"))
            .arg("--tlsverify")
            .arg(format!("--tlscacert={}", certs.join("ca.pem").display()))
            .arg(format!("--tlscert={}", certs.join("server-cert.pem").display()))
            .arg(format!("--tlskey={}", certs.join("server-key.pem").display()))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("dockerd must be installed (scripts/test.sh installs the Debian package docker.io)");
        let daemon = Dockerd { child, dir, tls_port };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = daemon.docker().arg("version").stdout(Stdio::null()).stderr(Stdio::null()).status();
            if ok.is_ok_and(|s| s.success()) {
                break;
            }
            assert!(Instant::now() < deadline, "dockerd did not start: {}", daemon.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        daemon
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    pub fn certs(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// The docker CLI aimed at this daemon.
    pub fn docker(&self) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", self.host()).env("DOCKER_CONFIG", self.dir.path().join("cli"));
        c
    }

    /// `docker load -i FILE`.
    pub fn load(&self, file: &Path) {
        let out = self.docker().arg("load").arg("-i").arg(file).output().unwrap();
        assert!(out.status.success(), "docker load {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real podman API service (`podman system service`, Debian's `podman`) with its own storage
/// (vfs) under a temporary directory, its socket where podman's rootless socket lives
/// (`$XDG_RUNTIME_DIR/podman/podman.sock`), stopped on drop.
pub struct Podman {
    child: Child,
    pub dir: tempfile::TempDir,
}

impl Podman {
    pub fn start() -> Podman {
        let dir = tempfile::Builder::new().prefix("ls-podman").tempdir_in("/tmp").unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("xdg/podman")).unwrap();
        std::fs::write(
            d.join("storage.conf"),
            format!("[storage]\ndriver = \"vfs\"\nrunroot = \"{0}/run\"\ngraphroot = \"{0}/graph\"\n", d.display()),
        )
        .unwrap();
        let log = std::fs::File::create(d.join("log")).unwrap();
        let socket = d.join("xdg/podman/podman.sock");
        let child = Podman::cmd(d)
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("podman must be installed (scripts/test.sh installs the Debian package podman)");
        let p = Podman { child, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "podman service did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    fn cmd(d: &Path) -> Command {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_STORAGE_CONF", d.join("storage.conf"))
            .arg(format!("--root={}", d.join("graph").display()))
            .arg(format!("--runroot={}", d.join("run").display()))
            .arg("--storage-driver=vfs");
        c
    }

    /// `podman load -i FILE`.
    pub fn load(&self, file: &Path) {
        let out = Podman::cmd(self.dir.path()).arg("load").arg("-i").arg(file).output().unwrap();
        assert!(out.status.success(), "podman load {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    }

    /// What `XDG_RUNTIME_DIR` must be for podman's socket to be found.
    pub fn runtime_dir(&self) -> String {
        self.dir.path().join("xdg").display().to_string()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
