//! mosquitto.conf's bridges, mapped onto [`mqlite::Bridge`].
//!
//! `connection NAME` starts a bridge, and every bridge option after it in
//! the same file is that bridge's, up to the next `connection`. As in
//! mosquitto, broker and listener options may come between them (a
//! `listener` line does not end a bridge, nor does a `connection` line end
//! a listener block), and each file starts outside any bridge: mosquitto's
//! parser keeps its current bridge per file, so a bridge option before a
//! file's first `connection` is refused. Values are read as mosquitto
//! reads them; what needs the whole bridge (an address, a topic, TLS
//! options that go together) is checked once every file is read, naming
//! the line at fault.

use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::time::Duration;

use mqlite::topic::{is_valid_topic_filter, is_valid_topic_name};
use mqlite::{Bridge, BridgeDirection, BridgeProtocol, BridgeStart, BridgeTls, BridgeTopic, QoS};

use super::lines::{warning, Fault, Line, Loc};
use super::model::{set, At, State};
use super::names::{BRIDGE, BRIDGE_REFUSED, BRIDGE_SKIPPED};

/// mosquitto's port for an address without one, TLS or not.
const DEFAULT_PORT: u16 = 1883;

/// A bridge as its lines have described it so far.
pub struct Pending {
    /// The `connection` line.
    opened: Loc,
    bridge: Bridge,
    /// The text options given (by their current names), with their lines:
    /// mosquitto takes each once per bridge.
    given: Vec<(&'static str, Loc)>,
    /// TLS settings; TLS is on with a CA file or directory, as in
    /// mosquitto.
    tls: BridgeTls,
    insecure: At<bool>,
}

impl Pending {
    fn new(name: &str, opened: Loc) -> Pending {
        let mut bridge = Bridge::new(name, "", Vec::new());
        bridge.addresses.clear();
        Pending {
            opened,
            bridge,
            given: Vec::new(),
            tls: BridgeTls {
                ca_file: None,
                ca_path: None,
                cert_file: None,
                key_file: None,
                insecure: false,
            },
            insecure: None,
        }
    }

    /// Where text option `name` was given.
    fn at(&self, name: &str) -> Option<&Loc> {
        self.given
            .iter()
            .find(|(given, _)| *given == name)
            .map(|(_, loc)| loc)
    }

    /// The value of text option `name` (its current name): the rest of the
    /// line, given once per bridge.
    fn once<'l>(&mut self, name: &'static str, line: &'l Line<'_>) -> Result<&'l str, Fault> {
        if let Some(first) = self.at(name) {
            return Err(line.refuse(format!(
                "given twice for bridge `{}` (first at {first}); mosquitto refuses this too",
                self.bridge.name
            )));
        }
        let value = line.text()?;
        self.given.push((name, line.loc.clone()));
        Ok(value)
    }
}

/// Applies `line` when it is a bridge option, and says whether it was.
/// `current` is the index of the file's latest `connection`.
pub fn apply(
    state: &mut State,
    current: &mut Option<usize>,
    line: &Line<'_>,
) -> Result<bool, Fault> {
    let option = line.option;
    if let Some((_, why)) = BRIDGE_REFUSED.iter().find(|(name, _)| *name == option) {
        return Err(line.refuse(format!("not supported: {why}")));
    }
    let skipped = BRIDGE_SKIPPED.iter().find(|(name, _)| *name == option);
    if skipped.is_none() && !BRIDGE.contains(&option) {
        return Ok(false);
    }
    if option == "connection" {
        connection(state, current, line)?;
        return Ok(true);
    }
    let Some(pending) = current.and_then(|index| state.bridges.get_mut(index)) else {
        return Err(line.refuse(
            "a bridge option, but no `connection` line comes before it in this file \
             (each file starts outside any bridge, as in mosquitto)",
        ));
    };
    match skipped {
        Some((_, why)) => state.warnings.push(line.warn(&format!("skipped: {why}"))),
        None => option_of(pending, line, &mut state.warnings)?,
    }
    Ok(true)
}

