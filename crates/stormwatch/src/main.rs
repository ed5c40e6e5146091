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
            let _ = writeln!(stderr, "stormwatch: error: {}", message(&err));
            exit::code_for(&err).into()
        }
    }
}

/// The error and its causes on one line. A cause its error already quotes (typed errors
/// print their source) is not repeated.
fn message(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

/// The output's reader went away (`stormwatch hunt … | head`): not an error to report.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    let pipe = Some(std::io::ErrorKind::BrokenPipe);
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().map(std::io::Error::kind) == pipe
            || c.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == pipe
            || c.downcast_ref::<csv::Error>()
                .is_some_and(|e| match e.kind() {
                    csv::ErrorKind::Io(io) => Some(io.kind()) == pipe,
                    _ => false,
                })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_already_quoted_are_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        #[derive(Debug)]
        struct Typed(std::io::Error);
        impl std::fmt::Display for Typed {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "creating x: {}", self.0)
            }
        }
        impl std::error::Error for Typed {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let err = anyhow::Error::new(Typed(io)).context("collecting detections");
        assert_eq!(
            message(&err),
            "collecting detections: creating x: No such file"
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(message(&plain), "outer: inner");
    }
}
