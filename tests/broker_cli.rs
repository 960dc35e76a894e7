//! The `mqlite` binary: options, config file, signals, and Debian's
//! `mosquitto_pub` / `mosquitto_sub` talking to it.
//!
//! The mosquitto clients come from the `mosquitto-clients` package
//! (scripts/test.sh installs it). When they are missing the tests that need
//! them fail, unless `MQLITE_SKIP_EXTERNAL=1` is set.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mqlite::QoS;
use support::{ConnectOptions, RawClient, TempDir, TIMEOUT};

const BIN: &str = env!("CARGO_BIN_EXE_mqlite");

/// A port nothing listens on (bound, read, released).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().unwrap().port()
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Reads a child's pipe into a shared string, in a thread.
fn collect(pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    text
}

/// Waits for a child to exit, at most `timeout`; kills it and panics
/// otherwise.
fn wait_exit(child: &mut Child, timeout: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs a command to completion (at most `timeout`), capturing its output.
fn run(command: &mut Command, timeout: Duration) -> Output {
    let what = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    let status = wait_exit(&mut child, timeout, &what);
    // The pipes reach end-of-file once the process is gone.
    std::thread::sleep(Duration::from_millis(20));
    let out = stdout.lock().unwrap().clone();
    let err = stderr.lock().unwrap().clone();
    Output {
        status,
        stdout: out.into_bytes(),
        stderr: err.into_bytes(),
    }
}

/// Runs the mqlite binary with `args` to completion (it must exit).
fn mqlite_exits(args: &[&str], cwd: &Path) -> Output {
    run(Command::new(BIN).args(args).current_dir(cwd), TIMEOUT)
}

/// A running `mqlite` process, killed on drop.
struct Mqlite {
    child: Child,
    port: u16,
    stderr: Arc<Mutex<String>>,
    dir: TempDir,
}

impl Mqlite {
    /// `mqlite -p PORT --no-persist ARGS...` in a fresh temp dir, ready.
    fn start(args: &[&str]) -> Mqlite {
        let port = free_port();
        let port_text = port.to_string();
        let mut all = vec!["-p", &port_text, "--no-persist"];
        all.extend_from_slice(args);
        Mqlite::start_exact(&all, port, TempDir::new("run"))
    }

    /// The binary with exactly these args, in `dir`, expected to listen on
    /// `port`.
    fn start_exact(args: &[&str], port: u16, dir: TempDir) -> Mqlite {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(&dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mqlite");
        let stderr = collect(child.stderr.take().unwrap());
        let mut mqlite = Mqlite {
            child,
            port,
            stderr,
            dir,
        };
        mqlite.wait_ready();
        mqlite
    }

    /// Waits until the port accepts a complete MQTT exchange.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("mqlite exited early ({status}): {}", self.stderr());
            }
            if TcpStream::connect_timeout(&addr(self.port), Duration::from_millis(200)).is_ok() {
                // Any CONNACK will do: with a password file the anonymous
                // probe is refused, but the broker has answered.
                let mut probe = RawClient::open(addr(self.port));
                probe.send_connect(&ConnectOptions::new("ready-probe"));
                let _ = probe.expect_connack();
                return;
            }
            assert!(
                Instant::now() < deadline,
                "mqlite not listening on {} after 5 s: {}",
                self.port,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn addr(&self) -> SocketAddr {
        addr(self.port)
    }

    fn port_arg(&self) -> String {
        self.port.to_string()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: plain kill(2) on our own child.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal})");
    }

    /// Waits (at most 5 s) for the process to exit.
    fn wait(&mut self) -> ExitStatus {
        wait_exit(&mut self.child, TIMEOUT, "mqlite")
    }
}

