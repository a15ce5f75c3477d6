"""ruff and mypy are part of the test run: the package must stay lint- and type-clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_check() -> None:
    if shutil.which("ruff") is None:
        pytest.fail("ruff is not installed: pip install -e '.[test]'")
    result = _run("ruff", "check", "syncapi", "tests", "examples", "docs/_ext")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    if shutil.which("ruff") is None:
        pytest.fail("ruff is not installed: pip install -e '.[test]'")
    result = _run("ruff", "format", "--check", "syncapi", "tests", "examples", "docs/_ext")
    assert result.returncode == 0, result.stdout + result.stderr


def _mypy_strict(path: str) -> subprocess.CompletedProcess[str]:
    """mypy --strict on one file, for the oldest Python the package supports."""
    return _run(sys.executable, "-m", "mypy", "--strict", "--python-version", "3.10", path)


def test_mypy_strict_on_the_package() -> None:
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_typed_code_sees_each_protocols_types() -> None:
    """``tests/typecheck/protocol_types.py``: a protocol's producer makes its publisher,
    whose envelope is its writer, and its consumer its subscriber (no cast needed)."""
    result = _mypy_strict("tests/typecheck/protocol_types.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_publisher_must_build_the_envelopes_its_type_names() -> None:
    """``tests/typecheck/envelope_class_mismatch.py`` sets ``envelope_class`` to another
    protocol's writer than its type argument: mypy must refuse it, on that line."""
    result = _mypy_strict("tests/typecheck/envelope_class_mismatch.py")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "envelope_class_mismatch.py:13: error: Incompatible types in assignment" in (
        result.stdout
    ), result.stdout
