//! Writes the C header, `$OUT_DIR/mqlite.h`, from `src/ffi` with cbindgen.
//!
//! The committed `include/mqlite.h` must equal it: the unit test
//! `ffi::tests::committed_header_is_current` compares them (and rewrites
//! the committed one when run with `MQLITE_BLESS_HEADER=1`). The version
//! macros come from `Cargo.toml`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    watch_sources("src/ffi");
    #[cfg(feature = "ffi")]
    header::write();
}

/// Asks cargo to rerun this script when a file in `dir` changes: each file
/// by name, not the directory, whose own time changes whenever the tree is
/// copied or unpacked (the Python sdist's copy of the crate, built into a
/// shared target directory, would otherwise regenerate the header and
/// rebuild the library). A new file in it is compiled only once `mod.rs`
/// names it, and that edit reruns the script. Where the directory cannot
/// be listed, the directory itself is watched.
fn watch_sources(dir: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        println!("cargo:rerun-if-changed={dir}");
        return;
    };
    for entry in entries.flatten() {
        println!("cargo:rerun-if-changed={}", entry.path().display());
    }
}

#[cfg(feature = "ffi")]
mod header {
    use std::env;
    use std::path::PathBuf;

    pub fn write() {
        let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
        let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("mqlite.h");
        let mut config = match cbindgen::Config::from_file(dir.join("cbindgen.toml")) {
            Ok(config) => config,
            Err(error) => {
                println!("cargo:warning=cbindgen.toml: {error}");
                return;
            }
        };
        let version = |name: &str| env::var(name).expect("cargo sets the version variables");
        config.after_includes = Some(format!(
            "\n/* The version of this header; mqlite_version() gives the library's. */\n\
             #define MQLITE_VERSION_MAJOR {}\n\
             #define MQLITE_VERSION_MINOR {}\n\
             #define MQLITE_VERSION_PATCH {}\n\
             #define MQLITE_VERSION \"{}\"",
            version("CARGO_PKG_VERSION_MAJOR"),
            version("CARGO_PKG_VERSION_MINOR"),
            version("CARGO_PKG_VERSION_PATCH"),
            version("CARGO_PKG_VERSION"),
        ));
        // Only src/ffi is parsed: the rest of the crate is not C API.
        let generated = cbindgen::Builder::new()
            .with_config(config)
            .with_src(dir.join("src/ffi/mod.rs"))
            .generate();
        match generated {
            Ok(bindings) => {
                bindings.write_to_file(&out);
            }
            // A parse failure must not stop the Rust build; the header test
            // then fails and says why.
            Err(error) => println!("cargo:warning=cbindgen could not generate mqlite.h: {error}"),
        }
    }
}
