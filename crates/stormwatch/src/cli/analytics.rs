//! `stormwatch analytics`.

use std::process::ExitCode;

/// Arguments of `stormwatch analytics`.
#[derive(Debug, clap::Args)]
pub(crate) struct AnalyticsArgs {
    /// Inputs.
    paths: Vec<std::path::PathBuf>,
}

/// Run `stormwatch analytics`.
pub(crate) fn run(args: AnalyticsArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`stormwatch analytics` is not built yet ({} paths given)", args.paths.len())
}
