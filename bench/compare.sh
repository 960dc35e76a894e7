#!/usr/bin/env bash
# Compares mqlite with mosquitto (and optionally rumqttd) using mqlite-bench.
#
# usage: bench/compare.sh [--quick] [--rounds N] [--with-rumqttd] [--no-ceiling]
#                         [--only NAME[,NAME]] [--out FILE]
#
#   --quick         about one minute: short runs, fewer scenarios, 1 round,
#                   K=2000 connections, N=R=10000 filters/retained messages
#   --rounds N      rounds of alternation (default 3; --quick: 1)
#   --duration SECS length of each throughput run in the full set (default 10)
#   --with-rumqttd  also run rumqttd (cargo install rumqttd --root bench/.tools)
#   --no-ceiling    skip the in-generator TCP forwarder ("ceiling") runs
#   --brokers LIST  only these of mqlite,mosquitto,rumqttd,ceiling,baseline
#                   (comma separated)
#   --baseline BIN  also run an earlier mqlite binary as "baseline" (same
#                   config), for a before/after in one run: build it with
#                   `git worktree add /tmp/base REV && cargo build --release
#                   --manifest-path /tmp/base/Cargo.toml --bin mqlite`
#   --only LIST     only these scenarios (comma separated ids, e.g.
#                   tls_connections,ws_fanin_q0_16); the report then goes to
#                   bench/results/compare-STAMP.md, not docs/BENCHMARKS.md
#   --out FILE      write the report there instead
#
# Scenarios named tls_* run over TLS (a CA and a localhost server
# certificate, EC P-256, made with openssl in a temporary directory; both
# brokers get a TLS listener with them), ws_* over WebSocket (both brokers
# get a websockets listener, path /mqtt). rumqttd is skipped for both.
# Brokers run in alternation (A B C A B C ...), each run against a freshly
# started broker on a free loopback port. Medians per scenario and broker,
# and ratios mqlite/mosquitto and mqlite/rumqttd, are printed and written to
# docs/BENCHMARKS.md. Raw results: bench/results/*.jsonl. SVG charts
# (bench/charts.py: throughput of mqlite against each peer and the ceiling,
# latency percentiles) go next to the report, which shows them
# (docs/BENCHMARKS-throughput.svg, -latency.svg), and next to the results
# (bench/results/compare-STAMP-throughput.svg, ...).
#
# Scenarios named mqttsn_q* publish from MQTT-SN clients over UDP
# (mqlite-bench mqttsn: 100 clients, window 10) to MQTT subscribers; only
# mqlite has an MQTT-SN gateway (started with --mqttsn-port on a free UDP
# port), the other brokers are recorded as not supporting them. Their
# mqttsn_tcp_q* twins are the same load from 100 MQTT publishers (fanin
# with the same window), run against every broker.
# Scenarios with "_v5" in their name speak MQTT 5 (rumqttd gets a v5
# listener for them); if rumqttd fails one, it is recorded as not
# supporting it and not run against it again in later rounds.
# Binaries are taken from $CARGO_TARGET_DIR (default: target/) /release.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

QUICK=0
ROUNDS=""
DURATION=""
WITH_RUMQTTD=0
CEILING=1
ONLY=""
ONLY_SCENARIOS=""
OUT=""
BASELINE_BIN=""
ARGS="$*"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --rounds) ROUNDS="${2:?--rounds needs a number}"; shift ;;
        --rounds=*) ROUNDS="${1#*=}" ;;
        --duration) DURATION="${2:?--duration needs seconds}"; shift ;;
        --with-rumqttd) WITH_RUMQTTD=1 ;;
        --no-ceiling) CEILING=0 ;;
        --brokers) ONLY="${2:?--brokers needs a list}"; shift ;;
        --brokers=*) ONLY="${1#*=}" ;;
        --baseline) BASELINE_BIN="${2:?--baseline needs a binary}"; shift ;;
        --baseline=*) BASELINE_BIN="${1#*=}" ;;
        --only) ONLY_SCENARIOS="${2:?--only needs a list}"; shift ;;
        --only=*) ONLY_SCENARIOS="${1#*=}" ;;
        --out) OUT="${2:?--out needs a file}"; shift ;;
        --out=*) OUT="${1#*=}" ;;
        -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
