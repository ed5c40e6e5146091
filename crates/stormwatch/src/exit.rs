//! Exit codes, documented in one place. An interrupted or terminated `hunt` exits 130 from
//! its signal handler (`crate::cleanup`), after removing its temporary files.

use std::process::ExitCode;

/// The exit codes of every subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Ran to the end (bad records are counted and skipped, not fatal).
    Ok = 0,
    /// `--fail-on LEVEL` was given and a detection at or above LEVEL was found; for `tokens
    /// verify`, the token is not valid; for `collect`, a window was not completely collected.
    Findings = 1,
    /// Usage error, an input that cannot be opened at all, or (with `--fail-on`) a run that
    /// read no record: nothing was checked.
    Usage = 2,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// Map an error chain to an exit code. Every error that reaches `main` is a usage error, an
/// input that could not be opened, or an output that could not be written: all exit 2.
pub(crate) fn code_for(_err: &anyhow::Error) -> Exit {
    Exit::Usage
}
