//! `mqlite`: the standalone broker, for people used to `mosquitto`.
//!
//! Reads options (and optionally a TOML file), runs the broker on the main
//! thread, and stops cleanly on SIGINT / SIGTERM.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;

use mqlite::{Broker, Config};

const USAGE: &str = "\
mqlite — an embeddable MQTT 3.1/3.1.1 broker

Usage: mqlite [OPTIONS]

Options:
  -p, --port PORT      port to listen on                     [default: 1883]
      --bind HOST      IP address or host name to listen on  [default: 127.0.0.1]
                       (a name gets a listener on every address it resolves
                       to, as with mosquitto: localhost -> 127.0.0.1 and ::1)
  -c, --config FILE    TOML file with any of the keys below  [default: none]
      --db PATH        SQLite file for sessions and retained  [default: mqlite.db]
      --no-persist     keep everything in memory only         [default: off]
      --fresh-db       move an existing --db file aside and start empty
      --password-file FILE   mosquitto_passwd file               [default: none]
      --acl-file FILE        mosquitto ACL file                  [default: none]
      --allow-anonymous true|false  clients without a user name  [default: true without a password file]
  -v, --verbose        log every connection (with its user name) and
                       packet error                          [default: off]
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
    bind: Option<String>,
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
                if text.is_empty() {
                    return Err("invalid --bind ``: expected an IP address or a host name".into());
                }
                options.bind = Some(text);
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
        let port = options
            .port
            .or(current.map(|addr| addr.port()))
            .unwrap_or(1883);
        config.listeners = match &options.bind {
            Some(host) => resolve(host, port)?,
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

/// The listeners for `--bind HOST`: an IP address as it is, a host name
/// resolved to every address it has (in the resolver's order, without
/// repeats), as mosquitto binds them all.
fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, mqlite::Error> {
    let invalid = |reason: String| mqlite::Error::Config {
        field: "--bind".to_string(),
        reason,
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let resolved = (host, port).to_socket_addrs().map_err(|error| {
        invalid(format!(
            "`{host}` is neither an IP address nor a host name that resolves: {error}"
        ))
    })?;
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for addr in resolved {
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        return Err(invalid(format!("`{host}` resolves to no address")));
    }
    Ok(addrs)
}

/// The line mosquitto logs for an accepted client:
/// `New client connected from 127.0.0.1:50000 as ID (p2, c1, u'name').`
/// (`p2` is MQTT 3.1.1, `p1` 3.1; `c` the clean session flag; `u` the user
/// name, left out for an anonymous client).
fn connected_line(event: &mqlite::Event<'_>) -> Option<String> {
    let mqlite::Event::Connected {
        client,
        protocol,
        clean_session,
        ..
    } = event
    else {
        return None;
    };
    let level = match protocol {
        mqlite::codec::Protocol::V31 => 1,
        mqlite::codec::Protocol::V311 => 2,
    };
    let user = client
        .username
        .map(|name| format!(", u'{name}'"))
        .unwrap_or_default();
    Some(format!(
        "New client connected from {} as {} (p{level}, c{}{user}).",
        client.peer,
        client.client_id,
        u8::from(*clean_session)
    ))
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

    if options.verbose {
        broker.set_event_hook(|event| {
            if let Some(line) = connected_line(event) {
                log::info!("{line}");
            }
        });
    }

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
    fn bind_takes_a_host_name() {
        let Ok(Parsed::Run(options)) = parse(&["--bind", "localhost", "-p", "0"]) else {
            panic!()
        };
        let config = build_config(&options).unwrap();
        assert!(!config.listeners.is_empty());
        assert!(
            config
                .listeners
                .iter()
                .all(|addr| addr.ip().is_loopback() && addr.port() == 0),
            "{:?}",
            config.listeners
        );
        let Ok(Parsed::Run(options)) = parse(&["--bind", "::1"]) else {
            panic!()
        };
        let config = build_config(&options).unwrap();
        assert_eq!(config.listeners, vec!["[::1]:1883".parse().unwrap()]);
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
