//! Every `Config` limit has a documented default: the `mqlite --help` key
//! list, the `Config` doc comments ("Default: ...") and `Config::default()`
//! agree, and the TOML key sets it. The limits themselves are tested in
//! `robust_limits.rs` and `robust_limits_queues.rs`.

use crate::support;

// The binary's TOML reader (the library has none); its own unit tests come
// along and run here too.
#[path = "../../src/bin/mqlite/config_file.rs"]
#[allow(dead_code)]
mod config_file;

use std::time::Duration;

use mqlite::Config;

#[test]
fn every_limit_has_a_documented_default() {
    // Each limit: a default in Config::default(), the same default in the
    // Config doc comment ("Default: ...") and in `mqlite --help`, and a
    // TOML key that sets it.
    let defaults = Config::default();
    let help = std::process::Command::new(support::robust::bin_path())
        .arg("--help")
        .output()
        .expect("mqlite --help");
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/config.rs"))
        .expect("read src/config.rs");
    let secs = |d: Duration| d.as_secs() as usize;
    let limits: [(&str, usize, Unit); 10] = [
        ("max_connections", defaults.max_connections, Unit::Count),
        ("max_packet_size", defaults.max_packet_size, Unit::Bytes),
        (
            "max_inflight",
            usize::from(defaults.max_inflight),
            Unit::Count,
        ),
        (
            "max_inflight_bytes",
            defaults.max_inflight_bytes,
            Unit::Bytes,
        ),
        (
            "max_queued_messages",
            defaults.max_queued_messages,
            Unit::Count,
        ),
        ("max_queued_bytes", defaults.max_queued_bytes, Unit::Bytes),
        (
            "max_pending_output",
            defaults.max_pending_output,
            Unit::Bytes,
        ),
        (
            "connect_timeout",
            secs(defaults.connect_timeout),
            Unit::Secs,
        ),
        ("auth_timeout", secs(defaults.auth_timeout), Unit::Secs),
        (
            "session_expiry",
            defaults.session_expiry.map_or(0, secs),
            Unit::SecsOrNone,
        ),
    ];
    for (key, value, unit) in limits {
        // --help: "  key   VALUE ..."
        let line = help
            .lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("--help does not list {key}:\n{help}"));
        let shown: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert_eq!(shown, value, "--help default of {key}: {line}");
        // The doc comment above the field.
        let field = doc
            .find(&format!("pub {key}:"))
            .unwrap_or_else(|| panic!("no field {key}"));
        let comment: Vec<&str> = doc[..field]
            .lines()
            .rev()
            .skip(1)
            .take_while(|l| l.trim_start().starts_with("///"))
            .collect();
        let comment = comment
            .into_iter()
            .rev()
            .map(|l| l.trim_start().trim_start_matches("///").trim())
            .collect::<Vec<_>>()
            .join(" ");
        let spellings = unit.spellings(value);
        assert!(
            spellings
                .iter()
                .any(|d| comment.contains(&format!("Default: {d}"))),
            "{key}'s doc comment does not say `Default: ` one of {spellings:?}:\n{comment}"
        );
        // The TOML key sets it.
        let text = format!("{key} = 4096\n");
        let config = config_file::from_toml(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_ne!(config, defaults, "{key} = 4096 changed nothing");
    }
}

/// How a default is written in the `Config` doc comments.
#[derive(Clone, Copy)]
enum Unit {
    Count,
    Bytes,
    Secs,
    /// Zero is `None`.
    SecsOrNone,
}

impl Unit {
    /// The ways `value` may be written: `1000`, `100 000`, `16 MiB`,
    /// `10 s`, `` `None` ``.
    fn spellings(self, value: usize) -> Vec<String> {
        let grouped = {
            let digits = value.to_string();
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i).is_multiple_of(3) {
                    out.push(' ');
                }
                out.push(c);
            }
            out
        };
        let mut all = vec![value.to_string(), grouped];
        match self {
            Unit::Count => {}
            Unit::Bytes => {
                for (size, name) in [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] {
                    if value >= size && value.is_multiple_of(size) {
                        all.push(format!("{} {name}", value / size));
                    }
                }
            }
            Unit::Secs => all = vec![format!("{value} s")],
            Unit::SecsOrNone if value == 0 => all = vec!["`None`".to_string()],
            Unit::SecsOrNone => all = vec![format!("{value} s")],
        }
        all
    }
}