/// `connection NAME`: a new bridge, current from here.
fn connection(
    state: &mut State,
    current: &mut Option<usize>,
    line: &Line<'_>,
) -> Result<(), Fault> {
    let name = line.word(&mut state.warnings)?;
    if name.contains(['/', '+', '#']) {
        return Err(line.refuse(format!(
            "`{name}`: a bridge name may not hold '/', '+' or '#' (it is part of topics and \
             client ids)"
        )));
    }
    if let Some(first) = state.bridges.iter().find(|p| p.bridge.name == name) {
        return Err(line.refuse(format!(
            "a bridge named `{name}` was already started at {}; mosquitto refuses this too",
            first.opened
        )));
    }
    state.bridges.push(Pending::new(name, line.loc.clone()));
    *current = Some(state.bridges.len() - 1);
    Ok(())
}

/// One option of the current bridge.
fn option_of(p: &mut Pending, line: &Line<'_>, warnings: &mut Vec<String>) -> Result<(), Fault> {
    let bridge = &mut p.bridge;
    match line.option {
        // mosquitto takes one address line per bridge; more add up here.
        "address" | "addresses" => {
            let words = line.words();
            if words.is_empty() {
                return Err(line.refuse("needs at least one address"));
            }
            for word in words {
                bridge.addresses.push(address(line, word)?);
            }
        }
        "topic" => bridge.topics.push(topic(line, warnings)?),
        "round_robin" => bridge.round_robin = line.bool(warnings)?,
        "cleansession" => bridge.clean_session = line.bool(warnings)?,
        "local_cleansession" => bridge.local_clean_session = Some(line.bool(warnings)?),
        "try_private" => bridge.try_private = line.bool(warnings)?,
        "notifications" => bridge.notifications = line.bool(warnings)?,
        "keepalive_interval" => {
            let mut seconds = line.int(warnings)?;
            if seconds > i64::from(u16::MAX) {
                return Err(line.refuse(format!("{seconds} is more than 65535")));
            }
            if seconds < 5 {
                warnings.push(line.warn(&format!(
                    "{seconds} is less than 5 seconds: 5 used (as mosquitto)"
                )));
                seconds = 5;
            }
            bridge.keepalive = Duration::from_secs(seconds as u64);
        }
        "restart_timeout" => restart_timeout(bridge, line, warnings)?,
        "threshold" => {
            let count = line.int(warnings)?;
            if count < 1 {
                return Err(line.refuse(format!("{count} is less than 1")));
            }
            bridge.threshold = usize::try_from(count).unwrap_or(usize::MAX);
        }
        "idle_timeout" => {
            let seconds = line.int(warnings)?;
            if !(1..=i64::from(u32::MAX)).contains(&seconds) {
                return Err(line.refuse(format!("{seconds} is not 1 to 4294967295 seconds")));
            }
            bridge.idle_timeout = Duration::from_secs(seconds as u64);
        }
        "start_type" => {
            bridge.start = match line.word(warnings)? {
                "automatic" => BridgeStart::Automatic,
                "once" => BridgeStart::Once,
                "lazy" => BridgeStart::Lazy,
                "manual" => {
                    return Err(line.refuse("`manual` is not supported; mosquitto refuses it too"))
                }
                other => {
                    return Err(line.refuse(format!("`{other}` is not automatic, lazy or once")))
                }
            }
        }
        "bridge_protocol_version" => {
            bridge.protocol = match line.word(warnings)? {
                "mqttv31" => BridgeProtocol::V31,
                "mqttv311" => BridgeProtocol::V311,
                "mqttv50" => BridgeProtocol::V5,
                other => {
                    return Err(
                        line.refuse(format!("`{other}` is not mqttv31, mqttv311 or mqttv50"))
                    )
                }
            }
        }
        "remote_clientid" | "clientid" => {
            let id = p.once("remote_clientid", line)?.to_string();
            p.bridge.remote_client_id = Some(id);
        }
        "remote_username" | "username" => {
            let name = p.once("remote_username", line)?.to_string();
            p.bridge.remote_username = Some(name);
        }
        "remote_password" | "password" => {
            let password = p.once("remote_password", line)?.to_string();
            p.bridge.remote_password = Some(password);
        }
        "notification_topic" => {
            let topic = p.once("notification_topic", line)?.to_string();
            if !is_valid_topic_name(&topic) {
                return Err(line.refuse(format!("`{topic}` is not a topic name (no `+` or `#`)")));
            }
            p.bridge.notification_topic = Some(topic);
        }
        "bridge_cafile" => p.tls.ca_file = Some(PathBuf::from(p.once("bridge_cafile", line)?)),
        "bridge_capath" => p.tls.ca_path = Some(PathBuf::from(p.once("bridge_capath", line)?)),
        "bridge_certfile" => {
            p.tls.cert_file = Some(PathBuf::from(p.once("bridge_certfile", line)?));
        }
        "bridge_keyfile" => p.tls.key_file = Some(PathBuf::from(p.once("bridge_keyfile", line)?)),
        "bridge_insecure" => {
            let insecure = line.bool(warnings)?;
            if insecure {
                warnings.push(line.warn(&format!(
                    "bridge `{}` does not check that the upstream's certificate names its host \
                     (never in production)",
                    bridge.name
                )));
            }
            set(&mut p.insecure, insecure, line);
        }
        "bridge_tls_version" => match p.once("bridge_tls_version", line)? {
            "tlsv1.2" => {}
            "tlsv1.1" => warnings.push(
                line.warn("TLS 1.2 is the oldest version mqlite's bridge speaks: tlsv1.2 used"),
            ),
            "tlsv1.3" => {
                return Err(line.refuse(
                    "not supported: mqlite's bridge offers TLS 1.2 and 1.3 and cannot refuse \
                         1.2; use tlsv1.2",
                ))
            }
            other => {
                return Err(line.refuse(format!("`{other}` is not tlsv1.1, tlsv1.2 or tlsv1.3")))
            }
        },
        // Read with the value mqlite has (mosquitto's default) only.
        "notifications_local_only" => {
            if line.bool(warnings)? {
                return Err(line.refuse(
                    "only `false` is supported: mqlite's bridge also publishes its state upstream",
                ));
            }
        }
        "bridge_outgoing_retain" => {
            if !line.bool(warnings)? {
                return Err(line.refuse(
                    "only `true` is supported: mqlite's bridge cannot clear the retain flag of \
                     what it sends",
                ));
            }
        }
        "bridge_max_packet_size" => {
            if line.int(warnings)? > 0 {
                return Err(line.refuse(
                    "only 0 (no limit) is supported: mqlite's bridge does not limit what it sends",
                ));
            }
        }
        "bridge_require_ocsp" => {
            if line.bool(warnings)? {
                return Err(
                    line.refuse("only `false` is supported: mqlite's bridge does not check OCSP")
                );
            }
        }
        "bridge_tls_use_os_certs" => {
            if line.bool(warnings)? {
                return Err(line.refuse(
                    "only `false` is supported: mqlite's bridge verifies the upstream against \
                     bridge_cafile or bridge_capath only",
                ));
            }
        }
        other => return Err(line.refuse(format!("`{other}` is not a bridge option"))),
    }
    Ok(())
}

