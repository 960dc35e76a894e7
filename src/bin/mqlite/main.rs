//! `mqlite`: the standalone broker, for people used to `mosquitto`.
//!
//! Reads options (`args`) and optionally a config file (`settings`: TOML,
//! `config_file`, or mosquitto.conf, `mosquitto/`), installs a logger
//! (`logging`), runs the broker on the main thread, stops cleanly on
//! SIGINT / SIGTERM and reloads the password, ACL and certificate files on
//! SIGHUP (`signals`), and reports its heap under `$SYS` (`heap`).
//! `mqlite passwd ...` manages a password file instead, as
//! mosquitto_passwd does (`passwd`, `passwd_file`). All of this is the
//! binary's: the library links none of these crates.
//!
//! Once listening it writes one line per bound address to stderr, whatever
//! the log levels, for scripts that start it on port 0:
//! `mqlite: listening on 127.0.0.1:40123` (`[::1]:40123` for IPv6); a TLS
//! or WebSocket listener's line ends with its scheme (`(mqtts)`), a Unix
//! socket's is `mqlite: listening on unix:PATH`. The MQTT-SN gateway's
//! UDP addresses follow, one a line: `mqlite: mqtt-sn gateway on udp
//! 0.0.0.0:1884`.

mod args;
mod config_file;
mod heap;
mod logging;
mod mosquitto;
mod passwd;
mod passwd_file;
mod settings;
mod signals;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use args::{Options, Parsed};
use mqlite::{Broker, Config, ListenAddress, Listener};
use settings::{FileSettings, Syntax};

/// Why the binary does not start: the message, and the exit status (2: the
/// command line, 1: the config file or the broker).
struct Refusal {
    status: u8,
    error: mqlite::Error,
}

/// The settings the options describe: the file's, or the defaults, with
/// the options on top.
fn build_settings(options: &Options) -> Result<FileSettings, Refusal> {
    let mut settings = match &options.config_file {
        Some(path) => settings::load(path).map_err(|error| Refusal { status: 1, error })?,
        None => FileSettings::from_config(Config::default()),
    };
    apply_options(options, &mut settings.config, settings.syntax)
        .map_err(|error| Refusal { status: 2, error })?;
    Ok(settings)
}