if [ -z "$ROUNDS" ]; then
    if [ "$QUICK" = 1 ]; then ROUNDS=1; else ROUNDS=3; fi
fi
# How long (in 0.3 s samples) to wait for other load to go away before a run.
# MQLITE_BENCH_QUIET_WAIT overrides it (0: do not wait, e.g. when the
# other load runs at nice 19 and barely competes).
if [ "$QUICK" = 1 ]; then QUIET_WAIT=5; else QUIET_WAIT=100; fi
QUIET_WAIT=${MQLITE_BENCH_QUIET_WAIT:-$QUIET_WAIT}
BUSY=0

log() { echo "compare.sh: $*" >&2; }

WORK=$(mktemp -d /tmp/mqlite-compare.XXXXXX)
mkdir -p bench/results docs
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS="bench/results/compare-$STAMP.jsonl"
if [ -z "$OUT" ]; then
    if [ -n "$ONLY_SCENARIOS" ]; then OUT="bench/results/compare-$STAMP.md"; else OUT=docs/BENCHMARKS.md; fi
fi
: > "$RESULTS"
BROKER_PID=""
cleanup() {
    if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# Enough descriptors for the brokers (inherited) and the generator.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------- builds
# Where cargo puts the binaries: $CARGO_TARGET_DIR (relative to the
# workspace root, where cargo runs) or target/.
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
log "building mqlite-bench"
# Only the generator: the crate's other binaries (in-process tools) are not
# used here.
cargo build --release -p mqlite-bench --bin mqlite-bench >&2
BENCH="$TARGET_DIR/release/mqlite-bench"

BROKERS=()
MQLITE_BIN="$TARGET_DIR/release/mqlite"
MQLITE_NOTE=""
log "building mqlite"
if cargo build --release -p mqlite --bins >"$WORK/mqlite-build.log" 2>&1 && [ -x "$MQLITE_BIN" ]; then
    BROKERS+=(mqlite)
elif [ -x "$MQLITE_BIN" ]; then
    MQLITE_NOTE="STALE BINARY: the current source did not build"
    log "WARNING: 'cargo build --release -p mqlite' failed; using the existing (stale) $MQLITE_BIN:"
    grep -m3 '^error' "$WORK/mqlite-build.log" | sed 's/^/    /' >&2 || true
    BROKERS+=(mqlite)
else
    log "mqlite SKIPPED: 'cargo build --release -p mqlite --bins' failed and there is no $MQLITE_BIN:"
    grep -m3 '^error' "$WORK/mqlite-build.log" | sed 's/^/    /' >&2 || true
fi

MOSQUITTO=$(command -v mosquitto || true)
[ -z "$MOSQUITTO" ] && [ -x /usr/sbin/mosquitto ] && MOSQUITTO=/usr/sbin/mosquitto
if [ -z "$MOSQUITTO" ]; then
    log "installing mosquitto (apt-get)"
    if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto; } >&2; then
        MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
    fi
fi
if [ -n "$MOSQUITTO" ] && [ -x "$MOSQUITTO" ]; then
    BROKERS+=(mosquitto)
else
    log "mosquitto SKIPPED: not installed and apt-get install failed"
fi

RUMQTTD="$ROOT/bench/.tools/bin/rumqttd"
if [ "$WITH_RUMQTTD" = 1 ]; then
    if [ ! -x "$RUMQTTD" ]; then
        log "installing rumqttd into bench/.tools (cargo install)"
        cargo install rumqttd --root "$ROOT/bench/.tools" >&2 || true
    fi
    if [ -x "$RUMQTTD" ]; then BROKERS+=(rumqttd); else log "rumqttd SKIPPED: cargo install failed"; fi
fi
[ "$CEILING" = 1 ] && BROKERS+=(ceiling)
if [ -n "$BASELINE_BIN" ]; then
    if [ -x "$BASELINE_BIN" ]; then BROKERS+=(baseline); else log "baseline SKIPPED: $BASELINE_BIN is not executable"; fi
