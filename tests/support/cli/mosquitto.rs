//! Debian's `mosquitto_pub` / `mosquitto_sub` (the `mosquitto-clients`
//! package; scripts/test.sh installs it) against the binary. When they are
//! missing the tests that need them fail, unless `MQLITE_SKIP_EXTERNAL=1`
//! is set.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{run, wait_exit};
use crate::support::child_output::{collect, Collected};
use crate::support::TIMEOUT;

/// The path of a mosquitto client, or `None` (skip) when it is missing and
/// `MQLITE_SKIP_EXTERNAL=1`. Missing otherwise fails the test.
pub fn mosquitto_tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_some() {
        return found;
    }
    if std::env::var("MQLITE_SKIP_EXTERNAL").as_deref() == Ok("1") {
        eprintln!("skipped: `{name}` not found and MQLITE_SKIP_EXTERNAL=1");
        return None;
    }
    panic!(
        "`{name}` not found in PATH. Install Debian's mosquitto-clients \
         (`sudo apt-get install mosquitto-clients`; scripts/test.sh does it), \
         or set MQLITE_SKIP_EXTERNAL=1 to skip the tests that need it."
    );
}

/// Both mosquitto clients, or `None` to skip.
pub fn mosquitto_tools() -> Option<(PathBuf, PathBuf)> {
    Some((
        mosquitto_tool("mosquitto_pub")?,
        mosquitto_tool("mosquitto_sub")?,
    ))
}

/// A `mosquitto_sub` running in the background, killed on drop.
pub struct Sub {
    child: Child,
    stdout: Collected,
    stderr: Collected,
}

impl Sub {
    pub fn spawn(tool: &Path, port: u16, args: &[&str]) -> Sub {
        let mut child = Command::new(tool)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mosquitto_sub");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Sub {
            child,
            stdout,
            stderr,
        }
    }

    pub fn exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    /// What it printed so far.
    pub fn received(&self) -> String {
        self.stdout.text()
    }

    /// Waits for the exit and returns stdout.
    pub fn finish(mut self) -> String {
        let status = wait_exit(&mut self.child, TIMEOUT, "mosquitto_sub");
        let out = self.stdout.join();
        let err = self.stderr.join();
        assert!(status.success(), "mosquitto_sub failed ({status}): {err}");
        out
    }

    /// Kills it (it was told to run on) and returns stdout.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stdout.join()
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `mosquitto_pub` against `port`; asserts it succeeds.
pub fn mosquitto_pub(tool: &Path, port: u16, args: &[&str]) {
    let output = run(
        Command::new(tool)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args),
        TIMEOUT,
    );
    assert!(
        output.status.success(),
        "mosquitto_pub {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Publishes with `mosquitto_pub` every 100 ms until `sub` (started with
/// `-C 1`) has received a message and exited, so the test does not depend on
/// when the subscription became active. Returns the subscriber's output.
pub fn publish_until_received(pub_tool: &Path, port: u16, args: &[&str], mut sub: Sub) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sub.exited() {
        assert!(
            Instant::now() < deadline,
            "mosquitto_sub received nothing in 10 s"
        );
        mosquitto_pub(pub_tool, port, args);
        // Paces the retries; the subscriber's exit is what ends the loop.
        std::thread::sleep(Duration::from_millis(100));
    }
    sub.finish()
}
