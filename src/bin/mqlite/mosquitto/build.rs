//! From everything a mosquitto.conf said to a [`Config`]: which listeners
//! mosquitto would start (the default one, the `listener` blocks, or the
//! local-only pair), each mapped to plain TCP listeners
//! (`Config::listeners`) or, when it has settings of its own, to
//! [`Listener`]s (`Config::custom_listeners`); security broker-wide or per
//! listener; the persistence file; the bridges (`bridges.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mqlite::{ListenAddress, Listener, TlsSettings, UnixSocket};

use super::addrs;
use super::lines::{warning, Fault, Loc};
use super::model::{At, Block, State};
use crate::settings::{FileSettings, Syntax};

/// The settings of a whole mosquitto.conf (with its included files).
///
/// # Errors
/// A refused setting, with its file and line; or settings that do not work
/// together, naming the main file.
pub fn finish(state: State, main_file: &Path) -> Result<FileSettings, mqlite::Error> {
    let State {
        per_listener_settings: per_listener,
        global,
        default,
        listeners: blocks,
        local_only,
        mut config,
        persistence,
        persistence_location,
        persistence_file,
        pid_file,
        log,
        connection_messages,
        bridges,
        mut warnings,
        ..
    } = state;

    let default_starts = !local_only && starts(&default, per_listener);
    let mut started: Vec<&Block> = blocks.iter().collect();
    if default_starts {
        started.push(&default);
    } else {
        let why = if local_only {
            "ignored: without `listener`, `port` or `bind_address` mosquitto starts no default \
             listener, only one on the local machine (mqlite: 127.0.0.1:1883)"
        } else {
            "ignored: it belongs to the default listener, which is not started (no `port` or \
             `bind_address`), as in mosquitto"
        };
        for (option, loc) in default_options(&default) {
            warnings.push(warning(&loc, option, why));
        }
    }

    // Broker-wide security: mosquitto 2.0 refuses anonymous clients unless
    // told otherwise, except in local-only mode.
    let anonymous_default = local_only;
    if per_listener {
        config.allow_anonymous = Some(anonymous_default);
        config.password_file = None;
        config.acl_file = None;
    } else {
        config.allow_anonymous = Some(value(&global.allow_anonymous).unwrap_or(anonymous_default));
        config.password_file = value(&global.password_file);
        config.acl_file = value(&global.acl_file);
    }

    // Settings mosquitto has per listener (with per_listener_settings for
    // the security ones) and mqlite broker-wide: one value for them all.
    let scoped = |pick: &dyn Fn(&Block) -> Option<(String, Loc)>| -> Vec<Option<(String, Loc)>> {
        started.iter().map(|block| pick(block)).collect()
    };
    let max_qos =
        unify("max_qos", scoped(&|b| shown(&b.max_qos)), "2").map_err(Fault::into_error)?;
    config.max_qos = match max_qos.as_str() {
        "0" => mqlite::QoS::AtMostOnce,
        "1" => mqlite::QoS::AtLeastOnce,
        _ => mqlite::QoS::ExactlyOnce,
    };
    let alias = unify(
        "max_topic_alias",
        scoped(&|b| shown(&b.max_topic_alias)),
        "10",
    )
    .map_err(Fault::into_error)?;
    config.max_topic_alias = alias.parse().unwrap_or(10);
    let (zero_length, prefix) = if per_listener {
        (
            unify(
                "allow_zero_length_clientid",
                scoped(&|b| shown(&b.security.allow_zero_length_clientid)),
                "true",
            )
            .map_err(Fault::into_error)?,
            unify(
                "auto_id_prefix",
                scoped(&|b| shown(&b.security.auto_id_prefix)),
                "auto-",
            )
            .map_err(Fault::into_error)?,
        )
    } else {
        (
            value(&global.allow_zero_length_clientid)
                .unwrap_or(true)
                .to_string(),
            value(&global.auto_id_prefix).unwrap_or_else(|| "auto-".to_string()),
        )
    };
    config.allow_zero_length_client_id = zero_length == "true";
    config.auto_id_prefix = prefix;

    if local_only {
        config.listeners = vec![SocketAddr::from(([127, 0, 0, 1], 1883))];
    } else {
        config.listeners = Vec::new();
        for block in &started {
            let made = listeners(block, per_listener, config.allow_anonymous, &mut warnings)
                .map_err(Fault::into_error)?;
            for listener in made {
                match listener.address {
                    ListenAddress::Tcp(addr) if is_plain(&listener) => config.listeners.push(addr),
                    _ => config.custom_listeners.push(listener),
                }
            }
        }
    }

    config.persistence = persistence.then(|| {
        let file = value(&persistence_file).unwrap_or_else(|| "mosquitto.db".to_string());
        match value(&persistence_location) {
            Some(dir) => dir.join(file),
            None => PathBuf::from(file),
        }
    });

    config.bridges = super::bridges::finish(bridges, &mut warnings).map_err(Fault::into_error)?;

    config
        .validate()
        .map_err(|error| mqlite::Error::ConfigFile {
            path: main_file.display().to_string(),
            reason: format!("the settings do not work together: {error}"),
        })?;
    Ok(FileSettings {
        syntax: Syntax::Mosquitto,
        config,
        log,
        pid_file: value(&pid_file),
        connection_messages: Some(connection_messages),
        warnings,
    })
}

