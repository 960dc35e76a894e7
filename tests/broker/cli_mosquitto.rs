//! Debian's `mosquitto_pub` / `mosquitto_sub` talking to the `mqlite`
//! binary: publish and subscribe, retained messages (`-r`), QoS 1 and 2,
//! a persistent `mosquitto_sub -c` session.
//!
//! The mosquitto clients come from the `mosquitto-clients` package
//! (scripts/test.sh installs it). When they are missing the tests that need
//! them fail, unless `MQLITE_SKIP_EXTERNAL=1` is set.

use crate::support;

use std::process::Command;

use support::cli::mosquitto::{mosquitto_pub, mosquitto_tools, publish_until_received, Sub};
use support::cli::{run, Mqlite};
use support::TIMEOUT;

mod mosquitto_clients {
    use super::*;

    #[test]
    fn sub_sees_pub_verbose() {
        let Some((pub_tool, sub_tool)) = mosquitto_tools() else {
            return;
        };
        let broker = Mqlite::start(&[]);
        let sub = Sub::spawn(
            &sub_tool,
            broker.port,
            &["-t", "#", "-v", "-C", "1", "-W", "10"],
        );
        let out = publish_until_received(&pub_tool, broker.port, &["-t", "a", "-m", "hi"], sub);
        assert_eq!(out, "a hi\n");
    }

    #[test]
    fn retained_with_r() {
        let Some((pub_tool, sub_tool)) = mosquitto_tools() else {
            return;
        };
        let broker = Mqlite::start(&[]);
        mosquitto_pub(
            &pub_tool,
            broker.port,
            &["-t", "r/t", "-m", "kept", "-r", "-q", "1"],
        );
        let sub = Sub::spawn(
            &sub_tool,
            broker.port,
            &["-t", "r/#", "-F", "%t %p %r", "-C", "1", "-W", "5"],
        );
        assert_eq!(sub.finish(), "r/t kept 1\n");

        // An empty retained message clears it: a new subscriber gets
        // nothing (mosquitto_sub -W 1 times out with no output).
        mosquitto_pub(&pub_tool, broker.port, &["-t", "r/t", "-n", "-r"]);
        let output = run(
            Command::new(&sub_tool).args([
                "-h",
                "127.0.0.1",
                "-p",
                &broker.port_arg(),
                "-t",
                "r/#",
                "-C",
                "1",
                "-W",
                "1",
            ]),
            TIMEOUT,
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout), "");
    }

    #[test]
    fn qos1_and_qos2() {
        let Some((pub_tool, sub_tool)) = mosquitto_tools() else {
            return;
        };
        let broker = Mqlite::start(&[]);
        for (sub_qos, pub_qos, expected) in [("2", "1", "1"), ("2", "2", "2"), ("1", "2", "1")] {
            let sub = Sub::spawn(
                &sub_tool,
                broker.port,
                &[
                    "-t", "q/t", "-q", sub_qos, "-F", "%t %p %q", "-C", "1", "-W", "10",
                ],
            );
            let out = publish_until_received(
                &pub_tool,
                broker.port,
                &["-t", "q/t", "-m", "msg", "-q", pub_qos],
                sub,
            );
            assert_eq!(
                out,
                format!("q/t msg {expected}\n"),
                "sub -q {sub_qos}, pub -q {pub_qos}"
            );
        }
    }

    #[test]
    fn persistent_mosquitto_sub_gets_offline_messages() {
        // mosquitto_sub -c (clean session off) with a fixed id.
        let Some((pub_tool, sub_tool)) = mosquitto_tools() else {
            return;
        };
        let broker = Mqlite::start(&[]);
        let subscribe = ["-i", "durable-sub", "-c", "-q", "1", "-t", "d/t", "-W", "1"];
        // First run: creates the session and subscription, then times out.
        let _ = run(
            Command::new(&sub_tool)
                .args(["-h", "127.0.0.1", "-p", &broker.port_arg()])
                .args(subscribe),
            TIMEOUT,
        );
        mosquitto_pub(
            &pub_tool,
            broker.port,
            &["-t", "d/t", "-m", "while-away", "-q", "1"],
        );
        let sub = Sub::spawn(
            &sub_tool,
            broker.port,
            &[
                "-i",
                "durable-sub",
                "-c",
                "-q",
                "1",
                "-t",
                "d/t",
                "-C",
                "1",
                "-W",
                "5",
            ],
        );
        assert_eq!(sub.finish(), "while-away\n");
    }
}
