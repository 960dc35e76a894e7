"""`mqlite passwd` on a terminal: it asks for the password twice without
echoing it (Python's pty gives the binary a terminal, which the Rust
tests, feeding stdin through a pipe, cannot). The files themselves are
checked against mosquitto in tests/broker/cli_passwd.rs."""

import os
import pty
import select
import time

from conftest import TIMEOUT, mqlite_bin


def run_on_a_terminal(args, answers):
    """Runs the binary with ARGS on a new terminal, typing each answer
    after each prompt; returns what the terminal showed and the exit
    status."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(mqlite_bin(), ["mqlite", *args])
    shown = b""
    deadline = time.monotonic() + TIMEOUT
    answered = 0
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            # One answer per prompt, once it shows (echo is off by then).
            if answered < len(answers) and shown.count(b"assword: ") > answered:
                os.write(fd, answers[answered] + b"\n")
                answered += 1
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return shown, os.waitstatus_to_exitcode(status)


def test_the_password_is_asked_twice_and_not_echoed(tmp_path):
    file = tmp_path / "passwd"
    shown, code = run_on_a_terminal(
        ["passwd", "-c", str(file), "tty-user"], [b"not on screen", b"not on screen"]
    )
    assert code == 0, shown
    assert b"Password:" in shown and b"Reenter password:" in shown, shown
    assert b"not on screen" not in shown, shown
    line = file.read_text()
    assert line.startswith("tty-user:$7$101$"), line


def test_different_answers_change_nothing(tmp_path):
    file = tmp_path / "passwd"
    file.write_text("kept:$7$x\n")
    shown, code = run_on_a_terminal(["passwd", str(file), "other"], [b"one", b"two"])
    assert code == 1, shown
    assert b"Passwords do not match." in shown, shown
    assert file.read_text() == "kept:$7$x\n"
