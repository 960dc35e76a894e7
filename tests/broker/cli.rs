//! The `mqlite` binary's command-line options: `--help` lists every option
//! and config key, `--version`, bad options exit non-zero naming the
//! option, a port in use names the address, `-v` logs connections. The
//! config file (`-c`) is in `broker_cli_config.rs` (TOML) and
//! `broker_cli_mosquitto_conf.rs` (mosquitto.conf), signals in
//! `broker_cli_signals.rs`, Debian's mosquitto clients against the binary
//! in `broker_cli_mosquitto.rs`, `--password-file` / `--acl-file` in
//! `broker_cli_access.rs`.

use crate::support;

use std::net::TcpListener;

use support::cli::{mqlite_exits, Mqlite};
use support::{RawClient, TempDir, TIMEOUT};

mod options {
    use super::*;

    /// The options the binary's clap parser declares (`short = 'x'`,
    /// `long = "xx"`, `.short('x')`, `.long("xx")`), read from its source
    /// so that a new option must be documented.
    fn parsed_options() -> Vec<String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/bin/mqlite/args.rs");
        let source = std::fs::read_to_string(path).expect("read src/bin/mqlite/args.rs");
        let mut options = Vec::new();
        for (marker, dashes, quote) in [
            ("short = '", "-", '\''),
            (".short('", "-", '\''),
            ("long = \"", "--", '"'),
            (".long(\"", "--", '"'),
        ] {
            for (at, _) in source.match_indices(marker) {
                let rest = &source[at + marker.len()..];
                if let Some(end) = rest.find(quote) {
                    options.push(format!("{dashes}{}", &rest[..end]));
                }
            }
        }
        options
    }

    /// The field names of `struct NAME { ... }` in a source file.
    fn struct_fields(path: &str, name: &str) -> Vec<String> {
        let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        let start = source
            .find(&format!("struct {name} {{"))
            .unwrap_or_else(|| panic!("struct {name} not found in {path}"));
        let body = &source[start..];
        let body = &body[..body.find("\n}").expect("end of struct")];
        body.lines()
            .skip(1)
            .map(str::trim)
            .filter(|line| !line.starts_with("//") && !line.starts_with('#'))
            .filter_map(|line| line.strip_prefix("pub ").unwrap_or(line).split_once(':'))
            .map(|(field, _)| field.trim().to_string())
            .collect()
    }

    #[test]
    fn help_lists_every_option_and_key() {
        let dir = TempDir::new("help");
        let output = mqlite_exits(&["--help"], &dir.0);
        assert!(output.status.success(), "{output:?}");
        let help = String::from_utf8(output.stdout).unwrap();
        let mut options: Vec<String> = [
            "-p",
            "--port",
            "--bind",
            "-c",
            "--config",
            "--db",
            "--no-persist",
            "--fresh-db",
            "--password-file",
            "--acl-file",
            "--allow-anonymous",
            "-v",
            "--verbose",
            "-h",
            "--help",
            "-V",
            "--version",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let parsed = parsed_options();
        assert!(
            parsed.len() >= 12,
            "option parser not understood: {parsed:?}"
        );
        options.extend(parsed);
        for option in &options {
            let listed = help
                .split(|c: char| c.is_whitespace() || c == ',')
                .any(|word| word == option);
            assert!(listed, "--help lacks `{option}`:\n{help}");
        }
        // `Config::custom_listeners` and `Config::bridges` are the file's
        // `[[listener]]` and `[[bridge]]` tables, whose keys are listed too.
        let mut keys: Vec<String> = struct_fields(
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/config.rs"),
            "Config",
        )
        .into_iter()
        .map(|key| match key.as_str() {
            "custom_listeners" => "listener".to_string(),
            "bridges" => "bridge".to_string(),
            _ => key,
        })
        .collect();
        keys.extend(struct_fields(
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/bin/mqlite/config_file.rs"),
            "FileConfig",
        ));
        let table_keys = struct_fields(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/bin/mqlite/toml_listener.rs"
            ),
            "ListenerTable",
        );
        assert!(
            table_keys.contains(&"socket_mode".to_string()),
            "{table_keys:?}"
        );
        keys.extend(table_keys);
        let bridge = concat!(env!("CARGO_MANIFEST_DIR"), "/src/bin/mqlite/toml_bridge.rs");
        let bridge_keys = struct_fields(bridge, "BridgeTable");
        assert!(
            bridge_keys.contains(&"restart_timeout_cap".to_string()),
            "{bridge_keys:?}"
        );
        keys.extend(bridge_keys);
        keys.extend(struct_fields(bridge, "TopicTable"));
        let mqttsn = concat!(env!("CARGO_MANIFEST_DIR"), "/src/bin/mqlite/toml_mqttsn.rs");
        let mqttsn_keys = struct_fields(mqttsn, "MqttSnTable");
        assert!(
            mqttsn_keys.contains(&"max_registered_topics".to_string()),
            "{mqttsn_keys:?}"
        );
        keys.extend(mqttsn_keys);
        keys.extend(struct_fields(mqttsn, "PredefinedTopicTable"));
        assert!(keys.contains(&"max_inflight".to_string()), "{keys:?}");
        for key in &keys {
            let listed = help
                .lines()
                .any(|line| line.split_whitespace().next() == Some(key.as_str()));
            assert!(listed, "--help lacks config key `{key}`:\n{help}");
        }
        let short = mqlite_exits(&["-h"], &dir.0);
        assert_eq!(String::from_utf8(short.stdout).unwrap(), help);
    }

    #[test]
    fn version() {
        let dir = TempDir::new("version");
        let output = mqlite_exits(&["--version"], &dir.0);
        assert!(output.status.success());
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
        assert_eq!(mqlite_exits(&["-V"], &dir.0).stdout, text.as_bytes());
    }

    #[test]
    fn bad_options_exit_non_zero_naming_the_option() {
        let dir = TempDir::new("badopt");
        for (args, name) in [
            (&["--frobnicate"][..], "--frobnicate"),
            (&["-x"][..], "-x"),
            (&["-p", "http"][..], "--port"),
            (&["-p", "70000"][..], "--port"),
            (&["--mqttsn-port", "udp"][..], "--mqttsn-port"),
            (&["--port"][..], "--port"),
            (&["--bind", "not-an-ip"][..], "--bind"),
            (&["-c"][..], "--config"),
            (&["--no-persist", "--db", "x.db"][..], "--no-persist"),
        ] {
            let output = mqlite_exits(args, &dir.0);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!output.status.success(), "{args:?} succeeded");
            assert!(
                stderr.contains(name),
                "{args:?}: stderr does not name {name}: {stderr}"
            );
        }
        // Nothing was created in the working directory.
        assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
    }

    #[test]
    fn port_in_use_fails_naming_the_address() {
        let dir = TempDir::new("inuse");
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port().to_string();
        let output = mqlite_exits(&["-p", &port, "--no-persist"], &dir.0);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&port), "{stderr}");
    }

    #[test]
    fn verbose_logs_connections() {
        let mut loud = Mqlite::start(&["-v"]);
        let mut quiet = Mqlite::start(&[]);
        for broker in [&loud, &quiet] {
            let mut c = RawClient::open(broker.addr());
            c.connect_with(
                &support::ConnectOptions::new("verbose-probe-client")
                    .keepalive(60)
                    .credentials("verbose-user", b"pw"),
            );
            c.disconnect();
        }
        // As mosquitto says it, with the user name.
        let line = "as verbose-probe-client (p2, c1, k60, u'verbose-user').";
        support::wait_until(TIMEOUT, "-v logging the client id and user name", || {
            loud.stderr().contains(line)
        });
        assert!(
            loud.stderr()
                .contains("New client connected from 127.0.0.1:"),
            "{}",
            loud.stderr()
        );
        for broker in [&mut loud, &mut quiet] {
            broker.signal(libc::SIGTERM);
            assert!(broker.wait().success());
        }
        assert!(
            !quiet.stderr().contains("verbose-probe-client"),
            "logged without -v: {}",
            quiet.stderr()
        );
    }
}
