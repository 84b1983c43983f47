//! The `blackout` command: it parses the command line, wires the parts together
//! and maps failures to exit codes (0 success, 1 the work failed, 2 bad usage or
//! bad configuration). The work itself lives in the library crates.

mod cli;
mod commands;
mod output;

use std::process::ExitCode;

/// A failure, with the exit code it maps to.
#[derive(Debug)]
pub enum Failure {
    /// Bad usage or bad configuration: exit 2.
    Usage(anyhow::Error),
    /// The work failed (a feed, a file, a socket): exit 1.
    Work(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure::Work(error.into())
    }
}

fn main() -> ExitCode {
    let args = match cli::parse() {
        Ok(args) => args,
        Err(error) => {
            // clap prints help and version to stdout with success; usage errors exit 2.
            let code = if error.use_stderr() { 2 } else { 0 };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    init_logging(args.verbose);
    match commands::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(error)) => {
            eprintln!("blackout: {error:#}");
            ExitCode::from(2)
        }
        Err(Failure::Work(error)) => {
            eprintln!("blackout: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BLACKOUT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour codes only for a terminal: in a file or a pipe they are noise.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}
