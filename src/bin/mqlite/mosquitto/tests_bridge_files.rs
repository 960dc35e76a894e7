//! Unit tests of mosquitto.conf's bridges, continued: TLS, what a bridge
//! needs, options in other places and files, the options mqlite skips or
//! refuses, and bridge sections as real configurations write them.

use std::path::PathBuf;
use std::time::Duration;

use mqlite::{BridgeDirection, BridgeProtocol, BridgeTopic, QoS};

use super::names::{BRIDGE_REFUSED, BRIDGE_SKIPPED};
use super::tests::{parse, refused, refused_at, Dir};
use super::tests_bridges::{bridge, UP};

#[test]
fn tls_is_on_with_a_ca_as_in_mosquitto() {
    let (b, warnings) = bridge(&format!(
        "{UP}bridge_capath /etc/ssl/certs\nbridge_insecure true\n"
    ));
    let tls = b.tls.unwrap();
    assert_eq!(tls.ca_path, Some(PathBuf::from("/etc/ssl/certs")));
    assert!(tls.insecure && tls.ca_file.is_none() && tls.cert_file.is_none());
    assert!(
        warnings[0].contains("line 5: `bridge_insecure`: bridge `up` does not check"),
        "{warnings:?}"
    );
    let (b, warnings) = bridge(&format!(
        "{UP}bridge_cafile /ca.pem\nbridge_tls_version tlsv1.1\n"
    ));
    assert!(b.tls.is_some());
    assert!(warnings[0].contains("tlsv1.2 used"), "{warnings:?}");

    // Without a CA mosquitto connects without TLS: a client certificate or
    // `bridge_insecure true` shows TLS was meant, and is refused.
    let at = |lines: &str, line: usize, option: &str, says: &str| {
        refused_at(&format!("{UP}{lines}"), line, option, says)
    };
    let no_ca = "bridge `up` needs bridge_cafile or bridge_capath";
    at(
        "bridge_certfile /c\nbridge_keyfile /k\n",
        4,
        "bridge_certfile",
        no_ca,
    );
    at("bridge_keyfile /k\n", 4, "bridge_keyfile", no_ca);
    at("bridge_insecure true\n", 4, "bridge_insecure", no_ca);
    at(
        "bridge_cafile /ca\nbridge_certfile /c\n",
        5,
        "bridge_certfile",
        "needs bridge_keyfile too",
    );
    at(
        "bridge_keyfile /k\nbridge_capath /ca\n",
        4,
        "bridge_keyfile",
        "needs bridge_certfile too",
    );
    at(
        "bridge_cafile /ca\nbridge_tls_version tlsv1.3\n",
        5,
        "bridge_tls_version",
        "cannot refuse 1.2",
    );
    at(
        "bridge_tls_version sslv3\n",
        4,
        "bridge_tls_version",
        "not tlsv1.1, tlsv1.2 or tlsv1.3",
    );
    // What only TLS would use is ignored without it, as by mosquitto.
    let (b, warnings) = bridge(&format!(
        "{UP}bridge_insecure false\nbridge_tls_version tlsv1.2\n"
    ));
    assert!(b.tls.is_none());
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings
        .iter()
        .all(|w| w.contains("ignored: without bridge_cafile")));
    assert!(
        warnings[0].contains("line 5: `bridge_tls_version`"),
        "{warnings:?}"
    );
}

#[test]
fn a_bridge_needs_a_connection_an_address_and_a_topic() {
    refused_at(
        "listener 1883\n\ntopic # out\n",
        3,
        "topic",
        "a bridge option, but no `connection` line comes before it in this file",
    );
    refused_at(
        "idle_timeout 5\n",
        1,
        "idle_timeout",
        "no `connection` line",
    );
    refused_at(
        "port 1883\nconnection up\ntopic #\n",
        2,
        "connection",
        "bridge `up` has no `address` line",
    );
    refused_at(
        "connection up\naddress h\nconnection two\n",
        1,
        "connection",
        "bridge `up` has no `topic` line",
    );
    refused_at(
        &format!("{UP}connection up\n"),
        4,
        "connection",
        "already started at /etc/m.conf:1",
    );
    refused_at(
        "connection a/b\n",
        1,
        "connection",
        "may not hold '/', '+' or '#'",
    );
    refused_at("connection\n", 1, "connection", "needs a value");
    refused_at(
        &format!("{UP}remote_password p\n"),
        4,
        "remote_password",
        "bridge `up` has no remote_username",
    );
}

