#!/usr/bin/env bash
# Runs the Rust examples, the library's unit tests of its unsafe parts and
# the integration tests whose broker runs in the test process (embedding,
# host loop, SQLite and memory stores, persistence through the API, codec
# tests) under valgrind memcheck:
# any invalid access, use of uninitialised memory or definite leak fails.
# Then the `mqlite` binary itself under memcheck, driven by the robustness
# tests (see the end). The Rust runtime's per-thread data shows as
# "possibly lost"; that is neither counted nor shown. Optimised builds
# (the `ci` profile: release without LTO), so that valgrind's slowdown stays
# small (for file:line in a report, build with `--profile profiling` and run
# the program under the same options).
#
# Prints one line per program: its errors and bytes definitely lost. On a
# failure, the program's output and memcheck's report, then exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."
# A backtrace is symbolised under memcheck in seconds: a test whose hook
# panics on purpose would then answer its client after the client's own
# connection timeout. The panic message is still printed.
export RUST_BACKTRACE=0
MEMCHECK=(--error-exitcode=1 --leak-check=full --show-leak-kinds=definite
    --errors-for-leak-kinds=definite)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# The figures of memcheck report(s): "N errors, N bytes definitely lost".
summary() { # report...
    local errors=0 lost=0 reports=0 value report
    for report in "$@"; do
        reports=$((reports + 1))
        value=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$report" | tail -n 1)
        [ -n "$value" ] || { echo "no ERROR SUMMARY in $report"; return; }
        errors=$((errors + ${value//,/}))
        value=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$report" | tail -n 1)
        value=${value//,/}
        lost=$((lost + ${value:-0}))
    done
    [ "$reports" -gt 0 ] || { echo "no report"; return; }
    echo "$errors errors, $lost bytes definitely lost"
}

# Programs run side by side, one per CPU (memcheck runs a program on one
# CPU): MQLITE_VALGRIND_JOBS overrides it.
jobs_max=${MQLITE_VALGRIND_JOBS:-$(nproc)}
runs=0

# Starts PROGRAM under memcheck in the background, its output and report
# set aside under a number; `finish` reports them in order.
memcheck() { # label program args...
    local label=$1
    shift
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
    runs=$((runs + 1))
    local run="$logs/run.$runs"
    echo "$label" >"$run.label"
    (
        status=0
        started=$SECONDS
        valgrind "${MEMCHECK[@]}" --log-file="$run.report" "$@" >"$run.output" 2>&1 || status=$?
        echo "$((SECONDS - started))" >"$run.seconds"
        echo "$status" >"$run.status"
    ) &
}

# Waits for every program started, prints LABEL and the figures of each in
# order; on a failure, the output's end and the report, and exits 1.
finish() {
    wait
    local run label status failed=0
    for ((n = 1; n <= runs; n++)); do
        run="$logs/run.$n"
        label=$(cat "$run.label")
        status=$(cat "$run.status" 2>/dev/null || echo "?")
        if [ "$status" != 0 ]; then
            echo "valgrind: $label FAILED (exit $status): $(summary "$run.report")" >&2
            echo "--- output (last 40 lines)" >&2
            tail -n 40 "$run.output" >&2
            echo "--- memcheck report" >&2
            cat "$run.report" >&2
            failed=1
        else
            echo "valgrind: $label: $(summary "$run.report") ($(cat "$run.seconds") s)"
        fi
    done
    [ "$failed" = 0 ] || exit 1
    runs=0
    rm -f "$logs"/run.*
}

cargo build --profile ci -q --examples
for example in embedded_minimal gateway host_loop; do
    memcheck "example $example" "target/ci/examples/$example"
done
# The test executable of the cargo target NAME (args: --lib, or --test NAME).
test_binary() { # name cargo-args...
    local name=$1
    shift
    cargo test --profile ci -q --no-run "$@" --message-format=json 2>/dev/null \
        | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == sys.argv[1]:
        print(m["executable"])' "$name" | tail -1
}
# The library's unit tests of the modules with unsafe code or C below
# them: the C API, the reactor (descriptors, sockets), the SQLite store
# and the topic index (prefetch). The core's simulations are safe
# Rust over the same types and run natively.
memcheck "library unit tests: ffi, reactor, store, topic" \
    "$(test_binary mqlite --lib)" --test-threads=1 -q ffi:: reactor:: store:: topic::
# The integration tests whose broker runs in the test process: the
# embedding API, the SQLite store, the codec, and persistence through the
# API. The conformance and client tests
# drive the same in-process paths (and run natively in every CI run); they
# are left out here to keep CI within its time, and so are the fuzz
# regressions' core scripts (safe Rust, run natively) and topic_matching
# (pure routing arithmetic, 150 s under memcheck; the library's unit tests
# run the topic module under it). A test program is one group of
# `tests/<group>/`; the filters pick its modules.
memcheck "tests/embedding" "$(test_binary embedding --test embedding)" --test-threads=1 -q
memcheck "tests/library: store_sqlite*, codec_malformed, codec_roundtrip" \
    "$(test_binary library --test library)" --test-threads=1 -q \
    store_sqlite codec_malformed:: codec_roundtrip::
memcheck "tests/broker: persistence" "$(test_binary broker --test broker)" --test-threads=1 -q \
    persistence::
memcheck "tests/persistence: restart, inflight, refusals" \
    "$(test_binary persistence --test persistence)" --test-threads=1 -q \
    restart:: inflight:: refusals::
finish

# The `mqlite` binary itself, driven by the robustness tests: MQLITE_BIN
# points them at a wrapper that runs it under memcheck, and the tests stop
# it with SIGTERM so that memcheck writes its full report. Left out: the
# tests that measure the broker's RSS or run it under a descriptor limit
# (memcheck changes both) and the soak.
cargo build --profile ci -q --bin mqlite
reports="$logs/mqlite"
mkdir "$reports"
cat > "$reports/mqlite" <<WRAPPER
#!/bin/sh
exec valgrind ${MEMCHECK[*]} --log-file=$reports/memcheck.%p.log $PWD/target/ci/mqlite "\$@"
WRAPPER
chmod +x "$reports/mqlite"
# Only tests/robust's truncated and garbage packets: each starts a broker
# under memcheck (seconds each), and the rest of hostile, limits,
# hostile_slow and hostile_floods reach paths the in-process tests above
# already run under memcheck, or spend their time waiting.
if ! MQLITE_BIN="$reports/mqlite" cargo test --profile ci -q --test robust -- \
    hostile::truncated:: hostile::garbage:: >"$logs/robust.output" 2>&1; then
    echo "valgrind: tests/robust failed with the binary under memcheck:" >&2
    tail -n 40 "$logs/robust.output" >&2
    exit 1
fi
runs=0
for report in "$reports"/memcheck.*.log; do
    runs=$((runs + 1))
    if ! grep -q "ERROR SUMMARY: 0 errors" "$report" || grep -q "definitely lost: [1-9]" "$report"; then
        echo "valgrind: the mqlite binary reported errors or leaks:" >&2
        cat "$report" >&2
        exit 1
    fi
done
if [ "$runs" -eq 0 ]; then
    echo "valgrind: no report from the mqlite binary" >&2
    exit 1
fi
echo "valgrind: the mqlite binary in $runs runs (tests/robust: truncated and garbage packets):" \
    "$(summary "$reports"/memcheck.*.log)"
