//! `mqlite passwd` against the real thing: a file it writes (created,
//! updated, deleted from, `$7$` and `$6$`, a password asked twice on
//! stdin, a plain-text file upgraded) lets the users into Debian's
//! mosquitto 2.0 broker, and a file `mosquitto_passwd` writes lets them
//! into mqlite, also once `mqlite passwd` has added to it.
//!
//! Needs `mosquitto` and `mosquitto_passwd` (scripts/test.sh installs
//! them); without them the test fails, unless `MQLITE_SKIP_EXTERNAL=1`.

use crate::support;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::binary::{bin_path, wait_exit};
use support::cli::mosquitto::mosquitto_tool;
use support::cli::mosquitto_broker::MosquittoBroker;
use support::cli::{run, Mqlite};
use support::{ConnectOptions, RawClient, TempDir, TIMEOUT};

/// `mqlite passwd ARGS...` with `input` on stdin.
fn passwd(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(bin_path())
        .arg("passwd")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mqlite passwd");
    if let Some(mut stdin) = child.stdin.take() {
        // It may exit before reading (a bad command line): no error then.
        let _ = stdin.write_all(input.as_bytes());
    }
    let status = wait_exit(&mut child, TIMEOUT, "mqlite passwd");
    let mut output = child.wait_with_output().expect("mqlite passwd's output");
    output.status = status;
    output
}

/// `mqlite passwd ARGS...`, which must succeed.
fn passwd_ok(args: &[&str], input: &str) {
    let output = passwd(args, input);
    assert!(
        output.status.success(),
        "mqlite passwd {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The CONNACK code a 3.1.1 client with these credentials gets at `addr`.
fn connack(addr: SocketAddr, user: &str, password: &str) -> u8 {
    let mut client = RawClient::open(addr);
    client.send_connect(
        &ConnectOptions::new(&format!("{user}-c")).credentials(user, password.as_bytes()),
    );
    client.expect_connack().1
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

#[test]
fn mosquitto_reads_mqlite_passwd_files_and_mqlite_reads_mosquitto_passwd_files() {
    let Some(mosquitto_passwd) = mosquitto_tool("mosquitto_passwd") else {
        return;
    };
    let dir = TempDir::new("passwd");

    // Written by mqlite passwd.
    let ours = dir.path("ours");
    let file = path(&ours);
    passwd_ok(&["-c", "-b", file, "alice", "first"], "");
    passwd_ok(&["-b", file, "bob", "to be deleted"], "");
    passwd_ok(&[file, "carol"], "asked twice\nasked twice\n");
    passwd_ok(&["-H", "sha512", "-b", file, "dave", "old style"], "");
    passwd_ok(&["-b", file, "alice", "second"], "");
    passwd_ok(&["-D", file, "bob"], "");
    let text = std::fs::read_to_string(&ours).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.contains("carol:$7$101$") && text.contains("dave:$6$"),
        "{text}"
    );
    // Refusals leave the file as it was.
    let before = text.clone();
    for (args, input, why) in [
        (
            &[file, "erin"][..],
            "one\nother\n",
            "Passwords do not match.",
        ),
        (&["-D", file, "nobody"][..], "", "User nobody not found"),
        (&["-b", file, "a:b", "x"][..], "", "':'"),
        (&["-b", file, "erin", ""][..], "", "Empty password."),
    ] {
        let output = passwd(args, input);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    }
    assert_eq!(std::fs::read_to_string(&ours).unwrap(), before);

    // A plain-text file, upgraded.
    let plain = dir.file("plain", "# upgraded by mqlite passwd -U\ngina:plain pass\n");
    passwd_ok(&["-U", path(&plain)], "");

    // mosquitto started as root runs as the user mosquitto: it must be
    // able to read the files (made for their owner only).
    for file in [&ours, &plain] {
        std::fs::set_permissions(file, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
    }
    let Some(broker) = MosquittoBroker::start(&format!("password_file {}", path(&ours))) else {
        return;
    };
    assert_eq!(
        connack(broker.addr, "alice", "second"),
        0,
        "{}",
        broker.log()
    );
    assert_eq!(connack(broker.addr, "alice", "first"), 5);
    assert_eq!(connack(broker.addr, "bob", "to be deleted"), 5);
    assert_eq!(connack(broker.addr, "carol", "asked twice"), 0);
    assert_eq!(connack(broker.addr, "dave", "old style"), 0);
    drop(broker);
    let Some(broker) = MosquittoBroker::start(&format!("password_file {}", path(&plain))) else {
        return;
    };
    assert_eq!(
        connack(broker.addr, "gina", "plain pass"),
        0,
        "{}",
        broker.log()
    );
    drop(broker);

    // Written by mosquitto_passwd, then added to by mqlite passwd.
    let theirs = dir.path("theirs");
    let output = run(
        Command::new(&mosquitto_passwd).args([
            "-c",
            "-b",
            path(&theirs),
            "henry",
            "from mosquitto",
        ]),
        TIMEOUT,
    );
    assert!(output.status.success(), "{output:?}");
    passwd_ok(&["-b", path(&theirs), "iris", "from mqlite"], "");
    let broker = Mqlite::start(&["--password-file", path(&theirs)]);
    assert_eq!(connack(broker.addr(), "henry", "from mosquitto"), 0);
    assert_eq!(connack(broker.addr(), "iris", "from mqlite"), 0);
    assert_eq!(connack(broker.addr(), "henry", "from mqlite"), 5);
}
