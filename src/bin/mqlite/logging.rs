//! The binary's logger: env_logger on stderr, one line per record as
//! `SECONDS: LEVEL message`. Info by default, debug with `-v`; `RUST_LOG`
//! (env_logger's syntax) is applied on top, so it can lower, raise or
//! target levels per module. The library only emits records through the
//! `log` facade; it never installs a logger.

use std::io::Write;

/// Installs the logger for the whole process.
pub fn init(verbose: bool) {
    let level = if verbose {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Info
    };
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level);
    builder.parse_env("RUST_LOG");
    builder.format(|out, record| {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        writeln!(out, "{seconds}: {} {}", record.level(), record.args())
    });
    // Only fails when a logger is already installed, which main never does.
    let _ = builder.try_init();
}

/// The line mosquitto logs for an accepted client, which `-v` logs:
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
