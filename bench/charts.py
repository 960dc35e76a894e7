#!/usr/bin/env python3
"""SVG charts of a bench/compare.sh run: throughput of mqlite against each
peer (and the ceiling forwarder, when it ran), and latency percentiles.
Python standard library only.

bench/aggregate.py calls write_charts() with the medians it computes, so
compare.sh leaves the charts next to its report and its results. From the
command line the charts can be drawn again from a report's "Details
(medians)" tables, or from a results file:

    python3 bench/charts.py docs/BENCHMARKS.md        # docs/BENCHMARKS-*.svg
    python3 bench/charts.py --results bench/results/compare-X.jsonl

The output depends only on the numbers (no date, no randomness), so a chart
drawn twice from the same report is the same file.
"""

import argparse
import json
import os
import re
import statistics
import sys
from xml.sax.saxutils import escape

# Column order and colours; brokers not named here come after, in grey.
BROKERS = ["mqlite", "baseline", "mosquitto", "rumqttd", "ceiling"]
COLOURS = {
    "mqlite": "#1f6fb4",
    "baseline": "#8fb9de",
    "mosquitto": "#e07b24",
    "rumqttd": "#3a9a3a",
    "ceiling": "#8c8c8c",
}
# Scenario kinds drawn as throughput, with the metric and its unit.
THROUGHPUT = {
    "fanin": ("msg_per_s", "msg/s"),
    "fanout": ("msg_per_s", "deliveries/s"),
    "shared": ("msg_per_s", "msg/s"),
    "subscriptions": ("msg_per_s", "msg/s"),
    "retained": ("msg_per_s", "msg/s"),
    "connections": ("conn_per_s", "conn/s"),
}
PERCENTILES = [("p50_us", "p50"), ("p99_us", "p99"), ("p999_us", "p99.9")]

WIDTH = 980
LABEL_W = 175  # the scenario names' column
VALUE_W = 255  # room right of the longest bar for its value
BAR_H = 13
BAR_GAP = 2
GROUP_GAP = 10


def kind_of(sid):
    """The scenario's kind: tls_* and ws_* are their scenario over another transport."""
    for prefix in ("tls_", "ws_"):
        if sid.startswith(prefix):
            sid = sid[len(prefix):]
    return sid.split("_")[0]


def order_brokers(names):
    known = [b for b in BROKERS if b in names]
    return known + sorted(b for b in names if b not in BROKERS)


def si(value):
    """1546651 -> '1.55 M', 46071 -> '46.1 k', 770.7 -> '771'."""
    for factor, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def duration_us(value):
    """79.6 -> '79.6 µs', 3924 -> '3.92 ms'."""
    if value >= 1e6:
        return f"{value / 1e6:.3g} s"
    if value >= 1e3:
        return f"{value / 1e3:.3g} ms"
    return f"{value:.3g} µs"


def text(x, y, content, anchor="start", weight=None, size=None, fill="#222"):
    attrs = f'x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}"'
    if weight:
        attrs += f' font-weight="{weight}"'
    if size:
        attrs += f' font-size="{size}"'
    return f"<text {attrs}>{escape(content)}</text>"


def bar_chart(title, subtitle, groups, brokers):
    """Horizontal bars in groups. groups: [(label, [(broker, value, label)])];
    each group's bars are scaled to its own largest value (scenarios differ
    by orders of magnitude; the labels carry the numbers). subtitle: lines."""
    legend_y = 48 + 15 * len(subtitle)
    top = legend_y + 36
    height = top + sum(len(bars) * (BAR_H + BAR_GAP) + GROUP_GAP for _, bars in groups) + 24
    bar_w = WIDTH - LABEL_W - VALUE_W
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans, Arial, sans-serif" '
        f'font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        text(12, 24, title, weight="bold", size=15),
    ] + [text(12, 44 + 15 * i, line, fill="#555") for i, line in enumerate(subtitle)]
    x = 12
    for broker in brokers:
        colour = COLOURS.get(broker, "#b0b0b0")
        out.append(f'<rect x="{x}" y="{legend_y}" width="12" height="12" fill="{colour}"/>')
        out.append(text(x + 17, legend_y + 10, broker))
        x += 30 + 7 * len(broker)
    y = top
    for label, bars in groups:
        group_h = len(bars) * (BAR_H + BAR_GAP)
        out.append(f'<line x1="12" y1="{y - GROUP_GAP / 2:.1f}" x2="{WIDTH - 12}" '
                   f'y2="{y - GROUP_GAP / 2:.1f}" stroke="#e4e4e4"/>')
        out.append(text(LABEL_W - 10, y + group_h / 2 + 4, label, anchor="end"))
        largest = max((v for _, v, _ in bars if v is not None), default=0)
        for broker, value, value_label in bars:
            colour = COLOURS.get(broker, "#b0b0b0")
            width = bar_w * value / largest if value and largest > 0 else 0
            out.append(f'<rect x="{LABEL_W}" y="{y}" width="{width:.1f}" height="{BAR_H}" '
                       f'fill="{colour}"><title>{escape(f"{broker}: {value_label}")}</title></rect>')
            out.append(text(LABEL_W + width + 5, y + BAR_H - 3, value_label,
                            fill="#222" if value is not None else "#999"))
            y += BAR_H + BAR_GAP
        y += GROUP_GAP
    out.append("</svg>")
    return "\n".join(out) + "\n"


