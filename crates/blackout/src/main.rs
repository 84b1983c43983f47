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
            eprintln!("blackout: {}", describe(&error));
            ExitCode::from(2)
        }
        Err(Failure::Work(error)) => {
            eprintln!("blackout: {}", describe(&error));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes in one line, `what: why: why`, each text once.
///
/// Library errors name their source in their own message (`cannot lock FILE: No
/// such file or directory`) and also hand it on as their `source()`, so printing
/// the whole chain would repeat the operating system's words two or three times.
/// A cause whose text is already said is left out.
fn describe(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
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

#[cfg(test)]
mod tests {
    use super::describe;
    use std::io;

    /// A library error that names its source in its message and hands it on too,
    /// as the store's and the feeds' errors do.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot lock /var/lib/blackout/db.lock: {source}")]
    struct LockFailed {
        source: io::Error,
    }

    fn missing() -> io::Error {
        io::Error::from_raw_os_error(2)
    }

    #[test]
    fn a_source_already_named_in_the_message_is_said_once() {
        let error = anyhow::Error::new(LockFailed { source: missing() });
        let line = describe(&error);
        let os = missing().to_string();
        assert_eq!(line, format!("cannot lock /var/lib/blackout/db.lock: {os}"));
        assert_eq!(line.matches(&os).count(), 1, "{line}");
    }

    #[test]
    fn a_context_over_a_repeating_error_says_each_text_once() {
        let error =
            anyhow::Error::new(LockFailed { source: missing() }).context("cannot start watch");
        let line = describe(&error);
        let os = missing().to_string();
        assert_eq!(
            line,
            format!("cannot start watch: cannot lock /var/lib/blackout/db.lock: {os}")
        );
    }

    #[test]
    fn causes_not_yet_said_are_all_kept_in_order() {
        let error = anyhow::Error::new(missing())
            .context("cannot read /etc/blackout/kp.toml")
            .context("cannot load the profile");
        let os = missing().to_string();
        assert_eq!(
            describe(&error),
            format!("cannot load the profile: cannot read /etc/blackout/kp.toml: {os}")
        );
    }
}
