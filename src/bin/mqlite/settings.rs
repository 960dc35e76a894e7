//! The `-c FILE` config file in either syntax, told apart by content:
//! mqlite's TOML (`config_file.rs`) or mosquitto.conf (`mosquitto/`).
//!
//! The first setting line (not blank, not a `#` comment) decides:
//! - TOML when it is a table header (`[...]`) or a `key = value` line
//!   (a key, optional blanks, then `=`); a mosquitto line never is, since
//!   its value follows its option after a blank;
//! - mosquitto.conf when its first word is one of mosquitto 2.0's options
//!   (supported by mqlite or not: an unsupported one is then refused by
//!   name, with its line);
//! - otherwise neither, and the file is refused naming that line.
//!
//! A file without any setting line (empty, or every line commented out, as
//! in mosquitto's shipped example) is a mosquitto.conf, unless its name
//! ends in `.toml`: both give the defaults, except that mosquitto's keep no
//! persistence file.

use std::path::{Path, PathBuf};

use mqlite::{Config, Error};

use crate::logging::LogSettings;

/// The syntax of a config file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    Toml,
    Mosquitto,
}

/// What a config file gives the binary: the broker's config and the
/// binary's own settings.
#[derive(Debug)]
pub struct FileSettings {
    pub syntax: Syntax,
    pub config: Config,
    pub log: LogSettings,
    /// A file to write the process id to, removed at exit.
    pub pid_file: Option<PathBuf>,
    /// Whether connections and disconnections are logged; `None`: with
    /// `-v` only (TOML).
    pub connection_messages: Option<bool>,
    /// Warnings about the file (skipped options), logged once the logger
    /// is up.
    pub warnings: Vec<String>,
}

impl FileSettings {
    /// A TOML file's: the config, everything else by default.
    pub fn from_config(config: Config) -> FileSettings {
        FileSettings {
            syntax: Syntax::Toml,
            config,
            log: LogSettings::default(),
            pid_file: None,
            connection_messages: None,
            warnings: Vec::new(),
        }
    }
}

/// Reads a config file in whichever syntax it is written.
///
/// # Errors
/// [`Error::ConfigFile`] when it cannot be read or parsed (naming the file,
/// and the line), [`Error::Config`] for a refused value of a TOML key.
pub fn load(path: &Path) -> Result<FileSettings, Error> {
    let text = std::fs::read_to_string(path).map_err(|error| Error::ConfigFile {
        path: path.display().to_string(),
        reason: format!("cannot read it: {error}"),
    })?;
    match detect(path, &text)? {
        Syntax::Toml => Ok(FileSettings::from_config(
            crate::config_file::from_toml_text(path, &text)?,
        )),
        Syntax::Mosquitto => crate::mosquitto::from_text(path, &text),
    }
}

/// Which syntax `text` is in (see the module's documentation).
///
/// # Errors
/// [`Error::ConfigFile`] naming the first setting line when it is neither.
pub fn detect(path: &Path, text: &str) -> Result<Syntax, Error> {
    let first = text.lines().enumerate().find_map(|(index, line)| {
        let line = line.trim_matches([' ', '\t', '\r']);
        (!line.is_empty() && !line.starts_with('#')).then_some((index + 1, line))
    });
    let Some((number, line)) = first else {
        let toml = path.extension().is_some_and(|ext| ext == "toml");
        return Ok(if toml {
            Syntax::Toml
        } else {
            Syntax::Mosquitto
        });
    };
    if line.starts_with('[') || is_toml_key_value(line) {
        return Ok(Syntax::Toml);
    }
    let word = line.split([' ', '\t']).next().unwrap_or(line);
    if crate::mosquitto::is_mosquitto_option(word) {
        return Ok(Syntax::Mosquitto);
    }
    Err(Error::ConfigFile {
        path: path.display().to_string(),
        reason: format!(
            "line {number}: `{word}` is neither a mosquitto.conf option nor a TOML \
             `key = value`, so the file is in neither syntax"
        ),
    })
}

