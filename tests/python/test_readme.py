"""The README's Python example, run as it is written: it must print the
message it publishes, pass on what an authenticated client publishes, and
stop when given Enter.

The library and the package are found as in test_bindings.py; the example
runs in a subprocess, in a temporary directory (it makes gateway.db).
"""

import os
import pathlib
import queue
import re
import subprocess
import sys
import threading
import time

import paho.mqtt.publish as paho_publish
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
if "MQLITE_LIB" not in os.environ and (ROOT / "target/release/libmqlite.so").exists():
    os.environ["MQLITE_LIB"] = str(ROOT / "target/release/libmqlite.so")
try:
    import mqlite
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(ROOT / "bindings/python"))
    import mqlite

TIMEOUT = 10.0


def readme_python_example():
    """The first ```python block of README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)
    assert blocks, "README.md has no ```python block"
    return blocks[0]


class Lines:
    """The lines a subprocess writes, read on a thread, with timeouts."""

    def __init__(self, stream):
        self.queue = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

    def wait_for(self, pattern):
        deadline = time.monotonic() + TIMEOUT
        while True:
            for line in self.seen:
                match = re.search(pattern, line)
                if match:
                    return match
            try:
                line = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"no line matching {pattern!r}; output so far: {self.seen}")
            self.seen.append(line)


def test_readme_python_example_runs(tmp_path):
    package_root = pathlib.Path(mqlite.__file__).resolve().parents[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(package_root)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    process = subprocess.Popen(
        [sys.executable, "-c", readme_python_example()],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = Lines(process.stdout)
        port = int(lines.wait_for(r"listening on port (\d+)").group(1))
        lines.wait_for(r"^sensors/hello world$")
        paho_publish.single("sensors/x", "hi", hostname="127.0.0.1", port=port,
                            client_id="readme-device",
                            auth={"username": "device", "password": "secret"})
        lines.wait_for(r"^sensors/x hi$")
        process.stdin.write("\n")
        process.stdin.flush()
        assert process.wait(TIMEOUT) == 0, lines.seen
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (tmp_path / "gateway.db").exists()
