//! The lab's errors. Each names the operation and what it acted on, and says
//! what to do next where that is not obvious.

use std::path::PathBuf;

/// Anything that can go wrong in the lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The lab makes namespaces and runs daemons: it needs root.
    #[error(
        "the lab needs root (it creates network namespaces and runs routing daemons): run it as root"
    )]
    NotRoot,
    /// A command ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A command could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file in the state dir could not be read or written.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Something did not happen in time.
    #[error("timed out after {secs} s waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        secs: u64,
    },
    /// An unknown fault name.
    #[error("unknown fault `{0}`; known faults: {known}", known = crate::fault::Fault::NAMES.join(", "))]
    UnknownFault(String),
    /// A fault's arguments are wrong.
    #[error("fault `{fault}`: {message}")]
    FaultArgs {
        /// The fault.
        fault: String,
        /// What is wrong.
        message: String,
    },
    /// The lab is not up.
    #[error("the lab is not up: run `blackout lab up` first")]
    NotUp,
    /// Packages could not be installed.
    #[error("cannot install {packages}: {message}; install them with apt-get and try again")]
    Packages {
        /// The packages.
        packages: String,
        /// Why.
        message: String,
    },
}

/// The lab's result type.
pub type Result<T, E = LabError> = std::result::Result<T, E>;

pub(crate) fn io(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> LabError {
    let path = path.into();
    move |source| LabError::Io { op, path, source }
}
