//! The `mqlite` binary's config file (`-c FILE`): its keys are applied,
//! the command line overrides it, and bad values (or a missing or
//! unparsable file) exit non-zero naming the key or the file.

use crate::support;

use std::net::TcpListener;

use mqlite::QoS;
use support::cli::{mqlite_exits, Mqlite};
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
            ("[mqttsn]\nretry_interval = 0\n", "mqttsn.retry_interval"),
            ("[mqttsn]\nmax_client = 1\n", "max_client"),
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
        let file = dir.file(
            "mqlite.toml",
            "port = 0\nconnect_timeout = 1\nsys_interval = 0\nmax_packet_size = 2048\n",
        );
        let file = file.to_str().unwrap().to_string();
        let broker = Mqlite::start_in(&["-c", &file, "--no-persist"], dir);
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
        // The file names a port this test holds: a broker that used it
        // would fail to start.
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let file_port = held.local_addr().unwrap().port();
        let file = dir.file("mqlite.toml", &format!("port = {file_port}\n"));
        let file = file.to_str().unwrap().to_string();
        let broker = Mqlite::start_in(&["-c", &file, "-p", "0", "--no-persist"], dir);
        assert_ne!(broker.port, file_port);
        let mut c = RawClient::open(broker.addr());
        c.connect("override", true, 60);
        c.ping();
    }
}
