#!/usr/bin/env bash
# The long form of the crash test (tests/persistence/crash.rs): the mqlite
# binary is SIGKILLed ROUNDS times at random moments under QoS 1/2 load, then
# nothing acknowledged may be missing and no QoS 2 message duplicated.
#
# Usage: scripts/crash_test.sh [ROUNDS] [SEED]
#   ROUNDS  kills (default 100; the CI form in `cargo test` does 5)
#   SEED    seed of the kill delays (default: the test's fixed seed); a
#           failed run prints the seed to replay it with
set -euo pipefail
cd "$(dirname "$0")/.."

export MQLITE_CRASH_ROUNDS="${1:-100}"
if [ $# -ge 2 ]; then
    export MQLITE_CRASH_SEED="$2"
fi
cargo build --release -q
exec cargo test --release -q --test persistence -- crash:: --nocapture
