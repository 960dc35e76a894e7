//! The binary's logger: one line per record, `TIME LEVEL message` with the
//! time in UTC as RFC 3339 gives it, to the millisecond
//! (`2026-12-07T19:45:01.123Z INFO mqlite 0.1.0 running`), or
//! `TIME: LEVEL message` with the time as a mosquitto.conf's
//! `log_timestamp_format` formats it (`%s` gives mosquitto's default,
//! seconds since 1970). To stderr by default, or to the destinations a mosquitto.conf names
//! (`log_dest stderr | stdout | file PATH | syslog`). Info by default,
//! debug with `-v`, the level of `log_type` otherwise; `RUST_LOG`
//! (env_logger's syntax, env_logger does the filtering) is applied on top,
//! so it can lower, raise or target levels per module. A log file is
//! reopened by [`reopen`] (on SIGHUP, for logrotate, as mosquitto does).
//! The library only emits records through the `log` facade; it never
//! installs a logger.

use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use log::{LevelFilter, Log, Metadata, Record};

/// Where and how to log, from the config file.
#[derive(Clone, Debug, PartialEq)]
pub struct LogSettings {
    /// The level without `-v` and `RUST_LOG`; `None`: info.
    pub level: Option<LevelFilter>,
    /// The destinations; `None`: stderr; empty: nowhere.
    pub dests: Option<Vec<LogDest>>,
    /// Whether lines start with the time. Default: true.
    pub timestamp: bool,
    /// The time as `strftime(3)` formats it (local time); `None`: UTC,
    /// RFC 3339 with milliseconds.
    pub timestamp_format: Option<String>,
    /// syslog's `LOG_LOCAL0`..`LOG_LOCAL7` instead of `LOG_DAEMON`.
    pub syslog_facility: Option<u8>,
    /// Log each subscription (`CLIENT QOS FILTER`), as mosquitto's
    /// `log_type subscribe`.
    pub subscriptions: bool,
    /// Log each unsubscription (`CLIENT FILTER`).
    pub unsubscriptions: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: None,
            dests: None,
            timestamp: true,
            timestamp_format: None,
            syslog_facility: None,
            subscriptions: false,
            unsubscriptions: false,
        }
    }
}

/// A log destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogDest {
    Stderr,
    Stdout,
    File(PathBuf),
    Syslog,
}

enum Sink {
    Stderr,
    Stdout,
    File { path: PathBuf, file: Mutex<File> },
    Syslog,
}

struct Logger {
    filter: env_logger::Logger,
    sinks: Vec<Sink>,
    timestamp: bool,
    format: Option<CString>,
}

static LOGGER: OnceLock<&'static Logger> = OnceLock::new();

/// Installs the logger for the whole process.
///
/// # Errors
/// A log file that cannot be opened for appending, or a timestamp format
/// with a NUL byte.
pub fn init(settings: &LogSettings, verbose: bool) -> Result<(), String> {
    let level = if verbose {
        LevelFilter::Debug
    } else {
        settings.level.unwrap_or(LevelFilter::Info)
    };
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level);
    builder.parse_env("RUST_LOG");
    let filter = builder.build();

    let dests = settings.dests.clone().unwrap_or(vec![LogDest::Stderr]);
    let mut sinks = Vec::new();
    for dest in dests {
        sinks.push(match dest {
            LogDest::Stderr => Sink::Stderr,
            LogDest::Stdout => Sink::Stdout,
            LogDest::File(path) => Sink::File {
                file: Mutex::new(open(&path)?),
                path,
            },
            LogDest::Syslog => {
                open_syslog(settings.syslog_facility);
                Sink::Syslog
            }
        });
    }
    let format = match &settings.timestamp_format {
        Some(format) => {
            // SAFETY: tzset(3) reads TZ before localtime_r is used.
            unsafe { tzset() };
            Some(
                CString::new(format.as_str())
                    .map_err(|_| "log_timestamp_format has a NUL byte".to_string())?,
            )
        }
        None => None,
    };
    let max = if sinks.is_empty() {
        LevelFilter::Off
    } else {
        filter.filter()
    };
    let logger: &'static Logger = Box::leak(Box::new(Logger {
        filter,
        sinks,
        timestamp: settings.timestamp,
        format,
    }));
    // Only fails when a logger is already installed, which main never does.
    if log::set_logger(logger).is_ok() {
        log::set_max_level(max);
        let _ = LOGGER.set(logger);
    }
    Ok(())
}

extern "C" {
    fn tzset();
}

fn open(path: &PathBuf) -> Result<File, String> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|error| format!("cannot open log file {}: {error}", path.display()))
}

/// Closes and reopens the log files (after logrotate moved them), keeping
/// the old file when the new one cannot be opened.
pub fn reopen() {
    let Some(logger) = LOGGER.get() else {
        return;
    };
    for sink in &logger.sinks {
        if let Sink::File { path, file } = sink {
            match open(path) {
                Ok(new) => {
                    if let Ok(mut file) = file.lock() {
                        *file = new;
                    }
                }
                Err(error) => log::error!("{error}; still writing to the old one"),
            }
        }
    }
}

const SYSLOG_LOCAL: [libc::c_int; 8] = [
    libc::LOG_LOCAL0,
    libc::LOG_LOCAL1,
    libc::LOG_LOCAL2,
    libc::LOG_LOCAL3,
    libc::LOG_LOCAL4,
    libc::LOG_LOCAL5,
    libc::LOG_LOCAL6,
    libc::LOG_LOCAL7,
];

