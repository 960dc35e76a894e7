//! mosquitto.conf, the other syntax of `mqlite -c FILE`: mosquitto 2.0's
//! options mapped onto [`mqlite::Config`] (docs/CONFIG.md lists them all).
//!
//! `lines.rs` reads lines and values as mosquitto does, `options.rs`
//! applies each option to `model.rs`'s picture of mosquitto's settings
//! (default listener, listener blocks, broker-wide or per-listener
//! security), `bridges.rs` each bridge option to its `connection`, and
//! `build.rs` makes the config from it once every file, `include_dir`'s
//! included, has been read. Unsupported options are
//! refused with their file, line and name; the few that are harmless to
//! skip are skipped with a warning naming them.

mod addrs;
mod bridges;
mod build;
mod lines;
mod model;
mod names;
mod options;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bridge_files;
#[cfg(test)]
mod tests_bridges;
#[cfg(test)]
mod tests_listeners;

use std::path::Path;
use std::rc::Rc;

pub use names::is_mosquitto_option;

use crate::settings::FileSettings;
use lines::Fault;
use model::State;

/// Reads a mosquitto.conf whose text is `text`, with the files its
/// `include_dir` lines name.
///
/// # Errors
/// [`mqlite::Error::ConfigFile`] naming the file and line of a refused
/// option or value (or the main file, for settings that do not work
/// together).
pub fn from_text(path: &Path, text: &str) -> Result<FileSettings, mqlite::Error> {
    let mut state = State::new();
    read(&mut state, path, path, text, 0).map_err(Fault::into_error)?;
    build::finish(state, path)
}

/// Applies a file's lines; `level` 0 is the main file, which alone may
/// include others (as in mosquitto).
fn read(
    state: &mut State,
    main: &Path,
    path: &Path,
    text: &str,
    level: usize,
) -> Result<(), Fault> {
    let file: Rc<Path> = Rc::from(path);
    // Each file starts on the default listener and outside any bridge, as
    // in mosquitto, whose parser keeps both per file.
    let mut current = None;
    let mut bridge = None;
    for line in lines::lines(&file, text) {
        if bridges::apply(state, &mut bridge, &line)? {
            continue;
        }
        if line.option != "include_dir" {
            options::apply(state, &mut current, &line)?;
            continue;
        }
        let dir = Path::new(line.text()?);
        if level > 0 {
            state.warnings.push(
                line.warn("skipped: only the main config file may include others (as mosquitto)"),
            );
            continue;
        }
        let files = lines::include_files(dir).map_err(|reason| line.refuse(reason))?;
        for included in files {
            if same_file(&included, main) {
                return Err(line.refuse(format!(
                    "{} is the main config file; the directory must not hold it",
                    included.display()
                )));
            }
            let text = std::fs::read_to_string(&included).map_err(|error| {
                line.refuse(format!("cannot read {}: {error}", included.display()))
            })?;
            read(state, main, &included, &text, level + 1)?;
        }
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
