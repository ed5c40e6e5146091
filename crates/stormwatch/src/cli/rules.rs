//! `stormwatch rules`: list what is loaded, lint rule files, run rules against sample events.

mod check;
mod events;
mod list;
mod load;
mod test;

use std::process::ExitCode;

/// Arguments of `stormwatch rules`.
#[derive(Debug, clap::Args)]
pub(crate) struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Debug, clap::Subcommand)]
enum RulesCommand {
    /// List the loaded rules (default: the bundled ruleset) with id, title, level, status, log
    /// source and file.
    List(list::ListArgs),
    /// Lint rule files or folders: report every error with file and line; exit 1 if any.
    Check(check::CheckArgs),
    /// Run a rule (or a folder of rules) against sample events and show which events matched.
    Test(test::TestArgs),
}

/// Run `stormwatch rules`.
pub(crate) fn run(args: RulesArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        RulesCommand::List(a) => list::run(&a),
        RulesCommand::Check(a) => check::run(&a),
        RulesCommand::Test(a) => test::run(&a),
    }
}
