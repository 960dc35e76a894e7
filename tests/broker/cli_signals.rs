//! The `mqlite` binary and signals: SIGTERM and SIGINT stop it cleanly
//! with status 0, closing its clients and its listener; a stop publishes
//! no will, and with `--db` retained messages and persistent sessions
//! survive a restart. SIGHUP reloads the password file (a new user gets
//! in), and a reload that fails is logged and keeps what was loaded; a
//! connected client the new password file no longer accepts is
//! disconnected (will published, the log says who and why), the others
//! stay connected and the new ACL governs what they do next (as in
//! mosquitto 2.0).

use crate::support;

use std::net::TcpStream;
use std::time::Duration;

use mqlite::QoS;
use support::cli::Mqlite;
use support::{wait_until, ConnectOptions, RawClient, TempDir, TIMEOUT};

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

    /// A password file line of `tests/fixtures/` (see its README for the
    /// passwords).
    fn fixture_line(file: &str, user: &str) -> String {
        let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let line = text
            .lines()
            .find(|line| line.starts_with(&format!("{user}:")))
            .unwrap_or_else(|| panic!("no {user} in {path}"));
        format!("{line}\n")
    }

    /// The CONNACK code a 3.1.1 client with these credentials gets.
    fn connack(broker: &Mqlite, user: &str, password: &str) -> u8 {
        let mut client = RawClient::open(broker.addr());
        client.send_connect(&ConnectOptions::new(user).credentials(user, password.as_bytes()));
        client.expect_connack().1
    }

    /// Waits for the `n`th stderr line containing `text`.
    fn wait_for_log(broker: &Mqlite, text: &str, n: usize) {
        wait_until(TIMEOUT, &format!("log line {n} `{text}`"), || {
            broker.stderr().matches(text).count() >= n
        });
    }

    #[test]
    fn sighup_reloads_the_password_file_and_a_failed_reload_keeps_it() {
        let dir = TempDir::new("sighup");
        let passwd = dir.file("passwd", &fixture_line("passwd_pbkdf2", "alice"));
        let passwd = passwd.to_str().unwrap().to_string();
        let mut broker = Mqlite::start_in(
            &["-p", "0", "--no-persist", "--password-file", &passwd],
            dir,
        );
        assert_eq!(connack(&broker, "alice", "wonderland"), 0);
        assert_ne!(
            connack(&broker, "hand", "made by hand"),
            0,
            "not in the file yet"
        );

        // A new user (and a new password for alice): the file is read again.
        std::fs::write(
            &passwd,
            format!(
                "{}{}",
                fixture_line("passwd_sha512", "alice"),
                fixture_line("passwd_sha512", "hand")
            ),
        )
        .unwrap();
        broker.signal(libc::SIGHUP);
        wait_for_log(&broker, "SIGHUP: reloaded", 1);
        assert_eq!(connack(&broker, "hand", "made by hand"), 0);
        assert_eq!(connack(&broker, "alice", "wonderland"), 0);

        // A file that cannot be read as a password file: the reload fails,
        // the broker says so, keeps the users it had and keeps serving.
        std::fs::write(&passwd, ":no user name\n").unwrap();
        broker.signal(libc::SIGHUP);
        wait_for_log(&broker, "SIGHUP: reload failed", 1);
        assert!(broker.is_running(), "{}", broker.stderr());
        let log = broker.stderr();
        let failure = log
            .lines()
            .find(|line| line.contains("SIGHUP: reload failed"))
            .unwrap();
        assert!(failure.contains(&passwd), "{failure}");
        assert_eq!(connack(&broker, "hand", "made by hand"), 0);

        // Mended: the next SIGHUP works again.
        std::fs::write(&passwd, fixture_line("passwd_pbkdf2", "dave")).unwrap();
        broker.signal(libc::SIGHUP);
        wait_for_log(&broker, "SIGHUP: reloaded", 2);
        assert_eq!(connack(&broker, "dave", "slow"), 0);
        assert_ne!(connack(&broker, "hand", "made by hand"), 0);

        let log = broker.stop();
        assert!(!log.contains("panicked"), "{log}");
    }

    /// An authenticated client on `broker`.
    fn logged_in(broker: &Mqlite, user: &str, password: &str) -> RawClient {
        let mut client = RawClient::open(broker.addr());
        let options =
            ConnectOptions::new(&format!("{user}-1")).credentials(user, password.as_bytes());
        client.send_connect(&options);
        assert_eq!(client.expect_connack().1, 0, "{user} refused");
        client
    }

    #[test]
    fn sighup_disconnects_clients_the_new_password_file_refuses_and_the_new_acl_governs_the_rest() {
        let dir = TempDir::new("sighup-live");
        let (alice_line, bob_line, carol_line) = (
            fixture_line("passwd_pbkdf2", "alice"),
            fixture_line("passwd_pbkdf2", "bob"),
            fixture_line("passwd_pbkdf2", "carol"),
        );
        let passwd = dir.file("passwd", &format!("{alice_line}{bob_line}{carol_line}"));
        let acl = dir.file(
            "acl",
            "user alice\ntopic readwrite #\nuser bob\ntopic readwrite #\n\
             user carol\ntopic read a/#\ntopic read b/#\n",
        );
        let (passwd, acl) = (passwd.to_str().unwrap(), acl.to_str().unwrap());
        let args = [
            "-p",
            "0",
            "--no-persist",
            "--password-file",
            passwd,
            "--acl-file",
            acl,
        ];
        let broker = Mqlite::start_in(&args, dir);

        let mut alice = RawClient::open(broker.addr());
        alice.send_connect(
            &ConnectOptions::new("alice-1")
                .credentials("alice", b"wonderland")
                .will("gone/alice", b"bye", QoS::AtMostOnce, false),
        );
        assert_eq!(alice.expect_connack().1, 0, "alice refused");
        let mut bob = logged_in(&broker, "bob", "correct horse battery staple");
        assert_eq!(bob.subscribe(&[("gone/#", QoS::AtMostOnce)]), [0]);
        let carol_password = "pässwörd:with:colons";
        let mut carol = logged_in(&broker, "carol", carol_password);
        assert_eq!(
            carol.subscribe(&[("a/#", QoS::AtLeastOnce), ("b/#", QoS::AtLeastOnce)]),
            [1, 1]
        );

        // alice's password changes (to hand's); bob's and carol's entries
        // stay as they were, and carol may no longer read a/#.
        let changed = fixture_line("passwd_sha512", "hand").replacen("hand:", "alice:", 1);
        std::fs::write(passwd, format!("{changed}{bob_line}{carol_line}")).unwrap();
        let new_acl = "user alice\ntopic readwrite #\nuser bob\ntopic readwrite #\n\
                       user carol\ntopic read b/#\ntopic deny a/#\n";
        std::fs::write(acl, new_acl).unwrap();
        broker.signal(libc::SIGHUP);
        wait_for_log(&broker, "SIGHUP: reloaded", 1);
        let log = broker.stderr();
        let line = log
            .lines()
            .find(|l| l.contains("SIGHUP: reloaded"))
            .unwrap();
        assert!(
            line.contains(&format!("password file {passwd}"))
                && line.contains(&format!("ACL file {acl}")),
            "{line}"
        );

        // alice no longer passes the file: disconnected as by a kick (her
        // will is published), and the log says who and why (never her
        // password).
        alice.expect_closed();
        bob.expect_message("gone/alice", b"bye");
        wait_for_log(&broker, "client alice-1 (user alice) disconnected", 1);
        let log = broker.stderr();
        let why = log
            .lines()
            .find(|l| l.contains("client alice-1 (user alice) disconnected"))
            .unwrap();
        assert!(why.contains("password file"), "{why}");
        assert!(!log.contains("wonderland"), "{log}");
        assert!(!log.contains(carol_password), "{log}");
        // Her new password lets her in again.
        assert_eq!(connack(&broker, "alice", "made by hand"), 0);
        assert_eq!(connack(&broker, "alice", "wonderland"), 5);

        // bob and carol, whose entries did not change, stay connected...
        bob.ping();
        carol.ping();
        // ...the new ACL decides carol's deliveries, subscription made
        // before or not,
        bob.publish_acked("a/x", b"hidden", QoS::AtLeastOnce, false);
        bob.publish_acked("b/x", b"shown", QoS::AtLeastOnce, false);
        let shown = carol.expect_message("b/x", b"shown");
        carol.ack(&shown);
        carol.expect_nothing();
        // and her new subscriptions (refused where a `deny` covers them,
        // docs/ACCESS.md).
        assert_eq!(carol.subscribe(&[("a/y", QoS::AtMostOnce)]), [0x80]);
        assert_eq!(carol.subscribe(&[("b/y", QoS::AtMostOnce)]), [0]);

        let log = broker.stop();
        assert!(!log.contains("panicked"), "{log}");
    }
}