fi
if [ -n "$ONLY" ]; then
    KEEP=()
    for b in "${BROKERS[@]}"; do
        case ",$ONLY," in *",$b,"*) KEEP+=("$b") ;; esac
    done
    BROKERS=("${KEEP[@]}")
fi
if [ "${#BROKERS[@]}" = 0 ]; then log "no broker to run"; exit 1; fi

TASKSET=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then TASKSET=$(command -v taskset); fi
PIN_BROKER=""

# ---------------------------------------------------------------- configs
# The generators (mosquitto_conf, rumqttd_conf, rumqttd_default_conf,
# mqlite_conf, make_certs) are in compare-configs.sh.
# shellcheck source=bench/compare-configs.sh
. "$ROOT/bench/compare-configs.sh"

mosquitto_conf PORT > "$WORK/mosquitto.conf.example"
rumqttd_conf PORT > "$WORK/rumqttd.toml.example"
rumqttd_default_conf PORT > "$WORK/rumqttd-defaults.toml.example"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

free_udp_port() {
    python3 -c 'import socket; s=socket.socket(type=socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# The MQTT-SN gateway's UDP port of the current run (mqttsn_q* only).
SN_PORT=""

wait_port() { # port pid
    local i
    for i in $(seq 1 200); do
        if ! kill -0 "$2" 2>/dev/null; then return 1; fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    return 1
}

mqlite_conf PORT > "$WORK/mqlite.toml.example"

# Test certificates for the tls_* scenarios: a CA and a server certificate
# for localhost (and 127.0.0.1), EC P-256, valid 30 days.
CERTS="$WORK/certs"

start_broker() { # name port [defaults] [v5] [tls|ws] -> BROKER_PID ($PIN_BROKER prefixes the command)
    local name=$1 port=$2 defaults=${3:-} v5=${4:-} tr=${5:-}
    if [ -n "$defaults" ]; then
        # Each broker as a user starts it: no config beyond the port.
        case "$name" in
            mqlite|baseline)
                local bin="$MQLITE_BIN"
                [ "$name" = baseline ] && bin="$BASELINE_BIN"
                rm -rf "$WORK/defaults-run" && mkdir -p "$WORK/defaults-run"
                (cd "$WORK/defaults-run" && exec $PIN_BROKER "$bin" -p "$port") >"$WORK/$name.log" 2>&1 & ;;
            mosquitto)
                $PIN_BROKER "$MOSQUITTO" -p "$port" >"$WORK/$name.log" 2>&1 & ;;
            rumqttd)
                rumqttd_default_conf "$port" > "$WORK/rumqttd.toml"
                $PIN_BROKER "$RUMQTTD" -q -c "$WORK/rumqttd.toml" >"$WORK/$name.log" 2>&1 & ;;
            *) return 1 ;;
        esac
        BROKER_PID=$!
        if ! wait_port "$port" "$BROKER_PID"; then
            log "$name did not start listening on $port:"
            tail -n 5 "$WORK/$name.log" | sed 's/^/    /' >&2 || true
            stop_broker
            return 1
        fi
        sleep 0.2
        return 0
    fi
    case "$name" in
        mqlite)
            mqlite_conf "$port" "$tr" > "$WORK/mqlite.toml"
            $PIN_BROKER "$MQLITE_BIN" -c "$WORK/mqlite.toml" --no-persist ${SN_PORT:+--mqttsn-port "$SN_PORT"} >"$WORK/$name.log" 2>&1 & ;;
        baseline)
            mqlite_conf "$port" "$tr" > "$WORK/mqlite.toml"
            $PIN_BROKER "$BASELINE_BIN" -c "$WORK/mqlite.toml" --no-persist ${SN_PORT:+--mqttsn-port "$SN_PORT"} >"$WORK/$name.log" 2>&1 & ;;
        mosquitto)
            mosquitto_conf "$port" "$tr" > "$WORK/mosquitto.conf"
            $PIN_BROKER "$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/$name.log" 2>&1 & ;;
        rumqttd)
            # rumqttd speaks MQTT 5 on a listener of its own kind.
            rumqttd_conf "$port" ${v5:+v5} > "$WORK/rumqttd.toml"
            $PIN_BROKER "$RUMQTTD" -q -c "$WORK/rumqttd.toml" >"$WORK/$name.log" 2>&1 & ;;
        ceiling) $PIN_BROKER "$BENCH" ceiling-server --port "$port" >"$WORK/$name.log" 2>&1 & ;;
    esac
    BROKER_PID=$!
    if ! wait_port "$port" "$BROKER_PID"; then
        log "$name did not start listening on $port:"
        tail -n 5 "$WORK/$name.log" | sed 's/^/    /' >&2 || true
        stop_broker
        return 1
    fi
    sleep 0.2 # let the probe connection go away before measuring
}

