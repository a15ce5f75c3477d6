"""One TCP connection's socket, used by both ends: a reader thread that cuts messages out
of the stream (:mod:`~syncapi.tcp.framing`) and hands them over, and whole, bounded
writes from any thread.

The socket stays blocking with no Python timeout: the reader waits in ``recv`` (a close
shuts the socket to wake it), and a write is bounded by the kernel's send timeout
(``SO_SNDTIMEO``), so neither pays a ``poll`` before each system call. Closing is
graceful: this end shuts its sending side (the peer reads everything, then the end of
the stream), keeps reading until the peer closes its side too, and only then closes
the socket — so nothing either side sent before the close is lost to a reset.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import logging
import socket
import threading
import time
from collections.abc import Callable

from ..errors import TimeoutError
from ..sockets import format_address, send_whole, set_send_timeout
from .framing import FrameError, decoder_for
from .options import _Common
from .wire import ConnectionClosedError

__all__ = ["READ_SIZE", "Stream", "configure"]

_log = logging.getLogger("syncapi.tcp")

READ_SIZE = 256 * 1024
"""Bytes asked of each ``recv``: a burst of small messages costs one system call."""


def configure(sock: socket.socket, options: _Common) -> None:
    """Make a connected socket ready for a :class:`Stream`: blocking, the send timeout,
    ``TCP_NODELAY`` and keepalive as ``options`` say."""
    sock.settimeout(None)
    set_send_timeout(sock, options.timeout)
    if options.nodelay:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if options.keepalive is not None:
        idle = max(1, int(options.keepalive))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(1, idle // 3))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)


def address_of(raw: object) -> tuple[str, int]:
    """``(host, port)`` of a socket address (an IPv6 one has four fields)."""
    assert isinstance(raw, tuple)
    return str(raw[0]), int(raw[1])


class Stream:
    """A connected socket with its reader thread.

    Args:
        sock: the connected socket (:func:`configure` it first).
        options: the framing, limits and timeouts.
        where: names the connection in errors and logs.
        deliver: called on the reader thread with the messages of each read; may block
            (backpressure: the socket is not read meanwhile).
        finished: called once on the reader thread when the stream ended, with how.
    """

    def __init__(
        self,
        sock: socket.socket,
        options: _Common,
        *,
        where: str,
        deliver: Callable[[list[bytes]], object],
        finished: Callable[[Stream, ConnectionClosedError], object],
    ) -> None:
        self.sock = sock
        self.options = options
        self.where = where
        self.remote_addr = address_of(sock.getpeername())
        self.local_addr = address_of(sock.getsockname())
        self._deliver = deliver
        self._finished = finished
        self._send_lock = threading.RLock()  # re-entrant: a failed write aborts under it
        self.closing = threading.Event()  # this end closes: blocked deliveries give up
        self.ended = threading.Event()  # the reader is done (or never started)
        self.end: ConnectionClosedError | None = None
        self._broken = ""  # why this end broke the connection off
        self.is_open = True  # a plain flag, read on every send: cleared as any end begins
        self._thread: threading.Thread | None = None
        self._closed_fd = False
        self._fd_lock = threading.Lock()
        self._reader_done = False  # the reader thread is past its last use of the socket
        self._abandoned = False  # wait_closed gave up on the reader: it closes the socket

    def start(self, name: str) -> None:
        """Start the reader thread."""
        self._thread = threading.Thread(target=self._read_loop, name=name, daemon=True)
        self._thread.start()

    @property
    def open(self) -> bool:
        """Whether the stream is open for sending (neither end closed it, not broken)."""
        return self.is_open

    # -- writing -------------------------------------------------------------------------
    def write(self, data: bytes, timeout: float | None) -> None:
        """Write ``data`` (framed messages) whole; thread-safe, writes never interleave.

        ``timeout`` (the caller's) bounds the wait for other writers and the write;
        ``None``: the ``timeout`` option bounds each stall (a peer that keeps reading,
        however slowly, is not cut off).

        Raises:
            TimeoutError: the peer read nothing in time; the connection is dropped.
            ConnectionClosedError: the connection is closed or broke.
        """
        lock = self._send_lock
        if not lock.acquire(False):  # the usual case takes the free lock at once
            wait = self.options.timeout if timeout is None else timeout
            if not lock.acquire(timeout=wait):
                raise TimeoutError(f"{self.where}: the connection was busy with other sends")
        sock = self.sock
        changed = False
        try:
            if not self.is_open:
                raise self.closed_error("the connection is closed")
            if timeout is not None:
                set_send_timeout(sock, timeout)
                changed = True
                changed |= send_whole(sock, data, time.monotonic() + timeout)
            else:
                sent = sock.send(data)  # the usual case: all of it, one system call
                if sent != len(data):  # else the rest: SO_SNDTIMEO bounds each stall
                    send_whole(sock, data[sent:], None)
        except (BlockingIOError, builtins.TimeoutError) as exc:
            wait = self.options.timeout if timeout is None else timeout
            self.abort(f"a send blocked longer than {wait:.3g} s")
            raise TimeoutError(
                f"{self.where}: the peer read nothing for {wait:.3g} s; the connection was "
                "dropped (a message may be half written)"
            ) from exc
        except OSError as exc:
            self.abort(f"send failed: {exc}")
            raise self.closed_error(f"send failed: {exc}") from exc
        finally:
            if changed:
                with contextlib.suppress(OSError):
                    set_send_timeout(sock, self.options.timeout)
            lock.release()

    def closed_error(self, what: str) -> ConnectionClosedError:
        """The error a send on this (closed) stream raises: ``what`` failed, and why the
        connection ended (when it says more than ``what``)."""
        end = self.end
        if self._broken:
            reason, normal = self._broken, False
        elif end is not None:
            reason, normal = end.reason, end.normal
        else:
            reason, normal = ("closed by this end" if self.closing.is_set() else "closed"), True
        text = what if reason in what else f"{what}: {reason}"
        return ConnectionClosedError(f"{self.where}: {text}", reason, normal=normal)

    # -- reading -------------------------------------------------------------------------
    def _read_loop(self) -> None:
        sock = self.sock
        decoder = decoder_for(self.options)
        feed = decoder.feed
        deliver = self._deliver
        size = READ_SIZE
        if self.options.framing == "raw":  # one read is one message
            size = min(size, self.options.max_message)
        reason, normal = "closed by the peer", True
        try:
            while True:
                try:
                    chunk = sock.recv(size)
                except OSError as exc:
                    if self.closing.is_set() or self._broken:
                        break
                    normal = False
                    if exc.errno == errno.ECONNRESET:
                        reason = "reset by the peer"
                    elif exc.errno == errno.ETIMEDOUT:
                        reason = "the peer stopped answering (keepalive or unacknowledged data)"
                    else:
                        reason = f"read failed: {exc}"
                    break
                if not chunk:
                    break
                try:
                    messages = feed(chunk)
                except FrameError as exc:
                    if exc.messages:  # the whole messages before the fault still count
                        deliver(exc.messages)
                    _log.warning("%s: %s; disconnecting it", self.where, exc)
                    normal, reason = False, str(exc)
                    self.abort(reason, linger=False)
                    break
                if messages and deliver(messages) is False:
                    # closing, and what comes keeps coming: stop reading it
                    normal, reason = False, "closed while the peer flooded it"
                    _log.warning(
                        "%s: closing, and the peer keeps sending: %d messages and the rest "
                        "of the stream dropped",
                        self.where,
                        len(messages),
                    )
                    self.abort(reason, linger=False)
                    break
        except BaseException as exc:  # a deliver that failed: end the stream, say why
            normal, reason = False, f"reader failed: {exc!r}"
            _log.exception("%s: the reader failed", self.where)
        finally:
            if self._broken:
                normal, reason = False, self._broken
            elif self.closing.is_set() and normal:
                reason = "closed by this end"
            lost = decoder.partial
            if lost and normal:
                _log.warning(
                    "%s: the stream ended inside a message (%d bytes of it lost)", self.where, lost
                )
            self.end = ConnectionClosedError(f"{self.where}: {reason}", reason, normal=normal)
            if not normal:
                self.is_open = False
                if not self.closing.is_set():
                    self._close_fd()  # broken: nobody can use this socket any more
            # else the peer only closed its side: this end may still answer (half-close);
            # the owner closes the socket when it is done (see finished)
            self.ended.set()
            try:
                self._finished(self, self.end)
            finally:
                with self._fd_lock:
                    self._reader_done = True
                    abandoned = self._abandoned
                if abandoned:
                    self._close_fd()

    # -- ending --------------------------------------------------------------------------
    def begin_close(self, wait: float = 0.0) -> None:
        """Start a graceful close: no more sends; a write in progress may finish within
        ``wait`` seconds; the peer reads what was sent, then the end of the stream. The
        reader goes on until the peer closes its side."""
        self.is_open = False
        if self.closing.is_set():
            return
        self.closing.set()
        if self._thread is None or self.ended.is_set():  # nothing more to read
            self._close_fd()
            self.ended.set()
            return
        if self._send_lock.acquire(timeout=max(wait, 0.0)):  # not under a write: it
            self._send_lock.release()  # would stop half way
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def close_now(self) -> None:
        """Close the socket without waiting (the reader has ended, or must)."""
        self.is_open = False
        self._close_fd()

    def wait_closed(self, deadline: float) -> None:
        """Wait until ``deadline`` for the peer to close its side, then shut the socket,
        join the reader and close the file descriptor.

        A reader that does not end even then is running a callback (direct dispatch):
        it is left to close the descriptor itself when the callback returns.
        """
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                with contextlib.suppress(OSError):
                    self.sock.shutdown(socket.SHUT_RDWR)
                thread.join(0.5)
            with self._fd_lock:
                if thread.is_alive() and not self._reader_done:
                    self._abandoned = True  # the reader closes it on its way out
                    return
        self._close_fd()

    def close(self, timeout: float | None = None) -> None:
        """:meth:`begin_close` then :meth:`wait_closed` (``timeout``: the
        ``close_timeout`` option)."""
        wait = self.options.close_timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        self.begin_close(wait)
        self.wait_closed(deadline)

    def abort(self, why: str, *, linger: bool = True) -> None:
        """Break the connection off now (a stalled send, a broken framing): the reader
        sees the end and reports it."""
        self.is_open = False
        if not self._broken:
            self._broken = why
        if not linger:  # a bad peer: reset rather than wait for it
            with contextlib.suppress(OSError):
                self.sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        if self._thread is None:
            self._close_fd()
            self.ended.set()

    def _close_fd(self) -> None:
        with self._fd_lock:
            if self._closed_fd:
                return
            self._closed_fd = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked write
        with self._send_lock:  # never close the descriptor under a write
            self.sock.close()

    def __repr__(self) -> str:
        return f"<tcp stream {format_address(*self.remote_addr)}>"
