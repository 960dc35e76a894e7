//! SIGINT and SIGTERM stop the broker cleanly; a second one exits at once,
//! for a stop that hangs.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// SIGINT and SIGTERM, caught from [`StopSignals::catch`] on and queued
/// until [`StopSignals::stop`] acts on them.
pub struct StopSignals(Option<Signals>);

impl StopSignals {
    /// Catches the signals. Call it before the broker binds its port: a
    /// signal that arrives while the handlers are being installed is lost,
    /// and a client (or test) that sees the port open may signal at once.
    pub fn catch() -> StopSignals {
        match Signals::new([SIGINT, SIGTERM]) {
            Ok(signals) => StopSignals(Some(signals)),
            Err(error) => {
                log::warn!("cannot handle signals: {error}");
                StopSignals(None)
            }
        }
    }

    /// Stops the broker behind `handle` at the first signal (also one
    /// caught before this call), from a thread of its own.
    pub fn stop(self, handle: mqlite::BrokerHandle) {
        let Some(mut signals) = self.0 else {
            return;
        };
        std::thread::spawn(move || {
            let mut received = 0;
            for signal in signals.forever() {
                received += 1;
                if received > 1 {
                    eprintln!("mqlite: second signal, exiting now");
                    std::process::exit(1);
                }
                log::info!("signal {signal}: stopping");
                handle.stop();
            }
        });
    }
}
