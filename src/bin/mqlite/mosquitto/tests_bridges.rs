//! Unit tests of mosquitto.conf's bridges: each option's mapping onto
//! `mqlite::Bridge`, mosquitto's defaults, addresses, `topic` lines and
//! values. TLS, refusals, files and real configurations are in
//! `tests_bridge_files.rs`.

use std::path::PathBuf;
use std::time::Duration;

use mqlite::{Bridge, BridgeDirection, BridgeProtocol, BridgeStart, BridgeTls, BridgeTopic, QoS};

use super::tests::{parse, refused, refused_at};

/// A bridge's first lines: name `up`, one address, one topic.
pub const UP: &str = "connection up\naddress broker.example\ntopic #\n";

/// The one bridge of `text`, with the warnings.
pub fn bridge(text: &str) -> (Bridge, Vec<String>) {
    let settings = parse(text);
    assert_eq!(settings.config.bridges.len(), 1, "{text:?}");
    let bridge = settings.config.bridges.into_iter().next().unwrap();
    (bridge, settings.warnings)
}

fn topic(
    pattern: &str,
    direction: BridgeDirection,
    qos: QoS,
    local: &str,
    remote: &str,
) -> BridgeTopic {
    let mut topic = BridgeTopic::new(pattern, direction, qos);
    topic.local_prefix = local.into();
    topic.remote_prefix = remote.into();
    topic
}

/// The topics of a bridge whose `topic` lines are `lines`.
fn topics(lines: &str) -> (Vec<BridgeTopic>, Vec<String>) {
    let (bridge, warnings) = bridge(&format!("connection up\naddress h\n{lines}"));
    (bridge.topics, warnings)
}

#[test]
fn a_bridge_has_mosquittos_defaults() {
    let (b, warnings) = bridge(UP);
    assert!(warnings.is_empty(), "{warnings:?}");
    // mosquitto's port, 1883, is written out: `Bridge` would take 8883
    // with TLS.
    let expected = Bridge::new(
        "up",
        "broker.example:1883",
        vec![BridgeTopic::new("#", BridgeDirection::Out, QoS::AtMostOnce)],
    );
    assert_eq!(b, expected);
    assert!(!b.clean_session && b.local_clean_session.is_none() && !b.round_robin);
    assert_eq!(b.keepalive, Duration::from_secs(60));
    assert_eq!(b.restart_timeout, Duration::from_secs(5));
    assert_eq!(b.restart_timeout_cap, Some(Duration::from_secs(30)));
    assert_eq!(b.start, BridgeStart::Automatic);
    assert!(b.try_private && b.notifications);
    assert_eq!(b.protocol, BridgeProtocol::V311);
    assert!(b.tls.is_none() && b.remote_client_id.is_none() && b.notification_topic.is_none());
    // Several bridges, in order; a file without any has none.
    let s = parse(&format!("{UP}connection down\naddress other\ntopic a in\n"));
    let names: Vec<&str> = s.config.bridges.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, vec!["up", "down"]);
    assert!(parse("listener 1883\n").config.bridges.is_empty());
}

