//! SIGINT and SIGTERM stop the broker cleanly; a second one exits at once,
//! for a stop that hangs.

/// Watches for SIGINT / SIGTERM on a thread of its own and stops the
/// broker behind `handle` at the first.
pub fn stop_on_signals(handle: mqlite::BrokerHandle) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        Ok(signals) => signals,
        Err(error) => {
            log::warn!("cannot handle signals: {error}");
            return;
        }
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
