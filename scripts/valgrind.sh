#!/usr/bin/env bash
# Runs the Rust examples, the library's unit tests and the integration tests
# whose broker runs in the test process (conformance, clients, embedding,
# host loop, SQLite store, persistence through the API, the fuzz
# regressions' core scripts, codec and topic tests) under valgrind memcheck:
# any invalid access, use of uninitialised memory or definite leak fails.
# Then the `mqlite` binary itself under memcheck, driven by the robustness
# tests (see the end). The Rust runtime's per-thread data shows as
# "possibly lost"; that is not counted. Release builds, so that valgrind's
# slowdown stays small.
set -euo pipefail
cd "$(dirname "$0")/.."
VALGRIND=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite)
cargo build --release -q --examples
for example in embedded_minimal gateway host_loop; do
    "${VALGRIND[@]}" "target/release/examples/$example" >/dev/null
    echo "valgrind: example $example clean"
done
# The test executable of the cargo target NAME (args: --lib, or --test NAME).
test_binary() { # name cargo-args...
    local name=$1
    shift
    cargo test --release -q --no-run "$@" --message-format=json 2>/dev/null \
        | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == sys.argv[1]:
        print(m["executable"])' "$name" | tail -1
}
"${VALGRIND[@]}" "$(test_binary mqlite --lib)" --test-threads=1 -q >/dev/null
echo "valgrind: library unit tests clean"
for test in embedding_local embedding_hooks embedding_hostloop embedding_auth embedding_acl \
    embedding_message_hook embedding_events embedding_publish embedding_introspection \
    store_sqlite store_sqlite_bodies store_sqlite_refusals store_sqlite_migrations \
    store_sqlite_crash fuzz_regressions codec_malformed codec_roundtrip topic_matching \
    conformance_connect conformance_malformed conformance_mqtt31 conformance_publish_qos \
    conformance_retain conformance_sessions conformance_subscribe conformance_wills_keepalive \
    broker_clients broker_persistence persistence_restart persistence_inflight \
    persistence_refusals; do
    "${VALGRIND[@]}" "$(test_binary "$test" --test "$test")" --test-threads=1 -q >/dev/null
    echo "valgrind: tests/$test.rs clean"
done

# The `mqlite` binary itself, driven by the robustness tests: MQLITE_BIN
# points them at a wrapper that runs it under memcheck, and the tests stop
# it with SIGTERM so that memcheck writes its full report. Left out: the
# tests that measure the broker's RSS or run it under a descriptor limit
# (memcheck changes both) and the soak.
cargo build --release -q --bin mqlite
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
cat > "$reports/mqlite" <<WRAPPER
#!/bin/sh
exec valgrind --leak-check=full --errors-for-leak-kinds=definite --log-file=$reports/memcheck.%p.log $PWD/target/release/mqlite "\$@"
WRAPPER
chmod +x "$reports/mqlite"
for test in robust_hostile robust_hostile_slow robust_hostile_floods robust_limits; do
    MQLITE_BIN="$reports/mqlite" cargo test --release -q --test "$test" >/dev/null
done
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
echo "valgrind: the mqlite binary clean in $runs runs (robust_hostile*, robust_limits)"
