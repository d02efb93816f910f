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
}

impl Dockerd {
    pub fn start() -> Dockerd {
        // A short path: a unix socket's path is limited to 108 bytes.
        let dir = tempfile::Builder::new().prefix("ls-dockerd").tempdir_in("/tmp").unwrap();
        let d = dir.path();
        let log = std::fs::File::create(d.join("log")).unwrap();
        let child = Command::new("dockerd")
            .args(["--storage-driver=vfs", "--iptables=false", "--ip6tables=false", "--bridge=none"])
            .arg(format!("--data-root={}", d.join("data").display()))
            .arg(format!("--exec-root={}", d.join("exec").display()))
            .arg(format!("--pidfile={}", d.join("pid").display()))
            .arg(format!("--host=unix://{}", d.join("docker.sock").display()))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("dockerd must be installed (scripts/test.sh installs the Debian package docker.io)");
        let daemon = Dockerd { child, dir };
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
