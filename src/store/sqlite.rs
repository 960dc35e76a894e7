//! The SQLite store (being written).

/// A [`super::SessionStore`] in one SQLite file.
pub struct SqliteStore {}