#[test]
fn every_option_is_mapped() {
    let (b, warnings) = bridge(
        "connection cloud\n\
         addresses a.example:8883 b.example:8884\n\
         round_robin true\n\
         topic sensors/# out 1\n\
         topic cmd/# in 2 site/ gw1/\n\
         cleansession true\n\
         local_cleansession false\n\
         remote_clientid gw1-bridge\n\
         remote_username gw1\n\
         remote_password s3cret with spaces\n\
         keepalive_interval 30\n\
         restart_timeout 10 120\n\
         start_type once\n\
         try_private false\n\
         notifications false\n\
         notification_topic gw/bridge/state\n\
         bridge_protocol_version mqttv50\n\
         bridge_cafile /etc/ssl/ca.pem\n\
         bridge_capath /etc/ssl/certs\n\
         bridge_certfile /etc/ssl/gw1.pem\n\
         bridge_keyfile /etc/ssl/gw1.key\n\
         bridge_insecure false\n\
         bridge_tls_version tlsv1.2\n\
         notifications_local_only false\n\
         bridge_outgoing_retain true\n\
         bridge_max_packet_size 0\n\
         bridge_require_ocsp false\n\
         bridge_tls_use_os_certs false\n",
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let expected = Bridge {
        name: "cloud".into(),
        addresses: vec!["a.example:8883".into(), "b.example:8884".into()],
        round_robin: true,
        topics: vec![
            BridgeTopic::new("sensors/#", BridgeDirection::Out, QoS::AtLeastOnce),
            topic(
                "cmd/#",
                BridgeDirection::In,
                QoS::ExactlyOnce,
                "site/",
                "gw1/",
            ),
        ],
        clean_session: true,
        local_clean_session: Some(false),
        remote_client_id: Some("gw1-bridge".into()),
        remote_username: Some("gw1".into()),
        remote_password: Some("s3cret with spaces".into()),
        keepalive: Duration::from_secs(30),
        restart_timeout: Duration::from_secs(10),
        restart_timeout_cap: Some(Duration::from_secs(120)),
        start: BridgeStart::Once,
        threshold: 10,
        idle_timeout: Duration::from_secs(60),
        try_private: false,
        notifications: false,
        notification_topic: Some("gw/bridge/state".into()),
        protocol: BridgeProtocol::V5,
        tls: Some(BridgeTls {
            ca_file: Some(PathBuf::from("/etc/ssl/ca.pem")),
            ca_path: Some(PathBuf::from("/etc/ssl/certs")),
            cert_file: Some(PathBuf::from("/etc/ssl/gw1.pem")),
            key_file: Some(PathBuf::from("/etc/ssl/gw1.key")),
            insecure: false,
        }),
    };
    assert_eq!(b, expected);

    // The old names, the other protocol versions, a constant restart wait.
    let (b, _) = bridge(&format!(
        "{UP}clientid old-id\nusername u\npassword p\nbridge_protocol_version mqttv31\n\
         restart_timeout 20\nstart_type automatic\n"
    ));
    assert_eq!(b.remote_client_id.as_deref(), Some("old-id"));
    assert_eq!(b.remote_username.as_deref(), Some("u"));
    assert_eq!(b.remote_password.as_deref(), Some("p"));
    assert_eq!(b.protocol, BridgeProtocol::V31);
    assert_eq!(b.restart_timeout, Duration::from_secs(20));
    assert_eq!(b.restart_timeout_cap, None);
    assert_eq!(b.start, BridgeStart::Automatic);
    let (b, _) = bridge(&format!("{UP}bridge_protocol_version mqttv311\n"));
    assert_eq!(b.protocol, BridgeProtocol::V311);
}

#[test]
fn addresses_are_mosquittos_host_and_port() {
    let (b, warnings) = bridge(
        "connection up\ntopic #\n\
         address a b:1884 10.0.0.1 10.0.0.2:1885 ::1:1886 fe80::1%eth0:1887 [::1] [2001:db8::1]:8883 # comment\n\
         addresses c:1888\n",
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        b.addresses,
        vec![
            "a:1883",
            "b:1884",
            "10.0.0.1:1883",
            "10.0.0.2:1885",
            "[::1]:1886",
            "[fe80::1%eth0]:1887",
            "[::1]:1883",
            "[2001:db8::1]:8883",
            // mosquitto takes one address line; more add up here.
            "c:1888",
        ]
    );
    for (value, says) in [
        ("h:0", "`h:0`: the port must be 1 to 65535"),
        ("h:x", "the port must be 1 to 65535"),
        ("h:70000", "the port must be 1 to 65535"),
        (":1883", "a host is needed"),
        // An IPv6 address needs its port: `::5` would be read as `2001:db8:`.
        ("2001:db8::5", "an IPv6 address needs its port after it"),
        ("[::1", "closing ']'"),
        ("[::1]1883", "expected `:PORT`"),
        ("[host]:1883", "not an IPv6 address"),
    ] {
        refused_at(
            &format!("connection up\ntopic #\naddress ok {value}\n"),
            3,
            "address",
            says,
        );
    }
    refused_at(
        "connection up\naddress # none\n",
        2,
        "address",
        "needs at least one address",
    );
    refused_at(
        "connection up\naddresses\n",
        2,
        "addresses",
        "needs at least one address",
    );
}

#[test]
fn topic_lines() {
    let (t, warnings) = topics(
        "topic #\n\
         topic a/b IN\n\
         topic c/+ Both 2\n\
         topic # both 2 local/topic/ remote/topic/\n\
         topic \"\" in 1 local/t remote/t\n\
         topic x/y out 1 \"\" up/\n\
         topic x/z out 1 loc/ \"\"\n\
         topic clients/total in 0 test/mosquitto/org/ $SYS/broker/\n\
         topic only/local in 1 l/\n\
         topic s/# out 1 # a comment\n\
         topic s2 # a comment\n",
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    use BridgeDirection::{Both, In, Out};
    use QoS::{AtLeastOnce as Q1, AtMostOnce as Q0, ExactlyOnce as Q2};
    assert_eq!(
        t,
        vec![
            topic("#", Out, Q0, "", ""),
            topic("a/b", In, Q0, "", ""),
            topic("c/+", Both, Q2, "", ""),
            topic("#", Both, Q2, "local/topic/", "remote/topic/"),
            topic("", In, Q1, "local/t", "remote/t"),
            topic("x/y", Out, Q1, "", "up/"),
            topic("x/z", Out, Q1, "loc/", ""),
            topic(
                "clients/total",
                In,
                Q0,
                "test/mosquitto/org/",
                "$SYS/broker/"
            ),
            topic("only/local", In, Q1, "l/", ""),
            topic("s/#", Out, Q1, "", ""),
            topic("s2", Out, Q0, "", ""),
        ]
    );
    assert_eq!(t[3].local_filter(), "local/topic/#");
    assert_eq!(t[4].remote_filter(), "remote/t");
    // Words after the remote prefix are ignored, as mosquitto ignores them.
    let (_, warnings) = topics("topic a out 0 l/ r/ extra words\n");
    assert!(
        warnings[0].contains("line 3: `topic`: `extra words` after the remote prefix ignored"),
        "{warnings:?}"
    );

    let at = |line: &str, says: &str| {
        refused_at(
            &format!("connection up\naddress h\n{line}\n"),
            3,
            "topic",
            says,
        )
    };
    at("topic", "needs a topic pattern");
    at("topic a sideways", "`sideways` is not in, out or both");
    at("topic a in 3", "`3` is not a QoS: 0, 1 or 2");
    at("topic a in one", "`one` is not a QoS");
    at(
        "topic \"\" in 0",
        "an empty pattern (`\"\"`) needs a local and a remote prefix",
    );
    at(
        "topic \"\" in 0 l/ \"\"",
        "needs a local and a remote prefix",
    );
    at(
        "topic \"\" in 0 \"\" r/",
        "needs a local and a remote prefix",
    );
    at(
        "topic a in 0 a/+/ b/",
        "prefix `a/+/` may not hold `+` or `#`",
    );
    at("topic a in 0 a/ b#", "prefix `b#` may not hold");
    at("topic a/#/b", "`a/#/b` is not a valid topic filter");
    at(
        "topic # in 0 a/b r/",
        "`a/b#` (local prefix and pattern) is not a valid topic filter",
    );
    at(
        "topic # in 0 a/ r",
        "`r#` (remote prefix and pattern) is not a valid topic filter",
    );
}

#[test]
fn values_read_as_mosquitto_reads_them() {
    let (b, warnings) = bridge(&format!("{UP}keepalive_interval 2\nrestart_timeout 0\n"));
    assert_eq!(b.keepalive, Duration::from_secs(5));
    assert_eq!(b.restart_timeout, Duration::from_secs(1));
    assert_eq!(b.restart_timeout_cap, None);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("line 4: `keepalive_interval`: 2 is less than 5 seconds: 5 used"));
    assert!(warnings[1].contains("line 5: `restart_timeout`: 0 is less than 1 second: 1 used"));
    let (b, warnings) = bridge(&format!(
        "{UP}restart_timeout 3 3 9\nkeepalive_interval 65535\n"
    ));
    assert_eq!(b.restart_timeout_cap, Some(Duration::from_secs(3)));
    assert_eq!(b.keepalive, Duration::from_secs(65535));
    assert!(
        warnings[0].contains("`9` after the cap ignored"),
        "{warnings:?}"
    );

    let at = |line: &str, option: &str, says: &str| {
        refused_at(&format!("{UP}{line}\n"), 4, option, says)
    };
    at(
        "keepalive_interval 65536",
        "keepalive_interval",
        "65536 is more than 65535",
    );
    at(
        "keepalive_interval soon",
        "keepalive_interval",
        "not a whole number",
    );
    at(
        "restart_timeout 30 10",
        "restart_timeout",
        "the cap 10 is less than the base 30",
    );
    at("restart_timeout", "restart_timeout", "needs a value");
    at("restart_timeout x", "restart_timeout", "not a whole number");
    at("round_robin maybe", "round_robin", "not true or false");
    at("cleansession", "cleansession", "needs a value");
    at(
        "bridge_protocol_version mqttv5",
        "bridge_protocol_version",
        "not mqttv31, mqttv311 or mqttv50",
    );
    at(
        "start_type sometimes",
        "start_type",
        "not automatic, lazy or once",
    );
    at(
        "start_type manual",
        "start_type",
        "`manual` is not supported",
    );
    at(
        "notification_topic a/#",
        "notification_topic",
        "not a topic name",
    );
    at("remote_clientid", "remote_clientid", "needs a value");
}

#[test]
fn start_type_lazy_with_its_threshold_and_idle_timeout() {
    let (b, warnings) = bridge(&format!(
        "{UP}start_type lazy\nthreshold 3\nidle_timeout 20\n"
    ));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(b.start, BridgeStart::Lazy);
    assert_eq!(b.threshold, 3);
    assert_eq!(b.idle_timeout, Duration::from_secs(20));
    // mosquitto's defaults.
    let (b, _) = bridge(&format!("{UP}start_type lazy\n"));
    assert_eq!((b.threshold, b.idle_timeout), (10, Duration::from_secs(60)));
    let error = refused(&format!("port 1883\n{UP}threshold 0\n"));
    assert!(
        error.contains("line 5: `threshold`: 0 is less than 1"),
        "{error}"
    );
    let error = refused(&format!("port 1883\n{UP}idle_timeout 0\n"));
    assert!(error.contains("line 5: `idle_timeout`"), "{error}");
}

#[test]
fn text_options_are_given_once_per_bridge() {
    for (first, second) in [
        ("remote_clientid a", "clientid b"),
        ("username a", "remote_username b"),
        ("remote_password a", "password b"),
        ("notification_topic a", "notification_topic b"),
        ("bridge_cafile a", "bridge_cafile b"),
        ("bridge_capath a", "bridge_capath b"),
        ("bridge_certfile a", "bridge_certfile b"),
        ("bridge_keyfile a", "bridge_keyfile b"),
        ("bridge_tls_version tlsv1.2", "bridge_tls_version tlsv1.2"),
    ] {
        let option = second.split(' ').next().unwrap();
        refused_at(
            &format!("{UP}{first}\n{second}\n"),
            5,
            option,
            "given twice for bridge `up` (first at /etc/m.conf:4)",
        );
    }
    // Once per bridge: the next bridge has its own.
    let s = parse(&format!(
        "{UP}remote_clientid a\nconnection two\naddress h\ntopic #\nremote_clientid b\n"
    ));
    assert_eq!(s.config.bridges[1].remote_client_id.as_deref(), Some("b"));
}
