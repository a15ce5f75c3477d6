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
