"""The benchmark charts (bench/charts.py): bench/aggregate.py, as
bench/compare.sh runs it, draws them next to its report and its results
and shows them in the report; every chart is valid SVG (Python's XML
parser reads it, everything drawn lies inside its view box); and the
charts committed beside docs/BENCHMARKS.md are the ones its tables give.
Standard library only; no broker runs."""

import importlib.util
import json
import pathlib
import subprocess
import sys
import xml.etree.ElementTree as ET

ROOT = pathlib.Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
NS = "{http://www.w3.org/2000/svg}"


def load_charts():
    spec = importlib.util.spec_from_file_location("charts", BENCH / "charts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_svg(path):
    """Parses one chart and checks its frame; gives its texts."""
    root = ET.parse(path).getroot()
    assert root.tag == NS + "svg", path
    x0, y0, width, height = (float(v) for v in root.get("viewBox").split())
    assert (x0, y0) == (0, 0) and width == float(root.get("width")) and height == float(root.get("height"))
    assert root.find(NS + "title") is not None and root.find(NS + "title").text
    for rect in root.iter(NS + "rect"):
        x, y = float(rect.get("x", 0)), float(rect.get("y", 0))
        w, h = float(rect.get("width")), float(rect.get("height"))
        assert w >= 0 and h >= 0, (path, rect.attrib)
        assert x + w <= width + 0.05 and y + h <= height + 0.05, (path, rect.attrib)
    return [t.text or "" for t in root.iter(NS + "text")]


def test_committed_charts_are_drawn_from_benchmarks_md(tmp_path):
    prefix = tmp_path / "BENCHMARKS"
    subprocess.run([sys.executable, str(BENCH / "charts.py"), str(ROOT / "docs" / "BENCHMARKS.md"),
                    "--prefix", str(prefix)], check=True, capture_output=True)
    report = (ROOT / "docs" / "BENCHMARKS.md").read_text(encoding="utf-8")
    for name in ("throughput", "latency"):
        committed = ROOT / "docs" / f"BENCHMARKS-{name}.svg"
        drawn = tmp_path / f"BENCHMARKS-{name}.svg"
        texts = read_svg(committed)
        assert committed.read_bytes() == drawn.read_bytes(), (
            f"{committed} is not what docs/BENCHMARKS.md gives: "
            "python3 bench/charts.py docs/BENCHMARKS.md")
        assert f"](BENCHMARKS-{name}.svg)" in report
        assert "mqlite" in texts


def result_line(sid, broker, round_, **result):
    return json.dumps({"id": sid, "broker": broker, "round": round_, "busy_before": 1,
                       "other_cpu_pct": 0.5, "result": result})


def test_aggregate_draws_charts_next_to_report_and_results(tmp_path):
    lines = []
    for round_ in (1, 2, 3):
        for broker, rate in (("mqlite", 1_500_000), ("mosquitto", 45_000), ("ceiling", 2_000_000)):
            lines.append(result_line("fanin_q0_16", broker, round_, msg_per_s=rate + round_,
                                     p50_us=100, p99_us=900, p999_us=2000, lost=0))
            lines.append(result_line("latency_q0", broker, round_, p50_us=50 + round_,
                                     p99_us=3000, p999_us=8000, mean_us=200, lost=0))
        lines.append(result_line("tls_fanin_q0_16", "mqlite", round_, msg_per_s=300_000, lost=0))
        lines.append(result_line("connections", "mqlite", round_, conn_per_s=12_000,
                                 broker_cpu_us_per_conn=29, rss_per_conn_bytes=960, failed=0))
        lines.append(json.dumps({"id": "tls_fanin_q0_16", "broker": "mosquitto", "round": round_,
                                 "error": "broker did not start"}))
    results = tmp_path / "compare-X.jsonl"
    results.write_text("\n".join(lines) + "\n")
    report_dir = tmp_path / "docs"
    report_dir.mkdir()
    report = report_dir / "REPORT.md"
    versions = tmp_path / "versions.txt"
    versions.write_text("mqlite|mqlite 0.1.0\nmosquitto|mosquitto 2.0\n")
    conf = tmp_path / "conf"
    conf.write_text("# a config\n")
    scenarios = "\n".join(f"{sid}|args|1" for sid in
                          ("fanin_q0_16", "tls_fanin_q0_16", "latency_q0", "connections"))
    subprocess.run(
        [sys.executable, str(BENCH / "aggregate.py"), "--results", str(results), "--out", str(report),
         "--versions", str(versions), "--mqlite-conf", str(conf), "--mosquitto-conf", str(conf),
         "--rumqttd-conf", str(conf), "--brokers", "mqlite mosquitto ceiling", "--rounds", "3",
         "--quick", "0", "--command", "bench/compare.sh", "--scenarios", scenarios],
        check=True, capture_output=True)
    text = report.read_text(encoding="utf-8")
    assert "![throughput chart](REPORT-throughput.svg)" in text
    assert "![latency chart](REPORT-latency.svg)" in text
    for prefix in (report_dir / "REPORT", tmp_path / "compare-X"):
        throughput = read_svg(f"{prefix}-throughput.svg")
        latency = read_svg(f"{prefix}-latency.svg")
        joined = "\n".join(throughput)
        assert "Throughput: mqlite against each peer and the ceiling" in joined
        assert "1.5 M msg/s" in joined  # the median of three rounds
        assert "45 k msg/s  (mqlite 33.33×)" in joined
        assert "no result" in joined  # mosquitto's failed TLS runs
        assert "12 k conn/s" in joined
        assert "tls_fanin_q0_16" in throughput and "latency_q0 p99.9" in latency
        assert "52 µs" in latency and "3 ms" in latency


def test_text_is_escaped(tmp_path):
    charts = load_charts()
    medians = {("fanin_<a&b>", "mqlite"): {"msg_per_s": 10.0},
               ("fanin_<a&b>", 'odd"one'): {"msg_per_s": 5.0}}
    written = charts.write_charts(str(tmp_path / "x"), medians, ["fanin_<a&b>"],
                                  ["mqlite", 'odd"one'], "a & b")
    assert [pathlib.Path(p).name for p in written] == ["x-throughput.svg"]
    texts = read_svg(written[0])
    assert "fanin_<a&b>" in texts and 'odd"one' in texts
