#!/usr/bin/env bash
# Footprint of the release artefacts, and how fast the broker starts.
#
# usage: bench/footprint.sh [--runs N] [--no-build] [MQLITE_BINARY]
#
#   --runs N     starts per case for the startup medians (default 7)
#   --no-build   do not run `cargo build --release` first
#
# Sizes: the stripped `mqlite` binary (SQLite bundled), the stripped
# libmqlite.so, and libmqlite.a as built and with its debug information
# stripped. Startup: time from exec until a TCP connect to the broker's port
# succeeds, median of N, for `mqlite` creating a new SQLite file, `mqlite`
# opening an existing one, `mqlite --no-persist`, and `mosquitto -p PORT`
# (Debian's package, which keeps nothing on disk; skipped when it is not
# installed), alternated so that background load hits them alike.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

RUNS=7
BUILD=1
BIN=""
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS="${2:?--runs needs a number}"; shift ;;
        --no-build) BUILD=0 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        -*) echo "footprint.sh: unknown option $1" >&2; exit 2 ;;
        *) BIN="$1" ;;
    esac
    shift
done

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ "$BUILD" = 1 ] && [ -z "$BIN" ]; then
    cargo build --release -q
fi
BIN="${BIN:-$TARGET/release/mqlite}"
LIBDIR=$(dirname "$BIN")
WORK=$(mktemp -d /tmp/mqlite-footprint.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

size_of() { stat -c %s "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB (%d bytes)", b / 1048576, b }'; }

echo "== sizes"
strip -o "$WORK/mqlite" "$BIN"
echo "mqlite, stripped:        $(mib "$(size_of "$WORK/mqlite")")"
if [ -f "$LIBDIR/libmqlite.so" ]; then
    strip -o "$WORK/libmqlite.so" "$LIBDIR/libmqlite.so"
    echo "libmqlite.so, stripped:  $(mib "$(size_of "$WORK/libmqlite.so")")"
fi
if [ -f "$LIBDIR/libmqlite.a" ]; then
    echo "libmqlite.a, as built:   $(mib "$(size_of "$LIBDIR/libmqlite.a")")"
    strip -g -o "$WORK/libmqlite.a" "$LIBDIR/libmqlite.a"
    echo "libmqlite.a, strip -g:   $(mib "$(size_of "$WORK/libmqlite.a")")"
fi

echo "== startup (exec to first accepted TCP connect, median of $RUNS)"
python3 - "$BIN" "$RUNS" "$WORK" <<'EOF'
import os, shutil, socket, statistics, subprocess, sys, time

binary, runs, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def start_time(argv, port, cwd):
    """Seconds from exec until 127.0.0.1:port accepts a connection."""
    begin = time.perf_counter()
    child = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if child.poll() is not None:
                raise SystemExit(f"{argv[0]} exited early ({child.returncode})")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return time.perf_counter() - begin
            except OSError:
                if time.perf_counter() - begin > 10:
                    raise SystemExit(f"{argv[0]} not listening after 10 s")
                time.sleep(0.0002)
    finally:
        # A signal sent this early may be lost (mosquitto's handlers are
        # installed after it listens); the figure is taken, so kill then.
        child.terminate()
        try:
            child.wait(timeout=2)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

existing = os.path.join(work, "existing.db")
port = free_port()
start_time([binary, "-p", str(port), "--db", existing], port, work)
cases = {
    "mqlite, new SQLite file": lambda p, d: [binary, "-p", str(p), "--db", os.path.join(d, "new.db")],
    "mqlite, existing file": lambda p, d: [binary, "-p", str(p), "--db", existing],
    "mqlite --no-persist": lambda p, d: [binary, "-p", str(p), "--no-persist"],
}
mosquitto = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
if mosquitto:
    cases["mosquitto -p PORT"] = lambda p, d: [mosquitto, "-p", str(p)]
else:
    print("mosquitto not installed: skipped")

times = {name: [] for name in cases}
for run in range(runs):
    for name, argv in cases.items():
        cwd = os.path.join(work, f"{run}-{len(times[name])}-{name.split()[0]}")
        os.makedirs(cwd, exist_ok=True)
        port = free_port()
        times[name].append(start_time(argv(port, cwd), port, cwd))
for name, values in times.items():
    ms = sorted(v * 1000 for v in values)
    print(f"{name:<26} median {statistics.median(ms):6.2f} ms  (min {ms[0]:.2f}, max {ms[-1]:.2f})")
EOF
