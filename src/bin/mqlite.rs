//! `mqlite`: the standalone broker, for people used to `mosquitto`.
//!
//! Reads options (and optionally a TOML file), runs the broker on the main
//! thread, and stops cleanly on SIGINT / SIGTERM.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use mqlite::{Broker, Config};

const USAGE: &str = "\
mqlite — an embeddable MQTT 3.1/3.1.1 broker

Usage: mqlite [OPTIONS]

Options:
  -p, --port PORT      port to listen on                     [default: 1883]
      --bind ADDR      address to listen on                  [default: 127.0.0.1]
  -c, --config FILE    TOML file with any of the keys below  [default: none]
      --db PATH        SQLite file for sessions and retained  [default: mqlite.db]
      --no-persist     keep everything in memory only         [default: off]
      --fresh-db       move an existing --db file aside and start empty
      --password-file FILE   mosquitto_passwd file               [default: none]
      --acl-file FILE        mosquitto ACL file                  [default: none]
      --allow-anonymous true|false  clients without a user name  [default: true without a password file]
  -v, --verbose        log every connection and packet error [default: off]
  -h, --help           print this help
  -V, --version        print the version

Command-line options override the file. SIGINT or SIGTERM stops the broker
cleanly.

Config file keys (TOML) and their defaults:
";

/// What the command line asked for.
struct Options {
    config_file: Option<PathBuf>,
    port: Option<u16>,
    bind: Option<IpAddr>,
    db: Option<PathBuf>,
    no_persist: bool,
    fresh_db: bool,
    password_file: Option<PathBuf>,
    acl_file: Option<PathBuf>,
    allow_anonymous: Option<bool>,
    verbose: bool,
}

enum Parsed {
    Run(Options),
    Exit(String),
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut options = Options {
        config_file: None,
        port: None,
        bind: None,
        db: None,
        no_persist: false,
        fresh_db: false,
        password_file: None,
        acl_file: None,
        allow_anonymous: None,
        verbose: false,
    };
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |option: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("option {option} needs a value"))
        };
        match name.as_str() {
            "-h" | "--help" => {
                let mut text = USAGE.to_string();
                for (key, default) in mqlite::CONFIG_FILE_KEYS {
                    text.push_str(&format!("  {key:<28} {default}\n"));
                }
                return Ok(Parsed::Exit(text));
            }
            "-V" | "--version" => {
                return Ok(Parsed::Exit(format!(
                    "mqlite {}\n",
                    env!("CARGO_PKG_VERSION")
                )))
            }
            "-v" | "--verbose" => options.verbose = true,
            "-p" | "--port" => {
                let text = value("--port")?;
                options.port =
                    Some(text.parse().map_err(|_| {
                        format!("invalid --port `{text}`: expected a number 0-65535")
                    })?);
            }
            "--bind" => {
                let text = value("--bind")?;
                options.bind = Some(
                    text.parse()
                        .map_err(|_| format!("invalid --bind `{text}`: expected an IP address"))?,
                );
            }
            "--db" => options.db = Some(PathBuf::from(value("--db")?)),
            "--no-persist" => options.no_persist = true,
            "--fresh-db" => options.fresh_db = true,
            "--password-file" => {
                options.password_file = Some(PathBuf::from(value("--password-file")?))
            }
            "--acl-file" => options.acl_file = Some(PathBuf::from(value("--acl-file")?)),
            "--allow-anonymous" => {
                let text = value("--allow-anonymous")?;
                options.allow_anonymous = Some(match text.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(format!(
                            "invalid --allow-anonymous `{text}`: expected true or false"
                        ))
                    }
                });
            }
            "-c" | "--config" => options.config_file = Some(PathBuf::from(value("--config")?)),
            other => return Err(format!("unknown option `{other}` (see --help)")),
        }
    }
    Ok(Parsed::Run(options))
}

fn build_config(options: &Options) -> Result<Config, mqlite::Error> {
    let mut config = match &options.config_file {
        Some(path) => Config::from_toml_file(path)?,
        None => Config::default(),
    };
    // The standalone broker is durable by default.
    if config.persistence.is_none() {
        config.persistence = Some(PathBuf::from("mqlite.db"));
    }
    if let Some(db) = &options.db {
        config.persistence = Some(db.clone());
    }
    if options.no_persist {
        if options.db.is_some() || options.fresh_db {
            return Err(mqlite::Error::Config {
                field: "--no-persist".to_string(),
                reason: "cannot be combined with --db or --fresh-db".to_string(),
            });
        }
        config.persistence = None;
    }
    config.reset_persistence |= options.fresh_db;
    if let Some(path) = &options.password_file {
        config.password_file = Some(path.clone());
    }
    if let Some(path) = &options.acl_file {
        config.acl_file = Some(path.clone());
    }
    if options.allow_anonymous.is_some() {
        config.allow_anonymous = options.allow_anonymous;
    }
    if options.port.is_some() || options.bind.is_some() {
        let current = config.listeners.first().copied();
        let ip = options
            .bind
            .or(current.map(|addr| addr.ip()))
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let port = options
            .port
            .or(current.map(|addr| addr.port()))
            .unwrap_or(1883);
        config.listeners = vec![SocketAddr::new(ip, port)];
    }
    config.validate()?;
    Ok(config)
}

/// Logs to stderr with a timestamp; the library itself never installs a
/// logger.
struct StderrLogger {
    level: log::LevelFilter,
}

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let seconds = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let _ = writeln!(
                std::io::stderr(),
                "{seconds}: {} {}",
                record.level(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Exit(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("mqlite: {message}");
            return ExitCode::from(2);
        }
    };
    let level = if options.verbose {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Info
    };
    let logger = Box::leak(Box::new(StderrLogger { level }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }

    let config = match build_config(&options) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("mqlite: {error}");
            return ExitCode::from(2);
        }
    };
    let mut broker = match Broker::new(config) {
        Ok(broker) => broker,
        Err(error) => {
            eprintln!("mqlite: {error}");
            return ExitCode::FAILURE;
        }
    };

    let handle = broker.handle();
    match signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ]) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                let mut received = 0;
                for signal in signals.forever() {
                    received += 1;
                    if received > 1 {
                        eprintln!("mqlite: second signal, exiting now");
                        std::process::exit(1);
                    }
                    log::info!("signal {signal}: stopping");
                    handle.stop();
                }
            });
        }
        Err(error) => log::warn!("cannot handle signals: {error}"),
    }

    match broker.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mqlite: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Parsed, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn options_parse() {
        let Ok(Parsed::Run(options)) = parse(&["-p", "1999", "--bind=0.0.0.0", "-v"]) else {
            panic!()
        };
        assert_eq!(options.port, Some(1999));
        assert!(options.verbose);
        let config = build_config(&options).unwrap();
        assert_eq!(config.listeners, vec!["0.0.0.0:1999".parse().unwrap()]);
        assert_eq!(config.persistence, Some(PathBuf::from("mqlite.db")));
        let Ok(Parsed::Run(options)) = parse(&["--no-persist"]) else {
            panic!()
        };
        assert_eq!(build_config(&options).unwrap().persistence, None);
    }

    #[test]
    fn bad_options_are_named() {
        let Err(message) = parse(&["--port", "http"]) else {
            panic!()
        };
        assert!(message.contains("--port"));
        let Err(message) = parse(&["--frobnicate"]) else {
            panic!()
        };
        assert!(message.contains("--frobnicate"));
        let Err(message) = parse(&["-p"]) else {
            panic!()
        };
        assert!(message.contains("needs a value"));
    }
}
