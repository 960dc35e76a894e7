//! Debian's `mosquitto` broker (the `mosquitto` package; scripts/test.sh
//! installs it) as a peer of mqlite's bridges: started on a free port with
//! a config of the test's, killed on drop. When it is missing the tests
//! that need it fail, unless `MQLITE_SKIP_EXTERNAL=1` is set.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use crate::support::child_output::{collect, Collected};
use crate::support::{TempDir, TIMEOUT};

/// The broker's path, or `None` (skip) when it is missing and
/// `MQLITE_SKIP_EXTERNAL=1`. Missing otherwise fails the test.
pub fn mosquitto_broker_path() -> Option<PathBuf> {
    let in_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("mosquitto"))
            .find(|path| path.is_file())
    });
    let found = in_path.or_else(|| {
        let sbin = PathBuf::from("/usr/sbin/mosquitto");
        sbin.is_file().then_some(sbin)
    });
    if found.is_some() {
        return found;
    }
    if std::env::var("MQLITE_SKIP_EXTERNAL").as_deref() == Ok("1") {
        eprintln!("skipped: the mosquitto broker is not installed and MQLITE_SKIP_EXTERNAL=1");
        return None;
    }
    panic!(
        "the mosquitto broker is not installed. Install Debian's mosquitto \
         (`sudo apt-get install mosquitto`; scripts/test.sh does it), or set \
         MQLITE_SKIP_EXTERNAL=1 to skip the tests that need it."
    );
}

/// A free TCP port on 127.0.0.1 (nothing listens on it once this returns).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// A mosquitto broker listening on `127.0.0.1:port`, anonymous clients
/// allowed, with `extra` appended to its config.
pub struct MosquittoBroker {
    pub addr: SocketAddr,
    child: Child,
    log: Collected,
    _dir: TempDir,
}

impl MosquittoBroker {
    /// Starts one on a free port; `None` to skip (see above).
    pub fn start(extra: &str) -> Option<MosquittoBroker> {
        MosquittoBroker::start_on(free_port(), extra)
    }

    /// Starts one on `port`, and waits until it accepts connections.
    pub fn start_on(port: u16, extra: &str) -> Option<MosquittoBroker> {
        let path = mosquitto_broker_path()?;
        let dir = TempDir::new("mosquitto");
        let config = dir.file(
            "mosquitto.conf",
            &format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 log_dest stderr\nlog_type all\n{extra}\n"
            ),
        );
        let mut child = Command::new(path)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mosquitto");
        let log = collect(child.stderr.take().expect("piped stderr"));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + TIMEOUT;
        while TcpStream::connect(addr).is_err() {
            if Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
                let _ = child.kill();
                panic!("mosquitto did not start on {addr}: {}", log.text());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Some(MosquittoBroker {
            addr,
            child,
            log,
            _dir: dir,
        })
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        self.log.text()
    }
}

impl Drop for MosquittoBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
