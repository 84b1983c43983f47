//! Profile errors: each one says which file, which line and which key.

use std::fmt;

/// A profile could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("{file}: cannot read the file: {source}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// No built-in profile has that name.
    #[error(
        "no built-in profile is called `{name}` (there are: {known}); use --config FILE for your own"
    )]
    UnknownBuiltin {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: String,
    },
    /// The text is not valid TOML, or a key or value is wrong.
    #[error("{0}")]
    Invalid(Located),
}

/// Where in which file a profile is wrong, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The file (or `<built-in profile NAME>`).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The key, as a dotted path (`upstream[1].asn`), when known.
    pub key: Option<String>,
    /// What is wrong and, where it helps, what to write instead.
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl ProfileError {
    /// The location, for errors that have one.
    pub fn located(&self) -> Option<&Located> {
        match self {
            ProfileError::Invalid(located) => Some(located),
            _ => None,
        }
    }
}
