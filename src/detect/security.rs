//! Security basics: running as root, setuid/setgid files, world-writable paths.

use super::{evidence, Context, Detector};
use crate::findings::{Finding, RUN_AS_ROOT, SEC_SETUID, SEC_WORLD_WRITABLE};
use crate::fs::NodeKind;
use crate::report::PlatformReport;

pub struct SecurityDetector;

/// True when a config `User` means uid 0.
pub fn is_root(user: Option<&str>) -> bool {
    let user = user.unwrap_or("").trim();
    let name = user.split(':').next().unwrap_or("");
    name.is_empty() || name == "root" || name == "0"
}

impl Detector for SecurityDetector {
    fn name(&self) -> &'static str {
        "security"
    }

    fn run(&self, cx: &Context, r: &mut PlatformReport) {
        let user = cx.target.config.config().as_ref().and_then(|c| c.user().clone());
        if is_root(user.as_deref()) {
            let what = match user.as_deref() {
                None | Some("") => "no User is set".to_string(),
                Some(u) => format!("User is {u:?}"),
            };
            r.findings.push(Finding::new(RUN_AS_ROOT, format!("the container runs as root: {what}"), vec![]));
        }
        let mut setuid = Vec::new();
        let mut writable = Vec::new();
        for (path, node) in cx.fs.iter() {
            match node.kind {
                NodeKind::File(_) if node.mode & 0o6000 != 0 => setuid.push(format!("/{path}")),
                NodeKind::Symlink(_) => continue,
                _ => {}
            }
            let sticky_dir = matches!(node.kind, NodeKind::Dir) && node.mode & 0o1000 != 0;
            if node.mode & 0o002 != 0 && !sticky_dir {
                writable.push(format!("/{path}"));
            }
        }
        if !setuid.is_empty() {
            r.findings.push(Finding::new(
                SEC_SETUID,
                crate::units::count(setuid.len() as u64, "setuid/setgid file", "setuid/setgid files"),
                evidence(setuid, 20),
            ));
        }
        if !writable.is_empty() {
            r.findings.push(Finding::new(
                SEC_WORLD_WRITABLE,
                format!(
                    "{} (directories without the sticky bit count)",
                    crate::units::count(writable.len() as u64, "world-writable path", "world-writable paths")
                ),
                evidence(writable, 20),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn root_users() {
        for u in [None, Some(""), Some("root"), Some("0"), Some("0:0"), Some("root:wheel")] {
            assert!(super::is_root(u), "{u:?}");
        }
        for u in [Some("1000"), Some("nonroot"), Some("65532:65532")] {
            assert!(!super::is_root(u), "{u:?}");
        }
    }
}
