//! The `mqlite` binary's config file (`-c FILE`): its keys are applied,
//! the command line overrides it, and bad values (or a missing or
//! unparsable file) exit non-zero naming the key or the file.

mod support;

use std::net::TcpStream;
use std::time::Duration;

use mqlite::QoS;
use support::cli::{addr, free_port, mqlite_exits, Mqlite};
use support::{RawClient, TempDir};

mod config_file {
    use super::*;

    #[test]
    fn bad_config_values_exit_non_zero_naming_the_key() {
        let dir = TempDir::new("badconf");
        for (text, name) in [
            ("max_inflight = 0\n", "max_inflight"),
            ("max_inflght = 3\n", "max_inflght"),
            ("connect_timeout = \"soon\"\n", "connect_timeout"),
            ("listeners = [\"nowhere\"]\n", "listeners"),
            ("max_packet_size = 1\n", "max_packet_size"),
            ("max_pending_output = 10\n", "max_pending_output"),
            ("port = 99999\n", "port"),
        ] {
            let file = dir.file("bad.toml", text);
            let output = mqlite_exits(&["-c", file.to_str().unwrap(), "--no-persist"], &dir.0);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!output.status.success(), "{text:?} accepted");
            assert!(
                stderr.contains(name),
                "{text:?}: stderr does not name {name}: {stderr}"
            );
        }
        let output = mqlite_exits(&["-c", "/nonexistent/mqlite.toml", "--no-persist"], &dir.0);
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/mqlite.toml"));
        let file = dir.file("syntax.toml", "max_inflight = = 3\n");
        let output = mqlite_exits(&["-c", file.to_str().unwrap(), "--no-persist"], &dir.0);
        assert!(!output.status.success());
    }

    #[test]
    fn config_file_is_applied() {
        let dir = TempDir::new("conf");
        let port = free_port();
        let file = dir.file(
            "mqlite.toml",
            &format!(
                "port = {port}\nconnect_timeout = 1\nsys_interval = 0\nmax_packet_size = 2048\n"
            ),
        );
        let file = file.to_str().unwrap().to_string();
        let broker = Mqlite::start_exact(&["-c", &file, "--no-persist"], port, dir);
        // connect_timeout = 1 (the default is 10 s).
        let mut silent = RawClient::open(broker.addr());
        silent.expect_closed();
        // max_packet_size = 2048.
        let mut big = RawClient::open(broker.addr());
        big.connect("big", true, 60);
        big.publish("t", &[0u8; 4096], QoS::AtMostOnce, false);
        big.expect_closed();
    }

    #[test]
    fn command_line_overrides_the_file() {
        let dir = TempDir::new("override");
        let file_port = free_port();
        let cli_port = free_port();
        let file = dir.file("mqlite.toml", &format!("port = {file_port}\n"));
        let file = file.to_str().unwrap().to_string();
        let broker = Mqlite::start_exact(
            &["-c", &file, "-p", &cli_port.to_string(), "--no-persist"],
            cli_port,
            dir,
        );
        assert!(TcpStream::connect_timeout(&addr(file_port), Duration::from_millis(500)).is_err());
        let mut c = RawClient::open(broker.addr());
        c.connect("override", true, 60);
        c.ping();
    }
}
