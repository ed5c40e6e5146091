//! Command-line definitions: one module per subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub(crate) mod analytics;
pub(crate) mod collect;
pub(crate) mod common;
pub(crate) mod hunt;
pub(crate) mod impact;
pub(crate) mod rules;
pub(crate) mod serve;
pub(crate) mod tokens;

/// Hunt, assess impact and verify tokens in Microsoft 365 and Entra ID audit logs.
#[derive(Debug, Parser)]
#[command(name = "stormwatch", version, about, long_about = None, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

const AFTER_HELP: &str = "Examples:
  stormwatch hunt examples/storm-0558/
  stormwatch hunt --format html -o report.html audit/*.json.gz signins.json
  stormwatch impact --from-hunt --format html -o impact.html examples/storm-0558/
  stormwatch tokens verify eyJhbGciOi...
  stormwatch rules list
  stormwatch collect --tenant ID --client-id ID --client-secret-env VAR --since 7d --out evidence/
  stormwatch serve --data-dir /var/lib/stormwatch";

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan audit-log exports with Sigma rules and the built-in analytics.
    Hunt(hunt::HuntArgs),
    /// Which organisations, mailboxes, folders and messages an actor read, and what the logs cannot tell.
    Impact(impact::ImpactArgs),
    /// Verify JWTs against signing keys with their scope; manage the key registry; scan logs for tokens.
    Tokens(tokens::TokensArgs),
    /// List, lint and test Sigma rules.
    Rules(rules::RulesArgs),
    /// List the built-in analytics and their settings.
    Analytics(analytics::AnalyticsArgs),
    /// Pull audit logs from the Management Activity API and Microsoft Graph, with a manifest of what was and was not collected.
    Collect(collect::CollectArgs),
    /// Monitor continuously: ingest over HTTP and from folders, detect, store and send alerts.
    Serve(serve::ServeArgs),
}

/// Run the parsed command.
pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Hunt(a) => hunt::run(a),
        Command::Impact(a) => impact::run(a),
        Command::Tokens(a) => tokens::run(a),
        Command::Rules(a) => rules::run(a),
        Command::Analytics(a) => analytics::run(a),
        Command::Collect(a) => collect::run(a),
        Command::Serve(a) => serve::run(a),
    }
}
