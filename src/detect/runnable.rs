//! Will it run: what the config starts (entrypoint and cmd, exec or shell form, through PATH),
//! whether that program exists, is executable and built for the platform; whether every dynamic
//! binary's loader and libraries resolve the way the loader would; whether the glibc present is
//! new enough; scripts' interpreters; binaries built for another architecture.

use std::collections::BTreeMap;

use super::{evidence, Context, Detector};
use crate::elf::{parse_version, ElfKind, Linkage};
use crate::findings::*;
use crate::fs::linker::{find_library, Flavor, SearchPaths};
use crate::fs::{MergedFs, NodeKind};
use crate::report::{Binary, LibcKind, PlatformReport, Run};

pub struct RunnableDetector;

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The executable regular file a path resolves to, as (resolved path, is executable).
pub fn executable(fs: &MergedFs, path: &str, hops: u64) -> Option<(String, bool)> {
    let (resolved, node) = fs.resolve(path, hops).ok()?;
    match node.kind {
        NodeKind::File(_) => Some((format!("/{resolved}"), node.mode & 0o111 != 0)),
        _ => None,
    }
}

/// Looks a command name up the way execve/PATH search does: (resolved path, is executable).
pub fn lookup(fs: &MergedFs, word: &str, path_var: &str, workdir: &str, hops: u64) -> Option<(String, bool)> {
    if word.contains('/') {
        let full =
            if word.starts_with('/') { word.to_string() } else { format!("{}/{word}", workdir.trim_end_matches('/')) };
        return executable(fs, &full, hops);
    }
    path_var
        .split(':')
        .filter(|d| !d.is_empty())
        .filter_map(|d| executable(fs, &format!("{}/{word}", d.trim_end_matches('/')), hops))
        .find(|(_, x)| *x)
}

/// What the config starts and where: the argv (Entrypoint then Cmd), the environment, its PATH
/// (or the default), the working directory (or `/`).
#[derive(Debug, Clone, Default)]
pub struct ConfigCommand {
    pub argv: Vec<String>,
    pub env: Vec<String>,
    pub path: String,
    pub workdir: String,
}

impl ConfigCommand {
    pub fn of(target: &crate::source::resolve::Target) -> Self {
        let cfg = target.config.config().clone().unwrap_or_default();
        let env: Vec<String> = cfg.env().clone().unwrap_or_default();
        let path = env.iter().find_map(|e| e.strip_prefix("PATH=")).unwrap_or(DEFAULT_PATH).to_string();
        let workdir = cfg.working_dir().clone().filter(|w| !w.is_empty()).unwrap_or_else(|| "/".into());
        let entrypoint = cfg.entrypoint().clone().unwrap_or_default();
        let cmd = cfg.cmd().clone().unwrap_or_default();
        let argv = if entrypoint.is_empty() { cmd } else { entrypoint.into_iter().chain(cmd).collect() };
        ConfigCommand { argv, env, path, workdir }
    }
}

/// The script's interpreter check: `Err(message)` when it cannot run.
fn check_shebang(fs: &MergedFs, shebang: &str, path_var: &str, hops: u64) -> Result<String, String> {
    let mut words = shebang.split_whitespace();
    let interp = words.next().ok_or("empty #! line")?;
    match executable(fs, interp, hops) {
        Some((_, true)) => {}
        Some((_, false)) => return Err(format!("interpreter {interp} is not executable")),
        None => return Err(format!("interpreter {interp} does not exist")),
    }
    if interp.ends_with("/env") {
        if let Some(prog) = words.find(|w| !w.starts_with('-')) {
            if lookup(fs, prog, path_var, "/", hops).is_none_or(|(_, x)| !x) {
                return Err(format!("{interp} finds no {prog} in PATH"));
            }
        }
    }
    Ok(interp.to_string())
}

/// Problems of one dynamic ELF: (finding id, message) pairs.
struct BinaryCheck {
    missing_loader: Option<String>,
    missing_libs: Vec<String>,
    glibc_too_new: Option<String>,
    wrong_machine: bool,
}

