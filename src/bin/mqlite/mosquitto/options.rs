//! One mosquitto.conf line at a time: each option of mosquitto 2.0 is
//! applied, skipped with a warning (when skipping it cannot change who may
//! connect or what they receive), or refused (with the file, the line and
//! the option). `include_dir` is read by `mod.rs`, which knows the files;
//! bridge options by `bridges.rs`.

use std::path::PathBuf;
use std::time::Duration;

use mqlite::TlsVersion;

use super::lines::{Fault, Line};
use super::model::{set, set_once, Domain, State};
use super::names::{REFUSED, SKIPPED, USER};
use crate::logging::LogDest;

/// Applies one line (not `include_dir`). `current` is the file's current
/// listener block, changed by a `listener` line.
pub fn apply(state: &mut State, current: &mut Option<usize>, line: &Line<'_>) -> Result<(), Fault> {
    if listener_option(state, current, line)? || security_option(state, *current, line)? {
        return Ok(());
    }
    let warnings = &mut state.warnings;
    let config = &mut state.config;
    match line.option {
        "max_inflight_messages" => {
            // mosquitto: 0 (or 65535, or negative) is no limit.
            let value = line.int(warnings)?;
            if value > i64::from(u16::MAX) {
                return Err(line.refuse(format!("{value} is more than 65535")));
            }
            config.max_inflight = match value {
                1..=65534 => value as u16,
                _ => u16::MAX,
            };
        }
        "max_inflight_bytes" => config.max_inflight_bytes = line.int(warnings)?.max(0) as usize,
        "max_queued_messages" => config.max_queued_messages = no_limit_at_zero(line.int(warnings)?),
        "max_queued_bytes" => config.max_queued_bytes = no_limit_at_zero(line.int(warnings)?),
        "max_packet_size" => {
            let value = line.int(warnings)?;
            if value < 20 {
                return Err(line.refuse(format!("{value} is less than 20 (as mosquitto)")));
            }
            config.max_packet_size = value.min(268_435_460) as usize;
            if value > 268_435_460 {
                warnings.push(
                    line.warn("more than the protocol's largest packet: 268435460 bytes used"),
                );
            }
        }
        "max_keepalive" => {
            let value = line.int_in(0, 65535, warnings)?;
            config.max_keepalive = (value > 0).then_some(value as u16);
        }
        "sys_interval" => {
            let value = line.int_in(0, 65535, warnings)?;
            config.sys_interval = (value > 0).then(|| Duration::from_secs(value as u64));
        }
        "persistent_client_expiration" => {
            config.session_expiry = Some(expiration(line, warnings)?);
        }
        "retain_available" => config.retain_available = line.bool(warnings)?,
        "connection_messages" => state.connection_messages = line.bool(warnings)?,
        "persistence" | "retained_persistence" => state.persistence = line.bool(warnings)?,
        "persistence_file" => {
            set_once(&mut state.persistence_file, line.text()?.to_string(), line)?
        }
        "persistence_location" => set_once(
            &mut state.persistence_location,
            PathBuf::from(line.text()?),
            line,
        )?,
        "pid_file" => set_once(&mut state.pid_file, PathBuf::from(line.text()?), line)?,
        "log_dest" => log_dest(state, line)?,
        "log_type" => log_type(state, line)?,
        "log_timestamp" => state.log.timestamp = line.bool(warnings)?,
        "log_timestamp_format" => {
            if state.log.timestamp_format.is_some() {
                return Err(line.refuse("given twice; mosquitto refuses this too"));
            }
            state.log.timestamp_format = Some(line.text()?.to_string());
        }
        "log_facility" => state.log.syslog_facility = Some(line.int_in(0, 7, warnings)? as u8),
        // Read with mqlite's behaviour as their only value.
        "check_retain_source" => {
            if line.bool(warnings)? {
                warnings.push(line.warn(
                    "skipped: mqlite checks the subscriber's right to read a retained \
                     message, not whether its publisher may still write it",
                ));
            }
        }
        "queue_qos0_messages" | "upgrade_outgoing_qos" | "use_username_as_clientid" => {
            if line.bool(warnings)? {
                return Err(line.refuse("only `false` is supported: mqlite does not do this"));
            }
        }
        "memory_limit" | "message_size_limit" => {
            if line.int(warnings)? != 0 {
                return Err(line.refuse(
                    "only 0 (no limit) is supported; max_packet_size limits what a client may send",
                ));
            }
        }
        "user" => {
            line.text()?;
            // SAFETY: geteuid(2) cannot fail and touches no memory.
            let root = unsafe { libc::geteuid() } == 0;
            let text = if root {
                format!("skipped, while running as root: {USER}")
            } else {
                "skipped: no effect unless started as root (as mosquitto)".to_string()
            };
            warnings.push(line.warn(&text));
        }
        option => return other(state, line, option),
    }
    Ok(())
}

/// mosquitto's "0: no limit" for counts.
fn no_limit_at_zero(value: i64) -> usize {
    if value <= 0 {
        usize::MAX
    } else {
        value as usize
    }
}

