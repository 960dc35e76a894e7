#!/usr/bin/env bash
# The whole test suite, from a fresh machine. Installs what the tests need,
# only what is missing:
# - with apt-get (as root, else through sudo): mosquitto-clients and the
#   mosquitto broker (the bridge tests' peer; not started as a service), openssl
#   (the C and Python listener tests make their certificates with it),
#   cmake, valgrind, pkg-config, nodejs and npm, and python3-venv when
#   Python cannot make a virtual environment;
# - with pip, into the virtual environment target/test-venv (made on first
#   use; nothing goes into the system's Python): paho-mqtt, pytest and
#   mqtt-sn-12 (the MQTT-SN client tools of tests/mqttsn/interop.sh); and
#   into a fresh one, target/python-package/venv, for the last stage: the
#   Python package (built by pip from bindings/python and from its sdist,
#   with setuptools, setuptools-rust and build), paho-mqtt and pytest;
# - with apt-get, without recommended packages, for the browser test:
#   chromium and libnss3-tools (certutil); if they cannot be installed the
#   script fails, unless MQLITE_SKIP_EXTERNAL=1, which skips that stage;
# - with npm, into tests/node/node_modules (from its package-lock.json):
#   MQTT.js and playwright-core.
# Then runs the checks (the published crate's among them), the Rust tests,
# the examples, valgrind, the C tests, the Python tests, the Node tests, the
# browser test and the Python package as a user installs it. The README
# says how long it takes.
set -euo pipefail
cd "$(dirname "$0")/.."

# A stage's title, with the time since the start.
stage() { echo "== $* [$((SECONDS / 60)) min $((SECONDS % 60)) s]"; }
venv="$PWD/target/test-venv"

need_apt=()
command -v mosquitto_pub >/dev/null 2>&1 || need_apt+=(mosquitto-clients)
# The broker itself, as the peer of the bridge tests.
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || need_apt+=(mosquitto)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v valgrind >/dev/null 2>&1 || need_apt+=(valgrind)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ! -x "$venv/bin/python" ] && ! python3 -c "import ensurepip" >/dev/null 2>&1; then
    need_apt+=(python3-venv)
fi
# The browser test's: Chromium alone, without what it recommends (fonts,
# desktop integration), which a headless test does not use.
need_browser=()
[ -x /usr/bin/chromium ] || need_browser+=(chromium)
command -v certutil >/dev/null 2>&1 || need_browser+=(libnss3-tools)
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
apt_updated=""
apt_update() {
    [ -n "$apt_updated" ] || { $SUDO apt-get update -qq && apt_updated=1; }
}
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "== installing ${need_apt[*]} (apt-get)"
    apt_update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
