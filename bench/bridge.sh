#!/usr/bin/env bash
# Bridge throughput: 4 publishers on a local broker, 1 subscriber on an
# upstream broker, the messages crossing the local broker's bridge
# (`topic bench/# out QOS`). The upstream is the same mqlite for every
# local broker, so what differs is the bridging broker: mqlite in memory,
# mqlite with persistence (its bridge queue in SQLite, synchronous=FULL),
# and mosquitto (persistence off, no queue limit). QoS 0 and 1, 16-byte
# payloads, alternating, ROUNDS times (default 3). Prints one line per run
# and the medians. Needs target/release/mqlite and mqlite-bench
# (cargo build --release --workspace), mosquitto and mosquitto_sub.
#
# usage: bench/bridge.sh [ROUNDS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECS=${2:-5}
BENCH=target/release/mqlite-bench
MQLITE=target/release/mqlite
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
WORK=$(mktemp -d /tmp/mqlite-bridge-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# The limits of compare.sh: nothing dropped under load for a lack of room.
limits='max_connections = 200000
max_inflight = 65535
max_queued_messages = 1000000
max_queued_bytes = 4294967296
max_pending_output = 268435456
sys_interval = 0'

run_one() { # local-broker qos -> msg/s (or "failed")
    local name=$1 qos=$2 up_port local_port up_pid local_pid rate
    up_port=$(free_port)
    local_port=$(free_port)
    rm -rf "$WORK/run" && mkdir -p "$WORK/run"
    printf 'port = %s\nbind = "127.0.0.1"\n%s\n' "$up_port" "$limits" > "$WORK/run/up.toml"
    "$MQLITE" -c "$WORK/run/up.toml" --no-persist 2>/dev/null &
    up_pid=$!
    PIDS+=("$up_pid")
    wait_port "$up_port"
    case "$name" in
        mqlite-memory|mqlite-persist)
            printf 'port = %s\nbind = "127.0.0.1"\n%s\n\n[[bridge]]\nname = "up"\naddresses = ["127.0.0.1:%s"]\nremote_clientid = "bench-bridge"\ntopics = [{ pattern = "bench/#", direction = "out", qos = %s }]\n' \
                "$local_port" "$limits" "$up_port" "$qos" > "$WORK/run/local.toml"
            if [ "$name" = mqlite-persist ]; then
                "$MQLITE" -c "$WORK/run/local.toml" --db "$WORK/run/local.db" 2>/dev/null &
            else
                "$MQLITE" -c "$WORK/run/local.toml" --no-persist 2>/dev/null &
            fi ;;
        mosquitto)
            printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 0\nset_tcp_nodelay true\n\nconnection up\naddress 127.0.0.1:%s\nremote_clientid bench-bridge\ntopic bench/# out %s\n' \
                "$local_port" "$up_port" "$qos" > "$WORK/run/local.conf"
            "$MOSQUITTO" -c "$WORK/run/local.conf" 2>/dev/null & ;;
    esac
    local_pid=$!
    PIDS+=("$local_pid")
    wait_port "$local_port"
    # The link is up once its state reads 1 upstream.
    mosquitto_sub -h 127.0.0.1 -p "$up_port" -t '$SYS/broker/connection/bench-bridge/state' \
        -C 1 -W 10 >/dev/null 2>&1 || true
    rate=$("$BENCH" fanin --port "$local_port" --sub-port "$up_port" --duration "$SECS" \
        --publishers 4 --qos "$qos" --payload 16 ${WINDOW:+--window $WINDOW} 2>/dev/null \
        | tail -1 | grep -o 'msg_per_s=[0-9]*' | cut -d= -f2) || true
    kill "$local_pid" "$up_pid" 2>/dev/null || true
    wait "$local_pid" "$up_pid" 2>/dev/null || true
    echo "${rate:-failed}"
}

declare -A results
for round in $(seq 1 "$ROUNDS"); do
    for qos in 0 1; do
        for name in mqlite-memory mosquitto mqlite-persist; do
            rate=$(run_one "$name" "$qos")
            echo "round $round QoS $qos $name: $rate msg/s"
            results[$name-$qos]="${results[$name-$qos]:-} $rate"
        done
    done
done
median() { tr ' ' '\n' | grep -v '^$' | grep -v failed | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "medians (16 B, 4 publishers on the bridging broker -> 1 subscriber upstream, mqlite upstream):"
for qos in 0 1; do
    for name in mqlite-memory mosquitto mqlite-persist; do
        echo "  QoS $qos $name: $(echo "${results[$name-$qos]}" | median) msg/s"
    done
done