stop_broker() {
    [ -z "$BROKER_PID" ] && return 0
    kill "$BROKER_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 100); do
        kill -0 "$BROKER_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill -9 "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
    BROKER_PID=""
}

cpu_busy() { # percent of all CPUs busy over 0.3 s (other load on the machine)
    local a b
    read -r -a a < /proc/stat
    sleep 0.3
    read -r -a b < /proc/stat
    local busy=0 total=0 i d
    for i in 1 2 3 4 5 6 7 8; do
        d=$(( b[i] - a[i] ))
        total=$(( total + d ))
        # 2 = nice, 4 = idle, 5 = iowait: work at nice 19 yields to the
        # benchmark, so it does not count as load.
        if [ "$i" != 2 ] && [ "$i" != 4 ] && [ "$i" != 5 ]; then busy=$(( busy + d )); fi
    done
    echo $(( total > 0 ? 100 * busy / total : 0 ))
}

wait_quiet() { # waits (bounded) until other processes leave the CPUs alone
    # One sample at least, so that the run records the load before it even
    # when QUIET_WAIT is 0 (no waiting).
    local i=1 busy
    busy=$(cpu_busy)
    while [ "$busy" -gt 15 ] && [ "$i" -lt "$QUIET_WAIT" ]; do
        [ "$i" = 1 ] && log "machine busy (${busy}% CPU used by other processes); waiting up to ${QUIET_WAIT}x0.3 s"
        busy=$(cpu_busy)
        i=$((i + 1))
    done
    BUSY=$busy
}

sys_busy() { # user+nice+system jiffies of all CPUs since boot (irq/softirq
    # time is left out: it is not charged to any process, not even ours)
    local a
    read -r -a a < /proc/stat
    echo $(( a[1] + a[2] + a[3] ))
}

