"""RabbitMQ for the test suite: Debian's ``rabbitmq-server`` run as a throw-away node.

The package is installed with ``apt-get`` when missing (root only; otherwise the error
says which command to run). Each :class:`RabbitMQService` is an isolated node: its own
node name, AMQP port on 127.0.0.1, data and log directories, Erlang cookie (``HOME``),
``epmd`` port and distribution port, so it never meets a system node or another test
node. The server script is run in the foreground with ``RUNNING_UNDER_SYSTEMD`` set,
which makes it ``exec`` the Erlang VM: the PID we start *is* ``beam.smp``, and SIGTERM
to it is a clean node shutdown (about a second). The ``epmd`` the node starts is a
daemon of its own (it outlives the node): it is found by its port and stopped by PID.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.services.base import CACHE_DIR, Service, ServiceError, free_port, run, terminate

__all__ = ["APT_INSTALL", "RABBITMQ_SERVER", "RabbitMQService"]

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
RABBITMQCTL = RABBITMQ_SERVER.with_name("rabbitmqctl")
"""The upstream server script inside Debian's package (not the ``/usr/sbin`` wrapper,
which switches to the ``rabbitmq`` user and the system node)."""

APT_INSTALL = ["apt-get", "install", "-y", "--no-install-recommends", "rabbitmq-server"]
APT_LOCK_WAIT = ["-o", "DPkg::Lock::Timeout=300"]  # others may be running apt-get too

_ERLANG_PROGRAMS = {"beam.smp", "epmd", "erl_child_setup", "inet_gethost", "heart"}
_NODE_PREFIX = "syncapi-test-"


class RabbitMQService(Service):
    """One isolated RabbitMQ node on 127.0.0.1 (see the module documentation)."""

    name = "amqp"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.epmd_port = 0  # chosen once, kept across restart()
        self.dist_port = 0

    # -- install -------------------------------------------------------------------------
    def install(self) -> None:
        """``apt-get install rabbitmq-server`` if the server script is missing.

        ``apt-get update`` runs only when the package has no install candidate or the
        first install fails (stale lists). Whatever system node or ``epmd`` the
        package's scripts start is stopped by PID, so it cannot meet ours.
        """
        if RABBITMQ_SERVER.exists() and not _install_running():
            self.timings["download"] = 0.0
            return
        command = "apt-get update && " + " ".join(APT_INSTALL)
        if os.geteuid() != 0:
            raise ServiceError(
                f"RabbitMQ is not installed ({RABBITMQ_SERVER} is missing) and this is not "
                f"root; install it with: sudo sh -c 'DEBIAN_FRONTEND=noninteractive {command}'"
                " (or set SYNCAPI_TEST_AMQP_URL to a running broker)"
            )
        if shutil.which("apt-get") is None:
            raise ServiceError(
                f"RabbitMQ is not installed ({RABBITMQ_SERVER} is missing) and there is no "
                "apt-get; install rabbitmq-server or set SYNCAPI_TEST_AMQP_URL"
            )
        started = time.monotonic()
        with _install_lock():
            # another test process may have installed it while we waited for the lock
            if RABBITMQ_SERVER.exists():
                self.timings["download"] = 0.0
                return
            before = set(_erlang_pids())
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            try:
                self._apt_install(env)
            finally:
                self._stop_system_node(before)
        if not RABBITMQ_SERVER.exists():
            raise ServiceError(
                f"apt-get installed rabbitmq-server but {RABBITMQ_SERVER} is missing"
            )
        self.timings["download"] = time.monotonic() - started

    def _apt_install(self, env: dict[str, str]) -> None:
        update = ["apt-get", *APT_LOCK_WAIT, "update"]
        install = [*APT_INSTALL[:2], *APT_LOCK_WAIT, *APT_INSTALL[2:]]
        policy = run(["apt-cache", "policy", "rabbitmq-server"], what="apt-cache", timeout=60)
        if "Candidate:" not in policy or "Candidate: (none)" in policy:
            self._timed_run("apt_update", update, env)
            self._timed_run("apt_install", install, env)
            return
        try:
            self._timed_run("apt_install", install, env)
        except ServiceError:  # lists too old (404) or a transient mirror error
            self._timed_run("apt_update", update, env)
            self._timed_run("apt_install", install, env)

    def _timed_run(self, key: str, command: list[str], env: dict[str, str]) -> None:
        started = time.monotonic()
        try:
            run(command, what="installing RabbitMQ", timeout=600, env=env)
        finally:
            self.timings[key] = self.timings.get(key, 0.0) + time.monotonic() - started

    @staticmethod
    def _stop_system_node(before: set[int]) -> None:
        """Stop Erlang processes the package scripts started (a system node, its epmd).

        Only processes that appeared during the install and are not test nodes (ours
        carry ``RABBITMQ_NODENAME=syncapi-test-...`` or a non-default ``ERL_EPMD_PORT``).
        """
        for pid in set(_erlang_pids()) - before:
            environ = _environ(pid)
            if environ.get("RABBITMQ_NODENAME", "").startswith(_NODE_PREFIX):
                continue
            if environ.get("ERL_EPMD_PORT", "4369") != "4369":
                continue
            terminate(pid)

    # -- launch --------------------------------------------------------------------------
    @property
    def node_name(self) -> str:
        """The Erlang node name; depends only on the AMQP port, so restarts keep it
        (and with it the node's data directory)."""
        return f"{_NODE_PREFIX}{self.port}@localhost"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _choose_ports(self) -> None:
        taken = {self.port}
        for attr in ("epmd_port", "dist_port"):
            port = getattr(self, attr)
            while not port or port in taken:
                port = free_port()
            setattr(self, attr, port)
            taken.add(port)

    def _write_config(self) -> dict[str, Path]:
        etc = self.workdir / "etc"
        etc.mkdir(exist_ok=True)
        files = {
            "config": etc / "rabbitmq.conf",
            "plugins": etc / "enabled_plugins",
            # never created: the script and the prelaunch then skip sourcing an env file
            # (the default is /etc/rabbitmq/rabbitmq-env.conf, the system node's)
            "env": etc / "rabbitmq-env.conf",
            "advanced": etc / "advanced.config",
        }
        files["config"].write_text(
            "\n".join(
                [
                    f"listeners.tcp.default = 127.0.0.1:{self.port}",
                    "log.console = true",
                    "log.console.level = info",
                    "log.file = false",
                    # a test machine may have little free disk; never block publishers
                    "disk_free_limit.absolute = 1MB",
                    "",
                ]
            )
        )
        files["plugins"].write_text("[].\n")  # no management plugin: a faster start
        files["advanced"].write_text("[].\n")
        return files

    def _environment(self) -> dict[str, str]:
        files = self._write_config()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RABBITMQ_", "ERL_"))
            and key not in {"RUNNING_UNDER_SYSTEMD", "NOTIFY_SOCKET"}  # NOTIFY_SOCKET: sd_notify
        }
        env.update(
            {
                "HOME": str(self.workdir),  # own .erlang.cookie
                "RABBITMQ_NODENAME": self.node_name,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "ERL_EPMD_PORT": str(self.epmd_port),
                "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
                "RABBITMQ_CONFIG_FILE": str(files["config"]),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(files["advanced"]),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(files["plugins"]),
                "RABBITMQ_CONF_ENV_FILE": str(files["env"]),
                "ERL_CRASH_DUMP": str(self.workdir / "log" / "erl_crash.dump"),
                # no busy-waiting schedulers: on a small test machine they spin on the
                # cores the clients need (RabbitMQ's advice for shared hosts)
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "+sbwt none +sbwtdcpu none +sbwtdio none",
                # the script then execs the VM instead of keeping a shell parent that
                # traps SIGTERM and forwards it: our PID is beam.smp itself
                "RUNNING_UNDER_SYSTEMD": "true",
            }
        )
        return env

    def _launch(self) -> subprocess.Popen[bytes]:
        self._choose_ports()
        env = self._environment()
        (self.workdir / "log").mkdir(exist_ok=True)
        self.extra_pids = []
        with open(self.log_file, "ab") as log:
            return subprocess.Popen(
                [str(RABBITMQ_SERVER)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
                start_new_session=True,
            )

    # -- readiness -----------------------------------------------------------------------
    def _ready_check(self) -> None:
        import pika  # the amqp test extra; imported late so other tests never need it

        # a plain TCP connect first: cheaper, and pika logs every refused attempt as an error
        socket.create_connection(("127.0.0.1", self.port), timeout=1.0).close()
        params = pika.URLParameters(self.url)
        params.socket_timeout = 1.0
        params.blocked_connection_timeout = 2.0
        params.stack_timeout = 3.0
        params.connection_attempts = 1
        params.heartbeat = 0
        connection = pika.BlockingConnection(params)
        try:
            connection.channel().close()
        finally:
            connection.close()

    def _after_ready(self) -> None:
        # epmd has long been up by now (it comes before the node's distribution)
        self.extra_pids = list(self._epmd_pids())

    # -- processes -----------------------------------------------------------------------
    def _epmd_pids(self) -> Iterator[int]:
        """The ``epmd`` daemons on this node's ``ERL_EPMD_PORT``."""
        if not self.epmd_port:
            return
        port = str(self.epmd_port)
        for pid in _erlang_pids():
            cmdline = _cmdline(pid)
            if not cmdline or os.path.basename(cmdline[0]) != "epmd":
                continue
            if _option(cmdline, "-port") == port or _environ(pid).get("ERL_EPMD_PORT") == port:
                yield pid

    def _node_pids(self) -> Iterator[int]:
        """Processes of this node: its VM and helpers, by environment, node name or work
        directory (only Erlang programs for the last two: never a shell tailing the log)."""
        if not self.port:
            return
        node = self.node_name
        workdir = str(self.workdir)
        for pid in _all_pids():
            if pid == os.getpid():
                continue
            if _environ(pid).get("RABBITMQ_NODENAME") == node:
                yield pid  # the VM and everything it forks inherit its environment
            elif _comm(pid) in _ERLANG_PROGRAMS:
                text = " ".join(_cmdline(pid))
                if node in text or workdir in text:
                    yield pid

    def own_pids(self) -> list[int]:
        """Every live process that belongs to this node (VM, helpers, epmd)."""
        return sorted({*self._node_pids(), *self._epmd_pids()})

    def _cleanup_extra(self) -> None:
        leftovers = {*self.extra_pids, *self._epmd_pids(), *self._node_pids()}
        leftovers.discard(os.getpid())
        for pid in sorted(leftovers):
            terminate(pid)
        self.extra_pids = []

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """Run ``rabbitmqctl ARGS`` against this node and return its output (tests read
        exchanges and queues back with ``list_exchanges``/``list_queues``)."""
        env = self._environment()
        return run(
            [str(RABBITMQCTL), "-n", self.node_name, "-q", *args],
            what=f"rabbitmqctl {' '.join(args)}",
            timeout=timeout,
            env=env,
        )

    def state(self) -> dict[str, Any]:
        return {
            **super().state(),
            "node": self.node_name,
            "epmd_port": self.epmd_port,
            "dist_port": self.dist_port,
        }


# -- /proc helpers --------------------------------------------------------------------------
def _all_pids() -> Iterator[int]:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            yield int(entry)


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _environ(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            raw = handle.read()
    except OSError:
        return {}
    env = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env[key.decode(errors="replace")] = value.decode(errors="replace")
    return env


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _erlang_pids() -> Iterator[int]:
    """Live Erlang runtime processes (VMs, epmd, port helpers) on the machine."""
    for pid in _all_pids():
        if _comm(pid) in _ERLANG_PROGRAMS:
            yield pid


def _option(argv: list[str], name: str) -> str | None:
    """The value after ``name`` in an argument list, if any."""
    with contextlib.suppress(ValueError, IndexError):
        return argv[argv.index(name) + 1]
    return None


def _lock_path() -> Path:
    return CACHE_DIR / "rabbitmq-install.lock"


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """One ``apt-get install`` at a time among test processes (pytest-xdist workers)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(_lock_path(), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _install_running() -> bool:
    """Whether another test process holds the install lock right now: the server script
    then exists already (dpkg unpacked it) but the package is not configured yet."""
    try:
        with open(_lock_path()) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    except FileNotFoundError:
        pass
    return False