fn check_binary(cx: &Context, r: &PlatformReport, b: &Binary, paths: &SearchPaths, arch: &str) -> BinaryCheck {
    let hops = cx.limits.symlink_hops;
    let mut c =
        BinaryCheck { missing_loader: None, missing_libs: Vec::new(), glibc_too_new: None, wrong_machine: false };
    if b.machine != arch {
        c.wrong_machine = true;
        return c;
    }
    if b.linkage == Linkage::Dynamic {
        if let Some(interp) = &b.interpreter {
            if executable(cx.fs, interp, hops).is_none() {
                c.missing_loader = Some(interp.clone());
            }
        }
        let flavor = Flavor::of(b.interpreter.as_deref(), r.libc.kind == LibcKind::Musl);
        for name in &b.needed {
            if find_library(cx.fs, name, &b.path, b, flavor, paths, hops).is_none() {
                c.missing_libs.push(name.clone());
            }
        }
    }
    if let (Some(need), Some(have)) = (&b.glibc_required, &r.libc.version) {
        if matches!(r.libc.kind, LibcKind::Glibc | LibcKind::Mixed) && parse_version(need) > parse_version(have) {
            let own = b.soname.as_deref().is_some_and(|s| s == "libc.so.6" || s.starts_with("ld-linux"));
            if !own {
                c.glibc_too_new = Some(need.clone());
            }
        }
    }
    c
}

