"""Robustness of syncapi/datagram.py, syncapi/udp, syncapi/ip and the direct dispatch
they use: each test is a bug a review found (now fixed); the docstrings describe the
bug. Real sockets on loopback; raw IP needs root. A fake is used only where the fault
cannot be produced on demand (named as such in the test)."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from syncapi import ip, udp
from syncapi.errors import ConfigError, ReceiveError, SendError, SyncapiError
from syncapi.testing import wait_until

ROOT = Path(__file__).resolve().parent.parent
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="raw IP sockets need root")


# -- 1. a bare TypeError escapes send() ------------------------------------------------------
def test_udp_remote_addr_of_other_family_raises_syncapi_error() -> None:
    """``set_remote_addr`` accepts any ``(host, port, flowinfo, scope_id)`` tuple, even on
    an IPv4 publisher; ``sendto`` then raises ``TypeError`` ("AF_INET address must be a
    pair"), which DatagramSender.send does not catch: a bare TypeError escapes
    ``Publisher.send`` (after the datagrams before it in the call went out, with no
    ``failures`` naming what was not sent)."""
    with udp.Consumer("udp://127.0.0.1") as consumer, udp.Producer(consumer.bound_url) as prod:
        pub = prod.publisher("x")
        env = pub.envelope(b"to v6")
        try:
            env.set_remote_addr(("::1", 9, 0, 0))  # the docs: "must be of the family"
        except ConfigError:
            return  # refused up front: fine
        with pytest.raises(SyncapiError) as info:
            pub.send(pub.envelope(b"first"), env)
        assert isinstance(info.value, (ConfigError, SendError)), type(info.value)


@needs_root
def test_ip_remote_addr_of_other_family_raises_syncapi_error() -> None:
    """The same for ``ip://`` (``ip.wire.check_address`` takes a 4-tuple on an IPv4
    publisher)."""
    with ip.Producer("ip://127.0.0.1?protocol=253") as prod:
        pub = prod.publisher("x")
        env = pub.envelope(b"to v6")
        try:
            env.set_remote_addr(("::1", 0, 0, 0))
        except ConfigError:
            return
        with pytest.raises(SyncapiError):
            pub.send(env)


# -- 2. SystemExit in a pushed callback kills the reader --------------------------------------
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_systemexit_in_pushed_callback_keeps_the_subscriber_readable() -> None:
    """On the dispatcher thread, a callback raising a BaseException (``sys.exit()``) ends
    that loop with ``worker.error`` set, and the subscriber stays usable. Run by direct
    dispatch on the reader thread, it escapes ``_Loop.run_pushed``, ``_offer`` and
    ``ReaderThread._run`` (which catches only ``Exception``, and whose ``finally`` only
    leaves the gate): the reader thread dies without finishing the inbox. On the way,
    ``_run_batch`` hands the datagram back, so the dispatcher runs the same callback a
    second time (two SystemExits for one datagram). Afterwards the subscriber is deaf:
    a new ``receive()`` waits for datagrams that nobody reads, and no error says so."""
    with udp.Consumer("udp://127.0.0.1") as consumer:
        sub = consumer.subscriber("x")
        calls: list[str] = []

        def callback(env: Any) -> None:
            calls.append(threading.current_thread().name)
            raise SystemExit(3)

        worker = sub.start(callback)
        assert wait_until(lambda: sub._direct is not None, 5)  # idle: pushes go direct
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as plain:
            plain.sendto(b"exit", consumer.address)
            assert wait_until(lambda: not worker.alive, 5)
            assert isinstance(worker.error, SystemExit)
            plain.sendto(b"after", consumer.address)
            got: list[bytes] = []  # the handed-back b"exit" may come first: by design
            error: BaseException | None = None
            try:
                sub.receive(lambda env: got.append(env.payload), timeout=1.5, max_messages=2)
            except ReceiveError as exc:
                error = exc  # the reader ended and says so: acceptable
        reader_alive = sub._reader.alive
        assert b"after" in got or error is not None, (
            f"reader alive={reader_alive}: the next datagram was never read and no error said so"
        )
        assert len(calls) == 1, f"the callback ran {len(calls)} times for one datagram: {calls}"


# -- 3. close() from a signal handler deadlocks on the inbox lock --------------------------------
def test_close_in_signal_handler_while_main_thread_holds_inbox_lock() -> None:
    """The docs: ``close()`` may be called from a signal handler with ``timeout=0``, and
    ReaderThread.stop says "Signal-safe: it waits for no lock". But it calls
    ``Inbox.finish()`` (and DatagramSubscriber._close calls ``Inbox.drop()``), which take
    ``Inbox._space``, a plain Lock. The main thread holds it inside ``Inbox.get`` (every
    fetch of ``sub.receive()``), ``give_back``, ``done`` and ``resync``; a signal handled
    there deadlocks. The interleaving is forced (the lock taken as ``get`` takes it, then
    the signal raised); the child process hangs forever."""
    script = textwrap.dedent(
        """
        import os, signal
        from syncapi import udp
        consumer = udp.Consumer("udp://127.0.0.1")
        sub = consumer.subscriber("x")
        signal.signal(signal.SIGUSR1, lambda *a: consumer.close(timeout=0))
        with sub._inbox._space:           # as Inbox.get holds it on the main thread
            os.kill(os.getpid(), signal.SIGUSR1)
            pass                          # the handler runs here
        print("closed", consumer.closed, flush=True)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=15
        )
    except subprocess.TimeoutExpired:
        pytest.fail("close(timeout=0) in a signal handler deadlocked on Inbox._space")
    assert "closed True" in out.stdout, out.stderr


