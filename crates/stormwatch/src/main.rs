//! The `stormwatch` command: parses arguments, runs one subcommand, maps errors to exit codes.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bundled;
mod cleanup;
mod cli;
mod exit;

pub(crate) use bundled::bundled_rules;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// mimalloc: reading allocates a dozen small strings per record on several threads and frees
/// them on others; glibc malloc spent a quarter of the read time there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::Exit::Usage
            } else {
                exit::Exit::Ok
            };
            let _ = e.print();
            return code.into();
        }
    };
    match cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return exit::Exit::Ok.into();
            }
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "stormwatch: error: {err}");
            for cause in err.chain().skip(1) {
                let _ = write!(stderr, ": {cause}");
            }
            let _ = writeln!(stderr);
            exit::code_for(&err).into()
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