proc_cpu() { # user+system jiffies of a process (0 if gone)
    local st
    [ -n "$1" ] || { echo 0; return; }
    st=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    st=${st##*) }
    # shellcheck disable=SC2086
    set -- $st
    echo $(( ${12} + ${13} ))
}

summary() { # json start-time
    python3 - "$1" "$2" <<'EOF'
import json, sys, time
r = json.loads(sys.argv[1])
keys = ("msg_per_s", "p50_us", "conn_per_s", "rss_per_conn_bytes", "lost")
print(" ".join(f"{k}={r[k]}" for k in keys if k in r), f"({time.time() - float(sys.argv[2]):.1f} s)")
EOF
}

# ---------------------------------------------------------------- scenarios
# id|generator arguments|runs against the ceiling forwarder (1/0)
# Throughput runs are bounded by time: the generator's default bound of
# 5 million messages would end a 4 M msg/s run after about a second, and
# short runs are the noisiest on a shared machine.
if [ "$QUICK" = 1 ]; then
    D=2; LAT="--duration 2 --messages 5000"; K=2000; N=10000; R=10000
    SCENARIOS=(
        "fanin_q0_16|fanin --qos 0 --payload 16 --duration $D|1"
        "fanin_q1_16|fanin --qos 1 --payload 16 --duration $D|1"
        "fanin_q1_16_defaults|fanin --qos 1 --payload 16 --duration $D|0"
        "fanout_q0_16|fanout --qos 0 --payload 16 --subscribers 10 --duration $D|1"
        "fanin_v5_q1_props|fanin --mqtt5 --props --qos 1 --payload 16 --duration $D|0"
        "shared_v5_8|fanin --mqtt5 --shared 8 --qos 1 --payload 16 --duration $D|0"
        "latency_q0|latency --qos 0 $LAT|1"
        "latency_q1|latency --qos 1 $LAT|1"
        "connections|connections --connections $K|0"
        "subscriptions_100|subscriptions --filters 100 --duration $D|0"
        "subscriptions_$N|subscriptions --filters $N --duration $D|0"
        "retained|retained --retained $R|0"
        "tls_connections|connections --connections $K --tls $CERTS/ca.pem|0"
        "tls_fanin_q0_16|fanin --qos 0 --payload 16 --duration $D --tls $CERTS/ca.pem|0"
        "tls_fanin_q0_1024|fanin --qos 0 --payload 1024 --duration $D --tls $CERTS/ca.pem|0"
        "ws_fanin_q0_16|fanin --qos 0 --payload 16 --duration $D --ws|0"
        "mqttsn_q0|mqttsn --qos 0 --payload 16 --publishers 100 --window 10 --duration $D|0"
        "mqttsn_tcp_q0|fanin --qos 0 --payload 16 --publishers 100 --window 10 --duration $D|0"
        "mqttsn_q1|mqttsn --qos 1 --payload 16 --publishers 100 --window 10 --duration $D|0"
        "mqttsn_tcp_q1|fanin --qos 1 --payload 16 --publishers 100 --window 10 --duration $D|0"
    )
else
    D=${DURATION:-10}; LAT="--duration $D --messages 20000"; K=10000; N=100000; R=100000
    SCENARIOS=(
        "fanin_q0_16|fanin --qos 0 --payload 16 --duration $D|1"
        "fanin_q1_16|fanin --qos 1 --payload 16 --duration $D|1"
        "fanin_q2_16|fanin --qos 2 --payload 16 --duration $D|1"
        "fanin_q0_1024|fanin --qos 0 --payload 1024 --duration $D|1"
        "fanin_q0_65536|fanin --qos 0 --payload 65536 --duration $D|1"
        "fanin_q1_1024|fanin --qos 1 --payload 1024 --duration $D|1"
        "fanin_q2_1024|fanin --qos 2 --payload 1024 --duration $D|0"
        "fanout_q0_16|fanout --qos 0 --payload 16 --subscribers 10 --duration $D|1"
        "fanout_q1_16|fanout --qos 1 --payload 16 --subscribers 10 --duration $D|0"
        "fanout_q2_16|fanout --qos 2 --payload 16 --subscribers 10 --duration $D|0"
        "fanout_q0_1024|fanout --qos 0 --payload 1024 --subscribers 10 --duration $D|0"
        "fanout_q1_1024|fanout --qos 1 --payload 1024 --subscribers 10 --duration $D|0"
        "fanout_q2_1024|fanout --qos 2 --payload 1024 --subscribers 10 --duration $D|0"
        "fanin_q0_16_defaults|fanin --qos 0 --payload 16 --duration $D|0"
        "fanin_q1_16_defaults|fanin --qos 1 --payload 16 --duration $D|0"
        "fanin_q2_16_defaults|fanin --qos 2 --payload 16 --duration $D|0"
        "fanout_q1_16_defaults|fanout --qos 1 --payload 16 --subscribers 10 --duration $D|0"
        "fanin_v5_q0_props|fanin --mqtt5 --props --qos 0 --payload 16 --duration $D|0"
        "fanin_v5_q1_props|fanin --mqtt5 --props --qos 1 --payload 16 --duration $D|0"
        "fanout_v5_q0_props|fanout --mqtt5 --props --qos 0 --payload 16 --subscribers 10 --duration $D|0"
        "fanout_v5_q1_props|fanout --mqtt5 --props --qos 1 --payload 16 --subscribers 10 --duration $D|0"
        "fanin_v5_alias|fanin --mqtt5 --topic-alias --qos 0 --payload 16 --duration $D|0"
        "shared_v5_8|fanin --mqtt5 --shared 8 --qos 1 --payload 16 --duration $D|0"
        "latency_q0|latency --qos 0 $LAT|1"
        "latency_q1|latency --qos 1 $LAT|1"
        "connections|connections --connections $K|0"
        "subscriptions_100|subscriptions --filters 100 --duration $D|0"
        "subscriptions_$N|subscriptions --filters $N --duration $D|0"
        "retained|retained --retained $R|0"
        "tls_connections|connections --connections $K --tls $CERTS/ca.pem|0"
        "tls_fanin_q0_16|fanin --qos 0 --payload 16 --duration $D --tls $CERTS/ca.pem|0"
        "tls_fanin_q0_1024|fanin --qos 0 --payload 1024 --duration $D --tls $CERTS/ca.pem|0"
        "ws_fanin_q0_16|fanin --qos 0 --payload 16 --duration $D --ws|0"
        "mqttsn_q0|mqttsn --qos 0 --payload 16 --publishers 100 --window 10 --duration $D|0"
        "mqttsn_tcp_q0|fanin --qos 0 --payload 16 --publishers 100 --window 10 --duration $D|0"
        "mqttsn_q1|mqttsn --qos 1 --payload 16 --publishers 100 --window 10 --duration $D|0"
        "mqttsn_tcp_q1|fanin --qos 1 --payload 16 --publishers 100 --window 10 --duration $D|0"
    )
fi
if [ -n "$ONLY_SCENARIOS" ]; then
    KEEP=()
    for want in ${ONLY_SCENARIOS//,/ }; do
        found=0
        for sc in "${SCENARIOS[@]}"; do
            if [ "${sc%%|*}" = "$want" ]; then KEEP+=("$sc"); found=1; fi
        done
        if [ "$found" = 0 ]; then
            log "--only: no scenario $want; there are: $(printf '%s\n' "${SCENARIOS[@]}" | cut -d'|' -f1 | tr '\n' ' ')"
            exit 2
        fi
    done
    SCENARIOS=("${KEEP[@]}")
fi
for sc in "${SCENARIOS[@]}"; do
    case "$sc" in tls_*) make_certs; break ;; esac
done
# No broker here comes near 20 M messages a second.
TIME_BOUND="--messages $((D * 20000000))"
for i in "${!SCENARIOS[@]}"; do
    case "${SCENARIOS[$i]}" in
        fanin_*|fanout_*|subscriptions_*|shared_*|tls_fanin_*|ws_fanin_*|mqttsn_*)
            IFS='|' read -r id gen_args on_ceiling <<<"${SCENARIOS[$i]}"
            SCENARIOS[$i]="$id|$gen_args $TIME_BOUND|$on_ceiling" ;;
    esac
