#!/usr/bin/env python3
"""Aggregates bench/compare.sh results (JSON lines) into medians, ratios and
the markdown report docs/BENCHMARKS.md. Standard library only."""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess

import charts

# Per scenario kind: (metric, label, higher_is_better) rows for the summary,
# and the detail columns.
SUMMARY = {
    "fanin": [("msg_per_s", "delivered msg/s", True)],
    "fanout": [("msg_per_s", "deliveries/s", True)],
    "shared": [("msg_per_s", "delivered msg/s (all members)", True)],
    "subscriptions": [("msg_per_s", "delivered msg/s", True)],
    "latency": [("p50_us", "round trip p50 µs", False), ("p99_us", "round trip p99 µs", False)],
    "connections": [("conn_per_s", "CONNECT+SUBSCRIBE /s", True),
                    ("broker_cpu_us_per_conn", "broker CPU µs/conn", False),
                    ("rss_per_conn_bytes", "broker RSS bytes/conn", False)],
    "retained": [("msg_per_s", "retained delivered msg/s", True)],
    # mqttsn_q*: MQTT-SN over UDP to MQTT subscribers; mqttsn_tcp_q*: the
    # same load from MQTT publishers (fanin), for comparison.
    "mqttsn": [("msg_per_s", "delivered msg/s", True)],
}
DETAILS = {
    "fanin": ["msg_per_s", "mb_per_s", "p50_us", "p99_us", "p999_us", "lost"],
    "fanout": ["msg_per_s", "publish_per_s", "p50_us", "p99_us", "p999_us", "lost"],
    "shared": ["msg_per_s", "mb_per_s", "p50_us", "p99_us", "p999_us", "lost", "member_min", "member_max"],
    "subscriptions": ["subscribe_s", "msg_per_s", "p50_us", "p99_us", "p999_us", "lost"],
    "latency": ["p50_us", "p99_us", "p999_us", "mean_us", "lost"],
    "connections": ["conn_per_s", "broker_cpu_us_per_conn", "broker_capacity_conn_per_s",
                    "p50_us", "p99_us", "rss_per_conn_bytes", "failed"],
    "retained": ["store_per_s", "duration_s", "msg_per_s", "lost"],
    "mqttsn": ["msg_per_s", "p50_us", "p99_us", "p999_us", "lost", "written_off"],
}


def kind_of(sid):
    # tls_* and ws_* are their scenario over another transport.
    for t in ("tls_", "ws_"):
        if sid.startswith(t):
            sid = sid[len(t):]
    return sid.split("_")[0]


def fmt(v):
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


# The start of the hand-written part of the report (see the end of main).
HAND_WRITTEN_MARKER = "<!-- The sections below are written by hand"


