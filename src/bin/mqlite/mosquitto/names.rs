//! The names of mosquitto 2.0's options (its `src/conf.c`), and the bridge
//! options mosquitto 2.1 adds, sorted by what mqlite does with them: read,
//! skipped with a warning, refused. They also tell a mosquitto.conf from a
//! TOML file.

/// Options of mosquitto 2.0 that mqlite reads (`include_dir` included).
pub const SUPPORTED: &[&str] = &[
    "acl_file",
    "allow_anonymous",
    "allow_zero_length_clientid",
    "auto_id_prefix",
    "bind_address",
    "cafile",
    "capath",
    "certfile",
    "connection_messages",
    "include_dir",
    "keyfile",
    "listener",
    "log_dest",
    "log_facility",
    "log_timestamp",
    "log_timestamp_format",
    "log_type",
    "max_connections",
    "max_inflight_bytes",
    "max_inflight_messages",
    "max_keepalive",
    "max_packet_size",
    "max_qos",
    "maximum_qos",
    "max_queued_bytes",
    "max_queued_messages",
    "max_topic_alias",
    "password_file",
    "per_listener_settings",
    "persistence",
    "retained_persistence",
    "persistence_file",
    "persistence_location",
    "persistent_client_expiration",
    "pid_file",
    "port",
    "protocol",
    "require_certificate",
    "retain_available",
    "socket_domain",
    "sys_interval",
    "tls_keyform",
    "tls_version",
    "use_identity_as_username",
    "use_subject_as_username",
    // Read, with the values mqlite has; other values are refused.
    "check_retain_source",
    "memory_limit",
    "message_size_limit",
    "queue_qos0_messages",
    "upgrade_outgoing_qos",
    "use_username_as_clientid",
];

/// Options skipped with a warning: mqlite has no use for them, and
/// skipping them changes neither who may connect nor what anyone receives.
pub const SKIPPED: &[(&str, &str)] = &[
    (
        "allow_duplicate_messages",
        "deprecated in mosquitto 2.0; mqlite sends a message once per matching subscription \
         set as MQTT says",
    ),
    (
        "autosave_interval",
        "mqlite writes every change to its SQLite file as it happens",
    ),
    (
        "autosave_on_changes",
        "mqlite writes every change to its SQLite file as it happens",
    ),
    ("ciphers", "rustls offers only its own modern cipher suites"),
    (
        "ciphers_tls1.3",
        "rustls offers only its own modern cipher suites",
    ),
    (
        "dhparamfile",
        "rustls does no finite-field Diffie-Hellman (its key exchanges are ECDHE)",
    ),
    ("retry_interval", "mosquitto 2.0 ignores it too"),
    ("set_tcp_nodelay", "mqlite always sets TCP_NODELAY"),
    (
        "websockets_headers_size",
        "mqlite's WebSocket is not libwebsockets",
    ),
    (
        "websockets_log_level",
        "mqlite's WebSocket is not libwebsockets",
    ),
    ("user", USER),
];

pub const USER: &str = "mqlite does not change user: start it as the user it should run as \
                    (systemd's User=, for example)";

/// Options refused, with why.
pub const REFUSED: &[(&str, &str)] = &[
    ("auth_plugin", "mqlite loads no plugins"),
    ("plugin", "mqlite loads no plugins"),
    ("auth_plugin_deny_special_chars", "mqlite loads no plugins"),
    (
        "bind_interface",
        "mqlite cannot bind to an interface; use `listener PORT ADDRESS`",
    ),
    (
        "clientid_prefixes",
        "mqlite does not restrict client ids by prefix",
    ),
    (
        "crlfile",
        "mqlite does not read certificate revocation lists",
    ),
    ("http_dir", "mqlite serves no HTTP files"),
    ("mount_point", "mqlite has no mount points"),
    ("psk_file", "mqlite has no TLS-PSK"),
    ("psk_hint", "mqlite has no TLS-PSK"),
    ("tls_engine", "mqlite has no OpenSSL engines"),
    ("tls_engine_kpass_sha1", "mqlite has no OpenSSL engines"),
];

