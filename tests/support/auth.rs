//! For the tests of `mqlite::auth`'s mosquitto-compatible files
//! (`tests/library/auth_password_file.rs`, `tests/library/auth_files.rs`): the fixtures in `tests/fixtures/` and the reason of a `Config` error.

use std::path::{Path, PathBuf};

use mqlite::Error;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The `reason` of a `Config` error for `field`, or a panic.
pub fn config_reason(result: Result<impl std::fmt::Debug, Error>, field: &str) -> String {
    match result {
        Err(Error::Config { field: f, reason }) if f == field => reason,
        other => panic!("expected a Config error for {field}, got {other:?}"),
    }
}
