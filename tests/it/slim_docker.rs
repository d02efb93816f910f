//! The Dockerfile of `layerscope slim` built by a real, private dockerd (its own data root and
//! socket, no network) from images in a local registry, and run: the rebuilt image prints what
//! the full image prints and exits with its code. Bases are `scratch` here (no network to pull a
//! distroless or Alpine base).

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::registry::Registry;

struct Dockerd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Dockerd {
    fn start() -> Dockerd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("pid"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("sock").display()))
            .args(["--bridge=none", "--iptables=false"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("dockerd (docker.io; scripts/test.sh installs it)");
        let me = Dockerd { child, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if me.docker(&["info"], b"").0 == Some(0) {
                return me;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let log = std::fs::read_to_string(me.dir.path().join("dockerd.log")).unwrap_or_default();
        panic!("dockerd did not start:\n{log}");
    }

    fn docker(&self, args: &[&str], stdin: &[u8]) -> (Option<i32>, String, String) {
        let mut c = Command::new("docker")
            .arg("-H")
            .arg(format!("unix://{}", self.dir.path().join("sock").display()))
            .args(args)
            .env("DOCKER_BUILDKIT", "0")
            .env("DOCKER_CONFIG", self.dir.path().join("config"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(stdin).unwrap();
        let o = c.wait_with_output().unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into(), String::from_utf8_lossy(&o.stderr).into())
    }
}

impl Drop for Dockerd {
    /// Stops dockerd with SIGTERM so that it stops its containerd and unmounts its data root
    /// (SIGKILL would leave both behind); SIGKILL only after 30 s.
    fn drop(&mut self) {
        // SAFETY: kill(2) on the pid of our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dockerfile(reference: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .args(["slim", reference, "-q", "-f", "dockerfile", "--base", "scratch"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_dockerfile_builds_and_runs_as_the_full_image() {
    let reg = Registry::start(false);
    let docker = Dockerd::start();
    // glibc's suggested base cannot be pulled here: `--base scratch`, which works for any
    // closure (it carries its own loader and libraries).
    for (name, stdin) in
        [("busybox", b"echo hello from sh; exit 7\n".as_slice()), ("static", b""), ("glibc", b""), ("musl", b"")]
    {
        reg.push(name, "latest");
        let full = format!("{}/{name}:latest", reg.host());
        let text = dockerfile(&format!("docker://{full}"));
        assert!(text.contains("\nFROM scratch\n"), "{text}");
        let ctx = tempfile::tempdir().unwrap();
        std::fs::write(ctx.path().join("Dockerfile"), &text).unwrap();
        let tag = format!("slim-{name}");
        let built = docker.docker(&["build", "-q", "-t", &tag, ctx.path().to_str().unwrap()], b"");
        assert_eq!(built.0, Some(0), "docker build of\n{text}\n{}", built.2);
        let pulled = docker.docker(&["pull", "-q", &full], b"");
        assert_eq!(pulled.0, Some(0), "{}", pulled.2);
        let run = |image: &str| docker.docker(&["run", "-i", "--rm", "--network", "none", image], stdin);
        let (slim, whole) = (run(&tag), run(&full));
        assert_eq!(slim, whole, "{name}: the rebuilt image runs as the full one");
        assert!(slim.0.is_some_and(|c| c != 0) || !slim.1.is_empty(), "{name}: {slim:?}");
    }
}