fn open_syslog(facility: Option<u8>) {
    let facility = facility
        .and_then(|n| SYSLOG_LOCAL.get(usize::from(n)).copied())
        .unwrap_or(libc::LOG_DAEMON);
    // SAFETY: the ident is a static NUL-terminated string, as openlog(3)
    // keeps the pointer.
    unsafe { libc::openlog(c"mqlite".as_ptr(), libc::LOG_PID, facility) };
}

impl Logger {
    /// The time at the start of a line, with what separates it from the
    /// level: a blank after RFC 3339, mosquitto's `: ` after a format of
    /// the config's.
    fn stamp(&self) -> String {
        match &self.format {
            Some(format) => format!("{}: ", strftime(format)),
            None => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                format!("{} ", rfc3339_utc(now.as_millis()))
            }
        }
    }
}

/// `millis` since 1970 as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn rfc3339_utc(millis: u128) -> String {
    let secs = millis / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let of_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        millis % 1000
    )
}

/// The Gregorian date of the day `days` after 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, which needs no calendar tables).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=31, 1..=12).
    (year, month as u32, day as u32)
}

/// The local time as `format` says.
fn strftime(format: &CString) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `tm` is filled by localtime_r from a valid time; strftime
    // writes at most `buf.len()` bytes into `buf` and returns how many.
    let written = unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return now.to_string();
        }
        libc::strftime(
            buf.as_mut_ptr().cast::<libc::c_char>(),
            buf.len(),
            format.as_ptr(),
            &tm,
        )
    };
    String::from_utf8_lossy(&buf[..written]).into_owned()
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.filter.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.filter.matches(record) {
            return;
        }
        let text = format!("{} {}", record.level(), record.args());
        let line = if self.timestamp {
            format!("{}{text}\n", self.stamp())
        } else {
            format!("{text}\n")
        };
        for sink in &self.sinks {
            match sink {
                Sink::Stderr => {
                    let _ = std::io::stderr().lock().write_all(line.as_bytes());
                }
                Sink::Stdout => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(line.as_bytes());
                    let _ = out.flush();
                }
                Sink::File { file, .. } => {
                    if let Ok(mut file) = file.lock() {
                        let _ = file.write_all(line.as_bytes());
                    }
                }
                Sink::Syslog => syslog(record.level(), &text),
            }
        }
    }

    fn flush(&self) {}
}

fn syslog(level: log::Level, text: &str) {
    let priority = match level {
        log::Level::Error => libc::LOG_ERR,
        log::Level::Warn => libc::LOG_WARNING,
        log::Level::Info => libc::LOG_INFO,
        log::Level::Debug | log::Level::Trace => libc::LOG_DEBUG,
    };
    let Ok(text) = CString::new(text.replace('\0', " ")) else {
        return;
    };
    // SAFETY: a "%s" format with one NUL-terminated string argument.
    unsafe { libc::syslog(priority, c"%s".as_ptr(), text.as_ptr()) };
}

/// The line mosquitto logs for an accepted client, which `-v` (or
/// `connection_messages`) logs:
/// `New client connected from 127.0.0.1:50000 as ID (p2, c1, k60, u'name').`
/// (`p2` is MQTT 3.1.1, `p1` 3.1; `c` the clean session flag; `k` the
/// keepalive in seconds; `u` the user name, left out for an anonymous
/// client).
pub fn connected_line(event: &mqlite::Event<'_>) -> Option<String> {
    let mqlite::Event::Connected {
        client,
        protocol,
        clean_session,
        keep_alive,
        ..
    } = event
    else {
        return None;
    };
    let level = match protocol {
        mqlite::codec::Protocol::V31 => 1,
        mqlite::codec::Protocol::V311 => 2,
        mqlite::codec::Protocol::V5 => 5,
    };
    let user = client
        .username
        .map(|name| format!(", u'{name}'"))
        .unwrap_or_default();
    Some(format!(
        "New client connected from {} as {} (p{level}, c{}, k{keep_alive}{user}).",
        client.peer,
        client.client_id,
        u8::from(*clean_session)
    ))
}

/// mosquitto's line for a client's connection ending (none for a broker
/// stop, which ends them all).
pub fn disconnected_line(event: &mqlite::Event<'_>) -> Option<String> {
    use mqlite::CloseReason as Why;
    let mqlite::Event::Disconnected { client, reason } = event else {
        return None;
    };
    let id = client.client_id;
    Some(match reason {
        Why::Disconnect | Why::DisconnectWithWill => format!("Client {id} disconnected."),
        Why::KeepaliveTimeout => format!("Client {id} has exceeded timeout, disconnecting."),
        Why::ProtocolError => format!("Client {id} disconnected due to protocol error."),
        Why::Takeover => format!("Client {id} already connected, closing old connection."),
        Why::Network => format!("Client {id} closed its connection."),
        Why::Kicked => format!("Client {id} disconnected by the broker's host."),
        Why::Refused | Why::ConnectTimeout | Why::Shutdown => return None,
    })
}

/// mosquitto's `log_type subscribe` / `unsubscribe` lines:
/// `CLIENT QOS FILTER` and `CLIENT FILTER`.
pub fn subscription_line(event: &mqlite::Event<'_>, settings: &LogSettings) -> Option<String> {
    match event {
        mqlite::Event::Subscribed {
            client,
            filter,
            qos,
        } if settings.subscriptions => {
            Some(format!("{} {} {filter}", client.client_id, *qos as u8))
        }
        mqlite::Event::Unsubscribed { client, filter } if settings.unsubscriptions => {
            Some(format!("{} {filter}", client.client_id))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_in_utc_to_the_millisecond() {
        for (millis, text) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_796_673_434_123, "2026-12-07T19:57:14.123Z"),
            (4_102_444_799_999, "2099-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(rfc3339_utc(millis), text);
        }
    }
}
