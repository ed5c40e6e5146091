//! `stormwatch tokens`.

use std::process::ExitCode;

/// Arguments of `stormwatch tokens`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokensArgs {
    /// Inputs.
    paths: Vec<std::path::PathBuf>,
}

/// Run `stormwatch tokens`.
pub(crate) fn run(args: TokensArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`stormwatch tokens` is not built yet ({} paths given)", args.paths.len())
}
