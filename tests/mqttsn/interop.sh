#!/usr/bin/env bash
# MQTT-SN interop: the broker's MQTT-SN gateway against a real MQTT-SN client,
# PyPI's mqtt-sn-12 (its tools mqtt_sn_pub / mqtt_sn_sub), with mosquitto's
# clients on the MQTT side. See docs/MQTTSN-CLIENT.md for the tool.
#
# usage: bash tests/mqttsn/interop.sh [--predefined ID:TOPIC --config FILE]
#
#   --config FILE          pass `-c FILE` to mqlite instead of the script's
#                          own (which maps pre-defined topic id 42 to
#                          sn/predefined)
#   --predefined ID:TOPIC  check QoS -1 and QoS 0 publishes to the
#                          pre-defined topic id ID (which FILE maps to TOPIC)
#
# Environment: MQLITE_BIN (default: built with cargo, honouring
# CARGO_TARGET_DIR, debug profile); MQTT_SN_BIN (the directory holding
# mqtt_sn_pub; default target/test-venv/bin, where scripts/test.sh installs it, then
# PATH; if it is nowhere, it is installed into target/test-venv with pip).
#
# Checks, each on a fresh broker-side topic:
#   mqtt_sn_pub -> mosquitto_sub: QoS 0 and 1 (registered topic), QoS -1
#     (short topic "ab", and the pre-defined id)
#   mosquitto_pub -> mqtt_sn_sub: QoS 0 and 1 (topic name), QoS 0 on a
#     wildcard filter (the gateway REGISTERs the topic with the client)
#   retained: mosquitto_pub -r, then a later mqtt_sn_sub gets it
# Exit status: 0 when every check passed, 1 otherwise (the broker's log is
# printed), 2 when something needed is missing.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

CONFIG=""
PREDEFINED=""
while [ $# -gt 0 ]; do
    case "$1" in
        --config) CONFIG="${2:?--config needs a file}"; shift ;;
        --predefined) PREDEFINED="${2:?--predefined needs ID:TOPIC}"; shift ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        *) echo "interop.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

for tool in mosquitto_pub mosquitto_sub python3 timeout; do
    command -v "$tool" >/dev/null || { echo "interop.sh: $tool is needed" >&2; exit 2; }
done

