#!/usr/bin/env bash
# The long soak: tests/robust/soak.rs against the release build of the
# mqlite binary, for SECONDS (default 600), writing its figures as Markdown
# to REPORT (default target/soak-report.md). The CI form of the same test
# (60 s, debug build) runs with `cargo test`.
#
# Usage: scripts/soak.sh [SECONDS] [REPORT]
# REPORT may be absolute or relative to the current directory; its
# directory is made if missing.
set -euo pipefail
secs="${1:-600}"
report="${2:-}"
if [ -n "$report" ]; then
    mkdir -p "$(dirname "$report")"
    report="$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"
fi
cd "$(dirname "$0")/.."
if [ -z "$report" ]; then
    mkdir -p target
    report="$PWD/target/soak-report.md"
fi
# What is being built, recorded before the build.
source_line="Source: $(git rev-parse --short HEAD 2>/dev/null || echo '?') \
($(git status --short src 2>/dev/null | wc -l) files changed in src/); \
$(nproc) CPUs; $(uname -sr)."
cargo build --release --bin mqlite
# A private copy: a rebuild during the run does not touch the process.
bin_dir="$(mktemp -d)"
trap 'rm -rf "$bin_dir"' EXIT
cp target/release/mqlite "$bin_dir/mqlite"
MQLITE_BIN="$bin_dir/mqlite" \
MQLITE_SOAK_SECS="$secs" \
MQLITE_SOAK_REPORT="$report" \
    cargo test --release --test robust -- soak:: --nocapture
printf '\n%s\n' "$source_line" >>"$report"
echo "== soak report: $report"