# -- 4. a receive error in the middle of a batch loses what was read -------------------------------
class _ErrorOnceSocket:
    """FAKE (the fault cannot be timed for real): the consumer's raw socket, except that
    the first non-blocking ``recvfrom`` raises the pending socket error that a connected
    raw socket gets from an ICMP error (``ENOPROTOOPT``, protocol unreachable).
    ``sock_error()`` is checked before the receive queue, so on a real connected
    consumer (option ``peer``) this happens whenever the ICMP error lands between the
    blocking read and the non-blocking ones."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.raised = False

    def recvfrom(self, size: int, flags: int = 0) -> Any:
        if flags & socket.MSG_DONTWAIT and not self.raised:
            self.raised = True
            raise OSError(errno.ENOPROTOOPT, os.strerror(errno.ENOPROTOOPT))
        return self._sock.recvfrom(size, flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


@needs_root
def test_ip_receive_error_mid_batch_does_not_lose_packets_read() -> None:
    """``ip.Subscriber._read_batch4`` (and ``_read_batch6``, ``udp.Subscriber._read_batch``)
    lets an ``OSError`` of a non-blocking read escape after packets were already read
    into the batch: ReaderThread logs "receive failed" and the packets read are gone,
    counted nowhere."""
    with ip.Consumer("ip://127.0.0.1?protocol=253") as consumer:
        sub = consumer.subscriber("x")
        fake = _ErrorOnceSocket(sub._sock)
        sub._sock = fake  # used from the reader's next batch on
        got: list[bytes] = []
        hold = threading.Event()

        def callback(env: Any) -> None:
            got.append(env.payload)
            if env.payload == b"p0":
                hold.wait(5)  # the reader runs this: p1 and p2 queue up meanwhile

        worker = sub.start(callback)
        with socket.socket(socket.AF_INET, socket.SOCK_RAW, 253) as raw:
            raw.sendto(b"p0", ("127.0.0.1", 0))  # read through the real socket
            assert wait_until(lambda: got == [b"p0"], 5)
            raw.sendto(b"p1", ("127.0.0.1", 0))  # read by the blocking read, then
            raw.sendto(b"p2", ("127.0.0.1", 0))  # the non-blocking read for it fails
            time.sleep(0.1)
            hold.set()
            assert wait_until(lambda: fake.raised, 5)
            wait_until(lambda: len(got) >= 3, 2)
        worker.stop(2)
        assert got == [b"p0", b"p1", b"p2"], f"got {got}: p1 was read and lost"
