#!/usr/bin/env bash
# Runs the Rust examples and the embedding integration tests under valgrind
# memcheck: any invalid access, use of uninitialised memory or definite leak
# fails. (The Rust runtime's per-thread data shows as "possibly lost"; that
# is not counted.) Release builds, so that valgrind's slowdown stays small.
set -euo pipefail
cd "$(dirname "$0")/.."
VALGRIND=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite)
cargo build --release -q --examples
for example in embedded_minimal gateway host_loop; do
    "${VALGRIND[@]}" "target/release/examples/$example" >/dev/null
    echo "valgrind: example $example clean"
done
for test in embedding_local embedding_hooks; do
    binary=$(cargo test --release -q --no-run --test "$test" --message-format=json 2>/dev/null \
        | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == sys.argv[1]:
        print(m["executable"])' "$test" | tail -1)
    "${VALGRIND[@]}" "$binary" --test-threads=1 -q >/dev/null
    echo "valgrind: tests/$test.rs clean"
done
