//! `stormwatch rules`.

use std::process::ExitCode;

/// Arguments of `stormwatch rules`.
#[derive(Debug, clap::Args)]
pub(crate) struct RulesArgs {
    /// Inputs.
    paths: Vec<std::path::PathBuf>,
}

/// Run `stormwatch rules`.
pub(crate) fn run(args: RulesArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`stormwatch rules` is not built yet ({} paths given)", args.paths.len())
}