impl Drop for Mqlite {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The path of a mosquitto client, or `None` (skip) when it is missing and
/// `MQLITE_SKIP_EXTERNAL=1`. Missing otherwise fails the test.
fn mosquitto_tool(name: &str) -> Option<PathBuf> {
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
fn mosquitto_tools() -> Option<(PathBuf, PathBuf)> {
    Some((
        mosquitto_tool("mosquitto_pub")?,
        mosquitto_tool("mosquitto_sub")?,
    ))
}

/// A `mosquitto_sub` running in the background, killed on drop.
struct Sub {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Sub {
    fn spawn(tool: &Path, port: u16, args: &[&str]) -> Sub {
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

    fn exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    /// Waits for the exit and returns stdout.
    fn finish(mut self) -> String {
        let status = wait_exit(&mut self.child, TIMEOUT, "mosquitto_sub");
        std::thread::sleep(Duration::from_millis(20));
        let out = self.stdout.lock().unwrap().clone();
        let err = self.stderr.lock().unwrap().clone();
        assert!(status.success(), "mosquitto_sub failed ({status}): {err}");
        out
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
fn mosquitto_pub(tool: &Path, port: u16, args: &[&str]) {
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
fn publish_until_received(pub_tool: &Path, port: u16, args: &[&str], mut sub: Sub) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sub.exited() {
        assert!(
            Instant::now() < deadline,
            "mosquitto_sub received nothing in 10 s"
        );
        mosquitto_pub(pub_tool, port, args);
        std::thread::sleep(Duration::from_millis(100));
    }
    sub.finish()
}

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

mod options {
    use super::*;

    /// The `"-x" | "--xx" =>` match-arm patterns of the binary's option
    /// parser, read from its source so that a new option must be documented.
    fn parsed_options() -> Vec<String> {
        let source =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/bin/mqlite.rs"))
                .expect("read src/bin/mqlite.rs");
        let mut options = Vec::new();
        for line in source.lines() {
            let line = line.trim();
            let Some((patterns, _)) = line.split_once("=>") else {
                continue;
            };
            if !patterns.starts_with("\"-") {
                continue;
            }
            for pattern in patterns.split('|') {
                let pattern = pattern.trim().trim_matches('"');
                if pattern.starts_with('-') {
                    options.push(pattern.to_string());
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
        let mut keys: Vec<String> = mqlite::CONFIG_FILE_KEYS
            .iter()
            .map(|(key, _)| key.to_string())
            .collect();
        keys.extend(struct_fields(
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/config.rs"),
            "Config",
        ));
        keys.extend(struct_fields(
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/config_file.rs"),
            "FileConfig",
        ));
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

    #[test]
    fn verbose_logs_connections() {
        let mut loud = Mqlite::start(&["-v"]);
        let mut quiet = Mqlite::start(&[]);
        for broker in [&loud, &quiet] {
            let mut c = RawClient::open(broker.addr());
            c.connect("verbose-probe-client", true, 60);
            c.disconnect();
        }
        let deadline = Instant::now() + TIMEOUT;
        while !loud.stderr().contains("verbose-probe-client") {
            assert!(
                Instant::now() < deadline,
                "-v did not log the client id: {}",
                loud.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        for broker in [&mut loud, &mut quiet] {
            broker.signal(libc::SIGTERM);
            assert!(broker.wait().success());
        }
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !quiet.stderr().contains("verbose-probe-client"),
            "logged without -v: {}",
            quiet.stderr()
        );
    }
}

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
        let port = free_port();
        let port_text = port.to_string();
        let args = ["-p", port_text.as_str(), "--db", "state.db"];
        let mut broker = Mqlite::start_exact(&args, port, dir);

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
        assert!(broker.dir.0.join("state.db").exists());

        let dir = std::mem::replace(&mut broker.dir, TempDir::new("moved"));
        drop(broker);
        let port = free_port();
        let port_text = port.to_string();
        let args = ["-p", port_text.as_str(), "--db", "state.db"];
        let broker = Mqlite::start_exact(&args, port, dir);
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
        let mut sub_args = vec!["-t", "#", "-v", "-C", "1", "-W", "10"];
        sub_args.extend_from_slice(&alice);
        let sub = Sub::spawn(&sub_tool, broker.port, &sub_args);
        std::thread::sleep(Duration::from_millis(300));
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
        let mut pub_args = vec!["-t", "public/x", "-m", "seen"];
        pub_args.extend_from_slice(&alice);
        let out = publish_until_received(&pub_tool, broker.port, &pub_args, sub);
        assert_eq!(out, "public/x seen\n");
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
