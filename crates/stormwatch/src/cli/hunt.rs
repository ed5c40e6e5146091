//! `stormwatch hunt`.

use std::process::ExitCode;

/// Arguments of `stormwatch hunt`.
#[derive(Debug, clap::Args)]
pub(crate) struct HuntArgs {
    /// Inputs.
    paths: Vec<std::path::PathBuf>,
}

/// Run `stormwatch hunt`.
pub(crate) fn run(args: HuntArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`stormwatch hunt` is not built yet ({} paths given)", args.paths.len())
}