/// The command line on top of the file.
fn apply_options(
    options: &Options,
    config: &mut Config,
    syntax: Syntax,
) -> Result<(), mqlite::Error> {
    // The standalone broker is durable by default; a mosquitto.conf says
    // itself (`persistence true`), as mosquitto's default is memory only.
    if syntax == Syntax::Toml && config.persistence.is_none() {
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
    // -p / --bind replace the plain listeners; the file's listeners with
    // settings of their own stay.
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
    // --mqttsn-port turns the gateway on (the file's other [mqttsn] keys
    // stay) and says where it listens, as -p does for TCP.
    if let Some(port) = options.mqttsn_port {
        let listen = match &options.bind {
            Some(host) => {
                config_file::resolve_bind(host, port).map_err(|reason| mqlite::Error::Config {
                    field: "--bind".to_string(),
                    reason,
                })?
            }
            None => config_file::mqttsn_every_address(port),
        };
        config.mqttsn.get_or_insert_with(Default::default).listen = listen;
    }
    config.validate()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|first| first == "passwd") {
        return passwd::main(&args[1..]);
    }
    let options = match args::parse(args) {
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
    let mut settings = match build_settings(&options) {
        Ok(settings) => settings,
        Err(refusal) => {
            eprintln!("mqlite: {}", refusal.error);
            return ExitCode::from(refusal.status);
        }
    };
    if let Err(message) = logging::init(&settings.log, options.verbose) {
        eprintln!("mqlite: {message}");
        return ExitCode::FAILURE;
    }
    for warning in &settings.warnings {
        log::warn!("{warning}");
    }
    if let Some(warning) = settings::foreign_store(&mut settings.config) {
        log::warn!("{warning}");
    }

    let signals = signals::Signals::catch();
    let reloaded = signals::reloaded_files(&settings.config);
    let custom = settings.config.custom_listeners.clone();
    let mut broker = match Broker::new(settings.config) {
        Ok(broker) => broker,
        Err(error) => {
            eprintln!("mqlite: {error}");
            return ExitCode::FAILURE;
        }
    };
    heap::install(&mut broker);
    for addr in broker.local_addrs() {
        eprintln!("mqlite: listening on {addr}");
    }
    for (listener, bound) in custom.iter().zip(broker.custom_local_addrs()) {
        eprintln!("mqlite: listening on {}", listening(listener, bound));
    }
    for addr in broker.mqttsn_addrs() {
        eprintln!("mqlite: mqtt-sn gateway on udp {addr}");
    }
    if let Some(path) = &settings.pid_file {
        if let Err(error) = std::fs::write(path, format!("{}\n", std::process::id())) {
            eprintln!("mqlite: cannot write pid_file {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
    }

    let connections = settings.connection_messages.unwrap_or(false) || options.verbose;
    let log = settings.log.clone();
    if connections || log.subscriptions || log.unsubscriptions {
        broker.set_event_hook(move |event| {
            let line = if connections {
                logging::connected_line(event).or_else(|| logging::disconnected_line(event))
            } else {
                None
            };
            if let Some(line) = line.or_else(|| logging::subscription_line(event, &log)) {
                log::info!("{line}");
            }
        });
    }
    signals.serve(broker.handle(), reloaded);

    let status = match broker.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mqlite: {error}");
            ExitCode::FAILURE
        }
    };
    if let Some(path) = &settings.pid_file {
        remove_pid_file(path);
    }
    status
}

/// A custom listener's `listening on` text: the bound address, with the
/// scheme unless plain MQTT; `unix:PATH` for a Unix socket.
fn listening(listener: &Listener, bound: Option<SocketAddr>) -> String {
    let scheme = match (listener.websocket, listener.tls.is_some()) {
        (false, false) => "",
        (false, true) => " (mqtts)",
        (true, false) => " (ws)",
        (true, true) => " (wss)",
    };
    match (&listener.address, bound) {
        (_, Some(addr)) => format!("{addr}{scheme}"),
        (ListenAddress::Unix(unix), None) => format!("unix:{}{scheme}", unix.path.display()),
        (ListenAddress::Tcp(addr), None) => format!("{addr}{scheme}"),
    }
}

fn remove_pid_file(path: &Path) {
    if let Err(error) = std::fs::remove_file(path) {
        log::warn!("cannot remove pid_file {}: {error}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_config(args: &[&str]) -> Result<Config, mqlite::Error> {
        match args::parse(args.iter().map(|s| s.to_string())) {
            Ok(Parsed::Run(options)) => build_settings(&options)
                .map(|settings| settings.config)
                .map_err(|refusal| refusal.error),
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

    #[test]
    fn mqttsn_port_turns_the_gateway_on() {
        assert_eq!(config_of(&[]).mqttsn, None);
        let gateway = config_of(&["--mqttsn-port", "0"]).mqttsn.unwrap();
        assert_eq!(
            gateway.listen,
            vec!["0.0.0.0:0".parse().unwrap(), "[::]:0".parse().unwrap()]
        );
        assert_eq!(
            gateway,
            mqlite::MqttSnGateway {
                listen: gateway.listen.clone(),
                ..Default::default()
            }
        );
        let gateway = config_of(&["--bind", "127.0.0.1", "--mqttsn-port", "10884"])
            .mqttsn
            .unwrap();
        assert_eq!(gateway.listen, vec!["127.0.0.1:10884".parse().unwrap()]);
        // The file's listen addresses give way; its other keys stay.
        let dir = std::env::temp_dir().join(format!("mqlite-sn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("sn.toml");
        std::fs::write(
            &file,
            "[mqttsn]\nlisten = [\"127.0.0.1:7\"]\ngateway_id = 9\n",
        )
        .unwrap();
        let config = config_of(&["-c", file.to_str().unwrap(), "--mqttsn-port", "8"]);
        let _ = std::fs::remove_dir_all(&dir);
        let gateway = config.mqttsn.unwrap();
        assert_eq!(gateway.gateway_id, 9);
        assert_eq!(
            gateway.listen,
            vec!["0.0.0.0:8".parse().unwrap(), "[::]:8".parse().unwrap()]
        );
    }

    fn config_of(args: &[&str]) -> Config {
        try_config(args).unwrap()
    }

    #[test]
    fn the_systemd_unit_starts_the_binary_with_options_it_knows() {
        let unit = include_str!("../../../contrib/mqlite.service");
        let exec = unit
            .lines()
            .find_map(|line| line.strip_prefix("ExecStart="))
            .expect("an ExecStart line");
        let mut words = exec.split_whitespace();
        assert_eq!(words.next(), Some("/usr/local/bin/mqlite"));
        match args::parse(words.map(str::to_string)) {
            Ok(Parsed::Run(options)) => {
                assert_eq!(
                    options.config_file,
                    Some(PathBuf::from("/etc/mqlite/mqlite.toml"))
                )
            }
            _ => panic!("{exec}"),
        }
        assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
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

    #[test]
    fn a_mosquitto_conf_keeps_no_file_unless_told_and_options_override_it() {
        let dir = std::env::temp_dir().join(format!("mqlite-main-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("mosquitto.conf");
        std::fs::write(
            &file,
            "listener 1883 127.0.0.1\nlistener 8883 127.0.0.1\ncertfile c.pem\nkeyfile k.pem\n",
        )
        .unwrap();
        let file = file.to_str().unwrap();
        let config = config_of(&["-c", file]);
        assert_eq!(config.persistence, None);
        assert_eq!(config.listeners, vec!["127.0.0.1:1883".parse().unwrap()]);
        assert_eq!(config.custom_listeners.len(), 1);
        // -p replaces the plain listeners and keeps the TLS one.
        let config = config_of(&["-c", file, "-p", "0", "--db", "x.db"]);
        assert_eq!(config.listeners, vec!["127.0.0.1:0".parse().unwrap()]);
        assert_eq!(config.custom_listeners.len(), 1);
        assert_eq!(config.persistence, Some(PathBuf::from("x.db")));
        // A refused option exits 1, the command line's faults 2.
        std::fs::write(dir.join("bad.conf"), "port 1883\nconnection b\n").unwrap();
        let options = match args::parse(["-c".to_string(), format!("{}/bad.conf", dir.display())]) {
            Ok(Parsed::Run(options)) => options,
            _ => panic!(),
        };
        let refusal = build_settings(&options).err().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(refusal.status, 1);
        assert!(
            refusal
                .error
                .to_string()
                .ends_with("bad.conf: line 2: `connection`: bridge `b` has no `address` line; mosquitto refuses this too"),
            "{}",
            refusal.error
        );
        let options = match args::parse(["--bind=no.such.host.invalid".to_string()]) {
            Ok(Parsed::Run(options)) => options,
            _ => panic!(),
        };
        assert_eq!(build_settings(&options).err().unwrap().status, 2);
    }
}