/// One address of `address` / `addresses`: mosquitto's `host[:port]`, the
/// port after the last `:` (so an IPv6 address needs one: `::1:1883`),
/// 1883 without one. mqlite also takes `[::1]:1883`. The result gives the
/// port, as `Bridge` would otherwise take 8883 with TLS where mosquitto
/// takes 1883.
fn address(line: &Line<'_>, word: &str) -> Result<String, Fault> {
    let bad = |why: &str| line.refuse(format!("`{word}`: {why}"));
    let port = |text: &str| {
        text.parse::<u16>()
            .ok()
            .filter(|port| *port > 0)
            .ok_or_else(|| bad("the port must be 1 to 65535"))
    };
    let ipv6 = |host: &str| {
        host.split('%')
            .next()
            .unwrap_or(host)
            .parse::<Ipv6Addr>()
            .is_ok()
    };
    if let Some(rest) = word.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(bad("an IPv6 address needs its closing ']'"));
        };
        if !ipv6(host) {
            return Err(bad("not an IPv6 address within the brackets"));
        }
        let port = match after {
            "" => DEFAULT_PORT,
            _ => match after.strip_prefix(':') {
                Some(text) => port(text)?,
                None => return Err(bad("expected `:PORT` after ']'")),
            },
        };
        return Ok(format!("[{host}]:{port}"));
    }
    let (host, port) = match word.rsplit_once(':') {
        Some((host, text)) => (host, port(text)?),
        None => (word, DEFAULT_PORT),
    };
    if host.is_empty() {
        return Err(bad("a host is needed"));
    }
    if host.contains(':') {
        if !ipv6(host) {
            return Err(bad(
                "an IPv6 address needs its port after it (`::1:1883`), as in mosquitto",
            ));
        }
        return Ok(format!("[{host}]:{port}"));
    }
    Ok(format!("{host}:{port}"))
}

