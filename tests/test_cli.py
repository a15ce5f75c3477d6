"""The syncapi command, run as a user runs it (a real subprocess)."""

from __future__ import annotations

import subprocess
import sys


def _syncapi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncapi.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_version_and_protocols() -> None:
    version = _syncapi("--version")
    assert version.returncode == 0 and version.stdout.startswith("syncapi ")
    listing = _syncapi("protocols")
    assert listing.returncode == 0
    assert any(line.split()[:2] == ["memory", "built-in"] for line in listing.stdout.splitlines())


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
