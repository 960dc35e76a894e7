//! `contrib/mqlite.service`: systemd finds nothing wrong in it (`systemd-
//! analyze verify`, where systemd is installed; its ExecStart pointed at
//! the binary under test). That the binary accepts its ExecStart options
//! is a unit test of the binary (`main.rs`).

use crate::support;

use std::process::Command;

use support::binary::bin_path;
use support::cli::run;
use support::{TempDir, TIMEOUT};

#[test]
fn systemd_accepts_the_unit() {
    let Some(analyze) = which("systemd-analyze") else {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    };
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/mqlite.service"
    ))
    .expect("contrib/mqlite.service");
    let bin = bin_path();
    let unit = unit.replace("/usr/local/bin/mqlite", bin.to_str().expect("a UTF-8 path"));
    let dir = TempDir::new("service");
    let file = dir.file("mqlite.service", &unit);
    let output = run(Command::new(analyze).arg("verify").arg(&file), TIMEOUT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // It warns on stderr and exits 0 for an unknown key or a bad value.
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "{output:?}"
    );
}

/// `name`'s path, if it is on the `PATH`.
fn which(name: &str) -> Option<std::path::PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}