def throughput_chart(medians, scenarios, brokers, source):
    groups = []
    for sid in scenarios:
        kind = THROUGHPUT.get(kind_of(sid))
        if not kind:
            continue
        metric, unit = kind
        mqlite = medians.get((sid, "mqlite"), {}).get(metric)
        bars = []
        for broker in brokers:
            value = medians.get((sid, broker), {}).get(metric)
            if (sid, broker) not in medians:
                continue
            if value is None:
                label = "no result"
            else:
                label = f"{si(value)} {unit}"
                if broker != "mqlite" and mqlite is not None and value > 0:
                    label += f"  (mqlite {mqlite / value:.2f}×)"
            bars.append((broker, value, label))
        if bars:
            groups.append((sid, bars))
    return bar_chart(
        "Throughput: mqlite against each peer" + (" and the ceiling" if "ceiling" in brokers else ""),
        [f"Medians from {source}. Longer is better.",
         "Each scenario's bars are scaled to its largest value. (mqlite N×): mqlite's rate "
         "÷ this one's."],
        groups, brokers)


def latency_chart(medians, scenarios, brokers, source):
    groups = []
    for sid in scenarios:
        if kind_of(sid) != "latency":
            continue
        for metric, name in PERCENTILES:
            bars = []
            for broker in brokers:
                if (sid, broker) not in medians:
                    continue
                value = medians[(sid, broker)].get(metric)
                bars.append((broker, value, duration_us(value) if value is not None else "no result"))
            if any(v is not None for _, v, _ in bars):
                groups.append((f"{sid} {name}", bars))
    return bar_chart(
        "Latency: round trip percentiles",
        [f"Medians from {source}. Shorter is better.",
         "Each percentile's bars are scaled to its largest value."],
        groups, brokers)


def write_charts(prefix, medians, scenarios, brokers, source):
    """Writes PREFIX-throughput.svg and PREFIX-latency.svg (each when it has
    something to show); gives the paths written."""
    brokers = order_brokers(brokers)
    written = []
    for name, chart, kinds in (("throughput", throughput_chart, set(THROUGHPUT)),
                               ("latency", latency_chart, {"latency"})):
        if not any(kind_of(sid) in kinds for sid in scenarios):
            continue
        path = f"{prefix}-{name}.svg"
        with open(path, "w", encoding="utf-8") as f:
            f.write(chart(medians, scenarios, brokers, source))
        written.append(path)
    return written


def from_results(path):
    """Medians per (scenario, broker) of a compare.sh results file."""
    runs, scenarios, brokers = {}, [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            sid, broker = r.get("id"), r.get("broker")
            if not sid or not broker:
                continue
            if sid not in scenarios:
                scenarios.append(sid)
            if broker not in brokers:
                brokers.append(broker)
            runs.setdefault((sid, broker), [])
            if isinstance(r.get("result"), dict):
                runs[(sid, broker)].append(r["result"])
    medians = {}
    for key, results in runs.items():
        metrics = {}
        for metric in {m for r in results for m in r}:
            values = [r[metric] for r in results
                      if isinstance(r.get(metric), (int, float)) and not isinstance(r[metric], bool)]
            if values:
                metrics[metric] = statistics.median(values)
        medians[key] = metrics
    return medians, scenarios, brokers


def number(cell):
    cell = cell.strip()
    try:
        return float(cell.replace(",", ""))
    except ValueError:
        return None  # "–", "– (3 failed)"


def from_report(path):
    """Medians per (scenario, broker) from the "Details (medians)" tables of
    a report aggregate.py wrote."""
    with open(path, encoding="utf-8") as f:
        report = f.read()
    start = report.find("## Details (medians)")
    if start < 0:
        raise ValueError(f"{path}: no \"## Details (medians)\" section")
    section = report[start:]
    end = section.find("\n## ", 3)
    section = section[:end] if end >= 0 else section
    medians, scenarios, brokers = {}, [], []
    for block in re.split(r"^### ", section, flags=re.M)[1:]:
        sid = block.split("\n", 1)[0].strip()
        rows = [line for line in block.splitlines() if line.startswith("|")]
        if len(rows) < 3 or not rows[0].startswith("| broker | runs |"):
            continue  # "routing pairs" and the like
        metrics = [c.strip() for c in rows[0].strip("|").split("|")][2:]
        scenarios.append(sid)
        for row in rows[2:]:
            cells = [c.strip() for c in row.strip("|").split("|")]
            broker = cells[0]
            if broker not in brokers:
                brokers.append(broker)
            values = {m: number(c) for m, c in zip(metrics, cells[2:])}
            medians[(sid, broker)] = {m: v for m, v in values.items() if v is not None}
    generated = re.search(r"^Generated by .*? on (\d{4}-\d\d-\d\d[^.(]*?)(?: \(|\.)", report, re.M)
    source = os.path.basename(path) + (f" (run of {generated.group(1).strip()})" if generated else "")
    return medians, scenarios, brokers, source


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report", nargs="?", help="a report written by aggregate.py (docs/BENCHMARKS.md)")
    ap.add_argument("--results", help="a compare.sh results file (bench/results/*.jsonl) instead")
    ap.add_argument("--prefix", help="write PREFIX-throughput.svg and PREFIX-latency.svg "
                    "(default: the input's path without its extension)")
    o = ap.parse_args()
    if bool(o.report) == bool(o.results):
        ap.error("give a report or --results, one of them")
    try:
        if o.results:
            medians, scenarios, brokers = from_results(o.results)
            source = os.path.basename(o.results)
            path = o.results
        else:
            medians, scenarios, brokers, source = from_report(o.report)
            path = o.report
    except (OSError, ValueError) as error:
        sys.exit(f"charts.py: {error}")
    if not scenarios:
        sys.exit(f"charts.py: no results in {path}")
    prefix = o.prefix or os.path.splitext(path)[0]
    try:
        written = write_charts(prefix, medians, scenarios, brokers, source)
    except OSError as error:
        sys.exit(f"charts.py: {error}")
    print("\n".join(written))


if __name__ == "__main__":
    main()