/// Skipped, refused and unknown options.
fn other(state: &mut State, line: &Line<'_>, option: &str) -> Result<(), Fault> {
    if let Some((_, why)) = SKIPPED.iter().find(|(name, _)| *name == option) {
        state.warnings.push(line.warn(&format!("skipped: {why}")));
        return Ok(());
    }
    if let Some((_, why)) = REFUSED.iter().find(|(name, _)| *name == option) {
        return Err(line.refuse(format!("not supported: {why}")));
    }
    if option.starts_with("auth_opt_") || option.starts_with("plugin_opt_") {
        return Err(line.refuse("not supported: mqlite loads no plugins"));
    }
    Err(line.refuse("unknown option (not one of mosquitto 2.0's)"))
}

/// Listener options: `true` when `line` was one.
fn listener_option(
    state: &mut State,
    current: &mut Option<usize>,
    line: &Line<'_>,
) -> Result<bool, Fault> {
    let warnings = &mut state.warnings;
    match line.option {
        "listener" => {
            state.local_only = false;
            let words = line.words();
            let Some(port) = words.first() else {
                return Err(line.refuse("needs a port"));
            };
            let port: u16 = port.parse().map_err(|_| {
                line.refuse(format!(
                    "`{port}` is not a port (0-65535; 0 with a Unix socket path)"
                ))
            })?;
            if words.len() > 2 {
                let extra = words[2..].join(" ");
                warnings.push(line.warn(&format!(
                    "`{extra}` after the address ignored (as mosquitto)"
                )));
            }
            if port == 0 && words.len() < 2 {
                return Err(line.refuse("a listener with port 0 must give a Unix socket path"));
            }
            let mut block = super::model::Block {
                opened: Some(line.loc.clone()),
                ..Default::default()
            };
            set(&mut block.port, port, line);
            if let Some(host) = words.get(1) {
                set(&mut block.host, host.to_string(), line);
            }
            state.listeners.push(block);
            *current = Some(state.listeners.len() - 1);
        }
        "port" => {
            state.local_only = false;
            let port = line.int_in(1, 65535, warnings)? as u16;
            if let Some((_, first)) = &state.default.port {
                warnings.push(line.warn(&format!(
                    "the default listener's port was already given at {first}; the last one counts (as mosquitto)"
                )));
            }
            set(&mut state.default.port, port, line);
        }
        "bind_address" => {
            state.local_only = false;
            let host = line.text()?.to_string();
            set_once(&mut state.default.host, host, line)?;
        }
        "socket_domain" => {
            let domain = match line.word(warnings)? {
                "ipv4" => Domain::Ipv4,
                "ipv6" => Domain::Ipv6,
                other => return Err(line.refuse(format!("`{other}` is not ipv4 or ipv6"))),
            };
            set(&mut state.block(*current).domain, domain, line);
        }
        "protocol" => {
            let websocket = match line.word(warnings)? {
                "mqtt" => false,
                "websockets" => true,
                other => return Err(line.refuse(format!("`{other}` is not mqtt or websockets"))),
            };
            set(&mut state.block(*current).websocket, websocket, line);
        }
        "max_connections" => {
            let value = line.int(warnings)?;
            set(&mut state.block(*current).max_connections, value, line);
        }
        "max_qos" | "maximum_qos" => {
            let value = line.int_in(0, 2, warnings)? as u8;
            set(&mut state.block(*current).max_qos, value, line);
        }
        "max_topic_alias" => {
            let value = line.int_in(0, 65535, warnings)? as u16;
            set(&mut state.block(*current).max_topic_alias, value, line);
        }
        "certfile" | "keyfile" | "cafile" | "capath" => {
            let path = PathBuf::from(line.text()?);
            let tls = &mut state.block(*current).tls;
            let slot = match line.option {
                "certfile" => &mut tls.certfile,
                "keyfile" => &mut tls.keyfile,
                "cafile" => &mut tls.cafile,
                _ => &mut tls.capath,
            };
            set_once(slot, path, line)?;
        }
        "require_certificate" | "use_identity_as_username" | "use_subject_as_username" => {
            let value = line.bool(warnings)?;
            let tls = &mut state.block(*current).tls;
            let slot = match line.option {
                "require_certificate" => &mut tls.require_certificate,
                "use_identity_as_username" => &mut tls.use_identity_as_username,
                _ => &mut tls.use_subject_as_username,
            };
            set(slot, value, line);
        }
        "tls_version" => {
            let version = match line.text()? {
                "tlsv1.3" => TlsVersion::Tls13,
                "tlsv1.2" => TlsVersion::Tls12,
                "tlsv1.1" => {
                    warnings.push(line.warn("TLS 1.2 is mqlite's oldest version: tlsv1.2 used"));
                    TlsVersion::Tls12
                }
                other => return Err(line.refuse(format!("`{other}` is not tlsv1.2 or tlsv1.3"))),
            };
            set_once(&mut state.block(*current).tls.tls_version, version, line)?;
        }
        "tls_keyform" => match line.text()? {
            "pem" => {}
            "engine" => return Err(line.refuse("not supported: mqlite has no OpenSSL engines")),
            other => return Err(line.refuse(format!("`{other}` is not pem"))),
        },
        _ => return Ok(false),
    }
    Ok(true)
}