done

# One run: scenario $1 (generator arguments $2) against broker $3, round
# $4, pair label $5 (routing runs, else empty), pinning $6 (taskset prefix
# for broker and generator, or empty). Appends a JSON line to $RESULTS.
run_one() {
    local id=$1 args=$2 b=$3 round=$4 pair=$5 pin=$6
    PIN_BROKER="$pin"; local pin_gen="$pin"
    [ -n "$pin" ] && PIN_BROKER="$pin 0" && pin_gen="$pin 1"
    # rumqttd is left free to use both CPUs for its worker threads.
    if [ "$b" = rumqttd ] && [ "${id%%_*}" = subscriptions ]; then PIN_BROKER=""; fi
    local defaults="" v5="" tr=""
    case "$id" in *_defaults) defaults=1 ;; esac
    case "$id" in tls_*) tr=tls ;; ws_*) tr=ws ;; esac
    if [ -n "$tr" ] && [ "$b" = rumqttd ]; then
        log "round $round $id $b: skipped (rumqttd is not run over TLS or WebSocket)"
        return
    fi
    case "$id" in *_v5_*|*_v5) v5=1 ;; esac
    SN_PORT=""
    local sn_args=""
    case "$id" in
        mqttsn_tcp_*) ;;
        mqttsn_*)
            if [ "$b" != mqlite ] && [ "$b" != baseline ]; then
                # Recorded once, as the MQTT 5 scenarios a peer fails.
                if [ "$round" = 1 ]; then
                    echo "{\"id\":\"$id\",\"broker\":\"$b\",\"round\":$round,\"error\":\"not applicable: $b has no MQTT-SN gateway\",\"unsupported\":true}" >> "$RESULTS"
                fi
                log "round $round $id $b: not applicable (no MQTT-SN gateway)"
                return
            fi
            SN_PORT=$(free_udp_port)
            sn_args="--sn-port $SN_PORT" ;;
    esac
    if [ -n "$v5" ] && [[ " $UNSUPPORTED " == *" $id/$b "* ]]; then
        log "round $round $id $b: skipped (not supported, see round 1)"
        return
    fi
    local tag="\"id\":\"$id\",\"broker\":\"$b\",\"round\":$round"
    [ -n "$pair" ] && tag="$tag,\"pair\":\"$pair\""
    wait_quiet
    local port
    port=$(free_port)
    if ! start_broker "$b" "$port" "$defaults" "$v5" "$tr"; then
        echo "{$tag,\"error\":\"broker did not start\"}" >> "$RESULTS"
        return
    fi
    local t_run=$EPOCHREALTIME sys0 brk0 sys1 brk1 out load err extra=""
    sys0=$(sys_busy); brk0=$(proc_cpu "$BROKER_PID")
    case "$id" in connections|*_connections) extra="--broker-pid $BROKER_PID" ;; esac
    [ -n "$sn_args" ] && extra="$extra $sn_args"
    # shellcheck disable=SC2086
    if out=$(timeout 600 $pin_gen "$BENCH" $args --port "$port" --label "$b" --json $extra 2>"$WORK/gen.err"); then
        sys1=$(sys_busy); brk1=$(proc_cpu "$BROKER_PID")
        # CPU use during the run: the broker's, and everything else's
        # (all CPUs' busy time minus broker and generator) in % of the machine.
        load=$(python3 -c 'import json,sys,os
r=json.loads(sys.argv[1]); t0,s0,s1,b0,b1=map(float,sys.argv[2:7]); hz=os.sysconf("SC_CLK_TCK")
import time; wall=max(time.time()-t0,1e-3); broker=(b1-b0)/hz; other=(s1-s0)/hz-broker-r.get("gen_cpu_s",0)
print(f"\"broker_cpu_s\":{broker:.2f},\"other_cpu_pct\":{max(other,0)/wall/os.cpu_count()*100:.1f}")' "$out" "$t_run" "$sys0" "$sys1" "$brk0" "$brk1")
        echo "{$tag,\"busy_before\":$BUSY,$load,\"result\":$out}" >> "$RESULTS"
        log "round $round${pair:+ pair $pair} $id $b: $(summary "$out" "$t_run")"
    else
        err=$(tr '"\\\n' "'/ " < "$WORK/gen.err" | cut -c1-300)
        if [ -n "$v5" ] && [ "$b" = rumqttd ]; then
            # A peer failing an MQTT 5 scenario (rumqttd's MQTT 5 support
            # is partial): recorded as not supported, not retried.
            echo "{$tag,\"error\":\"$err\",\"unsupported\":true}" >> "$RESULTS"
            UNSUPPORTED="$UNSUPPORTED $id/$b"
            log "round $round $id $b: NOT SUPPORTED (failed): $err"
        else
            echo "{$tag,\"error\":\"$err\"}" >> "$RESULTS"
            log "round $round $id $b: FAILED: $err"
        fi
    fi
    stop_broker
}

