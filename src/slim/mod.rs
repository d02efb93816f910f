//! The slimming plan of one platform (docs/slim.md): the files the command needs
//! ([`closure`]), the files it may read at run time (`maybe`, included where the case is clear
//! or with `--keep`), the base image it fits ([`base`]), a Dockerfile ([`dockerfile`]), and the
//! export of the closure out of the layers ([`export`]).

pub mod base;
pub mod closure;
pub mod dockerfile;
pub mod export;
pub mod render;

use serde::Serialize;

use crate::detect::runnable::{lookup, ConfigCommand};
use crate::fs::{MergedFs, NodeKind};
use crate::report::{LibcKind, PlatformReport};
use crate::source::resolve::Target;
use closure::{Entry, Kind, RuntimeTree, Unresolved, Walk};

/// How to plan.
#[derive(Debug, Clone, Default)]
pub struct SlimOptions {
    /// The argv to plan for instead of the config's Entrypoint + Cmd.
    pub command: Option<Vec<String>>,
    /// Globs of absolute paths to keep as well (a directory matched is kept whole).
    pub keep: Vec<String>,
    pub symlink_hops: u64,
}

/// The closure: what an export writes.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Closure {
    /// Regular files.
    pub files: u64,
    pub symlinks: u64,
    /// Regular-file bytes (what an export writes).
    pub bytes: u64,
    pub paths: Vec<Entry>,
    /// Interpreter runtime trees taken whole (their paths are in `paths` too).
    pub trees: Vec<RuntimeTree>,
}

/// A path the program is likely to read at run time.
#[derive(Debug, Clone, Serialize)]
pub struct Maybe {
    pub path: String,
    /// Regular files it holds (1 for a file).
    pub files: u64,
    pub bytes: u64,
    pub reason: String,
    /// Whether it is in the closure (the case is clear, or `--keep` asked for it).
    pub included: bool,
}

/// The config that a rebuilt image carries over.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Carry {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
}

/// The plan for one platform.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub platform: String,
    /// The argv planned for.
    pub command: Vec<String>,
    /// The program it starts, resolved (absolute), when it resolves.
    pub program: Option<String>,
    pub closure: Closure,
    pub maybe: Vec<Maybe>,
    /// Regular files and their bytes in the merged view.
    pub image_files: u64,
    pub image_bytes: u64,
    pub base: base::Base,
    pub unresolved: Vec<Unresolved>,
    pub caveats: Vec<String>,
    /// The names the closure's files are asked for (what the Dockerfile copies).
    #[serde(skip)]
    pub names: Vec<String>,
    /// What a rebuild carries over from the config (the Dockerfile's ENTRYPOINT, CMD, ENV...).
    #[serde(rename = "config")]
    pub carry: Carry,
}

impl Plan {
    /// The closure's share of the image's regular-file bytes (0..1).
    pub fn byte_share(&self) -> f64 {
        if self.image_bytes == 0 {
            0.0
        } else {
            self.closure.bytes as f64 / self.image_bytes as f64
        }
    }
}

const CA_BUNDLES: &[&str] = &[
    "etc/ssl/certs/ca-certificates.crt",
    "etc/pki/tls/certs/ca-bundle.crt",
    "etc/ssl/ca-bundle.pem",
    "etc/pki/tls/cacert.pem",
    "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "etc/ssl/cert.pem",
];

/// Size of what a path resolves to: (regular files, bytes), a directory counted whole.
fn weigh(fs: &MergedFs, path: &str, hops: u64) -> Option<(u64, u64)> {
    let (resolved, node) = fs.resolve(path, hops).ok()?;
    match &node.kind {
        NodeKind::File(f) => Some((1, f.size)),
        NodeKind::Dir => Some(fs.descendants(&resolved).fold((0, 0), |(n, b), (_, node)| match &node.kind {
            NodeKind::File(f) => (n + 1, b + f.size),
            _ => (n, b),
        })),
        _ => None,
    }
}

