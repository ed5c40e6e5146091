//! `stormwatch impact`.

use std::process::ExitCode;

/// Arguments of `stormwatch impact`.
#[derive(Debug, clap::Args)]
pub(crate) struct ImpactArgs {
    /// Inputs.
    paths: Vec<std::path::PathBuf>,
}

/// Run `stormwatch impact`.
pub(crate) fn run(args: ImpactArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`stormwatch impact` is not built yet ({} paths given)", args.paths.len())
}