impl Detector for RunnableDetector {
    fn name(&self) -> &'static str {
        "runnable"
    }

    fn run(&self, cx: &Context, r: &mut PlatformReport) {
        let hops = cx.limits.symlink_hops;
        let cfg = cx.target.config.config().clone().unwrap_or_default();
        let ConfigCommand { env, path: path_var, workdir, .. } = ConfigCommand::of(cx.target);
        let entrypoint = cfg.entrypoint().clone().unwrap_or_default();
        let cmd = cfg.cmd().clone().unwrap_or_default();
        let arch = cx.target.platform.architecture.clone();
        let paths = SearchPaths::new(cx.fs, &arch, &env, hops);
        let mut run = Run {
            entrypoint: entrypoint.clone(),
            cmd: cmd.clone(),
            user: cfg.user().clone(),
            working_dir: cfg.working_dir().clone(),
            path: Some(path_var.clone()),
            ..Default::default()
        };
        let argv: Vec<String> = if entrypoint.is_empty() { cmd } else { entrypoint.into_iter().chain(cmd).collect() };
        let mut entry_binary: Option<String> = None;
        let mut entry_ok = true;
        let mut fail = |f: Finding, r: &mut PlatformReport| {
            entry_ok = false;
            r.findings.push(f.at_entrypoint());
        };
        match argv.first() {
            None => {
                fail(Finding::new(RUN_NO_COMMAND, "the config has no Entrypoint and no Cmd", vec![]), r);
            }
            Some(first) => {
                run.shell_form = argv.len() >= 2 && (first == "/bin/sh" || first == "sh") && argv[1] == "-c";
                match lookup(cx.fs, first, &path_var, &workdir, hops) {
                    None if run.shell_form => fail(
                        Finding::new(
                            RUN_SHELL_FORM_NO_SHELL,
                            format!("the command is in shell form ({first} -c …) but the image has no /bin/sh"),
                            vec![first.clone()],
                        ),
                        r,
                    ),
                    None => fail(
                        Finding::new(
                            RUN_ENTRYPOINT_MISSING,
                            format!("{first} is not in the image (PATH {path_var}, working dir {workdir})"),
                            vec![first.clone()],
                        ),
                        r,
                    ),
                    Some((resolved, false)) => fail(
                        Finding::new(
                            RUN_ENTRYPOINT_MISSING,
                            format!("{first} ({resolved}) is not executable"),
                            vec![resolved],
                        ),
                        r,
                    ),
                    Some((resolved, true)) => {
                        run.program = Some(resolved.clone());
                        let file = match cx.fs.resolve(&resolved, hops) {
                            Ok((_, n)) => match n.kind {
                                NodeKind::File(f) => Some(f),
                                _ => None,
                            },
                            Err(_) => None,
                        };
                        let shebang = file.as_ref().and_then(|f| f.extra()).and_then(|e| e.shebang.clone());
                        if let Some(sb) = shebang {
                            match check_shebang(cx.fs, &sb, &path_var, hops) {
                                Ok(interp) => run.script_interpreter = Some(interp),
                                Err(why) => fail(
                                    Finding::new(
                                        RUN_ENTRYPOINT_MISSING,
                                        format!("{resolved} cannot start: {why}"),
                                        vec![resolved.clone()],
                                    ),
                                    r,
                                ),
                            }
                        } else if file.as_ref().is_some_and(|f| f.elf().is_some()) {
                            entry_binary = Some(resolved.clone());
                        }
                    }
                }
            }
        }

        // Every binary: machine, loader, libraries, glibc version.
        let mut wrong_machine: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut missing_loader: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut missing_lib: BTreeMap<String, (Vec<String>, bool)> = BTreeMap::new();
        let mut too_new: Vec<(String, String)> = Vec::new();
        let binaries = std::mem::take(&mut r.binaries);
        for b in &binaries {
            let c = check_binary(cx, r, b, &paths, &arch);
            if entry_binary.as_deref() == Some(b.path.as_str()) {
                let p = vec![b.path.clone()];
                if c.wrong_machine {
                    fail(
                        Finding::new(
                            ARCH_MISMATCH,
                            format!("{} is built for {}, the platform is {arch}", b.path, b.machine),
                            p.clone(),
                        ),
                        r,
                    );
                }
                if let Some(l) = &c.missing_loader {
                    fail(
                        Finding::new(
                            LIBC_MISSING_LOADER,
                            format!("{} needs the loader {l}, which is not in the image", b.path),
                            vec![b.path.clone(), l.clone()],
                        ),
                        r,
                    );
                }
                if !c.missing_libs.is_empty() {
                    fail(
                        Finding::new(
                            LIBC_MISSING_LIBRARY,
                            format!("{} needs {}, not found", b.path, c.missing_libs.join(", ")),
                            p.clone(),
                        ),
                        r,
                    );
                }
                if let Some(v) = &c.glibc_too_new {
                    let have = r.libc.version.clone().unwrap_or_default();
                    fail(
                        Finding::new(
                            LIBC_GLIBC_TOO_OLD,
                            format!("{} needs GLIBC_{v}, the image has glibc {have}", b.path),
                            p,
                        ),
                        r,
                    );
                }
                continue;
            }
            if c.wrong_machine {
                wrong_machine.entry(b.machine.clone()).or_default().push(b.path.clone());
            }
            if let Some(l) = c.missing_loader {
                missing_loader.entry(l).or_default().push(b.path.clone());
            }
            for lib in c.missing_libs {
                let e = missing_lib.entry(lib).or_default();
                e.0.push(b.path.clone());
                e.1 |= b.kind == ElfKind::Executable;
            }
            if let Some(v) = c.glibc_too_new {
                too_new.push((v, b.path.clone()));
            }
        }
        r.binaries = binaries;
        for (machine, paths) in wrong_machine {
            r.findings.push(Finding::new(
                ARCH_MISMATCH,
                format!(
                    "{} built for {machine}, the platform is {arch}",
                    crate::units::count(paths.len() as u64, "ELF file", "ELF files")
                ),
                evidence(paths, 20),
            ));
        }
        for (loader, paths) in missing_loader {
            r.findings.push(Finding::new(
                LIBC_MISSING_LOADER,
                format!(
                    "loader {loader} is not in the image; {} it",
                    crate::units::count(paths.len() as u64, "binary needs", "binaries need")
                ),
                evidence(paths, 20),
            ));
        }
        for (lib, (paths, by_executable)) in missing_lib {
            let f = Finding::new(
                LIBC_MISSING_LIBRARY,
                format!("{lib} is not found; needed by {}", crate::units::count(paths.len() as u64, "file", "files")),
                evidence(paths, 20),
            );
            // A library only other libraries need may be an unused plugin: less certain.
            r.findings.push(if by_executable { f } else { f.with_severity(Severity::Medium) });
        }
        if !too_new.is_empty() {
            too_new.sort();
            let newest = too_new.iter().map(|(v, _)| v.clone()).max_by_key(|v| parse_version(v)).unwrap_or_default();
            let have = r.libc.version.clone().unwrap_or_default();
            r.findings.push(Finding::new(
                LIBC_GLIBC_TOO_OLD,
                format!(
                    "{} a glibc newer than {have} (up to GLIBC_{newest})",
                    crate::units::count(too_new.len() as u64, "binary needs", "binaries need")
                ),
                evidence(too_new.into_iter().map(|(_, p)| p).collect(), 20),
            ));
        }
        if r.libc.kind == LibcKind::Mixed {
            r.findings.push(Finding::new(LIBC_MIXED, "both glibc and musl loaders are in use", r.libc.loaders.clone()));
        }

        // Executable scripts whose interpreter is missing (the entrypoint's was checked above).
        // Medium for what the image can start: a word of its command, or a script in a PATH
        // directory; elsewhere (library modules with a `#!` line, docs, examples) info, grouped.
        let path_dirs: Vec<&str> =
            path_var.split(':').filter(|d| !d.is_empty()).map(|d| d.trim_end_matches('/')).collect();
        let command_words: Vec<String> = run
            .entrypoint
            .iter()
            .chain(&run.cmd)
            .filter(|w| w.contains('/'))
            .map(|w| if w.starts_with('/') { w.clone() } else { format!("{}/{w}", workdir.trim_end_matches('/')) })
            .collect();
        let startable = |abs: &str| {
            let dir = abs.rsplit_once('/').map_or("", |(d, _)| d);
            path_dirs.contains(&dir) || command_words.iter().any(|w| w == abs)
        };
        let mut broken: [(Vec<String>, BTreeMap<String, usize>); 2] = Default::default();
        for (path, f, _) in cx.fs.files() {
            let Some(sb) = f.extra().and_then(|e| e.shebang.as_deref()) else { continue };
            let abs = format!("/{path}");
            if run.program.as_deref() == Some(abs.as_str()) {
                continue;
            }
            if let Err(why) = check_shebang(cx.fs, sb, &path_var, hops) {
                let (scripts, reasons) = &mut broken[usize::from(!startable(&abs))];
                scripts.push(abs);
                *reasons.entry(why).or_default() += 1;
            }
        }
        let [(started, started_why), (elsewhere, elsewhere_why)] = broken;
        let why = |reasons: BTreeMap<String, usize>| -> String {
            reasons.into_iter().map(|(w, n)| format!("{w} ({n})")).collect::<Vec<_>>().join("; ")
        };
        if !started.is_empty() {
            r.findings.push(Finding::new(
                RUN_INTERPRETER_MISSING,
                format!(
                    "{} run: {}",
                    crate::units::count(started.len() as u64, "executable script cannot", "executable scripts cannot"),
                    why(started_why)
                ),
                evidence(started, 20),
            ));
        }
        if !elsewhere.is_empty() {
            r.findings.push(
                Finding::new(
                    RUN_INTERPRETER_MISSING,
                    format!(
                        "{} outside the command and PATH (nothing the image starts): {}",
                        crate::units::count(
                            elsewhere.len() as u64,
                            "script has a missing interpreter",
                            "scripts have a missing interpreter"
                        ),
                        why(elsewhere_why)
                    ),
                    evidence(elsewhere, 20),
                )
                .with_severity(crate::findings::Severity::Info),
            );
        }
        run.can_start = entry_ok;
        r.run = run;
    }
}
