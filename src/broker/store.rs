//! The store a [`Config`] names, opened for [`super::Broker::new`].

use crate::store::SessionStore;
use crate::{Config, Error};

/// The SQLite store `Config::persistence` names, opened (or started afresh
/// with `reset_persistence`); `None` without one.
#[cfg(feature = "sqlite")]
pub(super) fn open_configured_store(
    config: &Config,
) -> Result<Option<Box<dyn SessionStore + Send>>, Error> {
    let Some(path) = &config.persistence else {
        return Ok(None);
    };
    let store = if config.reset_persistence {
        crate::store::SqliteStore::open_fresh(path)?
    } else {
        crate::store::SqliteStore::open(path)?
    };
    log::info!("persistence file {}", path.display());
    Ok(Some(Box::new(store)))
}

/// Without SQLite compiled in, a persistence file cannot be opened.
#[cfg(not(feature = "sqlite"))]
pub(super) fn open_configured_store(
    config: &Config,
) -> Result<Option<Box<dyn SessionStore + Send>>, Error> {
    match &config.persistence {
        Some(_) => Err(Error::Config {
            field: "persistence".to_string(),
            reason: "this build of mqlite has no SQLite (cargo feature `sqlite`); \
                     use Broker::with_store"
                .to_string(),
        }),
        None => Ok(None),
    }
}
