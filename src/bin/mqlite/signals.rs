//! SIGINT and SIGTERM stop the broker cleanly; a second one exits at once,
//! for a stop that hangs. SIGHUP reloads, as mosquitto's does: the log
//! files are reopened (for logrotate) and the broker reads its password
//! file, ACL file and TLS certificates again ([`mqlite::BrokerHandle::reload`]);
//! a reload that fails is logged and changes nothing. The config file
//! itself is not read again.

use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// How long a reload may wait for the broker thread.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// SIGINT, SIGTERM and SIGHUP, caught from [`Signals::catch`] on and
/// queued until [`Signals::serve`] acts on them.
pub struct Signals(Option<signal_hook::iterator::Signals>);

impl Signals {
    /// Catches the signals. Call it before the broker binds its port: a
    /// signal that arrives while the handlers are being installed is lost
    /// (and SIGHUP would end the process), and a client (or test) that
    /// sees the port open may signal at once.
    pub fn catch() -> Signals {
        match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            Ok(signals) => Signals(Some(signals)),
            Err(error) => {
                log::warn!("cannot handle signals: {error}");
                Signals(None)
            }
        }
    }

    /// Acts on the signals for the broker behind `handle` (also on those
    /// caught before this call), from a thread of its own.
    pub fn serve(self, handle: mqlite::BrokerHandle) {
        let Some(mut signals) = self.0 else {
            return;
        };
        std::thread::spawn(move || {
            let mut stops = 0;
            for signal in signals.forever() {
                if signal == SIGHUP {
                    reload(&handle);
                    continue;
                }
                stops += 1;
                if stops > 1 {
                    eprintln!("mqlite: second signal, exiting now");
                    std::process::exit(1);
                }
                log::info!("signal {signal}: stopping");
                handle.stop();
            }
        });
    }
}

fn reload(handle: &mqlite::BrokerHandle) {
    crate::logging::reopen();
    match handle.reload(RELOAD_TIMEOUT) {
        Ok(()) => log::info!(
            "SIGHUP: reloaded the password file, the ACL file and the TLS certificates \
             (those configured)"
        ),
        Err(error) => log::error!("SIGHUP: reload failed, keeping what was loaded before: {error}"),
    }
}