/// `key = ...`: a bare or dotted key (`a_b-c`, `a.b`) or a quoted one.
fn is_toml_key_value(line: &str) -> bool {
    let Some((key, _)) = line.split_once('=') else {
        return false;
    };
    let key = key.trim_end_matches([' ', '\t']);
    key.starts_with('"')
        || key.starts_with('\'')
        || (!key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
}

/// The first bytes of a persistence file written by mosquitto itself.
const MOSQUITTO_DB_MAGIC: [u8; 15] = *b"\x00\xB5\x00mosquitto db";

/// When the persistence file is mosquitto's own (its `mosquitto.db`, which
/// a mosquitto.conf names by default), mqlite cannot read it: it is moved
/// aside (`reset_persistence`, to `FILE.bak-SECONDS`, kept for a return to
/// mosquitto) and mqlite starts with an empty store. Returns the warning
/// to log.
pub fn foreign_store(config: &mut Config) -> Option<String> {
    let path = config.persistence.as_ref()?;
    if config.reset_persistence {
        return None;
    }
    let mut head = [0u8; 15];
    let mut file = std::fs::File::open(path).ok()?;
    std::io::Read::read_exact(&mut file, &mut head).ok()?;
    if head != MOSQUITTO_DB_MAGIC {
        return None;
    }
    config.reset_persistence = true;
    Some(format!(
        "persistence file {} is mosquitto's own format, which mqlite cannot read (mqlite keeps \
         its state in SQLite): it is moved aside to {0}.bak-SECONDS, and mqlite starts with \
         no sessions or retained messages",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax(name: &str, text: &str) -> Result<Syntax, String> {
        detect(Path::new(name), text).map_err(|e| e.to_string())
    }

    #[test]
    fn the_first_setting_line_decides() {
        use Syntax::*;
        assert_eq!(syntax("a.conf", "# c\n\nport = 1884\n"), Ok(Toml));
        assert_eq!(syntax("a.conf", "max_inflight=3\n"), Ok(Toml));
        assert_eq!(syntax("a.conf", "\"quoted key\" = 1\n"), Ok(Toml));
        assert_eq!(syntax("a.conf", "[[listener]]\nport = 1\n"), Ok(Toml));
        assert_eq!(
            syntax("a", "# c\n  listener 1883\nport = 2\n"),
            Ok(Mosquitto)
        );
        assert_eq!(syntax("a.toml", "port 1883\n"), Ok(Mosquitto));
        assert_eq!(syntax("a", "log_timestamp_format %Y = %m\n"), Ok(Mosquitto));
        assert_eq!(syntax("a", "connection bridge1\n"), Ok(Mosquitto));
        assert_eq!(syntax("a", "plugin_opt_x y\n"), Ok(Mosquitto));
        // Nothing set: mosquitto.conf, unless the name says TOML.
        assert_eq!(syntax("mosquitto.conf", "#port 1883\n\n"), Ok(Mosquitto));
        assert_eq!(syntax("mqlite.toml", "# nothing\n"), Ok(Toml));
        let error = syntax("/x.conf", "\n# c\nlistner 1883\n").unwrap_err();
        assert!(
            error.contains("/x.conf: line 3: `listner` is neither"),
            "{error}"
        );
    }

    #[test]
    fn a_mosquitto_db_is_moved_aside() {
        let dir = std::env::temp_dir().join(format!("mqlite-foreign-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mosquitto.db");
        let mut config = Config {
            persistence: Some(path.clone()),
            ..Config::default()
        };
        assert_eq!(foreign_store(&mut config), None, "no file yet");
        std::fs::write(&path, b"SQLite format 3\0....").unwrap();
        assert_eq!(foreign_store(&mut config), None);
        let mut bytes = MOSQUITTO_DB_MAGIC.to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 6]);
        std::fs::write(&path, bytes).unwrap();
        let warning = foreign_store(&mut config).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(config.reset_persistence);
        assert!(warning.contains("mosquitto's own format"), "{warning}");
    }
}
