//! How a run ends, as the process exit code, with the one precedence rule every subcommand
//! follows (docs/report.md §2.6).

use std::process::ExitCode;

/// The outcome of a run. When several apply (several images, several platforms), the one of
/// highest precedence wins: `Unreadable` over `Partial` over `Tripped` over `Clean`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Exit {
    /// 0: everything was read and no finding trips `--fail-on`.
    #[default]
    Clean,
    /// 1: a finding is at or above `--fail-on`.
    Tripped,
    /// 3: the run finished but part of it failed (a layer, a platform, an image of a batch):
    /// the findings may be incomplete, so it outranks `Tripped`.
    Partial,
    /// 2: an image could not be read at all, or the command line is wrong.
    Unreadable,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Clean => 0,
            Exit::Tripped => 1,
            Exit::Unreadable => 2,
            Exit::Partial => 3,
        }
    }

    /// The outcome of both: the one of higher precedence.
    pub fn and(self, other: Exit) -> Exit {
        self.max(other)
    }
}

impl PartialOrd for Exit {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Precedence order (declaration order): Clean < Tripped < Partial < Unreadable.
impl Ord for Exit {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (*self as u8).cmp(&(*other as u8))
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Exit::*;

    #[test]
    fn precedence_is_unreadable_partial_tripped_clean() {
        assert_eq!(Tripped.and(Partial), Partial);
        assert_eq!(Partial.and(Tripped), Partial);
        assert_eq!(Partial.and(Unreadable), Unreadable);
        assert_eq!(Unreadable.and(Tripped), Unreadable);
        assert_eq!(Clean.and(Tripped), Tripped);
        assert_eq!([Clean, Tripped, Unreadable, Partial].map(|e| e.code()), [0, 1, 2, 3]);
    }
}
