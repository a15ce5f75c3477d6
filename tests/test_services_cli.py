"""``python -m tests.services``: a developer starts, inspects and stops a broker by hand."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services.base import pid_alive, processes_mentioning

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.kafka


def _cli(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYNCAPI_TEST_STATE": str(state)}
    return subprocess.run(
        [sys.executable, "-m", "tests.services", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_start_status_stop_by_hand(tmp_path: Path) -> None:
    state = tmp_path / "state"
    started = _cli("start", "kafka", state=state)
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("kafka: kafka://127.0.0.1:"), started.stdout
    pid = int(started.stdout.rsplit("pid ", 1)[1].rstrip(")\n"))
    try:
        assert pid_alive(pid), "the broker must outlive the command that started it"
        status = _cli("status", state=state)
        assert "kafka: running at kafka://127.0.0.1:" in status.stdout
        assert "amqp: not running" in status.stdout
        again = _cli("start", "kafka", state=state)
        assert "already running" in again.stdout
    finally:
        stopped = _cli("stop", "kafka", state=state)
    assert stopped.returncode == 0 and "kafka: stopped" in stopped.stdout, stopped.stderr
    assert not pid_alive(pid)
    assert processes_mentioning(str(state)) == []
    assert "kafka: not running" in _cli("status", "kafka", state=state).stdout
    assert _cli("launch", state=state).returncode == 2
