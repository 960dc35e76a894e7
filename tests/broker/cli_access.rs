//! The `mqlite` binary's `--password-file`, `--acl-file` and
//! `--allow-anonymous` with files written by mosquitto's own tools,
//! checked with Debian's `mosquitto_pub` / `mosquitto_sub`; a bad password
//! file names its file and line. The files themselves (`mqlite::auth`) are
//! tested in `auth_password_file.rs` and `auth_files.rs`.
//!
//! The mosquitto clients come from the `mosquitto-clients` package
//! (scripts/test.sh installs it). When they are missing the tests that need
//! them fail, unless `MQLITE_SKIP_EXTERNAL=1` is set.

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::cli::mosquitto::{mosquitto_pub, mosquitto_tools, Sub};
use support::cli::{mqlite_exits, run, Mqlite};
use support::{wait_until, TempDir, TIMEOUT};

/// `--password-file`, `--acl-file` and `--allow-anonymous` with files
/// written by mosquitto's own tools, decided as mosquitto 2.0 decides.
mod access_files {
    use super::*;

    fn fixture(name: &str) -> String {
        format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    /// Runs `mosquitto_pub` and returns its exit code (5: refused, not
    /// authorised).
    fn pub_code(tool: &Path, port: u16, args: &[&str]) -> Option<i32> {
        run(
            Command::new(tool)
                .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                .args(args),
            TIMEOUT,
        )
        .status
        .code()
    }

    #[test]
    fn password_file_accepts_and_refuses_like_mosquitto() {
        let Some((pub_tool, _)) = mosquitto_tools() else {
            return;
        };
        let passwd = fixture("passwd_pbkdf2");
        let broker = Mqlite::start(&["--password-file", &passwd]);
        let ok = ["-t", "a", "-m", "x", "-u", "alice", "-P", "wonderland"];
        assert_eq!(pub_code(&pub_tool, broker.port, &ok), Some(0));
        let wrong = ["-t", "a", "-m", "x", "-u", "alice", "-P", "nope"];
        assert_eq!(pub_code(&pub_tool, broker.port, &wrong), Some(5));
        let unknown = ["-t", "a", "-m", "x", "-u", "mallory", "-P", "x"];
        assert_eq!(pub_code(&pub_tool, broker.port, &unknown), Some(5));
        // No user name: refused by default once a password file is given.
        let anonymous = ["-t", "a", "-m", "x"];
        assert_eq!(pub_code(&pub_tool, broker.port, &anonymous), Some(5));
        drop(broker);

        let broker = Mqlite::start(&["--password-file", &passwd, "--allow-anonymous", "true"]);
        assert_eq!(pub_code(&pub_tool, broker.port, &anonymous), Some(0));
        assert_eq!(pub_code(&pub_tool, broker.port, &wrong), Some(5));
    }

    #[test]
    fn no_anonymous_without_a_password_file_refuses_every_client() {
        let Some((pub_tool, _)) = mosquitto_tools() else {
            return;
        };
        let broker = Mqlite::start(&["--allow-anonymous", "false"]);
        let named = ["-t", "a", "-m", "x", "-u", "x", "-P", "y"];
        assert_eq!(pub_code(&pub_tool, broker.port, &named), Some(5));
        let anonymous = ["-t", "a", "-m", "x"];
        assert_eq!(pub_code(&pub_tool, broker.port, &anonymous), Some(5));
    }

    #[test]
    fn acl_file_hides_topics_from_a_hash_subscriber() {
        let Some((pub_tool, sub_tool)) = mosquitto_tools() else {
            return;
        };
        let dir = TempDir::new("acl");
        let acl = dir.file(
            "acl",
            "user alice\ntopic read #\ntopic deny secret/#\ntopic write public/#\n\
             user admin\ntopic readwrite #\n",
        );
        let passwd = fixture("passwd_mixed");
        let acl = acl.to_string_lossy().to_string();
        let broker = Mqlite::start(&["--password-file", &passwd, "--acl-file", &acl]);
        // alice subscribes to everything, but may not read secret/#.
        let alice = ["-u", "alice", "-P", "wonderland"];
        let mut sub_args = vec!["-t", "#", "-v"];
        sub_args.extend_from_slice(&alice);
        let sub = Sub::spawn(&sub_tool, broker.port, &sub_args);
        // Her subscription is active once a public message reaches her.
        let mut ready_args = vec!["-t", "public/ready", "-m", "r"];
        ready_args.extend_from_slice(&alice);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sub.received().contains("public/ready r") {
            assert!(Instant::now() < deadline, "alice received nothing in 10 s");
            mosquitto_pub(&pub_tool, broker.port, &ready_args);
            // Paces the retries; the condition is what ends the loop.
            std::thread::sleep(Duration::from_millis(100));
        }
        // admin may write anywhere: the secret reaches the broker, and the
        // delivery check keeps it from alice's `#`.
        mosquitto_pub(
            &pub_tool,
            broker.port,
            &[
                "-t",
                "secret/x",
                "-m",
                "hidden",
                "-q",
                "1",
                "-u",
                "admin",
                "-P",
                "admin-pass",
            ],
        );
        // Published after the secret was acknowledged: had the secret been
        // delivered, it would be before this.
        let mut pub_args = vec!["-t", "public/x", "-m", "seen", "-q", "1"];
        pub_args.extend_from_slice(&alice);
        mosquitto_pub(&pub_tool, broker.port, &pub_args);
        wait_until(TIMEOUT, "alice gets public/x", || {
            sub.received().contains("public/x seen")
        });
        let out = sub.kill();
        let unexpected: Vec<&str> = out
            .lines()
            .filter(|line| *line != "public/ready r" && *line != "public/x seen")
            .collect();
        assert!(unexpected.is_empty(), "{out}");
    }

    /// Alice leaves messages queued for client id `shared`; Bob, who may
    /// not read them, resumes that session and gets none of them (the
    /// outside finding: he got all of them, as session present 1).
    #[test]
    fn a_resumed_session_gets_only_what_its_new_user_may_read() {
        let Some((pub_tool, sub_tool)) = mosquitto_tools() else {
            return;
        };
        let dir = TempDir::new("resume-acl");
        let acl = dir.file(
            "acl",
            "user alice\ntopic read secret/#\ntopic read public/#\n\
             user bob\ntopic read public/#\n\
             user admin\ntopic readwrite #\n",
        );
        let passwd = fixture("passwd_mixed");
        let acl = acl.to_string_lossy().to_string();
        let broker = Mqlite::start(&["--password-file", &passwd, "--acl-file", &acl]);
        let session = ["-c", "-i", "shared", "-q", "1"];
        let mut alice = vec!["-u", "alice", "-P", "wonderland", "-E"];
        alice.extend_from_slice(&session);
        alice.extend_from_slice(&["-t", "secret/#", "-t", "public/#"]);
        let out = run(
            Command::new(&sub_tool)
                .args(["-h", "127.0.0.1", "-p", &broker.port.to_string()])
                .args(&alice),
            TIMEOUT,
        );
        assert!(out.status.success(), "{out:?}");
        let admin = ["-u", "admin", "-P", "admin-pass", "-q", "1"];
        for (topic, payload) in [("secret/a", "s1"), ("public/a", "p1"), ("secret/b", "s2")] {
            let mut args = vec!["-t", topic, "-m", payload];
            args.extend_from_slice(&admin);
            mosquitto_pub(&pub_tool, broker.port, &args);
        }
        let mut bob = vec!["-u", "bob", "-P", "correct horse battery staple", "-v"];
        bob.extend_from_slice(&session);
        bob.extend_from_slice(&["-W", "2", "-t", "bob/inbox"]);
        let out = run(
            Command::new(&sub_tool)
                .args(["-h", "127.0.0.1", "-p", &broker.port.to_string()])
                .args(&bob),
            TIMEOUT,
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "public/a p1\n",
            "{out:?}"
        );
    }

    /// A persistent session remembers its user across a restart: messages
    /// routed to it while its client is away are checked against the ACL
    /// for that user (not for an anonymous client), so they are queued.
    #[test]
    fn an_offline_session_keeps_its_user_across_a_restart() {
        let Some((pub_tool, sub_tool)) = mosquitto_tools() else {
            return;
        };
        let dir = TempDir::new("restart-acl");
        let acl = dir.file(
            "acl",
            "user alice\ntopic read secret/#\nuser admin\ntopic readwrite #\n",
        );
        let acl = acl.to_string_lossy().to_string();
        let passwd = fixture("passwd_mixed");
        let db = dir.0.join("store.db").to_string_lossy().to_string();
        let args = ["--password-file", &passwd, "--acl-file", &acl, "--db", &db];
        let alice = |port: u16, extra: &[&str]| {
            let mut args = vec!["-u", "alice", "-P", "wonderland", "-c", "-i", "alice-1"];
            args.extend_from_slice(&["-q", "1", "-t", "secret/#", "-v"]);
            args.extend_from_slice(extra);
            run(
                Command::new(&sub_tool)
                    .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                    .args(&args),
                TIMEOUT,
            )
        };
        let mut all = vec!["-p", "0"];
        all.extend_from_slice(&args);
        let mut broker = Mqlite::start_in(&all, TempDir::new("restart-acl-run"));
        assert!(alice(broker.port, &["-E"]).status.success());
        broker.signal(libc::SIGTERM);
        assert!(broker.wait().success());

        let broker = Mqlite::start_in(&all, TempDir::new("restart-acl-run"));
        let port = broker.port;
        mosquitto_pub(
            &pub_tool,
            broker.port,
            &["-t", "secret/x", "-m", "kept", "-q", "1"]
                .into_iter()
                .chain(["-u", "admin", "-P", "admin-pass"])
                .collect::<Vec<_>>(),
        );
        let out = alice(port, &["-C", "1", "-W", "5"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "secret/x kept\n",
            "{out:?}"
        );
    }

    #[test]
    fn a_bad_password_file_names_file_and_line() {
        let dir = TempDir::new("badpw");
        let bad = dir.file("pw", "alice:$9$nonsense\n");
        let bad = bad.to_string_lossy().to_string();
        let output = mqlite_exits(&["--no-persist", "--password-file", &bad], &dir.0);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("pw:1"), "{stderr}");
    }
}