skip_browser=""
if [ ${#need_browser[@]} -gt 0 ]; then
    echo "== installing ${need_browser[*]} (apt-get, without recommended packages)"
    if ! { apt_update && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
        --no-install-recommends "${need_browser[@]}" >/dev/null; }; then
        if [ "${MQLITE_SKIP_EXTERNAL:-}" = 1 ]; then
            skip_browser="${need_browser[*]} could not be installed and MQLITE_SKIP_EXTERNAL=1"
        else
            echo "== ${need_browser[*]} could not be installed: the browser test needs them" \
                "(MQLITE_SKIP_EXTERNAL=1 skips it)" >&2
            exit 1
        fi
    fi
fi
if ! "$venv/bin/python" -c "import paho.mqtt, pytest, mqttsn12" >/dev/null 2>&1; then
    echo "== installing paho-mqtt, pytest and mqtt-sn-12 into $venv (pip, virtual environment)"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    # mqtt-sn-12 pinned: docs/MQTTSN-CLIENT.md describes this version.
    "$venv/bin/python" -m pip install -q --disable-pip-version-check paho-mqtt pytest \
        "mqtt-sn-12==1.0.9"
fi
if [ ! -d tests/node/node_modules/mqtt ] || [ ! -d tests/node/node_modules/playwright-core ]; then
    echo "== installing MQTT.js and playwright-core into tests/node (npm ci)"
    (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
fi

stage "cargo fmt --check"
cargo fmt --all -- --check
stage "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
# The smallest build: no SQLite, no C API.
cargo clippy --lib --no-default-features -- -D warnings
stage "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -q
# The crate as crates.io would get it: what Cargo.toml's `include` lets
# through, and that it builds, its tests and examples included. (`cargo
# package` would verify it by building every dependency again in the dev
# profile, minutes here; checking the unpacked crate reuses what clippy
# built, seconds. Offline: every crate it needs is in the cache by now.)
stage "cargo package (the published crate's files, checked to build)"
cargo package --locked --offline --allow-dirty --no-verify -q
crate_version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
unpacked="$(mktemp -d)"
tar -xzf "${CARGO_TARGET_DIR:-target}/package/mqlite-$crate_version.crate" -C "$unpacked"
cargo check --locked --offline --all-targets -q --target-dir "${CARGO_TARGET_DIR:-target}" \
    --manifest-path "$unpacked/mqlite-$crate_version/Cargo.toml"
rm -rf "$unpacked"
# One build for every test: the profile ci is release's optimisation
# without its link-time work (Cargo.toml); `cargo build --release` makes the
# same code into the shipped artefacts.
stage "cargo test (profile ci: optimised, with debug assertions)"
# The soak runs 15 s here (scripts/soak.sh runs it for 10 minutes).
# cargo-nextest, when present, runs the test programs side by side (cargo
# test runs them one after another), six tests at a time: most of them wait
# on sockets and timers rather than compute, so more than one per CPU
# overlaps their waits (no test asserts on timing); the doc tests run apart.
if cargo nextest --version >/dev/null 2>&1; then
    MQLITE_SOAK_SECS=15 MQLITE_SOAK_SAMPLE_SECS=5 \
        cargo nextest run --cargo-profile ci --no-fail-fast --status-level fail \
        --test-threads 6
    cargo test --profile ci --doc -q
else
    MQLITE_SOAK_SECS=15 MQLITE_SOAK_SAMPLE_SECS=5 cargo test --profile ci
fi
stage "cargo build --profile ci (the binary, libmqlite.a, libmqlite.so)"
cargo build --profile ci -q
# The examples run under memcheck there (each must exit 0).
stage "valgrind memcheck: Rust examples, unit and integration tests, the binary"
bash scripts/valgrind.sh
stage "C API: header, C tests under ASan/UBSan and valgrind, C examples"
MQLITE_SKIP_BUILD=1 MQLITE_PROFILE=ci bash tests/c/run.sh
stage "pytest (paho-mqtt against the binary, Python bindings)"
MQLITE_BIN="$PWD/target/ci/mqlite" MQLITE_LIB="$PWD/target/ci/libmqlite.so" \
    "$venv/bin/python" -m pytest -q tests/python
stage "MQTT-SN (PyPI's mqtt-sn-12 tools and mosquitto's, against the binary)"
MQLITE_BIN="$PWD/target/ci/mqlite" MQTT_SN_BIN="$venv/bin" bash tests/mqttsn/interop.sh
stage "node (MQTT.js, MQTT 5 and 3.1.1, against the binary)"
(cd tests/node && MQLITE_BIN="$PWD/../../target/ci/mqlite" node --test mqtt5.test.js)
if [ -n "$skip_browser" ]; then
    stage "browser: skipped ($skip_browser)"
else
    stage "browser (MQTT.js in headless Chromium over ws:// and wss://, against the binary)"
    (cd tests/node && MQLITE_BIN="$PWD/../../target/ci/mqlite" node --test browser.test.js)
fi
# The package's builds (pip runs cargo) take the profile and features of
# the builds above, so only the crate itself is compiled again (as a cdylib
# alone, from the tree and from the sdist); they write target/ci/libmqlite.so
# too, which is why this stage comes last.
stage "python package (fresh venv: pip install ./bindings/python and its sdist; asyncio app, pytest fixtures)"
SETUPTOOLS_RUST_CARGO_PROFILE=ci MQLITE_CARGO_FEATURES=default bash tests/python_package/run.sh
echo "== all tests passed in $((SECONDS / 60)) min $((SECONDS % 60)) s"