# The MQTT-SN tools.
venv="$ROOT/target/test-venv"
SN_BIN=${MQTT_SN_BIN:-}
if [ -z "$SN_BIN" ]; then
    if [ -x "$venv/bin/mqtt_sn_pub" ]; then
        SN_BIN="$venv/bin"
    elif command -v mqtt_sn_pub >/dev/null; then
        SN_BIN=$(dirname "$(command -v mqtt_sn_pub)")
    else
        echo "== installing mqtt-sn-12 into $venv (pip)"
        [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check "mqtt-sn-12==1.0.9"
        SN_BIN="$venv/bin"
    fi
fi

# The broker.
MQLITE=${MQLITE_BIN:-}
if [ -z "$MQLITE" ]; then
    cargo build -q --bin mqlite
    MQLITE="${CARGO_TARGET_DIR:-target}/debug/mqlite"
    case "$MQLITE" in /*) ;; *) MQLITE="$ROOT/$MQLITE" ;; esac
fi

WORK=$(mktemp -d /tmp/mqlite-sn-interop.XXXXXX)
BROKER_PID=""
BG_PIDS=()
cleanup() {
    local p
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { # tcp|udp: a port free for that protocol on 127.0.0.1
    python3 -c 'import socket,sys
k = socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, k); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}
PORT=$(free_port tcp)
SN_PORT=$(free_port udp)
# Without a config of the caller's, one with a pre-defined topic id.
if [ -z "$CONFIG" ]; then
    CONFIG="$WORK/mqlite.toml"
    printf '[mqttsn]\npredefined_topics = [{ id = 42, topic = "sn/predefined" }]\n' >"$CONFIG"
    PREDEFINED=${PREDEFINED:-42:sn/predefined}
fi

# shellcheck disable=SC2206
args=(-p "$PORT" --mqttsn-port "$SN_PORT" --no-persist ${CONFIG:+-c "$CONFIG"})
(cd "$WORK" && exec "$MQLITE" "${args[@]}") >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
up=0
for _ in $(seq 1 100); do
    kill -0 "$BROKER_PID" 2>/dev/null || break
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then up=1; break; fi
    sleep 0.05
done
if [ "$up" != 1 ]; then
    echo "interop.sh: mqlite ${args[*]} did not start:" >&2
    sed 's/^/    /' "$WORK/broker.log" >&2
    exit 1
fi
echo "== mqlite: MQTT on tcp/$PORT, MQTT-SN on udp/$SN_PORT; mqtt-sn-12 from $SN_BIN"

# The tools wait for an answer without a time limit (their --timeout does
# not bound a blocking receive), so every run has one here.
T=15
sn_pub() { timeout "$T" "$SN_BIN/mqtt_sn_pub" -h 127.0.0.1 -p "$SN_PORT" "$@"; }
# Unbuffered: its output is a file here, read after it exits.
sn_sub() { PYTHONUNBUFFERED=1 timeout "$T" "$SN_BIN/mqtt_sn_sub" -h 127.0.0.1 -p "$SN_PORT" "$@"; }
m_sub() { timeout "$T" mosquitto_sub -h 127.0.0.1 -p "$PORT" -W "$T" "$@"; }
m_pub() { timeout "$T" mosquitto_pub -h 127.0.0.1 -p "$PORT" "$@"; }

FAILED=()
N=0
check() { # name expected-output file
    N=$((N + 1))
    local got
    got=$(cat "$3" 2>/dev/null || true)
    if [ "$got" = "$2" ]; then
        echo "ok   $1"
    else
        echo "FAIL $1: expected '$2', got '$got'"
        FAILED+=("$1")
    fi
}

# mqtt_sn_pub -> mosquitto_sub. mosquitto_sub has no "subscribed" signal:
# it is given half a second.
sn_to_mqtt() { # name mosquitto-sub-topic sub-qos payload mqtt_sn_pub-args...
    local name=$1 topic=$2 qos=$3 payload=$4 out="$WORK/$N.out"
    shift 4
    m_sub -t "$topic" -q "$qos" -C 1 >"$out" 2>"$WORK/$N.err" &
    local sub=$!
    BG_PIDS+=("$sub")
    sleep 0.5
    sn_pub -m "$payload" "$@" >"$WORK/$N.pub" 2>&1 || echo "(mqtt_sn_pub exit $?)" >>"$out"
    wait "$sub" || true
    check "$name" "$payload" "$out"
}

# mosquitto_pub -> mqtt_sn_sub: the subscriber is ready once its debug log
# (stderr) shows the SUBACK.
mqtt_to_sn() { # name mosquitto-pub-topic pub-qos payload mqtt_sn_sub-args...
    local name=$1 topic=$2 qos=$3 payload=$4 out="$WORK/$N.out"
    shift 4
    sn_sub -d -1 "$@" >"$out" 2>"$WORK/$N.err" &
    local sub=$!
    BG_PIDS+=("$sub")
    local i
    for i in $(seq 1 100); do
        grep -q "Received SUBACK" "$WORK/$N.err" 2>/dev/null && break
        kill -0 "$sub" 2>/dev/null || break
        sleep 0.05
    done
    m_pub -t "$topic" -q "$qos" -m "$payload" || echo "(mosquitto_pub exit $?)" >>"$out"
    wait "$sub" || true
    check "$name" "$payload" "$out"
}

id=$$
sn_to_mqtt "mqtt_sn_pub QoS 0 -> mosquitto_sub" "sn/up/q0" 0 "up-q0-$id" -t sn/up/q0 -q 0
sn_to_mqtt "mqtt_sn_pub QoS 1 -> mosquitto_sub" "sn/up/q1" 1 "up-q1-$id" -t sn/up/q1 -q 1 -i "sn-q1-$id" -k 30
# A two-character topic is sent as a short topic name, without CONNECT.
sn_to_mqtt "mqtt_sn_pub QoS -1 (short topic ab) -> mosquitto_sub" "ab" 0 "up-qm1-$id" -t ab -q -1
if [ -n "$PREDEFINED" ]; then
    pid_=${PREDEFINED%%:*}
    ptopic=${PREDEFINED#*:}
    sn_to_mqtt "mqtt_sn_pub QoS -1 (pre-defined id $pid_) -> mosquitto_sub" "$ptopic" 0 "pre-qm1-$id" -T "$pid_" -q -1
    sn_to_mqtt "mqtt_sn_pub QoS 0 (pre-defined id $pid_) -> mosquitto_sub" "$ptopic" 0 "pre-q0-$id" -T "$pid_" -q 0
fi

mqtt_to_sn "mosquitto_pub QoS 0 -> mqtt_sn_sub" "sn/down/q0" 0 "down-q0-$id" -t sn/down/q0 -q 0
mqtt_to_sn "mosquitto_pub QoS 1 -> mqtt_sn_sub" "sn/down/q1" 1 "down-q1-$id" -t sn/down/q1 -q 1
mqtt_to_sn "mosquitto_pub QoS 0 -> mqtt_sn_sub on sn/wild/# (gateway REGISTERs)" \
    "sn/wild/x" 0 "down-wild-$id" -t 'sn/wild/#' -q 0

# Retained: published first, then a new MQTT-SN subscriber gets it.
m_pub -t sn/retained -q 1 -r -m "retained-$id"
out="$WORK/retained.out"
sn_sub -1 -t sn/retained -q 1 >"$out" 2>"$WORK/retained.err" || true
check "retained (mosquitto_pub -r) -> later mqtt_sn_sub" "retained-$id" "$out"
m_pub -t sn/retained -r -n || true

if [ ${#FAILED[@]} -gt 0 ]; then
    echo "== ${#FAILED[@]} of $N checks FAILED; the broker's log:"
    sed 's/^/    /' "$WORK/broker.log"
    exit 1
fi
echo "== all $N checks passed"