#[test]
fn bridge_options_follow_their_connection_across_listeners() {
    // As in mosquitto: a `listener` line does not end a bridge, and
    // listener options after a `connection` are still the listener's.
    let s = parse(
        "listener 1883 127.0.0.1\nconnection up\naddress h\nlistener 1884 127.0.0.1\n\
         max_connections 5\ntopic a in\nallow_anonymous true\ncleansession true\n",
    );
    let b = &s.config.bridges[0];
    assert_eq!(
        b.topics,
        vec![BridgeTopic::new("a", BridgeDirection::In, QoS::AtMostOnce)]
    );
    assert!(b.clean_session);
    assert_eq!(s.config.custom_listeners[0].max_connections, Some(5));
    assert_eq!(s.config.allow_anonymous, Some(true));
}

#[test]
fn each_included_file_starts_outside_any_bridge() {
    let dir = Dir::new();
    let conf_d = dir.0.join("conf.d");
    dir.write("conf.d/a.conf", "connection inner\naddress i\ntopic i/#\n");
    let main = dir.write(
        "m.conf",
        &format!(
            "connection outer\naddress o\ninclude_dir {}\ntopic o/#\n",
            conf_d.display()
        ),
    );
    let text = std::fs::read_to_string(&main).unwrap();
    let s = super::from_text(&main, &text).unwrap();
    let b = &s.config.bridges;
    // The main file's bridge is still current after the included files.
    assert_eq!(
        (b[0].name.as_str(), b[0].topics[0].pattern.as_str()),
        ("outer", "o/#")
    );
    assert_eq!(
        (b[1].name.as_str(), b[1].addresses[0].as_str()),
        ("inner", "i:1883")
    );

    let bad = dir.write("conf.d/b.conf", "# no connection in this file\ntopic x\n");
    let error = super::from_text(&main, &text).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "config file {}: line 2: `topic`: a bridge option",
            bad.display()
        )),
        "{error}"
    );
    std::fs::remove_file(&bad).unwrap();
    dir.write("conf.d/c.conf", "connection outer\n");
    let error = super::from_text(&main, &text).unwrap_err().to_string();
    assert!(error.contains("already started at"), "{error}");
}

