"""The syncapi command, run as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest


def _syncapi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncapi.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_version_and_protocols() -> None:
    version = _syncapi("--version")
    assert version.returncode == 0 and version.stdout.startswith("syncapi ")
    listing = _syncapi("protocols")
    assert listing.returncode == 0
    rows = {line.split()[0]: line.split()[1:3] for line in listing.stdout.splitlines()[1:]}
    assert rows["memory"] == ["ok", "built-in"] and rows["tcp"] == ["ok", "built-in"]


def test_protocols_names_the_missing_libraries() -> None:
    """Without site-packages (-S) the client libraries are really not importable: the
    listing says which protocols need what, and how to install it."""
    root = str(Path(__file__).resolve().parents[1])
    listing = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            f"import sys; sys.path.insert(0, {root!r}); "
            "from syncapi.cli import main; sys.exit(main(['protocols']))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listing.returncode == 0, listing.stderr
    lines = {line.split()[0]: line for line in listing.stdout.splitlines()[1:]}
    assert "needs pika: pip install 'syncapi[amqp]'" in lines["amqp"]
    assert "needs kafka-python: pip install 'syncapi[kafka]'" in lines["kafka"]
    assert "missing" in lines["ws"] and "pip install 'syncapi[ws]'" in lines["ws"]
    assert lines["udp"].split()[1] == "ok"
    error = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            f"import sys; sys.path.insert(0, {root!r}); import syncapi\n"
            "try:\n    syncapi.producer('amqp://127.0.0.1')\n"
            "except syncapi.MissingDependency as exc:\n"
            "    print(type(exc).__mro__[1].__name__, exc.scheme, exc.extra, exc.missing)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert error.stdout.split() == ["ConfigError", "amqp", "amqp", "pika"], error.stderr


def test_usage_errors_exit_2() -> None:
    assert _syncapi().returncode == 2
    wrong = _syncapi("no-such-command")
    assert wrong.returncode == 2 and "invalid choice" in wrong.stderr


def test_demo_round_trips_through_every_brokerless_protocol() -> None:
    """``syncapi demo`` (README's first command) runs real round trips on loopback
    through memory, http, ws, tcp and udp, and every message arrives."""
    demo = _syncapi("demo", "--messages", "200")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    rows = {line.split()[0]: line for line in demo.stdout.splitlines()[3:] if line.strip()}
    assert set(rows) == {"memory", "http", "ws", "tcp", "udp"}, demo.stdout
    for protocol in ("memory", "http", "ws", "tcp"):
        assert "200/200 100%" in rows[protocol], demo.stdout
    assert "not run" not in demo.stdout


def test_demo_one_protocol_and_usage_errors() -> None:
    only = _syncapi("demo", "--protocol", "tcp", "--messages", "10")
    assert only.returncode == 0 and "10/10 100%" in only.stdout
    assert "memory" not in only.stdout
    assert _syncapi("demo", "--protocol", "smtp").returncode == 2
    assert _syncapi("demo", "--messages", "0").returncode == 2


def test_demo_row_for_a_protocol_that_cannot_run() -> None:
    """A protocol that cannot run (here an unknown scheme; a missing extra takes the same
    path, a ConfigError naming the pip install) gets a row saying why; the rest run."""
    from syncapi.demo import format_table, run_demo

    rows = run_demo(["tcp", "nosuch"], messages=5)
    assert rows[0].ok and rows[1].error is not None
    assert "not run:" in format_table(rows)


# -- send and listen: listen in one process, send in another ------------------------------
def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listener(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncapi.cli", "listen", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc


def _wait_listening(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """The ``listening on URL`` line (brokerless protocols print it when ready)."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if line.startswith("listening on "):
            return line.split()[-1]
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"the listener did not start: {proc.stderr.read()}")