/// mosquitto's bridge options that `bridges.rs` reads, old names
/// (`clientid`, `username`, `password`) included. A few are read with the
/// values mqlite has (mosquitto's defaults), and refused with others.
pub const BRIDGE: &[&str] = &[
    "address",
    "addresses",
    "bridge_cafile",
    "bridge_capath",
    "bridge_certfile",
    "bridge_insecure",
    "bridge_keyfile",
    "bridge_protocol_version",
    "cleansession",
    "clientid",
    "connection",
    "keepalive_interval",
    "local_cleansession",
    "notification_topic",
    "notifications",
    "password",
    "remote_clientid",
    "remote_password",
    "remote_username",
    "restart_timeout",
    "round_robin",
    "start_type",
    "threshold",
    "idle_timeout",
    "topic",
    "try_private",
    "username",
    // Read, with the values mqlite has; other values are refused.
    "bridge_max_packet_size",
    "bridge_outgoing_retain",
    "bridge_require_ocsp",
    "bridge_tls_use_os_certs",
    "bridge_tls_version",
    "notifications_local_only",
];

/// Bridge options skipped with a warning (still only after a
/// `connection`): skipping them changes neither what the bridge carries
/// nor who it connects to. Some are mosquitto 2.1's.
pub const BRIDGE_SKIPPED: &[(&str, &str)] = &[
    (
        "bridge_attempt_unsubscribe",
        "mqlite has no such setting (it only decides whether mosquitto unsubscribes upstream \
         from `out` topics that an earlier configuration had as `in`; connecting once with \
         `cleansession true` clears such leftovers)",
    ),
    (
        "bridge_ciphers",
        "rustls offers only its own modern cipher suites",
    ),
    (
        "bridge_ciphers_tls1.3",
        "rustls offers only its own modern cipher suites",
    ),
    (
        "bridge_max_topic_alias",
        "topic aliases only shorten packets: what arrives is the same",
    ),
    (
        "bridge_receive_maximum",
        "it only bounds how many QoS 1 and 2 messages the upstream broker sends before \
         waiting for acknowledgements: what arrives is the same",
    ),
    (
        "bridge_reload_type",
        "mqlite does not read the config file again on SIGHUP, so no bridge is reloaded",
    ),
    (
        "bridge_tcp_keepalive",
        "the MQTT keep alive (`keepalive_interval`) closes a dead link",
    ),
    (
        "bridge_tcp_user_timeout",
        "the MQTT keep alive (`keepalive_interval`) closes a dead link",
    ),
    (
        "local_clientid",
        "mqlite's bridge runs inside the broker, with no local client connection to name",
    ),
];

/// Bridge options refused, with why. Some are mosquitto 2.1's.
pub const BRIDGE_REFUSED: &[(&str, &str)] = &[
    ("bridge_alpn", "mqlite's bridge sends no ALPN protocol"),
    (
        "bridge_bind_address",
        "mqlite's bridge cannot choose its local address",
    ),
    ("bridge_identity", "mqlite has no TLS-PSK"),
    ("bridge_psk", "mqlite has no TLS-PSK"),
    (
        "bridge_session_expiry_interval",
        "the upstream session's lifetime follows `cleansession`",
    ),
    (
        "local_password",
        "mqlite's bridge runs inside the broker and does not log in to it",
    ),
    (
        "local_username",
        "mqlite's bridge runs inside the broker and does not log in to it",
    ),
];

/// Whether `name` is a mosquitto option (supported, skipped or refused):
/// how a mosquitto.conf is told from a TOML file.
pub fn is_mosquitto_option(name: &str) -> bool {
    SUPPORTED.contains(&name)
        || SKIPPED.iter().any(|(option, _)| *option == name)
        || REFUSED.iter().any(|(option, _)| *option == name)
        || BRIDGE.contains(&name)
        || BRIDGE_SKIPPED.iter().any(|(option, _)| *option == name)
        || BRIDGE_REFUSED.iter().any(|(option, _)| *option == name)
        || name.starts_with("auth_opt_")
        || name.starts_with("plugin_opt_")
}