# Routing runs (subscriptions_*) measure how the cost per message grows
# with the filters: a ratio, which this VM's drift (tens of percent within
# minutes) blurs when its two runs are far apart. So for each broker the
# two filter counts run back to back, in alternating order (ABBA), and
# ROUTING_PAIRS times per round; the report gives the median change over
# these adjacent pairs beside the medians of each count.
# MQTT 5 scenarios a peer failed ("id/broker" words), skipped from then on.
UNSUPPORTED=""
ROUTING_PAIRS=2
[ "$QUICK" = 1 ] && ROUTING_PAIRS=1
ROUTING=()
for sc in "${SCENARIOS[@]}"; do
    case "$sc" in subscriptions_*) ROUTING+=("$sc") ;; esac
done

log "brokers: ${BROKERS[*]}; rounds: $ROUNDS; results: $RESULTS"
for round in $(seq 1 "$ROUNDS"); do
    for sc in "${SCENARIOS[@]}"; do
        IFS='|' read -r id args ceil <<<"$sc"
        # Latency runs: broker on CPU 0, generator on CPU 1. Unpinned, the
        # round trip is bimodal (same vCPU ~18 us, across vCPUs ~55 us on the
        # reference VM) depending on where the scheduler puts the processes.
        # Routing runs are pinned the same way: they compare a broker with
        # itself, and where the scheduler puts the two processes adds noise.
        PIN_SCENARIO=""
        case "${id%%_*}" in
            latency|subscriptions)
                if [ -n "$TASKSET" ]; then PIN_SCENARIO="$TASKSET -c"; fi ;;
        esac
        if [ "${id%%_*}" = subscriptions ]; then
            # All routing runs go with the first routing scenario.
            [ "$sc" = "${ROUTING[0]}" ] || continue
            for b in "${BROKERS[@]}"; do
                [ "$b" = ceiling ] && continue
                for rep in $(seq 1 "$ROUTING_PAIRS"); do
                    order=("${ROUTING[@]}")
                    if [ $(( (round + rep) % 2 )) = 1 ]; then
                        order=(); for ((k = ${#ROUTING[@]} - 1; k >= 0; k--)); do order+=("${ROUTING[$k]}"); done
                    fi
                    for rsc in "${order[@]}"; do
                        IFS='|' read -r rid rargs _ <<<"$rsc"
                        run_one "$rid" "$rargs" "$b" "$round" "r${round}p${rep}" "$PIN_SCENARIO"
                    done
                done
            done
            continue
        fi
        for b in "${BROKERS[@]}"; do
            if [ "$b" = ceiling ] && [ "$ceil" != 1 ]; then continue; fi
            run_one "$id" "$args" "$b" "$round" "" "$PIN_SCENARIO"
        done
    done
done

# ---------------------------------------------------------------- report
versions="$WORK/versions.txt"
{
    if [[ " ${BROKERS[*]} " == *" mqlite "* ]]; then
        v=$("$MQLITE_BIN" --version 2>/dev/null | head -n1 || true)
        [ -z "$v" ] && v="mqlite $(grep -m1 '^version' Cargo.toml | cut -d'"' -f2)"
        echo "mqlite|$v (git $(git rev-parse --short HEAD 2>/dev/null || echo none)$(git diff --quiet 2>/dev/null || echo -dirty)) $MQLITE_NOTE"
    else
        echo "mqlite|skipped (no target/release/mqlite could be built)"
    fi
    if [ -n "$MOSQUITTO" ]; then echo "mosquitto|$("$MOSQUITTO" -h 2>&1 | head -n1) (Debian package $(dpkg-query -W -f='${Version}' mosquitto 2>/dev/null || echo '?'))"; fi
    if [[ " ${BROKERS[*]} " == *" rumqttd "* ]]; then
        echo "rumqttd|$(cargo install --list --root "$ROOT/bench/.tools" 2>/dev/null | grep -m1 '^rumqttd' | tr -d ':')"
    fi
    if [[ " ${BROKERS[*]} " == *" baseline "* ]]; then
        echo "baseline|$BASELINE_BIN: an earlier mqlite, same config as mqlite"
    fi
    echo "generator|mqlite-bench $(grep -m1 '^version' bench/Cargo.toml | cut -d'"' -f2)"
} > "$versions"

python3 "$ROOT/bench/aggregate.py" \
    --results "$RESULTS" --out "$OUT" --versions "$versions" \
    --mqlite-conf "$WORK/mqlite.toml.example" \
    --mosquitto-conf "$WORK/mosquitto.conf.example" --rumqttd-conf "$WORK/rumqttd.toml.example" \
    --rumqttd-defaults-conf "$WORK/rumqttd-defaults.toml.example" \
    --brokers "${BROKERS[*]}" --rounds "$ROUNDS" --quick "$QUICK" \
    --command "bench/compare.sh $ARGS" \
    --scenarios "$(printf '%s\n' "${SCENARIOS[@]}")"
if [ "${OUT%.md}" = "${RESULTS%.jsonl}" ]; then
    log "wrote $OUT, and its charts ${OUT%.md}-*.svg"
else
    log "wrote $OUT, and its charts ${OUT%.md}-*.svg (also ${RESULTS%.jsonl}-*.svg)"
fi
