//! The command line, parsed by clap. `--help` is generated from the
//! options below, followed by the config file's keys; a bad option is
//! reported in mqlite's own words (`mqlite: unknown option ...`), the same
//! whichever parser reads it.

use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, CommandFactory, FromArgMatches, Parser};

use crate::config_file::{
    BRIDGE_KEYS, BRIDGE_TOPIC_KEYS, CONFIG_FILE_KEYS, LISTENER_KEYS, MQTTSN_KEYS, MQTTSN_TOPIC_KEYS,
};

/// What the command line asked for.
#[derive(Parser, Debug)]
#[command(
    name = "mqlite",
    version,
    about = "mqlite — an embeddable MQTT 3.1/3.1.1/5.0 broker",
    disable_help_flag = true,
    disable_version_flag = true,
    // A repeated option takes its last value, as before clap.
    args_override_self = true
)]
pub struct Options {
    /// port to listen on (0: any free port)  [default: 1883]
    #[arg(short = 'p', long = "port", value_name = "PORT", value_parser = port)]
    pub port: Option<u16>,
    /// IP address or host name to listen on  [default: 127.0.0.1]
    /// (a name gets a listener on every address it resolves to,
    /// as with mosquitto: localhost -> 127.0.0.1 and ::1)
    #[arg(long = "bind", value_name = "HOST", value_parser = bind, verbatim_doc_comment)]
    pub bind: Option<String>,
    /// MQTT-SN gateway on this UDP port (0: any free port), on the --bind
    /// host, else 0.0.0.0 and ::; replaces the file's [mqttsn] listen
    /// addresses, keeps its other keys  [default: no gateway]
    #[arg(long = "mqttsn-port", value_name = "PORT", value_parser = mqttsn_port, verbatim_doc_comment)]
    pub mqttsn_port: Option<u16>,
    /// config file: TOML with any of the keys below,
    /// or a mosquitto.conf (see docs/CONFIG.md)  [default: none]
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        verbatim_doc_comment
    )]
    pub config_file: Option<PathBuf>,
    /// SQLite file for sessions and retained  [default: mqlite.db]
    #[arg(long = "db", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// keep everything in memory only  [default: off]
    #[arg(long = "no-persist")]
    pub no_persist: bool,
    /// move an existing --db file aside and start empty
    #[arg(long = "fresh-db")]
    pub fresh_db: bool,
    /// mosquitto_passwd file  [default: none]
    #[arg(long = "password-file", value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// mosquitto ACL file  [default: none]
    #[arg(long = "acl-file", value_name = "FILE")]
    pub acl_file: Option<PathBuf>,
    /// clients without a user name
    /// [default: true without a password file]
    #[arg(
        long = "allow-anonymous",
        value_name = "true|false",
        value_parser = true_or_false,
        verbatim_doc_comment
    )]
    pub allow_anonymous: Option<bool>,
    /// log every connection and packet error  [default: off]
    /// (with user names; RUST_LOG, as env_logger reads it, adjusts levels)
    #[arg(short = 'v', long = "verbose", verbatim_doc_comment)]
    pub verbose: bool,
}

/// What to do after reading the command line.
pub enum Parsed {
    /// Run the broker.
    Run(Options),
    /// Print this to stdout and exit successfully (`--help`, `--version`).
    Exit(String),
}

/// Reads the command line (without the program name).
///
/// # Errors
/// A one-line message naming the option at fault, for `mqlite: MESSAGE`.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    // Help and version are added here, in mqlite's words and last, rather
    // than as fields nothing would read.
    let command = Options::command()
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("print this help"),
        )
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("print the version"),
        )
        .after_help(after_help());
    let matches = command.try_get_matches_from(std::iter::once("mqlite".to_string()).chain(args));
    match matches.and_then(|matches| Options::from_arg_matches(&matches)) {
        Ok(options) => Ok(Parsed::Run(options)),
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            Ok(Parsed::Exit(error.to_string()))
        }
        Err(error) => Err(message(&error)),
    }
}

/// The text after the options in `--help`: how the file and the options
/// combine, and the file's keys with their defaults.
fn after_help() -> String {
    let mut text = String::from(
        "Command-line options override the file (-p / --bind replace its plain\n\
         listeners). SIGINT or SIGTERM stops the broker cleanly; SIGHUP reloads the\n\
         password file, the ACL file and the TLS certificates, and reopens log files.\n\
         `mqlite passwd [-c | -D] [-b] FILE USER [PASSWORD]` writes a password file as\n\
         mosquitto_passwd does (`mqlite passwd -h` for its options).\n\
         \n\
         Config file keys (TOML) and their defaults:\n",
    );
    for (key, default) in CONFIG_FILE_KEYS {
        text.push_str(&format!("  {key:<28} {default}\n"));
    }
    text.push_str("\nKeys of a [[listener]] table:\n");
    for (key, default) in LISTENER_KEYS {
        text.push_str(&format!("  {key:<28} {default}\n"));
    }
    text.push_str("\nKeys of a [[bridge]] table:\n");
    for (key, default) in BRIDGE_KEYS {
        text.push_str(&format!("  {key:<28} {default}\n"));
    }
    text.push_str("\nKeys of an entry of a bridge's topics:\n");
    for (key, default) in BRIDGE_TOPIC_KEYS {
        text.push_str(&format!("  {key:<28} {default}\n"));
    }
    text.push_str("\nKeys of the [mqttsn] table (the MQTT-SN gateway, docs/MQTTSN.md):\n");
    for (key, default) in MQTTSN_KEYS {
        text.push_str(&format!("  {key:<28} {default}\n"));
    }
    text.push_str("\nKeys of an entry of the gateway's predefined_topics:\n");
    for (key, default) in MQTTSN_TOPIC_KEYS {
        text.push_str(&format!("  {key:<28} {default}\n"));
    }
    text.push_str(
        "\nA file whose first setting is a mosquitto option (`listener 1883`, `port`,\n\
         `password_file`...) is read as mosquitto.conf; docs/CONFIG.md lists the\n\
         options supported, skipped and refused.\n",
    );
    text
}