/// `topic PATTERN [DIRECTION [QOS [LOCAL-PREFIX REMOTE-PREFIX]]]`, with
/// `""` for an empty pattern or prefix. The pattern may be `#`; after it,
/// a word starting with `#` begins a comment.
fn topic(line: &Line<'_>, warnings: &mut Vec<String>) -> Result<BridgeTopic, Fault> {
    let mut words = line.all_words();
    let Some(pattern) = words.next() else {
        return Err(line.refuse("needs a topic pattern"));
    };
    let empty = |word: &str| if word == "\"\"" { "" } else { word }.to_string();
    let rest: Vec<&str> = words.take_while(|word| !word.starts_with('#')).collect();
    let mut topic = BridgeTopic::new(&empty(pattern), BridgeDirection::Out, QoS::AtMostOnce);
    if let Some(direction) = rest.first() {
        topic.direction = match direction.to_ascii_lowercase().as_str() {
            "out" => BridgeDirection::Out,
            "in" => BridgeDirection::In,
            "both" => BridgeDirection::Both,
            _ => return Err(line.refuse(format!("`{direction}` is not in, out or both"))),
        };
    }
    if let Some(qos) = rest.get(1) {
        topic.qos = qos
            .parse::<u8>()
            .ok()
            .and_then(QoS::from_u8)
            .ok_or_else(|| line.refuse(format!("`{qos}` is not a QoS: 0, 1 or 2")))?;
    }
    if let Some(prefix) = rest.get(2) {
        topic.local_prefix = empty(prefix);
    }
    if let Some(prefix) = rest.get(3) {
        topic.remote_prefix = empty(prefix);
    }
    if rest.len() > 4 {
        warnings.push(line.warn(&format!(
            "`{}` after the remote prefix ignored (as mosquitto)",
            rest[4..].join(" ")
        )));
    }
    for prefix in [&topic.local_prefix, &topic.remote_prefix] {
        if prefix.contains(['+', '#']) {
            return Err(line.refuse(format!(
                "prefix `{prefix}` may not hold `+` or `#`; mosquitto refuses this too"
            )));
        }
    }
    if topic.pattern.is_empty() && (topic.local_prefix.is_empty() || topic.remote_prefix.is_empty())
    {
        return Err(line.refuse(
            "an empty pattern (`\"\"`) needs a local and a remote prefix, which then name the \
             one topic carried; mosquitto refuses this too",
        ));
    }
    for (side, filter) in [
        ("local", topic.local_filter()),
        ("remote", topic.remote_filter()),
    ] {
        if !is_valid_topic_filter(&filter) {
            return Err(line.refuse(if filter == topic.pattern {
                format!("`{filter}` is not a valid topic filter")
            } else {
                format!("`{filter}` ({side} prefix and pattern) is not a valid topic filter")
            }));
        }
    }
    Ok(topic)
}

/// `restart_timeout CONSTANT` or `restart_timeout BASE CAP`.
fn restart_timeout(
    bridge: &mut Bridge,
    line: &Line<'_>,
    warnings: &mut Vec<String>,
) -> Result<(), Fault> {
    let words = line.words();
    let Some(first) = words.first() else {
        return Err(line.refuse("needs a value"));
    };
    let mut base = line.int_of(first, warnings)?;
    if base < 1 {
        warnings.push(line.warn(&format!(
            "{base} is less than 1 second: 1 used (as mosquitto)"
        )));
        base = 1;
    }
    let cap = match words.get(1) {
        Some(word) => {
            let cap = line.int_of(word, warnings)?;
            if cap < base {
                return Err(line.refuse(format!(
                    "the cap {cap} is less than the base {base}; mosquitto refuses this too"
                )));
            }
            Some(cap)
        }
        None => None,
    };
    if words.len() > 2 {
        warnings.push(line.warn(&format!(
            "`{}` after the cap ignored (as mosquitto)",
            words[2..].join(" ")
        )));
    }
    bridge.restart_timeout = Duration::from_secs(base as u64);
    bridge.restart_timeout_cap = cap.map(|cap| Duration::from_secs(cap as u64));
    Ok(())
}

