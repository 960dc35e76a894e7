//! `mqlite`: the standalone broker, for people used to `mosquitto`.
//!
//! Reads options (`args`) and optionally a TOML file (`config_file`),
//! installs a logger (`logging`), runs the broker on the main thread, and
//! stops cleanly on SIGINT / SIGTERM (`signals`). All of this is the
//! binary's: the library links none of these crates.
//!
//! Once listening it writes one line per bound address to stderr, whatever
//! the log levels, for scripts that start it on port 0:
//! `mqlite: listening on 127.0.0.1:40123` (`[::1]:40123` for IPv6).

mod args;
mod config_file;
mod logging;
mod signals;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use args::{Options, Parsed};
use mqlite::{Broker, Config};

/// The config the options describe: the file's, or the defaults, with the
/// options on top.
fn build_config(options: &Options) -> Result<Config, mqlite::Error> {
    let mut config = match &options.config_file {
        Some(path) => config_file::from_toml_file(path)?,
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
        let port = options
            .port
            .or(current.map(|addr| addr.port()))
            .unwrap_or(1883);
        config.listeners = match &options.bind {
            Some(host) => {
                config_file::resolve_bind(host, port).map_err(|reason| mqlite::Error::Config {
                    field: "--bind".to_string(),
                    reason,
                })?
            }
            None => {
                let ip = current
                    .map(|addr| addr.ip())
                    .unwrap_or(IpAddr::from([127, 0, 0, 1]));
                vec![SocketAddr::new(ip, port)]
            }
        };
    }
    config.validate()?;
    Ok(config)
}

fn main() -> ExitCode {
    let options = match args::parse(std::env::args().skip(1)) {
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
    logging::init(options.verbose);

    let config = match build_config(&options) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("mqlite: {error}");
            return ExitCode::from(2);
        }
    };
    let signals = signals::StopSignals::catch();
    let mut broker = match Broker::new(config) {
        Ok(broker) => broker,
        Err(error) => {
            eprintln!("mqlite: {error}");
            return ExitCode::FAILURE;
        }
    };
    for addr in broker.local_addrs() {
        eprintln!("mqlite: listening on {addr}");
    }

    if options.verbose {
        broker.set_event_hook(|event| {
            if let Some(line) = logging::connected_line(event) {
                log::info!("{line}");
            }
        });
    }
    signals.stop(broker.handle());

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

    fn try_config(args: &[&str]) -> Result<Config, mqlite::Error> {
        match args::parse(args.iter().map(|s| s.to_string())) {
            Ok(Parsed::Run(options)) => build_config(&options),
            _ => panic!("{args:?} not parsed"),
        }
    }

    #[test]
    fn options_make_the_config() {
        let config = config_of(&["-p", "1999", "--bind=0.0.0.0", "-v"]);
        assert_eq!(config.listeners, vec!["0.0.0.0:1999".parse().unwrap()]);
        assert_eq!(config.persistence, Some(PathBuf::from("mqlite.db")));
        assert_eq!(config_of(&["--no-persist"]).persistence, None);
        let error = try_config(&["--no-persist", "--db", "x.db"]).unwrap_err();
        assert!(error.to_string().contains("--no-persist"), "{error}");
    }

    fn config_of(args: &[&str]) -> Config {
        try_config(args).unwrap()
    }

    #[test]
    fn bind_takes_a_host_name() {
        let config = config_of(&["--bind", "localhost", "-p", "0"]);
        assert!(!config.listeners.is_empty());
        assert!(
            config
                .listeners
                .iter()
                .all(|addr| addr.ip().is_loopback() && addr.port() == 0),
            "{:?}",
            config.listeners
        );
        let config = config_of(&["--bind", "::1"]);
        assert_eq!(config.listeners, vec!["[::1]:1883".parse().unwrap()]);
    }
}