def main():
    ap = argparse.ArgumentParser()
    for a in ("results", "out", "versions", "mqlite-conf", "mosquitto-conf", "rumqttd-conf", "brokers",
              "rounds", "quick", "command", "scenarios"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--rumqttd-defaults-conf")
    o = ap.parse_args()
    brokers = o.brokers.split()
    scenarios = [line.split("|") for line in o.scenarios.splitlines() if line.strip()]

    runs = {}  # (id, broker) -> list of results
    errors = {}
    unsupported = {}  # (id, broker) -> errors of MQTT 5 runs a peer failed
    busy = []  # CPU % used by other processes just before each run
    other = []  # (id, broker, round, CPU % used by other processes during the run)
    gen_cpu = {}  # (id, broker) -> generator CPU share of the run's wall time
    pairs = {}  # (broker, pair label) -> {id: msg/s}: routing runs run back to back
    with open(o.results) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            key = (r["id"], r["broker"])
            if "result" in r:
                runs.setdefault(key, []).append(r["result"])
                if r.get("pair") and isinstance(r["result"].get("msg_per_s"), (int, float)):
                    pairs.setdefault((r["broker"], r["pair"]), {})[r["id"]] = r["result"]["msg_per_s"]
                if isinstance(r.get("busy_before"), (int, float)):
                    busy.append(r["busy_before"])
                if isinstance(r.get("other_cpu_pct"), (int, float)):
                    other.append((r["id"], r["broker"], r.get("round"), r["other_cpu_pct"]))
            elif r.get("unsupported"):
                unsupported.setdefault(key, []).append(r.get("error", "?"))
            else:
                errors.setdefault(key, []).append(r.get("error", "?"))

    def median(sid, b, metric):
        vals = [r[metric] for r in runs.get((sid, b), []) if isinstance(r.get(metric), (int, float))]
        return statistics.median(vals) if vals else None

    peers = [p for p in ("mosquitto", "rumqttd") if p in brokers]
    if "baseline" in brokers:
        peers.append("baseline")
    cols = [b for b in ("mqlite", "baseline", "mosquitto", "rumqttd", "ceiling") if b in brokers]
    head = ["scenario", "metric"] + cols + [f"mqlite/{p}" for p in peers]
    rows = []
    for sid, _args, _ceil in scenarios:
        for metric, label, higher in SUMMARY.get(kind_of(sid), []):
            row = [sid, label + ("" if higher else " (lower is better)")]
            for b in cols:
                v = median(sid, b, metric)
                n_err = len(errors.get((sid, b), []))
                cell = fmt(v)
                if v is None and (sid, b) in unsupported:
                    cell = "not supported"
                if n_err:
                    cell += f" ({n_err} failed)"
                row.append(cell)
            m = median(sid, "mqlite", metric)
            for p in peers:
                v = median(sid, p, metric)
                row.append(f"{m / v:.2f}" if m is not None and v not in (None, 0) else "–")
            rows.append(row)

    # Routing: the change from the first routing scenario (100 filters) to
    # the last (N), per adjacent pair of runs, and its median per broker.
    routing_ids = [sid for sid, _a, _c in scenarios if kind_of(sid) == "subscriptions"]
    changes = {}  # broker -> [(pair label, change %)]
    if len(routing_ids) >= 2:
        base_id, big_id = routing_ids[0], routing_ids[-1]
        for (b, label), got in sorted(pairs.items()):
            if got.get(base_id) and big_id in got:
                changes.setdefault(b, []).append((label, (got[big_id] / got[base_id] - 1) * 100))
        if changes:
            n = max(len(v) for v in changes.values())
            row = [f"{big_id} vs {base_id}",
                   f"throughput change, median of {n} adjacent pair" + ("s" if n != 1 else "")]
            for b in cols:
                v = changes.get(b)
                row.append(f"{statistics.median(c for _, c in v):+.1f} %" if v else "–")
            at = max((i for i, r in enumerate(rows) if r[0] == big_id), default=len(rows) - 1)
            rows.insert(at + 1, row + ["–" for _ in peers])

    def table(h, rs):
        out = ["| " + " | ".join(h) + " |", "|" + "|".join("---" for _ in h) + "|"]
        out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rs]
        return "\n".join(out)

    summary = table(head, rows)
    print(summary)

    # The charts, next to the report (which shows them) and next to the
    # results file (so that each kept run has its own).
    medians = {key: {} for key in list(errors) + list(unsupported)}
    for (sid, b), results in runs.items():
        for metric in {m for r in results for m in r}:
            value = median(sid, b, metric)
            if value is not None:
                medians.setdefault((sid, b), {})[metric] = value
    chart_ids = [sid for sid, _a, _c in scenarios]
    source = os.path.basename(o.results)
    charts_md = []
    report_prefix = os.path.splitext(o.out)[0]
    for prefix in dict.fromkeys([report_prefix, os.path.splitext(o.results)[0]]):
        written = charts.write_charts(prefix, medians, chart_ids, cols, source)
        for path in written:
            print(f"chart: {path}")
            name = os.path.basename(path)
            if prefix == report_prefix:
                # "BENCHMARKS-latency.svg" -> "latency chart"
                charts_md.append(f"![{name[len(os.path.basename(prefix)) + 1:-4]} chart]({name})")

    details = []
    for sid, args, _ceil in scenarios:
        metrics = DETAILS.get(kind_of(sid), [])
        rs = []
        for b in cols:
            n = len(runs.get((sid, b), []))
            if not n and not errors.get((sid, b)) and not unsupported.get((sid, b)):
                continue
            rs.append([b, str(n)] + [fmt(median(sid, b, m)) for m in metrics])
        if rs:
            details.append(f"### {sid}\n\n`mqlite-bench {args}`\n\n"
                           + table(["broker", "runs"] + metrics, rs))
    if changes:
        details.append(
            "### routing pairs\n\nThroughput change from "
            f"{routing_ids[0]} to {routing_ids[-1]} in each adjacent pair of runs "
            "(same broker, back to back, order alternating):\n\n"
            + table(["broker", "pairs", "changes", "median"],
                    [[b, str(len(v)), ", ".join(f"{c:+.1f} %" for _, c in v),
                      f"{statistics.median(c for _, c in v):+.1f} %"]
                     for b, v in sorted(changes.items())]))
    errs = [f"- {sid} / {b}: {e}" for (sid, b), es in sorted(errors.items()) for e in es]
    unsup = [f"- {sid} / {b}: {es[0]}" for (sid, b), es in sorted(unsupported.items())]

    with open(o.versions) as f:
        versions = [line.strip().split("|", 1) for line in f if "|" in line]
    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-").strip()
    mem = sh("grep MemTotal /proc/meminfo | awk '{printf \"%.1f GiB\", $2/1048576}'")
    with open(o.mqlite_conf) as f:
        qconf = f.read().strip()
    with open(o.mosquitto_conf) as f:
        mconf = f.read().strip()
    with open(o.rumqttd_conf) as f:
        rconf = f.read().strip()
    rdconf = ""
    if o.rumqttd_defaults_conf:
        with open(o.rumqttd_defaults_conf) as f:
            rdconf = f.read().strip()

    md = [
        "# Benchmarks",
        "",
        f"Generated by `{o.command.strip()}` on "
        f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}"
        + (" (**quick mode**: short runs, one round — indicative only)" if o.quick == "1" else "")
        + ". Regenerate with `bench/compare.sh` (add `--with-rumqttd` for rumqttd).",
        "",
        "## Machine",
        "",
        f"- cores (`nproc`): {sh('nproc')}",
        f"- CPU: {cpu}",
        f"- memory: {mem}",
        f"- kernel: {platform.release()}",
        "",
        "## Brokers",
        "",
    ] + [f"- {name}: {v}" for name, v in versions] + [
        "- ceiling: not a broker — `mqlite-bench ceiling-server`, a forwarder that relays "
        "PUBLISH frames to every subscribed connection with no MQTT logic (canned CONNACK/"
        "SUBACK/acks). It shows what loopback TCP and the generator allow on this machine.",
        "",
        "Every run starts a fresh broker process on a free loopback port and stops it afterwards.",
        "",
        "mqlite (`mqlite -c mqlite.toml --no-persist`; the same fairness as mosquitto: "
        "no persistence, no limit that drops messages under load):",
        "",
        "```toml",
        qconf,
        "```",
        "",
        "mosquitto (`mosquitto -c mosquitto.conf`):",
        "",
        "```",
        mconf,
        "```",
        "",
        "rumqttd (`rumqttd -q -c rumqttd.toml`):",
        "",
        "```toml",
        rconf,
        "```",
        "",
        "Scenarios whose name ends in `_defaults` run each broker as a user starts it, "
        "with nothing set but the port: `mqlite -p PORT` (in an empty directory: its default "
        "persistence file, `./mqlite.db`, is made there; the runs use clean sessions, so "
        "nothing is written to it), `mosquitto -p PORT` (2.0's local-only mode), and rumqttd "
        "with the example config it ships, reduced to its router and MQTT 3.1.1 listener:",
        "",
        "```toml",
        rdconf or "(not recorded)",
        "```",
        "",
        "## Method",
        "",
        f"- {o.rounds} round(s); in each round every scenario runs against every broker in turn "
        "(A B C A B C …); the tables show medians over the rounds.",
        "- Load generator: `mqlite-bench` (bench/), one thread, mio non-blocking sockets with "
        "TCP_NODELAY, pre-encoded PUBLISH packets, 1 MiB reads, frames decoded in place. It "
        "speaks MQTT 3.1.1 and 5 itself and does not use mqlite's code.",
        "- MQTT 5 scenarios (`_v5` in the name, `--mqtt5`): every client connects with protocol "
        "level 5 and an empty property block, and uses the MQTT 5 forms of SUBSCRIBE, PUBLISH "
        "and the acknowledgements. `--props`: every PUBLISH carries a Content Type "
        "(`application/octet-stream`), a User Property (`source`: `bench`) and a Message Expiry "
        "Interval (3600 s), 48 bytes of properties; each delivery is checked to carry them. "
        "`--topic-alias`: each publisher's first PUBLISH sets topic alias 1, the later ones "
        "have an empty topic name and the alias (the brokers' default Topic Alias Maximum is "
        "10). `shared_v5_8`: fan-in from 4 publishers to the 8 members of one shared "
        "subscription `$share/bench/bench/+` (each message delivered to one member; the rate "
        "counts deliveries over all members, `member_min`/`member_max` how they were spread). "
        "rumqttd gets a `[v5.1]` listener with the same settings as its v4 one for these; "
        "a scenario it fails is shown as not supported (its error under Not supported).",
        "- Flows are windowed: each publisher keeps at most `--window` (100) messages outstanding "
        "(not yet received by the subscriber, and for QoS 1/2 not yet acknowledged), so brokers "
        "are measured delivering, not buffering. Latency = receive time − monotonic timestamp in "
        "the payload, in a log-linear histogram (< 1 % error).",
        "- Before each run the script waits (bounded) until other processes use less than 15 % "
        "of the CPUs. Other load measured just before the runs: "
        + (f"median {statistics.median(busy):.0f} %, max {max(busy):.0f} %"
           + (" — **runs overlapped with other load; treat the figures with care**"
              if max(busy) > 15 else "") if busy else "not recorded") + ".",
        "- CPU used by other processes during the runs (all CPUs' busy time minus broker and "
        "generator, in % of the machine): "
        + (f"median {statistics.median(x[3] for x in other):.0f} %; runs above 10 %: "
           + (", ".join(f"{i}/{b} r{n} ({v:.0f} %)" for i, b, n, v in other if v > 10) or "none")
           if other else "not recorded") + ".",
        "- `latency` runs pin the broker to CPU 0 and the generator to CPU 1 (`taskset`): "
        "unpinned, the round trip is bimodal on this kind of VM (same vCPU ≈ 18 µs, across "
        "vCPUs ≈ 55 µs, from the cost of waking a halted vCPU). `subscriptions` runs are "
        "pinned the same way (they compare mqlite's cost per message at 100 and 100 000 "
        "filters, and where the scheduler puts the two processes adds noise to it), except "
        "rumqttd, left free to use both CPUs for its worker threads. Other throughput runs "
        "are not pinned.",
        "- Routing (`subscriptions`) runs go in adjacent pairs: per broker, 100 filters and N "
        "filters back to back, in alternating order, twice per round (once in quick mode). "
        "This VM's speed drifts by tens of percent within minutes, which blurs a ratio of "
        "runs far apart; the row \"vs\" gives the median change over the pairs, the two rows "
        "above it the medians of each count.",
        "- Publishers refill their window in batches of a quarter window (one write for many "
        "messages), so the generator stays far below one core at the brokers' rates.",
        "- `connections`: K clients, 64 handshakes in flight, each CONNECT + SUBSCRIBE `idle/<i>`; "
        "RSS per connection = (broker VmRSS after, held 1 s − VmRSS before) / K.",
        "- `subscriptions`: N filters (10 % `sub/<i>/+`, the rest `sub/<i>/x`) on 4 connections, "
        "1000 filters per SUBSCRIBE, then 4 publishers send to `sub/<i>/x` round robin (each "
        "message matches exactly one filter).",
        "- `retained`: R retained messages stored with QoS 1, then time from SUBSCRIBE `ret/#` to "
        "the last retained message received.",
        "",
        "## Results (medians)",
        "",
    ] + ([
        "Charts (`bench/charts.py`, drawn from the medians below; each scenario's bars are "
        "scaled to its largest value, the labels give the figures):",
        "",
    ] + [line for c in charts_md for line in (c, "")] if charts_md else []) + [
        summary,
        "",
        "Ratios are mqlite ÷ peer for the metric of the row: above 1 is better for rates, below 1 "
        "is better for latency and memory.",
        "",
        "## Details (medians)",
        "",
        "\n\n".join(details),
        "",
        "## Exact commands",
        "",
        "Each run: `target/release/mqlite-bench ARGS --port PORT --label BROKER --json` "
        "(`connections` also gets `--broker-pid PID`), with ARGS per scenario as listed under "
        "Details; the ceiling runs use `mqlite-bench ceiling-server --port PORT` as the broker.",
        "",
        "```",
        f"{o.command.strip()}",
        "```",
        "",
    ]
    if errs:
        md += ["## Failed runs", ""] + errs + [""]
    if unsup:
        md += ["## Not supported", "",
               "MQTT 5 scenarios a peer failed, and MQTT-SN scenarios of brokers without a "
               "gateway (first error; not run again in later rounds):",
               ""] + unsup + [""]
    md += [
        "## Caveats",
        "",
        "- Generator and broker share the machine's cores. The ceiling column is what the "
        "generator and loopback TCP allow: a broker whose figure comes close to it is limited by "
        "the generator, not by itself, and its ratio understates the difference.",
        "- Multi-threaded brokers (rumqttd, and mqlite if it uses worker threads) compete with "
        "the generator for the same cores; single-threaded mosquitto does not.",
        "- 64 KiB payload runs are memory-bandwidth bound and vary strongly between runs.",
        "- The connection rate includes the kernel's TCP handshakes on both sides; with more "
        "than ~100 handshakes in flight mosquitto's listen backlog (100) overflows and SYN "
        "retransmissions (1 s) dominate, hence 64 in flight.",
        "",
    ]
    # Sections written by hand (persistence, in-process, the targets) follow
    # this marker in the existing file: they are kept as they are.
    kept = ""
    try:
        with open(o.out) as f:
            old = f.read()
        at = old.find(HAND_WRITTEN_MARKER)
        if at >= 0:
            kept = "\n" + old[at:]
    except FileNotFoundError:
        pass
    with open(o.out, "w") as f:
        f.write("\n".join(md) + kept)


if __name__ == "__main__":
    main()