/// The bridges, once every file is read: each needs an address and a
/// topic; TLS is on with `bridge_cafile` or `bridge_capath`, as in
/// mosquitto.
///
/// # Errors
/// What a bridge lacks or has that cannot work together, naming its line.
pub fn finish(pending: Vec<Pending>, warnings: &mut Vec<String>) -> Result<Vec<Bridge>, Fault> {
    let mut bridges = Vec::with_capacity(pending.len());
    for mut p in pending {
        let name = p.bridge.name.clone();
        let lacks = |option: &str| {
            Fault::new(
                &p.opened,
                "connection",
                format!("bridge `{name}` has no `{option}` line; mosquitto refuses this too"),
            )
        };
        if p.bridge.addresses.is_empty() {
            return Err(lacks("address"));
        }
        if p.bridge.topics.is_empty() {
            return Err(lacks("topic"));
        }
        if let (Some(loc), None) = (p.at("remote_password"), p.at("remote_username")) {
            return Err(Fault::new(
                loc,
                "remote_password",
                format!("bridge `{name}` has no remote_username; mosquitto needs one too"),
            ));
        }
        tls(&mut p, warnings)?;
        bridges.push(p.bridge);
    }
    Ok(bridges)
}

/// A bridge's TLS. Without a CA file or directory mosquitto connects
/// without TLS whatever the other TLS options say; a client certificate
/// or `bridge_insecure true` then shows that TLS was meant, and a bridge
/// that would send its password in clear instead is refused.
fn tls(p: &mut Pending, warnings: &mut Vec<String>) -> Result<(), Fault> {
    let name = &p.bridge.name;
    let ca = p.tls.ca_file.is_some() || p.tls.ca_path.is_some();
    let insecure = p.insecure.as_ref().map(|(on, loc)| (*on, loc));
    if ca {
        let pair = (p.at("bridge_certfile"), p.at("bridge_keyfile"));
        let alone = match pair {
            (Some(loc), None) => Some(("bridge_certfile", "bridge_keyfile", loc)),
            (None, Some(loc)) => Some(("bridge_keyfile", "bridge_certfile", loc)),
            _ => None,
        };
        if let Some((option, other, loc)) = alone {
            return Err(Fault::new(
                loc,
                option,
                format!("bridge `{name}` needs {other} too"),
            ));
        }
        let mut tls = p.tls.clone();
        tls.insecure = insecure.is_some_and(|(on, _)| on);
        p.bridge.tls = Some(tls);
        return Ok(());
    }
    let meant = [
        ("bridge_certfile", p.at("bridge_certfile")),
        ("bridge_keyfile", p.at("bridge_keyfile")),
        (
            "bridge_insecure",
            insecure.filter(|(on, _)| *on).map(|(_, loc)| loc),
        ),
    ];
    if let Some((option, Some(loc))) = meant.into_iter().find(|(_, loc)| loc.is_some()) {
        return Err(Fault::new(
            loc,
            option,
            format!(
                "bridge `{name}` needs bridge_cafile or bridge_capath: without one mosquitto \
                 connects without TLS, and mqlite does not"
            ),
        ));
    }
    let ignored = [
        ("bridge_tls_version", p.at("bridge_tls_version")),
        ("bridge_insecure", insecure.map(|(_, loc)| loc)),
    ];
    for (option, loc) in ignored {
        if let Some(loc) = loc {
            warnings.push(warning(
                loc,
                option,
                "ignored: without bridge_cafile or bridge_capath this bridge has no TLS (as in \
                 mosquitto)",
            ));
        }
    }
    Ok(())
}
