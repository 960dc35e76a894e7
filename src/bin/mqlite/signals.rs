//! SIGINT and SIGTERM stop the broker cleanly; a second one exits at once,
//! for a stop that hangs. SIGHUP reloads, as mosquitto's does: the log
//! files are reopened (for logrotate) and the broker reads its password
//! file, ACL file and TLS certificates again ([`mqlite::BrokerHandle::reload`]);
//! the log names the files. New connections and what connected clients do
//! next follow the new files; connected clients stay connected. A reload
//! that fails (a file missing or malformed) is logged and changes nothing.
//! The config file itself is not read again.

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
    /// caught before this call), from a thread of its own. `files` names
    /// what a reload reads (see [`reloaded_files`]).
    pub fn serve(self, handle: mqlite::BrokerHandle, files: String) {
        let Some(mut signals) = self.0 else {
            return;
        };
        std::thread::spawn(move || {
            let mut stops = 0;
            for signal in signals.forever() {
                if signal == SIGHUP {
                    reload(&handle, &files);
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

fn reload(handle: &mqlite::BrokerHandle, files: &str) {
    crate::logging::reopen();
    match handle.reload(RELOAD_TIMEOUT) {
        Ok(()) if files.is_empty() => log::info!(
            "SIGHUP: reloaded nothing (no password, ACL or certificate file is configured); \
             log files reopened"
        ),
        Ok(()) => log::info!(
            "SIGHUP: reloaded {files}; clients connected before keep their connections, \
             the new files apply to new connections and to what every client does next"
        ),
        Err(error) => log::error!("SIGHUP: reload failed, keeping what was loaded before: {error}"),
    }
}

/// What a reload of `config` reads, for the log: `password file P, ACL
/// file A, TLS certificate C, key K`, each file once; empty when it reads
/// nothing.
pub fn reloaded_files(config: &mqlite::Config) -> String {
    let mut names: Vec<String> = Vec::new();
    let mut add = |what: &str, path: &std::path::Path| {
        let name = format!("{what} {}", path.display());
        if !names.contains(&name) {
            names.push(name);
        }
    };
    let listeners = config.custom_listeners.iter();
    let passwords = listeners.clone().map(|l| &l.password_file);
    for path in std::iter::once(&config.password_file)
        .chain(passwords)
        .flatten()
    {
        add("password file", path);
    }
    let acls = listeners.clone().map(|l| &l.acl_file);
    for path in std::iter::once(&config.acl_file).chain(acls).flatten() {
        add("ACL file", path);
    }
    for tls in listeners.filter_map(|l| l.tls.as_ref()) {
        add("TLS certificate", &tls.cert_file);
        add("key", &tls.key_file);
        for ca in tls.ca_file.iter().chain(tls.ca_path.iter()) {
            add("CA", ca);
        }
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reload_names_each_file_once() {
        let mut config = mqlite::Config::default();
        assert_eq!(reloaded_files(&config), "");
        config.password_file = Some("/etc/mqlite/passwd".into());
        config.acl_file = Some("/etc/mqlite/acl".into());
        let mut listener = mqlite::Listener::tcp("127.0.0.1:0".parse().unwrap());
        listener.password_file = Some("/etc/mqlite/passwd".into());
        config.custom_listeners.push(listener);
        assert_eq!(
            reloaded_files(&config),
            "password file /etc/mqlite/passwd, ACL file /etc/mqlite/acl"
        );
    }
}