#[test]
fn unsupported_bridge_options_are_skipped_or_refused_by_name() {
    for (option, why) in BRIDGE_SKIPPED {
        let s = parse(&format!("{UP}{option} 1\n"));
        assert_eq!(s.warnings.len(), 1, "{option}: {:?}", s.warnings);
        assert_eq!(
            s.warnings[0],
            format!("config file /etc/m.conf: line 4: `{option}`: skipped: {why}")
        );
    }
    for (option, why) in BRIDGE_REFUSED {
        refused_at(
            &format!("{UP}\n{option} x\n"),
            5,
            option,
            &format!("not supported: {why}"),
        );
        // Refused before any `connection` too, for what it is.
        refused_at(&format!("{option} x\n"), 1, option, why);
    }
    // Read with mosquitto's default, the value mqlite has; refused otherwise.
    for (line, says) in [
        ("notifications_local_only true", "only `false`"),
        ("bridge_outgoing_retain false", "only `true`"),
        ("bridge_max_packet_size 1000", "only 0 (no limit)"),
        ("bridge_require_ocsp true", "only `false`"),
        ("bridge_tls_use_os_certs true", "only `false`"),
    ] {
        let option = line.split(' ').next().unwrap();
        refused_at(&format!("{UP}{line}\n"), 4, option, says);
    }
    let (_, warnings) = bridge(&format!("{UP}bridge_max_packet_size -1\n"));
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn the_broker_validates_what_the_lines_allow() {
    // A client id with NUL passes the line (mosquitto's strings are C
    // strings; this file is not) and `Config::validate` names the bridge
    // and the field.
    let error = refused(&format!("{UP}remote_clientid a\u{0}b\n"));
    assert_eq!(
        error,
        "config file /etc/m.conf: the settings do not work together: invalid config \
         `bridge up: remote_clientid`: must be 1 to 65535 bytes, no NUL"
    );
}

#[test]
fn mosquittos_own_example() {
    // The example of mosquitto.conf(5).
    let (b, warnings) = bridge(
        "connection test-mosquitto-org\naddress test.mosquitto.org\ncleansession true\n\
         topic clients/total in 0 test/mosquitto/org/ $SYS/broker/\n",
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(b.addresses, vec!["test.mosquitto.org:1883"]);
    assert!(b.clean_session && b.local_clean());
    assert_eq!(
        b.topics[0].local_filter(),
        "test/mosquitto/org/clients/total"
    );
    assert_eq!(b.topics[0].remote_filter(), "$SYS/broker/clients/total");
}

#[test]
fn an_aws_iot_core_bridge() {
    // The bridge section of AWS's guide to bridging mosquitto to AWS IoT
    // Core, with its comments, `clientid` and a `log_type` among the
    // bridge options.
    let s = parse(
        "# ============================================================\n\
         # Bridge to AWS IOT\n\
         # ============================================================\n\
         \n\
         connection awsiot\n\
         \n\
         #<Paste your AWS IoT Core ATS endpoint retrieved from the AWS CLI in the form of xxxxxxxxxxxxxxx-ats.iot.<region>.amazonaws.com:8883\n\
         \n\
         address xxxxxxxxxxxxxxx-ats.iot.eu-central-1.amazonaws.com:8883\n\
         \n\
         # Specifying which topics are bridged and in what fashion\n\
         topic awsiot_to_localgateway in 1\n\
         topic localgateway_to_awsiot out 1\n\
         topic both_directions both 1\n\
         \n\
         # Setting protocol version explicitly\n\
         bridge_protocol_version mqttv311\n\
         bridge_insecure false\n\
         \n\
         # Bridge connection name and MQTT client Id, enabling the connection automatically when the broker starts.\n\
         cleansession true\n\
         clientid bridgeawsiot\n\
         start_type automatic\n\
         notifications false\n\
         log_type all\n\
         \n\
         # ============================================================\n\
         # Certificate based SSL/TLS support\n\
         # ============================================================\n\
         \n\
         #Path to the rootCA\n\
         bridge_cafile /etc/mosquitto/certs/rootCA.pem\n\
         \n\
         # Path to the PEM encoded client certificate\n\
         bridge_certfile /etc/mosquitto/certs/cert.crt\n\
         \n\
         # Path to the PEM encoded client private key\n\
         bridge_keyfile /etc/mosquitto/certs/private.key\n\
         \n\
         #END of bridge.conf\n",
    );
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let b = &s.config.bridges[0];
    assert_eq!(b.name, "awsiot");
    assert_eq!(
        b.addresses,
        vec!["xxxxxxxxxxxxxxx-ats.iot.eu-central-1.amazonaws.com:8883"]
    );
    assert_eq!(b.topics.len(), 3);
    assert_eq!(
        b.topics[2],
        BridgeTopic::new("both_directions", BridgeDirection::Both, QoS::AtLeastOnce)
    );
    assert_eq!(b.client_id(), "bridgeawsiot");
    assert!(b.clean_session && !b.notifications);
    let tls = b.tls.as_ref().unwrap();
    assert_eq!(
        tls.ca_file,
        Some(PathBuf::from("/etc/mosquitto/certs/rootCA.pem"))
    );
    assert_eq!(
        tls.key_file,
        Some(PathBuf::from("/etc/mosquitto/certs/private.key"))
    );
    assert!(!tls.insecure);
    assert_eq!(s.log.level, Some(log::LevelFilter::Debug));
}

#[test]
fn a_gateway_bridged_to_emqx_and_a_backup() {
    // A gateway forwarding its sensors to a cloud EMQX cluster over TLS
    // with MQTT 5, a second broker as fallback, commands coming back
    // under a prefix of their own.
    let s = parse(
        "per_listener_settings false\nlistener 1883 127.0.0.1\nallow_anonymous true\n\
         \n\
         connection emqx-cloud\n\
         addresses mqtt.example.com:8883 backup.example.com:8883\n\
         bridge_protocol_version mqttv50\n\
         remote_clientid gw-0042\n\
         remote_username gw-0042\n\
         remote_password Tr0ub4dor&3\n\
         bridge_cafile /etc/mosquitto/ca_certificates/emqx-ca.pem\n\
         topic sensors/# out 1 \"\" site/0042/\n\
         topic \"\" in 1 gateway/commands devices/0042/commands\n\
         keepalive_interval 30\n\
         restart_timeout 2 60\n\
         try_private false\n\
         notification_topic site/0042/bridge\n",
    );
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let b = &s.config.bridges[0];
    assert_eq!(b.addresses.len(), 2);
    assert!(!b.round_robin);
    assert_eq!(b.protocol, BridgeProtocol::V5);
    assert_eq!(b.remote_password.as_deref(), Some("Tr0ub4dor&3"));
    assert_eq!(b.topics[0].remote_filter(), "site/0042/sensors/#");
    assert_eq!(b.topics[1].local_filter(), "gateway/commands");
    assert_eq!(b.topics[1].remote_filter(), "devices/0042/commands");
    assert_eq!(b.state_topic(), "site/0042/bridge");
    assert_eq!(b.restart_timeout_cap, Some(Duration::from_secs(60)));
    assert_eq!(s.config.listeners, vec!["127.0.0.1:1883".parse().unwrap()]);
}