/// Security options: `true` when `line` was one.
fn security_option(
    state: &mut State,
    current: Option<usize>,
    line: &Line<'_>,
) -> Result<bool, Fault> {
    match line.option {
        "per_listener_settings" => {
            let value = line.bool(&mut state.warnings)?;
            if value {
                if let Some(first) = &state.security_seen {
                    return Err(line.refuse(format!(
                        "must come before every security option (the first is at {first}), as mosquitto requires"
                    )));
                }
            }
            state.per_listener_settings = value;
        }
        "allow_anonymous" | "allow_zero_length_clientid" => {
            let value = line.bool(&mut state.warnings)?;
            let security = state.security(current, line);
            let slot = match line.option {
                "allow_anonymous" => &mut security.allow_anonymous,
                _ => &mut security.allow_zero_length_clientid,
            };
            set(slot, value, line);
        }
        "password_file" | "acl_file" => {
            let path = PathBuf::from(line.text()?);
            let security = state.security(current, line);
            let slot = match line.option {
                "password_file" => &mut security.password_file,
                _ => &mut security.acl_file,
            };
            set_once(slot, path, line)?;
        }
        "auto_id_prefix" => {
            let prefix = line.text()?.to_string();
            set_once(
                &mut state.security(current, line).auto_id_prefix,
                prefix,
                line,
            )?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// `persistent_client_expiration`: a count and h, d, w, m or y (hours,
/// days, weeks, 30-day months, 365-day years).
fn expiration(line: &Line<'_>, warnings: &mut Vec<String>) -> Result<Duration, Fault> {
    let word = line.word(warnings)?;
    let bad = || {
        line.refuse(format!(
            "`{word}` is not a duration like 1h, 2d, 3w, 1m or 1y (hours, days, weeks, months, years)"
        ))
    };
    let unit = word.chars().last().ok_or_else(bad)?;
    let seconds: u64 = match unit {
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        'm' => 30 * 86_400,
        'y' => 365 * 86_400,
        _ => return Err(bad()),
    };
    let count: u64 = word[..word.len() - 1].parse().map_err(|_| bad())?;
    if count == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(count.saturating_mul(seconds)))
}

/// `log_dest`: the first one replaces the default (stderr), the next ones
/// add to it, `none` clears.
fn log_dest(state: &mut State, line: &Line<'_>) -> Result<(), Fault> {
    let words = line.words();
    let Some(kind) = words.first() else {
        return Err(line.refuse("needs a destination"));
    };
    let dest = match *kind {
        "none" => {
            state.log.dests = Some(Vec::new());
            return Ok(());
        }
        "stderr" => LogDest::Stderr,
        "stdout" => LogDest::Stdout,
        "syslog" => LogDest::Syslog,
        "file" => {
            let path = line.rest["file".len()..].trim_matches([' ', '\t']);
            if path.is_empty() {
                return Err(line.refuse("`file` needs a path"));
            }
            set_once(&mut state.log_file, PathBuf::from(path), line)?;
            LogDest::File(PathBuf::from(path))
        }
        "topic" | "dlt" => {
            state.warnings.push(line.warn(&format!(
                "skipped: mqlite does not log to `{kind}` (stderr, stdout, file and syslog only)"
            )));
            return Ok(());
        }
        other => {
            return Err(line.refuse(format!(
                "`{other}` is not none, stderr, stdout, file, syslog, topic or dlt"
            )))
        }
    };
    let dests = state.log.dests.get_or_insert_with(Vec::new);
    if !dests.contains(&dest) {
        dests.push(dest);
    }
    Ok(())
}

/// `log_type`: mqlite's logger has levels, not types, so the most verbose
/// type given sets the level; `subscribe` / `unsubscribe` also log each
/// subscription change.
fn log_type(state: &mut State, line: &Line<'_>) -> Result<(), Fault> {
    use log::LevelFilter;
    let word = line.word(&mut state.warnings)?;
    let level = match word {
        "none" => {
            state.log.level = Some(LevelFilter::Off);
            state.log.subscriptions = false;
            state.log.unsubscriptions = false;
            return Ok(());
        }
        "error" => LevelFilter::Error,
        "warning" => LevelFilter::Warn,
        "notice" | "information" | "websockets" | "internal" => LevelFilter::Info,
        "subscribe" => {
            state.log.subscriptions = true;
            LevelFilter::Info
        }
        "unsubscribe" => {
            state.log.unsubscriptions = true;
            LevelFilter::Info
        }
        "debug" | "all" => {
            if word == "all" {
                state.log.subscriptions = true;
                state.log.unsubscriptions = true;
            }
            LevelFilter::Debug
        }
        other => {
            return Err(line.refuse(format!(
                "`{other}` is not a log type (none, error, warning, notice, information, debug, \
                 subscribe, unsubscribe, websockets, internal, all)"
            )))
        }
    };
    state.log.level = Some(state.log.level.map_or(level, |current| current.max(level)));
    Ok(())
}