fn value<T: Clone>(slot: &At<T>) -> Option<T> {
    slot.as_ref().map(|(value, _)| value.clone())
}

fn shown<T: ToString>(slot: &At<T>) -> Option<(String, Loc)> {
    slot.as_ref()
        .map(|(value, loc)| (value.to_string(), loc.clone()))
}

/// The one value of a setting mosquitto has per listener: every started
/// listener's (given, or `default`) must be the same.
fn unify(option: &str, values: Vec<Option<(String, Loc)>>, default: &str) -> Result<String, Fault> {
    let mut chosen: Option<(String, Option<Loc>)> = None;
    for entry in values {
        let (value, loc) = match entry {
            Some((value, loc)) => (value, Some(loc)),
            None => (default.to_string(), None),
        };
        match &chosen {
            None => chosen = Some((value, loc)),
            Some((first, first_loc)) if *first != value => {
                let place = |loc: &Option<Loc>| match loc {
                    Some(loc) => format!("set at {loc}"),
                    None => "mosquitto's default".to_string(),
                };
                let at = loc.clone().or_else(|| first_loc.clone());
                let Some(at) = at else {
                    continue;
                };
                return Err(Fault::new(
                    &at,
                    option,
                    format!(
                        "mqlite has one {option} for all listeners, and they differ: \
                         `{value}` ({}) and `{first}` ({})",
                        place(&loc),
                        place(first_loc)
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(chosen.map_or_else(|| default.to_string(), |(value, _)| value))
}

/// Whether mosquitto starts the default listener: with `port` or
/// `bind_address`, or any option that only a listener has set before the
/// first `listener` line (mosquitto's own list in `config__parse_args`).
fn starts(block: &Block, per_listener: bool) -> bool {
    block.port.is_some()
        || block.host.is_some()
        || block.domain.is_some()
        || block.websocket.as_ref().is_some_and(|(ws, _)| *ws)
        || block.tls.first().is_some()
        || block.max_connections.as_ref().is_some_and(|(n, _)| *n >= 0)
        || block.max_qos.as_ref().is_some_and(|(qos, _)| *qos != 2)
        || (per_listener
            && (block.security.password_file.is_some()
                || block
                    .security
                    .allow_zero_length_clientid
                    .as_ref()
                    .is_some_and(|(allowed, _)| !allowed)))
}

/// The options set on the default listener, for warnings when it is not
/// started.
fn default_options(block: &Block) -> Vec<(&'static str, Loc)> {
    let mut found = Vec::new();
    let mut note = |name: &'static str, loc: Option<&Loc>| {
        if let Some(loc) = loc {
            found.push((name, loc.clone()));
        }
    };
    note("port", block.port.as_ref().map(|v| &v.1));
    note("bind_address", block.host.as_ref().map(|v| &v.1));
    note("socket_domain", block.domain.as_ref().map(|v| &v.1));
    note("protocol", block.websocket.as_ref().map(|v| &v.1));
    if let Some((name, loc)) = block.tls.first() {
        note(name, Some(loc));
    }
    note(
        "max_connections",
        block.max_connections.as_ref().map(|v| &v.1),
    );
    note("max_qos", block.max_qos.as_ref().map(|v| &v.1));
    note(
        "max_topic_alias",
        block.max_topic_alias.as_ref().map(|v| &v.1),
    );
    let security = &block.security;
    note(
        "allow_anonymous",
        security.allow_anonymous.as_ref().map(|v| &v.1),
    );
    note(
        "password_file",
        security.password_file.as_ref().map(|v| &v.1),
    );
    note("acl_file", security.acl_file.as_ref().map(|v| &v.1));
    note(
        "allow_zero_length_clientid",
        security.allow_zero_length_clientid.as_ref().map(|v| &v.1),
    );
    note(
        "auto_id_prefix",
        security.auto_id_prefix.as_ref().map(|v| &v.1),
    );
    found.sort_by_key(|(_, loc)| loc.line);
    found
}

/// Whether a listener has nothing of its own: a plain TCP listener with the
/// broker-wide settings (`Config::listeners`) stands for it.
fn is_plain(listener: &Listener) -> bool {
    listener.tls.is_none()
        && !listener.websocket
        && listener.max_connections.is_none()
        && listener.allow_anonymous.is_none()
        && listener.password_file.is_none()
        && listener.acl_file.is_none()
}

/// The listeners one block gives: one per address its host resolves to
/// (or both IP versions' wildcard), all with the block's settings.
fn listeners(
    block: &Block,
    per_listener: bool,
    broker_anonymous: Option<bool>,
    warnings: &mut Vec<String>,
) -> Result<Vec<Listener>, Fault> {
    let port = value(&block.port).unwrap_or(1883);
    let name = if block.opened.is_some() {
        "listener"
    } else {
        "bind_address"
    };
    let addresses: Vec<ListenAddress> = match (&block.host, port) {
        (Some((path, _)), 0) => {
            if let Some((_, loc)) = &block.domain {
                warnings.push(warning(loc, "socket_domain", "ignored for a Unix socket"));
            }
            vec![ListenAddress::Unix(UnixSocket {
                path: PathBuf::from(path),
                mode: None,
                owner: None,
                group: None,
            })]
        }
        (host, port) => {
            let domain = value(&block.domain);
            let addrs = match host {
                Some((host, loc)) => addrs::resolve(host, port, domain)
                    .map_err(|reason| Fault::new(loc, name, reason))?,
                None => addrs::wildcard(port, domain),
            };
            addrs.into_iter().map(ListenAddress::Tcp).collect()
        }
    };

    let tls = tls(block, warnings)?;
    let max_connections = match &block.max_connections {
        Some((n, loc)) if *n == 0 => {
            return Err(Fault::new(
                loc,
                "max_connections",
                "0 would refuse every client; -1 is no limit",
            ))
        }
        Some((n, _)) if *n > 0 => Some(*n as usize),
        _ => None,
    };
    if let (Some(limit), true) = (max_connections, addresses.len() > 1) {
        if let Some((_, loc)) = &block.max_connections {
            warnings.push(warning(
                loc,
                "max_connections",
                &format!(
                    "this listener has {} addresses; mqlite allows {limit} connections on each",
                    addresses.len()
                ),
            ));
        }
    }
    let security = &block.security;
    // With per_listener_settings, mosquitto refuses anonymous clients on a
    // listener that does not allow them; what equals the broker-wide value
    // is left to it.
    let anonymous = if per_listener {
        Some(value(&security.allow_anonymous).unwrap_or(false))
            .filter(|v| Some(*v) != broker_anonymous)
    } else {
        None
    };
    Ok(addresses
        .into_iter()
        .map(|address| Listener {
            address,
            tls: tls.clone(),
            websocket: value(&block.websocket).unwrap_or(false),
            max_connections,
            allow_anonymous: anonymous,
            password_file: if per_listener {
                value(&security.password_file)
            } else {
                None
            },
            acl_file: if per_listener {
                value(&security.acl_file)
            } else {
                None
            },
        })
        .collect())
}

/// A block's TLS: on with `certfile` and `keyfile` (as mosquitto).
fn tls(block: &Block, warnings: &mut Vec<String>) -> Result<Option<TlsSettings>, Fault> {
    let tls = &block.tls;
    let Some((first, first_loc)) = tls.first() else {
        return Ok(None);
    };
    let (cert, key) = match (&tls.certfile, &tls.keyfile) {
        (Some((cert, _)), Some((key, _))) => (cert.clone(), key.clone()),
        (Some((_, loc)), None) => {
            return Err(Fault::new(loc, "certfile", "needs keyfile too for TLS"))
        }
        (None, Some((_, loc))) => {
            return Err(Fault::new(loc, "keyfile", "needs certfile too for TLS"))
        }
        (None, None) => {
            warnings.push(warning(
                first_loc,
                first,
                "ignored: without certfile and keyfile this listener has no TLS (as mosquitto)",
            ));
            return Ok(None);
        }
    };
    let mut settings = TlsSettings::new(cert, key);
    settings.ca_file = value(&tls.cafile);
    settings.ca_path = value(&tls.capath);
    settings.require_certificate = value(&tls.require_certificate).unwrap_or(false);
    settings.use_identity_as_username = value(&tls.use_identity_as_username).unwrap_or(false);
    settings.use_subject_as_username = value(&tls.use_subject_as_username).unwrap_or(false);
    if let Some(version) = value(&tls.tls_version) {
        settings.min_version = version;
    }
    if settings.use_identity_as_username && settings.use_subject_as_username {
        if let Some((_, loc)) = &tls.use_subject_as_username {
            warnings.push(warning(
                loc,
                "use_subject_as_username",
                "ignored: use_identity_as_username takes priority (as mosquitto)",
            ));
        }
        settings.use_subject_as_username = false;
    }
    let identity = tls
        .use_identity_as_username
        .as_ref()
        .filter(|(on, _)| *on)
        .map(|(_, loc)| ("use_identity_as_username", loc))
        .or(tls
            .use_subject_as_username
            .as_ref()
            .filter(|(on, _)| *on)
            .map(|(_, loc)| ("use_subject_as_username", loc)));
    if let (Some((option, loc)), false) = (identity, settings.require_certificate) {
        return Err(Fault::new(
            loc,
            option,
            "needs `require_certificate true` (the name comes from the client's certificate)",
        ));
    }
    if settings.require_certificate && settings.ca_file.is_none() && settings.ca_path.is_none() {
        if let Some((_, loc)) = &tls.require_certificate {
            return Err(Fault::new(
                loc,
                "require_certificate",
                "needs cafile or capath to verify client certificates against",
            ));
        }
    }
    Ok(Some(settings))
}