@pytest.mark.parametrize("scheme", ["tcp", "udp", "http", "ws"])
def test_send_and_listen_across_processes_brokerless(scheme: str) -> None:
    port = _free_port(socket.SOCK_DGRAM if scheme == "udp" else socket.SOCK_STREAM)
    url = f"{scheme}://127.0.0.1:{port}" + ("/" if scheme in ("http", "ws") else "")
    proc = _listener(url, "orders", "--json", "--count", "3", "--timeout", "60")
    try:
        _wait_listening(proc)
        one = _syncapi(
            "send",
            url,
            "orders",
            '{"id": 1}',
            "--header",
            "trace=abc",
            "--content-type",
            "application/json",
        )
        assert one.returncode == 0, one.stderr
        lines = subprocess.run(
            [sys.executable, "-m", "syncapi.cli", "send", url, "orders", "-"],
            input="a\nb\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert lines.returncode == 0, lines.stderr
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    got = [json.loads(line) for line in out.splitlines()]
    assert [g["payload"] for g in got] == ['{"id": 1}', "a", "b"]
    assert got[0]["headers"] == {"trace": "abc"} and got[0]["content_type"] == "application/json"


def test_send_and_listen_kafka(kafka_url: str) -> None:
    topic = f"cli-{uuid.uuid4().hex[:8]}"
    sent = _syncapi("send", kafka_url, topic, "first", "--key", "k1")  # creates the topic
    assert sent.returncode == 0, sent.stderr
    proc = _listener(
        kafka_url + "?auto_offset_reset=earliest",
        topic,
        "--json",
        "--count",
        "2",
        "--group",
        f"g-{topic}",
        "--timeout",
        "90",
    )
    try:
        again = _syncapi("send", kafka_url, topic, "second", "--header", "h=1")
        assert again.returncode == 0, again.stderr
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    got = [json.loads(line) for line in out.splitlines()]
    assert [g["payload"] for g in got] == ["first", "second"], err
    assert got[0]["extras"]["key"] == "k1" and got[1]["headers"] == {"h": "1"}


def test_send_and_listen_amqp(amqp_url: str) -> None:
    queue = f"cli-{uuid.uuid4().hex[:8]}"
    proc = _listener(amqp_url, queue, "--json", "--count", "2", "--timeout", "60")
    try:
        deadline = time.monotonic() + 30
        while True:  # the listener declares the queue; sends before that are unroutable
            sent = _syncapi("send", amqp_url, queue, "one")
            if sent.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert sent.returncode == 0, sent.stderr
        assert _syncapi("send", amqp_url, queue, "two").returncode == 0
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    got = [json.loads(line) for line in out.splitlines()]
    assert [g["payload"] for g in got] == ["one", "two"], err


def test_cli_errors_are_one_line_with_exit_codes() -> None:
    unknown = _syncapi("send", "nosuch://x", "c", "d")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1
    assert "no syncapi protocol is registered for scheme 'nosuch'" in unknown.stderr
    bad_header = _syncapi("send", "tcp://127.0.0.1:9", "c", "d", "--header", "nope")
    assert bad_header.returncode == 2 and "name=value" in bad_header.stderr
    missing = _syncapi("send", "tcp://127.0.0.1:9")
    assert missing.returncode == 2
    refused = _syncapi("send", f"tcp://127.0.0.1:{_free_port()}", "c", "d")
    assert refused.returncode == 1 and "cannot connect" in refused.stderr
    assert "Traceback" not in refused.stderr
    debug = _syncapi("--debug", "send", f"tcp://127.0.0.1:{_free_port()}", "c", "d")
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    group = _syncapi("listen", "tcp://127.0.0.1", "c", "--group", "g", "--timeout", "1")
    assert group.returncode == 2 and "--group is for kafka" in group.stderr


def test_an_extra_of_another_protocol_is_refused_before_connecting() -> None:
    """``--key`` on tcp:// is a usage error even when nothing listens (exit 2, not the
    connection error); so is a malformed --remote-addr."""
    closed = f"tcp://127.0.0.1:{_free_port()}"
    key = _syncapi("send", closed, "c", "d", "--key", "k")
    assert key.returncode == 2 and "--key is for kafka://, not tcp://" in key.stderr
    addr = _syncapi("send", f"udp://127.0.0.1:{_free_port()}", "c", "d", "--remote-addr", "x")
    assert addr.returncode == 2 and "--remote-addr takes host:port" in addr.stderr
    opcode = _syncapi("send", closed, "c", "d", "--opcode", "text")
    assert opcode.returncode == 2 and "--opcode is for ws://" in opcode.stderr


def test_many_stdin_lines_arrive_in_order() -> None:
    """5,000 lines piped in go out in batches (a send call per batch) and arrive whole
    and in order; --count repeats each line."""
    proc = _listener("tcp://127.0.0.1", "c", "--count", "10000", "--timeout", "120")
    try:
        url = _wait_listening(proc)
        lines = "".join(f"line {i}\n" for i in range(5000))
        sent = subprocess.run(
            [sys.executable, "-m", "syncapi.cli", "send", url, "c", "-", "--count", "2"],
            input=lines,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert sent.returncode == 0, sent.stderr
        assert sent.stderr == "", "a progress line was drawn on a pipe"
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out.splitlines() == [f"line {i}" for i in range(5000) for _ in range(2)]


def test_progress_line_on_a_terminal() -> None:
    """On a terminal (a real pseudo-terminal here) a long send draws a progress line
    that ends at 100 %; --quiet turns it off."""
    import os
    import pty

    proc = _listener("tcp://127.0.0.1", "c", "--count", "30000", "--timeout", "120")
    try:
        url = _wait_listening(proc)
        for quiet in (False, True):
            master, slave = pty.openpty()
            try:
                args = ["send", url, "c", "x", "--count", "15000"] + (["--quiet"] if quiet else [])
                sender = subprocess.run(
                    [sys.executable, "-m", "syncapi.cli", *args],
                    stderr=slave,
                    stdout=subprocess.DEVNULL,
                    timeout=120,
                )
                os.close(slave)
                drawn = b""
                while True:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:  # EIO: the terminal's other end is closed
                        break
                    if not chunk:
                        break
                    drawn += chunk
            finally:
                os.close(master)
            assert sender.returncode == 0
            if quiet:
                assert drawn == b""
            else:
                final = drawn.rstrip().split(b"\r")[-1].decode()  # a pty ends lines with \r\n
                assert "100%" in final and "15,000/15,000" in final, drawn[-300:]
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert len(out.splitlines()) == 30000, err


def test_every_command_help_has_the_same_parts() -> None:
    """Each subcommand's --help has a description, help on every argument, examples and
    the exit codes, so that --help is consistent across the command."""
    import argparse

    from syncapi.cli import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(subparsers.choices) == {"protocols", "demo", "send", "listen"}
    for name, sub in subparsers.choices.items():
        text = sub.format_help()
        assert sub.description and "examples:\n  syncapi" in text, name
        assert "exit codes: 0 done, 1 runtime failure, 2 usage error" in text, name
        for action in sub._actions:
            assert action.help, f"syncapi {name}: {action.dest} has no help"
    for name in subparsers.choices:
        shown = _syncapi(name, "--help")
        assert shown.returncode == 0 and f"usage: syncapi {name}" in shown.stdout
