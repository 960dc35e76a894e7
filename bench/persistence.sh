#!/usr/bin/env bash
# QoS 1 fan-in to a persistent subscriber (clean session 0), mqlite with
# persistence on (SQLite, synchronous=FULL) and off, and mosquitto with
# persistence on, alternating, ROUNDS times (default 3). Prints one line per
# run and the medians. Needs target/release/mqlite and mqlite-bench
# (cargo build --release --workspace) and mosquitto.
#
# usage: bench/persistence.sh [ROUNDS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECS=${2:-5}
BENCH=target/release/mqlite-bench
MQLITE=target/release/mqlite
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
WORK=$(mktemp -d /tmp/mqlite-persist-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_one() { # name -> msg/s
    local name=$1 port pid
    port=$(free_port)
    rm -rf "$WORK/run" && mkdir -p "$WORK/run"
    case "$name" in
        mqlite-persist) "$MQLITE" -p "$port" --db "$WORK/run/m.db" 2>/dev/null & ;;
        mqlite-memory) "$MQLITE" -p "$port" --no-persist 2>/dev/null & ;;
        mosquitto-persist)
            printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nmax_inflight_messages 0\nmax_queued_messages 1000000\nset_tcp_nodelay true\n' \
                "$port" "$WORK/run" > "$WORK/run/m.conf"
            "$MOSQUITTO" -c "$WORK/run/m.conf" 2>/dev/null & ;;
    esac
    pid=$!
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
    "$BENCH" fanin --port "$port" --duration "$SECS" --publishers 4 --qos 1 --payload 16 --persistent-sub \
        | tail -1 | grep -o 'msg_per_s=[0-9]*' | cut -d= -f2
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
}

declare -A results
for round in $(seq 1 "$ROUNDS"); do
    for name in mqlite-persist mosquitto-persist mqlite-memory; do
        rate=$(run_one "$name")
        echo "round $round $name: $rate msg/s"
        results[$name]="${results[$name]:-} $rate"
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "medians (QoS 1, 16 B, 4 publishers -> 1 persistent subscriber):"
for name in mqlite-persist mosquitto-persist mqlite-memory; do
    echo "  $name: $(echo "${results[$name]}" | median) msg/s"
done
