"""What every test broker shares: directories, ports, processes, readiness, log tails.

A :class:`Service` is one broker process that the test suite owns: it knows how to get
its software (:meth:`Service.install`), start it on loopback in a throw-away data
directory, wait until a real client connection works, stop it by PID (nothing left
behind), and restart it keeping its data (for the fault tests of the protocol issues).
Its state (PID, port, data directory) is written to a small JSON file so that the
command line (``python -m tests.services``) can stop what another process started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "CACHE_DIR",
    "STATE_DIR",
    "Service",
    "ServiceError",
    "free_port",
    "pid_alive",
    "processes_mentioning",
    "run",
    "terminate",
    "wait_until_ready",
]

CACHE_DIR = Path(os.environ.get("SYNCAPI_TEST_CACHE", Path.home() / ".cache" / "syncapi-test"))
"""Downloads that outlive a run (the Kafka jars); outside the work tree on purpose."""
STATE_DIR = Path(os.environ.get("SYNCAPI_TEST_STATE", CACHE_DIR / "run"))
"""Where ``python -m tests.services`` keeps the brokers it runs: one JSON file each (what
``stop`` reads) and their data (``data/<name>``)."""


class ServiceError(RuntimeError):
    """A broker could not be installed, started or stopped; the message says why and
    carries the tail of the broker's log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists (and is not a zombie of ours)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def processes_mentioning(text: str) -> list[int]:
    """PIDs of live processes (not this one) whose command line contains ``text``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if text.encode() in cmdline.read() and pid_alive(int(entry)):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def wait_until_ready(
    check: Callable[[], object],
    *,
    timeout: float,
    what: str,
    alive: Callable[[], bool] | None = None,
    log_tail: Callable[[], str] | None = None,
    interval: float = 0.2,
) -> float:
    """Call ``check`` until it returns without raising; return the seconds it took.

    Raises:
        ServiceError: ``timeout`` passed, or ``alive()`` said the process died; the
            message has the last error and the log tail.
    """
    started = time.monotonic()
    last: BaseException | None = None
    while True:
        try:
            check()
            return time.monotonic() - started
        except Exception as exc:
            last = exc
        elapsed = time.monotonic() - started
        dead = alive is not None and not alive()
        if dead or elapsed > timeout:
            why = "its process exited" if dead else f"not ready after {timeout:.0f} s"
            tail = log_tail() if log_tail is not None else ""
            raise ServiceError(
                f"{what}: {why}; last readiness error: {last!r}\n--- log tail ---\n{tail}"
            )
        time.sleep(interval)


class Service(ABC):
    """One broker process owned by the test suite (see the module documentation)."""

    name: str = ""
    """Short name: ``"kafka"``, ``"amqp"``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.extra_pids: list[int] = []  # helpers the broker starts (epmd...)
        self.timings: dict[str, float] = {}

    # -- what a broker supplies ----------------------------------------------------------
    @abstractmethod
    def install(self) -> None:
        """Get the broker's software if missing (download, apt-get); idempotent."""

    @abstractmethod
    def _launch(self) -> subprocess.Popen[bytes]:
        """Start the broker process on :attr:`port` (data in :attr:`workdir`)."""

    @abstractmethod
    def _ready_check(self) -> None:
        """Raise unless a real client connection to the broker works now."""

    @property
    @abstractmethod
    def url(self) -> str:
        """The server URL tests connect to, e.g. ``kafka://127.0.0.1:PORT``."""

    @property
    def log_file(self) -> Path:
        """Where the broker's output goes."""
        return self.workdir / f"{self.name}.log"

    def _after_ready(self) -> None:  # noqa: B027 - optional hook
        """Hook: runs once the broker is ready (record helper PIDs in :attr:`extra_pids`)."""

    def _cleanup_extra(self) -> None:
        """Stop what the broker left behind after its own process ended (override)."""
        for pid in self.extra_pids:
            terminate(pid)
        self.extra_pids = []

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 120.0) -> float:
        """Install if needed, start, wait for readiness; return the seconds it took."""
        started = time.monotonic()
        self.install()
        self.timings["install"] = time.monotonic() - started
        if not self.port:
            self.port = free_port()
        self.process = self._launch()
        self.pid = self.process.pid
        try:
            wait_until_ready(
                self._ready_check,
                timeout=timeout,
                what=f"{self.name} broker on port {self.port}",
                alive=lambda: self.process is not None and self.process.poll() is None,
                log_tail=self.log_tail,
            )
            self._after_ready()
        except BaseException:
            self.stop()  # a half-started broker must not outlive the failure
            raise
        self.timings["start"] = time.monotonic() - started
        return self.timings["start"]

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL) and its helpers; keep its data."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        elif self.pid is not None:
            terminate(self.pid, timeout)
        self.process = None
        self.pid = None
        self._cleanup_extra()

    def restart(self, timeout: float = 120.0) -> float:
        """Stop and start again on the same port with the same data."""
        self.stop()
        return self.start(timeout)

    def pids(self) -> list[int]:
        """Every PID this service is responsible for."""
        return [p for p in [self.pid, *self.extra_pids] if p is not None]

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the broker's log."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # -- state for the command line --------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """What another process needs to find and stop this broker."""
        return {
            "name": self.name,
            "pid": self.pid,
            "extra_pids": self.extra_pids,
            "port": self.port,
            "url": self.url,
            "workdir": str(self.workdir),
        }

    def save_state(self) -> None:
        """Write :meth:`state` to ``STATE_DIR/<name>.json`` (the command line does, for the
        broker it runs; the test fixtures never do, so they clash with nothing)."""
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        (STATE_DIR / f"{self.name}.json").write_text(json.dumps(self.state(), indent=2))

    def clear_state(self) -> None:
        """Remove the state file."""
        with contextlib.suppress(FileNotFoundError):
            (STATE_DIR / f"{self.name}.json").unlink()


def terminate(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM ``pid``, wait, then SIGKILL; never raises for a process already gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.05)


def run(command: Sequence[str], *, what: str, timeout: float, **kwargs: Any) -> str:
    """Run a set-up command; raise :class:`ServiceError` with its output if it fails."""
    try:
        done = subprocess.run(
            list(command), capture_output=True, text=True, timeout=timeout, check=False, **kwargs
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceError(f"{what}: {' '.join(command)} failed: {exc}") from exc
    if done.returncode != 0:
        raise ServiceError(
            f"{what}: {' '.join(command)} exited {done.returncode}\n{done.stdout[-3000:]}\n"
            f"{done.stderr[-3000:]}"
        )
    return done.stdout
