//! The `mqlite` binary and signals: SIGTERM and SIGINT stop it cleanly
//! with status 0, closing its clients and its listener; a stop publishes
//! no will, and with `--db` retained messages and persistent sessions
//! survive a restart.

mod support;

use std::net::TcpStream;
use std::time::Duration;

use mqlite::QoS;
use support::cli::Mqlite;
use support::{ConnectOptions, RawClient, TempDir};

mod signals {
    use super::*;

    fn stops_cleanly_on(signal: libc::c_int) {
        let mut broker = Mqlite::start(&[]);
        let mut client = RawClient::open(broker.addr());
        client.connect("until-signal", true, 60);
        client.subscribe(&[("x", QoS::AtLeastOnce)]);
        broker.signal(signal);
        let status = broker.wait();
        assert_eq!(
            status.code(),
            Some(0),
            "exit status {status}: {}",
            broker.stderr()
        );
        // The client sees the connection end.
        client.drain_until_closed();
        assert!(
            TcpStream::connect_timeout(&broker.addr(), Duration::from_millis(500)).is_err(),
            "still listening after exit"
        );
        assert!(!broker.stderr().contains("panicked"), "{}", broker.stderr());
    }

    #[test]
    fn sigterm_stops_cleanly_with_status_0() {
        stops_cleanly_on(libc::SIGTERM);
    }

    #[test]
    fn sigint_stops_cleanly_with_status_0() {
        stops_cleanly_on(libc::SIGINT);
    }

    #[test]
    fn sigterm_publishes_no_will_and_keeps_persistent_state() {
        // A stop is not a client failure: wills are not published
        // (CloseReason::Shutdown); with --db, retained messages and
        // persistent sessions survive a restart.
        let dir = TempDir::new("db");
        let args = ["-p", "0", "--db", "state.db"];
        let mut broker = Mqlite::start_in(&args, dir);

        let mut durable = RawClient::open(broker.addr());
        durable.connect("durable", false, 60);
        durable.subscribe(&[("jobs", QoS::AtLeastOnce)]);
        durable.disconnect();
        let mut publisher = RawClient::open(broker.addr());
        publisher.connect("pub", true, 60);
        publisher.publish_acked("status", b"up", QoS::AtLeastOnce, true);
        publisher.publish_acked("jobs", b"queued", QoS::AtLeastOnce, false);
        publisher.disconnect();
        let (mut with_will, _) = {
            let mut c = RawClient::open(broker.addr());
            let present = c.connect_with(&ConnectOptions::new("will-holder").will(
                "status",
                b"down",
                QoS::AtLeastOnce,
                true,
            ));
            (c, present)
        };
        with_will.ping();

        broker.signal(libc::SIGTERM);
        assert_eq!(broker.wait().code(), Some(0), "{}", broker.stderr());
        assert!(broker.dir.join("state.db").exists());

        let dir = broker.take_dir();
        drop(broker);
        let broker = Mqlite::start_in(&args, dir);
        let mut sub = RawClient::open(broker.addr());
        sub.connect("late", true, 60);
        sub.subscribe(&[("status", QoS::AtLeastOnce)]);
        let msg = sub.expect_message("status", b"up");
        assert!(msg.retain);
        sub.expect_nothing();

        let mut durable = RawClient::open(broker.addr());
        assert!(
            durable.connect("durable", false, 60),
            "session present after restart"
        );
        durable.expect_message("jobs", b"queued");
    }
}
