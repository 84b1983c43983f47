//! Where the store lives: a SQLite file (the embedded default) or a PostgreSQL
//! database, as given to `--db`.

use std::fmt;
use std::path::{Path, PathBuf};

/// The schema a PostgreSQL store uses unless the URL names another (`?schema=`).
pub const DEFAULT_SCHEMA: &str = "blackout";

/// A database, as given to `--db`: `postgres://...` or `postgresql://...` is a
/// PostgreSQL database, anything else a SQLite file.
#[derive(Clone, PartialEq, Eq)]
pub enum Db {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(PgTarget),
}

/// A PostgreSQL database and the schema in it that holds blackout's tables.
#[derive(Clone, PartialEq, Eq)]
pub struct PgTarget {
    /// The connection string, without the `schema` parameter (tokio-postgres'
    /// URL or key=value form).
    pub url: String,
    /// The schema (a plain lowercase identifier).
    pub schema: String,
}

/// A `--db` value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("--db {given}: {reason}")]
pub struct DbParseError {
    /// What was given, with any password hidden.
    pub given: String,
    /// Why it cannot be used.
    pub reason: String,
}

impl Db {
    /// Reads a `--db` value.
    pub fn parse(text: &str) -> Result<Db, DbParseError> {
        if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
            return Ok(Db::Sqlite(PathBuf::from(text)));
        }
        let fail = |reason: String| DbParseError {
            given: redact(text),
            reason,
        };
        let (base, query) = match text.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (text, None),
        };
        let mut schema = DEFAULT_SCHEMA.to_string();
        let mut kept = Vec::new();
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            match pair.split_once('=') {
                Some(("schema", name)) => schema = name.to_string(),
                _ => kept.push(pair),
            }
        }
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(fail(format!(
                "the schema `{}` is not a plain name: use lowercase letters, digits and _ (at most 63)",
                schema.escape_debug()
            )));
        }
        let url = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok(Db::Postgres(PgTarget { url, schema }))
    }

    /// The SQLite file, if this is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Db::Sqlite(path) => Some(path),
            Db::Postgres(_) => None,
        }
    }

    /// True for a SQLite file that does not exist yet (a reader has nothing to
    /// read); a PostgreSQL database says so itself when a reader connects.
    pub fn is_missing_file(&self) -> bool {
        self.sqlite_path().is_some_and(|path| !path.exists())
    }
}

impl std::str::FromStr for Db {
    type Err = DbParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Db::parse(text)
    }
}

impl From<&Path> for Db {
    fn from(path: &Path) -> Self {
        Db::Sqlite(path.to_path_buf())
    }
}

impl From<&PathBuf> for Db {
    fn from(path: &PathBuf) -> Self {
        Db::Sqlite(path.clone())
    }
}

impl From<PathBuf> for Db {
    fn from(path: PathBuf) -> Self {
        Db::Sqlite(path)
    }
}

impl From<&Db> for Db {
    fn from(db: &Db) -> Self {
        db.clone()
    }
}

/// Shown with the password and query values hidden: it goes into logs and errors.
impl fmt::Display for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Db::Sqlite(path) => write!(f, "{}", path.display()),
            Db::Postgres(target) if target.schema == DEFAULT_SCHEMA => {
                write!(f, "{}", redact(&target.url))
            }
            Db::Postgres(target) => write!(f, "{} (schema {})", redact(&target.url), target.schema),
        }
    }
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Db({self})")
    }
}

/// A connection URL with its password and its query values (which may hold a
/// password too) replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut shown = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let authority = match authority.rsplit_once('@') {
                Some((user, host)) => match user.split_once(':') {
                    Some((name, _)) => format!("{name}:***@{host}"),
                    None => format!("{user}@{host}"),
                },
                None => authority.to_string(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => base.to_string(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) => format!("{key}=***"),
                None => pair.to_string(),
            })
            .collect();
        shown.push('?');
        shown.push_str(&pairs.join("&"));
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_urls_are_told_apart() {
        assert_eq!(
            Db::parse("blackout.db").unwrap(),
            Db::Sqlite("blackout.db".into())
        );
        let Db::Postgres(target) =
            Db::parse("postgres://u:secret@127.0.0.1:5433/obs?schema=kp_central&sslmode=disable")
                .unwrap()
        else {
            panic!("not postgres");
        };
        assert_eq!(target.schema, "kp_central");
        assert_eq!(
            target.url,
            "postgres://u:secret@127.0.0.1:5433/obs?sslmode=disable"
        );
        let Db::Postgres(target) = Db::parse("postgresql:///obs").unwrap() else {
            panic!("not postgres");
        };
        assert_eq!(target.schema, DEFAULT_SCHEMA);
    }

    #[test]
    fn a_bad_schema_is_refused_and_the_password_is_never_shown() {
        let error = Db::parse("postgres://u:secret@h/db?schema=x;drop&password=p2")
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a plain name"), "{error}");
        assert!(
            !error.contains("secret") && !error.contains("p2"),
            "{error}"
        );
        let shown = Db::parse("postgres://u:secret@h/db?password=p2")
            .unwrap()
            .to_string();
        assert_eq!(shown, "postgres://u:***@h/db?password=***");
    }
}