/// Plans the slim image of one platform from its merged view and report.
pub fn plan(fs: &MergedFs, target: &Target, report: &PlatformReport, opts: &SlimOptions) -> Result<Plan, String> {
    let hops = opts.symlink_hops;
    let cc = ConfigCommand::of(target);
    let cfg = target.config.config().clone().unwrap_or_default();
    let argv = opts.command.clone().unwrap_or_else(|| cc.argv.clone());
    let keep = keep_set(&opts.keep)?;
    let mut w = Walk::new(fs, &target.platform.architecture, &cc.env, &cc.path, report.libc.kind, hops);
    let mut program = None;
    match argv.first() {
        None => {
            w.unresolved("(command)", "config", "the config has no Entrypoint and no Cmd, and no --command was given")
        }
        Some(first) => match lookup(fs, first, &cc.path, &cc.workdir, hops) {
            Some((resolved, true)) => {
                let name = first.rsplit('/').next().unwrap_or(first);
                let real = resolved.rsplit('/').next().unwrap_or("");
                let why = if real == "busybox" && name != "busybox" {
                    format!("the command ({first}: the busybox applet {name})")
                } else {
                    format!("the command ({first})")
                };
                // The lookup resolved it; the walk records the links followed on the way.
                let full = if first.contains('/') {
                    if first.starts_with('/') {
                        first.clone()
                    } else {
                        format!("{}/{first}", cc.workdir.trim_end_matches('/'))
                    }
                } else {
                    cc.path
                        .split(':')
                        .filter(|d| !d.is_empty())
                        .map(|d| format!("{}/{first}", d.trim_end_matches('/')))
                        .find(|p| fs.resolve(p, hops).is_ok_and(|(r, _)| format!("/{r}") == resolved))
                        .unwrap_or_else(|| resolved.clone())
                };
                w.add(&full, &why);
                program = Some(resolved.clone());
                w.add_runtime(resolved.trim_start_matches('/'));
            }
            Some((resolved, false)) => w.unresolved(first, "command", format!("{resolved} is not executable")),
            None => w.unresolved(
                first,
                "command",
                format!("not in the image (PATH {}, working dir {})", cc.path, cc.workdir),
            ),
        },
    }
    let shell_form = argv.len() >= 2 && argv[0].rsplit('/').next() == Some("sh") && argv[1] == "-c";
    if shell_form {
        w.caveats
            .push("the command is in shell form (sh -c …): the programs its string starts are not followed".into());
    } else {
        // Arguments naming a file of the image (a script given to an interpreter, a config).
        for word in argv.iter().skip(1).filter(|a| !a.starts_with('-')) {
            let abs = if word.starts_with('/') {
                word.clone()
            } else {
                format!("{}/{word}", cc.workdir.trim_end_matches('/'))
            };
            if matches!(fs.resolve(&abs, hops), Ok((_, n)) if matches!(n.kind, NodeKind::File(_))) {
                w.add(&abs, &format!("argument {word} of the command"));
            }
        }
    }
    w.run();

    // What it may read at run time.
    let mut maybe: Vec<Maybe> = Vec::new();
    let libs: Vec<String> = w
        .entries
        .values()
        .filter(|e| e.kind == Kind::File)
        .map(|e| e.path.rsplit('/').next().unwrap_or("").to_string())
        .collect();
    let tls = libs
        .iter()
        .any(|n| n.starts_with("libssl.so") || n.starts_with("libcrypto.so") || n.starts_with("libgnutls.so"));
    let go = w.entries.values().any(|e| {
        matches!(fs.get(e.path.trim_start_matches('/')).map(|n| n.kind),
            Some(NodeKind::File(f)) if f.elf().is_some_and(|x| x.go_version.is_some()))
    });
    let glibc = w.entries.values().any(|e| {
        matches!(fs.get(e.path.trim_start_matches('/')).map(|n| n.kind),
            Some(NodeKind::File(f)) if f.elf().and_then(|x| x.interpreter.as_deref()).is_some_and(|i| !i.contains("ld-musl")))
    });
    let user = cfg.user().clone().filter(|u| !u.is_empty());
    let mut push = |path: &str, reason: String, clear: bool| {
        if let Some((files, bytes)) = weigh(fs, path, hops) {
            maybe.push(Maybe { path: format!("/{path}"), files, bytes, reason, included: clear });
        }
    };
    for c in CA_BUNDLES {
        let why = if go {
            "CA certificates: a Go binary verifies TLS peers with them".to_string()
        } else if tls {
            "CA certificates: the closure links a TLS library".to_string()
        } else {
            "CA certificates".to_string()
        };
        push(c, why, tls || go);
    }
    for c in ["etc/passwd", "etc/group"] {
        let why = match &user {
            Some(u) => format!("the config sets User {u}"),
            None => "user and group names".into(),
        };
        push(c, why, user.is_some());
    }
    if tls {
        for c in ["usr/lib/ssl/openssl.cnf", "etc/ssl/openssl.cnf"] {
            push(c, "OpenSSL configuration (read when present)".into(), false);
        }
    }
    for c in ["usr/share/zoneinfo", "etc/localtime", "etc/timezone"] {
        push(c, "time zone data (tzdata)".into(), false);
    }
    if glibc {
        // ld.so reads /etc/ld.so.cache, never ld.so.conf: a library the closure found in an
        // ld.so.conf directory (openblas-pthread/, a vendor dir) is found only through the cache.
        push(
            "etc/ld.so.cache",
            "the glibc loader's cache: how it finds libraries in ld.so.conf directories".into(),
            true,
        );
        push("usr/lib/locale", "locales".into(), false);
        push("etc/nsswitch.conf", "NSS configuration (user, group and host lookups)".into(), false);
        let nss: Vec<String> = fs
            .files()
            .filter(|(p, _, _)| p.rsplit('/').next().is_some_and(|n| n.starts_with("libnss_")))
            .map(|(p, _, _)| p.to_string())
            .collect();
        for p in nss {
            push(&p, "NSS module glibc loads with dlopen for user, group and host lookups".into(), false);
        }
        for t in ["x86_64-linux-gnu", "aarch64-linux-gnu", "arm-linux-gnueabihf", "i386-linux-gnu"] {
            push(
                &format!("usr/lib/{t}/gconv"),
                "gconv modules (iconv character sets, loaded with dlopen)".into(),
                false,
            );
        }
        w.caveats.push(
            "glibc loads NSS modules and gconv with dlopen: they are listed under maybe, kept only with --keep".into(),
        );
    }
    w.caveats.push("libraries a program opens with dlopen (plugins) are not visible in its ELF headers".into());
    if user.as_deref().is_some_and(|u| !u.split(':').all(|p| p.chars().all(|c| c.is_ascii_digit())))
        && !maybe.iter().any(|m| m.path == "/etc/passwd")
    {
        w.unresolved("/etc/passwd", "config User", "the User is a name, and the image has no /etc/passwd");
    }
    for m in &maybe {
        if m.included {
            w.add(m.path.trim_start_matches('/'), &m.reason);
        }
    }
    // --keep: every path of the view that matches (a directory whole).
    if !opts.keep.is_empty() {
        let matched: Vec<(String, bool)> = fs
            .iter()
            .filter(|(p, _)| !p.is_empty() && keep.is_match(format!("/{p}")))
            .map(|(p, n)| (p.to_string(), matches!(n.kind, NodeKind::Dir)))
            .collect();
        for (p, dir) in matched {
            if dir {
                w.add_tree(&p, "--keep");
            } else {
                w.add(&p, "--keep");
            }
        }
        for m in &mut maybe {
            m.included |= keep.is_match(&m.path);
        }
    }
    w.run();

    let base = base::suggest(fs, &w, report, &maybe);
    let paths: Vec<Entry> = w.entries.values().cloned().collect();
    let closure = Closure {
        files: paths.iter().filter(|e| e.kind == Kind::File).count() as u64,
        symlinks: paths.iter().filter(|e| e.kind == Kind::Symlink).count() as u64,
        bytes: paths.iter().map(|e| e.bytes).sum(),
        paths,
        trees: w.trees.clone(),
    };
    if report.libc.kind == LibcKind::Mixed {
        w.caveats.push("the image has both glibc and musl loaders".into());
    }
    let mut caveats = w.caveats.clone();
    caveats.dedup();
    Ok(Plan {
        platform: report.platform.clone(),
        command: argv,
        program,
        closure,
        maybe,
        image_files: report.files,
        image_bytes: report.bytes,
        base,
        unresolved: w.unresolved.iter().cloned().collect(),
        names: w.names.iter().cloned().collect(),
        caveats,
        carry: Carry {
            entrypoint: match &opts.command {
                Some(c) => c.clone(),
                None => cfg.entrypoint().clone().unwrap_or_default(),
            },
            cmd: if opts.command.is_some() { Vec::new() } else { cfg.cmd().clone().unwrap_or_default() },
            env: cc.env,
            user,
            working_dir: cfg.working_dir().clone().filter(|w| !w.is_empty()),
        },
    })
}

fn keep_set(globs: &[String]) -> Result<globset::GlobSet, String> {
    let mut b = globset::GlobSetBuilder::new();
    for g in globs {
        let g = if g.starts_with('/') { g.clone() } else { format!("/{g}") };
        b.add(globset::GlobBuilder::new(&g).literal_separator(true).build().map_err(|e| format!("--keep {g}: {e}"))?);
    }
    b.build().map_err(|e| format!("--keep: {e}"))
}
