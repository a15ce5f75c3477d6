"""A benchmark's peer in a child Python process, and the line protocol to talk to it.

Entries that measure one side of a connection with the other side in another process
(``tcp``'s peer process, ``udp``'s sender process) run that other side as a child Python
that does what the bench tells it, one line at a time. This module is the machinery they
share; what the commands are, and what the child answers, is each entry's own:

* :class:`PeerProcess` starts the child, ``python -c "from MODULE import MAIN; MAIN()"
  ARG...`` for the ``main`` function and the arguments the entry gives (with this
  ``syncapi`` first on its ``PYTHONPATH``), and waits for its first line, ``ready``. An
  entry subclasses it and names its commands: :meth:`PeerProcess._command` writes one
  line to the child's standard input, :meth:`PeerProcess._expect` reads the child's next
  line from its standard output, within a timeout. :meth:`PeerProcess.close` (or the
  ``with`` block) ends the child by closing its input, and kills it if it lingers.
* :class:`Lines` reads lines from a file descriptor with ``os.read`` and ``select`` (no
  buffering hidden behind ``select``), each within a timeout or without one: the bench
  reads the child's answers with it, and a child may read its commands with it.

Starting the child and waiting for ``ready`` is slow (a Python starts and imports the
entry's module): entries do it outside their clocks.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["READY_TIMEOUT", "Lines", "PeerProcess"]

READY_TIMEOUT = 60.0
"""Seconds the child may take to start and say ``ready``."""


class Lines:
    """Lines read from a file descriptor with ``os.read`` (no buffering behind
    ``select``).

    Args:
        fd: the file descriptor (a pipe's read end).
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = b""

    def ready(self, timeout: float) -> bool:
        """Whether a whole line can be read now (waiting up to ``timeout`` seconds)."""
        return b"\n" in self._buffer or bool(select.select([self.fd], [], [], timeout)[0])

    def read(self, timeout: float | None = None) -> bytes | None:
        """The next line without its newline; ``None`` at the end of the input. Waits
        for it as long as it takes when ``timeout`` is ``None``.

        Raises:
            TimeoutError: no whole line within ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                    raise TimeoutError(f"no line within {timeout} s")
            chunk = os.read(self.fd, 4096)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line


class PeerProcess:
    """A child Python process running ``main()`` of an entry's module, spoken to in
    lines: started, and ready (its first line), when this returns; ended by
    :meth:`close` (or the ``with`` block).

    The child gets ``args`` as its ``sys.argv[1:]``, reads commands on its standard
    input and writes its answers to its standard output, one line each (unbuffered: the
    bench waits for them with ``select``), and ends at the end of its input.

    Args:
        main: the child's function, called without arguments (it reads ``sys.argv``);
            importable from its module (``main.__module__``).
        args: its command-line arguments.
        timeout: seconds :meth:`_expect` waits for a line by default (:attr:`timeout`).
        linger: seconds :meth:`close` waits for the child to end before it kills it.
        what: names the process in error messages.

    Attributes:
        process: the child process.
        timeout: seconds :meth:`_expect` waits for a line unless told otherwise (a
            test may shorten it).

    Raises:
        RuntimeError: the child did not say ``ready`` within :data:`READY_TIMEOUT`
            seconds (it is ended first).
    """

    def __init__(
        self,
        main: Callable[[], object],
        args: Iterable[object],
        *,
        timeout: float,
        linger: float,
        what: str = "the peer process",
    ) -> None:
        from .. import __file__ as package_file

        root = str(Path(package_file).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.timeout = timeout
        self.linger = linger
        self.what = what
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"from {main.__module__} import {main.__name__}; {main.__name__}()",
                *map(str, args),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            env=env,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._stdin = self.process.stdin
        self._stdout = self.process.stdout
        self._lines = Lines(self._stdout.fileno())
        try:
            self._expect(b"ready", READY_TIMEOUT)
        except BaseException:
            self.close()
            raise

    def _command(self, *words: object) -> None:
        """Write one command line to the process: ``words`` joined by spaces.

        Raises:
            RuntimeError: the process is gone.
        """
        try:
            self._stdin.write(" ".join(map(str, words)).encode() + b"\n")
        except OSError as exc:
            code = self.process.poll()
            raise RuntimeError(f"{self.what} is gone (exit status {code}): {exc!r}") from exc

    def _expect(self, word: bytes, timeout: float | None = None, name: str = "") -> bytes:
        """The next line of the process, which must start with ``word``, within
        ``timeout`` seconds (default :attr:`timeout`); ``name`` says what is expected
        (default ``word``).

        Raises:
            RuntimeError: it said something else, ended, or said nothing in time.
        """
        name = name or repr(word.decode())
        try:
            line = self._lines.read(self.timeout if timeout is None else timeout)
        except TimeoutError:
            raise RuntimeError(f"{self.what} did not say {name} in time") from None
        if line is None or not line.startswith(word):
            code = self.process.poll()
            raise RuntimeError(f"{self.what} said {line!r}, not {name} (exit status {code})")
        return line

    def close(self) -> None:
        """End the process (the end of its input), waiting up to ``linger`` seconds for
        it; kill it if it lingers (a job that failed may leave it blocked on a socket)."""
        with contextlib.suppress(OSError):
            self._stdin.close()
        try:
            self.process.wait(self.linger)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