/// A clap error in mqlite's words: clap's own text spans several lines and
/// quotes differently, and scripts and tests match on these.
fn message(error: &clap::Error) -> String {
    // clap names an option with its value: `--port <PORT>`.
    let option = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg.split_whitespace().next().unwrap_or("").to_string(),
        _ => String::new(),
    };
    match error.kind() {
        ErrorKind::UnknownArgument => format!("unknown option `{option}` (see --help)"),
        ErrorKind::InvalidValue => format!("option {option} needs a value"),
        ErrorKind::ValueValidation => match std::error::Error::source(error) {
            Some(reason) => reason.to_string(),
            None => format!("invalid value for {option}"),
        },
        _ => {
            let text = error.render().to_string();
            let first = text.lines().next().unwrap_or("bad command line");
            first.trim_start_matches("error: ").to_string()
        }
    }
}

fn port(text: &str) -> Result<u16, String> {
    text.parse()
        .map_err(|_| format!("invalid --port `{text}`: expected a number 0-65535"))
}

fn mqttsn_port(text: &str) -> Result<u16, String> {
    text.parse()
        .map_err(|_| format!("invalid --mqttsn-port `{text}`: expected a number 0-65535"))
}

fn bind(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("invalid --bind ``: expected an IP address or a host name".into());
    }
    Ok(text.to_string())
}

fn true_or_false(text: &str) -> Result<bool, String> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!(
            "invalid --allow-anonymous `{text}`: expected true or false"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Options {
        match parse(args.iter().map(|s| s.to_string())) {
            Ok(Parsed::Run(options)) => options,
            Ok(Parsed::Exit(text)) => panic!("exit: {text}"),
            Err(message) => panic!("{message}"),
        }
    }

    fn error(args: &[&str]) -> String {
        match parse(args.iter().map(|s| s.to_string())) {
            Err(message) => message,
            Ok(_) => panic!("{args:?} accepted"),
        }
    }

    #[test]
    fn clap_accepts_the_command() {
        Options::command().debug_assert();
    }

    #[test]
    fn options_parse() {
        let options = run(&[
            "-p",
            "1999",
            "--bind=0.0.0.0",
            "-v",
            "--allow-anonymous",
            "false",
        ]);
        assert_eq!(options.port, Some(1999));
        assert_eq!(options.bind.as_deref(), Some("0.0.0.0"));
        assert_eq!(options.allow_anonymous, Some(false));
        assert!(options.verbose);
        assert!(!options.no_persist);
        // The last of a repeated option counts.
        assert_eq!(run(&["-p", "1", "--port=2"]).port, Some(2));
        assert_eq!(run(&["--mqttsn-port", "1884"]).mqttsn_port, Some(1884));
        assert_eq!(run(&[]).mqttsn_port, None);
    }

    #[test]
    fn bad_options_are_named_in_one_line() {
        assert_eq!(
            error(&["--port", "http"]),
            "invalid --port `http`: expected a number 0-65535"
        );
        assert_eq!(
            error(&["--frobnicate"]),
            "unknown option `--frobnicate` (see --help)"
        );
        assert_eq!(error(&["stray"]), "unknown option `stray` (see --help)");
        assert_eq!(error(&["-p"]), "option --port needs a value");
        assert_eq!(
            error(&["--mqttsn-port", "udp"]),
            "invalid --mqttsn-port `udp`: expected a number 0-65535"
        );
        assert_eq!(
            error(&["--mqttsn-port", "65536"]),
            "invalid --mqttsn-port `65536`: expected a number 0-65535"
        );
        assert_eq!(
            error(&["--mqttsn-port"]),
            "option --mqttsn-port needs a value"
        );
        assert_eq!(error(&["-c"]), "option --config needs a value");
        assert_eq!(
            error(&["--bind="]),
            "invalid --bind ``: expected an IP address or a host name"
        );
        assert_eq!(
            error(&["--allow-anonymous", "yes"]),
            "invalid --allow-anonymous `yes`: expected true or false"
        );
    }

    #[test]
    fn help_and_version_exit() {
        let Ok(Parsed::Exit(help)) = parse(["--help".to_string()]) else {
            panic!()
        };
        assert!(
            help.contains("--no-persist")
                && help.contains("max_inflight ")
                && help.contains("--mqttsn-port")
                && help.contains("max_registered_topics "),
            "{help}"
        );
        let Ok(Parsed::Exit(short)) = parse(["-h".to_string()]) else {
            panic!()
        };
        assert_eq!(short, help);
        let Ok(Parsed::Exit(version)) = parse(["-V".to_string()]) else {
            panic!()
        };
        assert_eq!(version, format!("mqlite {}\n", env!("CARGO_PKG_VERSION")));
    }
}
