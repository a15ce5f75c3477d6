"""What the datagram protocols share (UDP and raw IP): addresses, multicast, the receive
buffer, sending envelopes as datagrams, and the reader thread that fills a subscriber's
:class:`~syncapi.inbox.Inbox`.

The life of a datagram socket here:

* one :class:`SocketGate` per socket counts the threads inside a socket call (each
  ``send`` and the reader thread); :meth:`SocketGate.close` shuts the socket down (which
  wakes a blocked ``recv`` and a blocked ``send`` at once) and closes the file descriptor
  only when the last of them has left, so a descriptor is never closed under a thread
  that still uses its number (which the process may already have reused);
* a :class:`DatagramSubscriber` runs a :class:`ReaderThread`: it blocks in ``recv``, then
  takes what else is queued without blocking and hands the whole batch over at once: to
  the inbox with one ``put_many`` (one wake-up of the receive loop per batch, not per
  datagram), or, when a one-worker loop is idle, to the callbacks on the reader thread
  itself (``InboxSubscriber._offer``: no hand-off between threads at all);
* a :class:`DatagramSender` applies the header policy, refuses a datagram over the
  protocol's limit before anything is sent (:class:`~syncapi.errors.MessageTooLarge`),
  and turns ``OSError`` into :class:`~syncapi.errors.SendError` naming the envelopes
  not sent.

The protocols' classes subclass :class:`DatagramProducer` (which opens the channels),
:class:`DatagramPublisher` and :class:`DatagramConsumer` (which keep a socket each,
through :class:`DatagramSocket`, and close it); the protocols set their sockets up and
name their specifics in class attributes.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import select
import socket
import struct
import sys
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, cast

from . import core
from .bindings import Bindings, coerce_channel_bindings
from .errors import ClosedError, ConfigError, MessageTooLarge, ReceiveError, SendError, TimeoutError
from .headers import EMBED_MAGIC, HeaderPolicy, apply_header_policy
from .inbox import Inbox, InboxSubscriber
from .sockets import format_address, set_send_timeout

if TYPE_CHECKING:
    from .servers import ServerURL

__all__ = [
    "SO_RCVBUFFORCE",
    "Address",
    "DatagramConsumer",
    "DatagramEnvelopeWriter",
    "DatagramProducer",
    "DatagramPublisher",
    "DatagramSender",
    "DatagramSocket",
    "DatagramSubscriber",
    "ReaderThread",
    "SocketGate",
    "check_channel_bindings",
    "check_policy",
    "host_family",
    "interface_spec",
    "is_multicast",
    "join_group",
    "resolve",
    "send_reply",
    "set_multicast_sending",
    "set_receive_buffer",
    "set_unicast_ttl",
    "wildcard",
]

Address = tuple[Any, ...]
"""A socket address as the :mod:`socket` module gives it: ``(host, port)`` for IPv4,
``(host, port, flowinfo, scope_id)`` for IPv6."""

SO_RCVBUFFORCE: int = getattr(socket, "SO_RCVBUFFORCE", 33)
"""``SO_RCVBUF`` past ``net.core.rmem_max`` (Linux, needs ``CAP_NET_ADMIN``)."""

_POLICIES = ("embed", "raise", "warn")
_warned_rmem = False  # the receive-buffer WARNING is logged once per process


# -- addresses -----------------------------------------------------------------------------
def host_family(host: str) -> int | None:
    """``AF_INET``/``AF_INET6`` for an IP literal, ``None`` for a host name."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    return socket.AF_INET if ip.version == 4 else socket.AF_INET6


def is_multicast(host: str) -> bool:
    """Whether ``host`` is an IPv4 or IPv6 multicast address literal."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_multicast
    except ValueError:
        return False


def resolve(
    host: str, port: int, socktype: int, *, what: str, family: int = socket.AF_UNSPEC
) -> tuple[int, Address]:
    """``(family, sockaddr)`` of ``host`` and ``port`` (the first address the resolver
    gives; IP literals are not looked up).

    Raises:
        ConfigError: the host does not resolve (naming ``what``).
    """
    try:
        infos = socket.getaddrinfo(host, port, family, socktype)
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"{what}: cannot resolve host {host!r}: {exc}") from exc
    if not infos:  # pragma: no cover - getaddrinfo raises instead
        raise ConfigError(f"{what}: host {host!r} has no address")
    fam, _, _, _, sockaddr = infos[0]
    return fam, tuple(sockaddr)  # fam: a socket.AddressFamily (an int)


def wildcard(family: int) -> str:
    """The any-address of ``family``: ``0.0.0.0`` or ``::``."""
    return "::" if family == socket.AF_INET6 else "0.0.0.0"


def interface_spec(value: str | None, family: int, *, what: str) -> tuple[str | None, int]:
    """Read an ``interface`` option: ``(IPv4 address or None, interface index)``.

    The option names the interface by name (``"lo"``, ``"eth0"``), by index (``"1"``),
    or, for IPv4 only, by one of its addresses (``"127.0.0.1"``). ``None``: the kernel's
    choice (``(None, 0)``).

    Raises:
        ConfigError: no such interface, or an address given for IPv6.
    """
    if value is None:
        return None, 0
    text = value.strip()
    if host_family(text) == socket.AF_INET:
        if family != socket.AF_INET:
            raise ConfigError(
                f"{what}: an IPv6 socket names its multicast interface by name or index "
                f"(e.g. 'lo', 'eth0' or '1'), got the IPv4 address {value!r}"
            )
        return text, 0
    if host_family(text) is not None:
        raise ConfigError(
            f"{what}: give the interface by name or index (e.g. 'eth0' or '2'), "
            f"not by its IPv6 address {value!r}"
        )
    if text.isdigit():
        return None, int(text)
    try:
        return None, socket.if_nametoindex(text)
    except OSError as exc:
        raise ConfigError(f"{what}: there is no network interface named {value!r}") from exc


def join_group(
    sock: socket.socket, family: int, group: str, interface: str | None, *, what: str
) -> None:
    """Join the multicast ``group`` on ``interface`` (see :func:`interface_spec`).

    Raises:
        ConfigError: the kernel refused (no route for multicast on that interface...).
    """
    address, index = interface_spec(interface, family, what=what)
    try:
        if family == socket.AF_INET:
            if index:  # struct ip_mreqn: group, local address, interface index
                mreq = (
                    socket.inet_aton(group) + socket.inet_aton("0.0.0.0") + struct.pack("@i", index)
                )
            else:  # struct ip_mreq: group, local address
                mreq = socket.inet_aton(group) + socket.inet_aton(address or "0.0.0.0")
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        else:
            mreq6 = socket.inet_pton(socket.AF_INET6, group.split("%", 1)[0]) + struct.pack(
                "@I", index
            )
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq6)
    except OSError as exc:
        where = f" on interface {interface!r}" if interface else ""
        raise ConfigError(f"{what}: cannot join multicast group {group}{where}: {exc}") from exc


def set_multicast_sending(
    sock: socket.socket,
    family: int,
    *,
    interface: str | None,
    ttl: int,
    loop: bool,
    what: str,
) -> None:
    """Set how ``sock`` sends to multicast groups: the outgoing ``interface``, the
    ``ttl`` (hop limit) of multicast datagrams, and whether this host's own members of the
    group get a copy (``loop``).

    Raises:
        ConfigError: no such interface, or the kernel refused a value.
    """
    address, index = interface_spec(interface, family, what=what)
    try:
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, int(loop))
            if address is not None:
                sock.setsockopt(
                    socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address)
                )
            elif index:  # struct ip_mreqn with only the index set
                mreqn = bytes(8) + struct.pack("@i", index)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, int(loop))
            if index:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
    except OSError as exc:
        raise ConfigError(f"{what}: cannot set the multicast options: {exc}") from exc


def set_unicast_ttl(sock: socket.socket, family: int, ttl: int | None) -> None:
    """Set the time to live (IPv6: hop limit) of the unicast packets ``sock`` sends;
    ``None``: leave the system's default."""
    if ttl is None:
        return
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)


def set_receive_buffer(sock: socket.socket, size: int, *, where: str, log: logging.Logger) -> int:
    """Give ``sock`` a receive buffer of ``size`` bytes (``SO_RCVBUF``); return what the
    kernel reports (on Linux twice the usable size, for its bookkeeping).

    The kernel caps ``SO_RCVBUF`` at ``net.core.rmem_max``; when it did, and the process
    may (``CAP_NET_ADMIN``, e.g. root), ``SO_RCVBUFFORCE`` sets the size past the cap. When
    the buffer is still smaller than asked, one WARNING per process says so and names the
    sysctl to raise.
    """
    global _warned_rmem
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    wanted = size * 2 if sys.platform.startswith("linux") else size
    if got >= wanted:
        return int(got)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
    except OSError:  # no CAP_NET_ADMIN (EPERM), or not Linux
        pass
    else:
        got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    if got < wanted:
        usable = got // 2 if sys.platform.startswith("linux") else got
        message = (
            "%s: the kernel capped the receive buffer at %d bytes (%d asked, option "
            "'rcvbuf'): bursts may be dropped. Raise the cap with "
            "'sysctl -w net.core.rmem_max=%d', or run with CAP_NET_ADMIN"
        )
        if not _warned_rmem:
            _warned_rmem = True
            log.warning(message, where, usable, size, size)
        else:
            log.debug(message, where, usable, size, size)
    return int(got)


def check_policy(policy: str) -> None:
    """Refuse an unknown header policy (ConfigError)."""
    if policy not in _POLICIES:
        raise ConfigError(f"option 'headers' must be one of {', '.join(_POLICIES)}, got {policy!r}")


# -- the gate: sends, the reader and close ------------------------------------------------
class SocketGate:
    """Who is inside a call on one socket, so that closing never pulls the descriptor
    from under them.

    :meth:`enter`/:meth:`leave` bracket each use (a ``send``, the reader thread's life).
    :meth:`close` shuts the socket down — a blocked ``recv`` returns and a blocked
    ``send`` fails with ``EPIPE`` at once — waits a bounded time for the users to leave,
    and closes the descriptor; when a user is still inside (close was called from a
    signal handler that interrupted a send on the same thread), the last :meth:`leave`
    closes it. Its lock is only ever held for a few instructions, and :meth:`close` takes
    it with a bounded wait, so a signal handler may call it.
    """

    __slots__ = ("_closing", "_done", "_lock", "_users", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        """The socket."""
        self._lock = threading.Lock()
        self._users = 0
        self._closing = False
        self._done = threading.Event()  # set when the descriptor is closed

    @property
    def closing(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closing

    def enter(self) -> bool:
        """Register a user; ``False`` (not registered) once closing."""
        with self._lock:
            if self._closing:
                return False
            self._users += 1
            return True

    def leave(self) -> None:
        """Unregister a user; the last one out after :meth:`close` closes the socket."""
        with self._lock:
            self._users -= 1
            last = self._closing and self._users == 0
        if last:
            self._release()

    def shutdown(self, how: int = socket.SHUT_RDWR) -> None:
        """Shut the socket down (``how``) without closing it: a blocked ``recv`` returns
        at once. Unconnected datagram sockets report ``ENOTCONN`` but are shut all the
        same."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(how)

    def close(self, wait: float = 2.0) -> None:
        """Shut the socket down and close it once nobody uses it (waiting up to ``wait``
        seconds here; else the last user closes it). Idempotent."""
        got = self._lock.acquire(timeout=0.05)
        try:
            if self._closing:
                return
            self._closing = True
            idle = self._users == 0
        finally:
            if got:
                self._lock.release()
        self.shutdown()
        if idle:
            self._release()
        else:
            self._done.wait(wait)

    def _release(self) -> None:
        if self._done.is_set():
            return
        self._done.set()
        with contextlib.suppress(OSError):
            self.sock.close()


# -- envelopes -----------------------------------------------------------------------------
class DatagramEnvelopeWriter(core.EnvelopeWriter):
    """An outgoing datagram: the base of ``udp.EnvelopeWriter`` and ``ip.EnvelopeWriter``,
    which add the checks of their address form (:meth:`_address`) and name their
    ``MessageBindings`` (:attr:`~syncapi.EnvelopeWriter.message_bindings`)."""

    __slots__ = ("_remote_addr",)

    def __init__(
        self,
        payload: core.Payload = b"",
        *,
        headers: Any = None,
        content_type: str | None = None,
        bindings: Any = None,
    ) -> None:
        super().__init__(payload, headers=headers, content_type=content_type, bindings=bindings)
        self._remote_addr: Address | None = None

    @classmethod
    def _address(cls, addr: object) -> Address:
        """Hook: ``addr`` checked and in the form ``sendto`` takes (ConfigError if bad)."""
        raise NotImplementedError

    def set_remote_addr(self, addr: Any) -> None:
        """Send this envelope to ``addr`` instead of the publisher's peer (``None``: the
        peer again)."""
        self._remote_addr = None if addr is None else self._address(addr)

    @property
    def remote_addr(self) -> Address | None:
        """Where this envelope goes instead of the publisher's peer, or ``None``."""
        return self._remote_addr


# -- sending -------------------------------------------------------------------------------
class DatagramSender:
    """Sends envelopes as datagrams on one socket: the header policy, the size limit,
    the send timeout and the error mapping. Thread-safe (no lock around ``sendto``: the
    kernel keeps each datagram whole).

    Args:
        gate: the socket and its :class:`SocketGate`.
        policy: the header policy (``"embed"``, ``"raise"``, ``"warn"``).
        limit: the largest datagram in bytes, after headers are embedded.
        where: names the sender in errors and logs.
        timeout: the socket's send timeout (``SO_SNDTIMEO``) in seconds.
        noun: what one message is called in errors (``"datagram"``, ``"packet"``).
    """

    def __init__(
        self,
        gate: SocketGate,
        *,
        policy: HeaderPolicy,
        limit: int,
        where: str,
        timeout: float,
        noun: str = "datagram",
    ) -> None:
        self.noun = noun
        self.gate = gate
        self.policy: HeaderPolicy = policy
        self.limit = limit
        self.where = where
        self.timeout = timeout
        self._warned = [False]
        set_send_timeout(gate.sock, timeout)

    def encode(self, env: core.EnvelopeWriter) -> bytes:
        """The wire bytes of ``env`` under the header policy (not checked for size).

        Raises:
            ConfigError: header policy ``"raise"`` and an envelope with headers.
        """
        data = env.payload
        if (
            self.policy == "embed"
            and env._headers is None
            and env._content_type is None
            and data[:4] != EMBED_MAGIC
        ):
            return data  # the usual datagram: as it is (no call, no copy)
        return apply_header_policy(
            self.policy,
            env._headers,
            env._content_type,
            data,
            where=self.where,
            warned=self._warned,
        )

    def _too_large(
        self, envelopes: Sequence[core.EnvelopeWriter], culprit: core.EnvelopeWriter, size: int
    ) -> None:
        grown = "" if size == len(culprit) else f" ({len(culprit)} of payload, headers embedded)"
        reason = f"{size} bytes{grown}: over the {self.limit}-byte {self.noun} limit"
        failures: list[tuple[Any, BaseException | str]] = [
            (
                env,
                reason if env is culprit else "not sent: another envelope of the call is too large",
            )
            for env in envelopes
        ]
        raise MessageTooLarge(
            f"{self.where}: a {self.noun} of {reason}; nothing of this send was sent", failures
        )

    def send_bare(
        self, data: bytes, target: Address, wrap: Callable[[bytes], core.EnvelopeWriter]
    ) -> bool:
        """Send one payload without headers as it is, the short way (no envelope is
        made unless it fails: ``wrap`` makes the one the error names). ``False``: it needs
        the long way (:meth:`send`): over the limit, or, under the ``"embed"`` policy,
        starting with the embed magic.

        Raises:
            ClosedError, TimeoutError, SendError, MessageTooLarge: as :meth:`send`.
        """
        if len(data) > self.limit or (self.policy == "embed" and data[:4] == EMBED_MAGIC):
            return False
        gate = self.gate
        if not gate.enter():
            raise ClosedError(f"{self.where} is closed")
        try:
            gate.sock.sendto(data, target)
        except OSError as exc:
            self._failed(exc, [wrap(data)], 0, [data], [target])
        finally:
            gate.leave()
        return True

    def send(
        self,
        envelopes: Sequence[core.EnvelopeWriter],
        default: Address | None,
        timeout: float | None,
        *,
        own_addresses: bool = True,
    ) -> None:
        """Send each envelope to its own ``remote_addr`` (when ``own_addresses``) or to
        ``default``; return when the kernel took every datagram.

        Every envelope is encoded and checked before the first is sent: one over the
        limit (or without a destination) fails the call with nothing sent. ``timeout``
        (seconds) bounds the call as a whole, checked between datagrams; each ``sendto``
        is bounded by the socket's send timeout.

        Raises:
            ClosedError: the socket is closed.
            MessageTooLarge: a datagram over the limit (nothing sent), or the kernel
                refused one as too long (``EMSGSIZE``).
            ConfigError: an envelope with nowhere to go; headers under policy ``"raise"``.
            TimeoutError: ``timeout`` passed, or one ``sendto`` could not go on for the
                send timeout.
            SendError: the kernel refused a datagram (``failures`` names it and every
                envelope after it, none of which was sent).
        """
        limit = self.limit
        datagrams: list[bytes] = []
        targets: list[Address] = []
        for env in envelopes:
            data = self.encode(env)
            if len(data) > limit:
                self._too_large(envelopes, env, len(data))
            target = (
                cast(DatagramEnvelopeWriter, env)._remote_addr if own_addresses else None
            ) or default
            if target is None:
                raise ConfigError(
                    f"{self.where}: an envelope has no remote_addr and there is no peer to "
                    "send it to; call env.set_remote_addr(...)"
                )
            datagrams.append(data)
            targets.append(target)
        gate = self.gate
        if not gate.enter():
            raise ClosedError(f"{self.where} is closed")
        i = 0
        try:
            sendto = gate.sock.sendto
            if len(datagrams) == 1:
                sendto(datagrams[0], targets[0])
                return
            deadline = None if timeout is None else time.monotonic() + timeout
            for i, data in enumerate(datagrams):
                if deadline is not None and i and time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"{self.where}: timeout={timeout} passed after {i} of "
                        f"{len(datagrams)} {self.noun}s; the rest were not sent"
                    )
                sendto(data, targets[i])
        except TimeoutError:
            raise
        except OSError as exc:
            self._failed(exc, envelopes, i, datagrams, targets)
        except (TypeError, UnicodeError) as exc:  # an address sendto cannot take
            raise SendError(
                f"{self.where}: cannot send to {targets[i]!r} ({exc}); it must be an "
                f"address of this socket's family ({'IPv6' if gate.sock.family == socket.AF_INET6 else 'IPv4'})",
                [(env, "not sent") for env in envelopes[i:]],
            ) from exc
        finally:
            gate.leave()

    def _failed(
        self,
        exc: OSError,
        envelopes: Sequence[core.EnvelopeWriter],
        i: int,
        datagrams: list[bytes],
        targets: list[Address],
    ) -> None:
        """Raise the error of a ``sendto`` that failed on the ``i``-th datagram."""
        if isinstance(exc, BlockingIOError):  # SO_SNDTIMEO ran out
            raise TimeoutError(
                f"{self.where}: the kernel took no {self.noun} for {self.timeout} s (option "
                f"'timeout'); {len(datagrams) - i} of {len(datagrams)} not sent"
            ) from exc
        if self.gate.closing:
            raise ClosedError(f"{self.where} was closed during the send") from exc
        failures: list[tuple[Any, BaseException | str]] = [(envelopes[i], exc)]
        failures += [(env, "not sent") for env in envelopes[i + 1 :]]
        shown = format_address(str(targets[i][0]), targets[i][1])
        if exc.errno == errno.EMSGSIZE:
            raise MessageTooLarge(
                f"{self.where}: the kernel refused a {self.noun} of {len(datagrams[i])} bytes "
                f"to {shown} as too long: {exc}",
                failures,
            ) from exc
        raise SendError(
            f"{self.where}: sending to {shown} failed: {exc}; "
            f"{len(failures)} of {len(datagrams)} not sent",
            failures,
        ) from exc


# -- receiving -----------------------------------------------------------------------------
ReadBatch = Callable[[], "list[Any] | None"]
"""Reads one batch of datagrams: blocks for the first, takes the queued rest without
blocking; ``None`` once the socket is shut down."""


Deliver = Callable[[list[Any], threading.Event], bool]
"""Hands one batch over (``InboxSubscriber._offer``): runs it on the reader thread when
the receive loop is idle, else queues it in the inbox, waiting while the inbox is full
(until the event is set); ``False`` once the inbox is finished."""


class ReaderThread:
    """The thread that reads one socket for a subscriber.

    It repeats ``read_batch()`` and hands each batch over in one ``deliver`` call: to the
    inbox in one :meth:`~syncapi.inbox.Inbox.put_many`, or — when a one-worker loop is
    idle — straight to the callbacks, on this thread (no hand-off between threads). While
    the inbox is full or callbacks run here, nothing is read: the kernel's receive buffer
    takes (and then drops) what comes meanwhile. It stops when the socket is shut down
    (:meth:`stop`); an ``OSError`` from ``recv`` is logged and read past (a datagram
    socket has no connection to lose).
    """

    def __init__(
        self,
        gate: SocketGate,
        inbox: Inbox,
        read_batch: ReadBatch,
        deliver: Deliver,
        *,
        name: str,
        where: str,
        log: logging.Logger,
    ) -> None:
        self._gate = gate
        self._inbox = inbox
        self._read_batch = read_batch
        self._deliver = deliver
        self._where = where
        self._log = log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._entered = False

    def start(self) -> None:
        """Start reading.

        Raises:
            ClosedError: the socket is closed.
        """
        if not self._gate.enter():
            raise ClosedError(f"{self._where}: the socket is closed")
        self._entered = True
        try:
            self._thread.start()
        except BaseException:
            self._leave()
            raise

    @property
    def alive(self) -> bool:
        """Whether the thread still runs."""
        return self._thread.is_alive()

    @property
    def current(self) -> bool:
        """Whether the calling thread is this reader (running a callback pushed to it)."""
        return threading.current_thread() is self._thread

    def stop(self, timeout: float = 2.0) -> None:
        """Stop reading: end a wait for room in the inbox, shut the socket's receiving
        down (a blocked ``recv`` returns at once) and join the thread, up to ``timeout``
        seconds (not when called from the thread itself). Signal-safe: it waits for no
        lock."""
        self._stop.set()
        self._inbox.finish()
        self._gate.shutdown(socket.SHUT_RD)
        thread = self._thread
        if thread.ident is not None and threading.current_thread() is not thread:
            thread.join(timeout)

    def _leave(self) -> None:
        if self._entered:
            self._entered = False
            self._gate.leave()

    def _run(self) -> None:
        read_batch, deliver, stop = self._read_batch, self._deliver, self._stop
        errors = 0
        ended = "the socket was shut down"  # why the reader ends, if not by stop()
        try:
            while not stop.is_set():
                try:
                    batch = read_batch()
                except OSError as exc:
                    if stop.is_set():
                        break
                    if exc.errno in (errno.EBADF, errno.ENOTSOCK):
                        ended = f"the socket is gone ({exc})"
                        break
                    errors += 1
                    level = logging.WARNING if errors == 1 or errors % 1000 == 0 else logging.DEBUG
                    self._log.log(
                        level, "%s: receive failed (%d so far): %s", self._where, errors, exc
                    )
                    time.sleep(0.001)
                    continue
                if batch is None:  # shut down
                    break
                if batch and not deliver(batch, stop):
                    break
            if not stop.is_set():  # not by stop(): the receive loops must not wait forever
                self._log.warning("%s: the reader ended: %s", self._where, ended)
                self._inbox.finish(ReceiveError(f"{self._where}: the reader ended: {ended}"))
        except BaseException as exc:  # a bug must not leave the receive loop waiting forever
            self._log.exception("%s: the reader failed", self._where)
            error = ReceiveError(f"{self._where}: the reader failed: {exc}")
            error.__cause__ = exc
            self._inbox.finish(error)
        finally:
            self._leave()


class DatagramSubscriber(InboxSubscriber):
    """A subscriber that reads one datagram socket (a consumer's bound socket, or a UDP
    publisher's own): a :class:`ReaderThread` fills the inbox; :meth:`_readers` (the
    protocol's) makes the envelopes.

    Callbacks may run on several threads (``start(workers=N)`` runs N fetching loops:
    datagrams have no order to keep). A callback that raises is logged and the datagram
    dropped (``on_error="reject"``): there is no redelivery.
    """

    concurrent_fetch = True
    default_on_error = "reject"

    def __init__(
        self,
        channel: str,
        *,
        bindings: Any,
        operation_bindings: Any,
        gate: SocketGate,
        sender: DatagramSender,
        max_pending: int,
        embedded: bool,
        thread_name: str,
        where: str,
        log: logging.Logger,
    ) -> None:
        super().__init__(channel, bindings=bindings, operation_bindings=operation_bindings)
        self._gate = gate
        self._sock = gate.sock
        # whether more waits after a read: a poll(0) costs less than the failing
        # non-blocking read (and its exception) that would end every small batch
        self._more = select.poll()
        self._more.register(gate.sock, select.POLLIN)
        self._sender = sender
        self._embedded = embedded
        self._where = where
        self._log = log
        self._inbox = Inbox(max_pending)
        self._batch = max(1, min(64, max_pending))
        self._reader = ReaderThread(
            gate,
            self._inbox,
            self._read_batch,
            self._offer,
            name=thread_name,
            where=where,
            log=log,
        )
        self._reader.start()

    def _read_batch(self) -> list[Any] | None:
        """Hook: read one batch (see :data:`ReadBatch`)."""
        raise NotImplementedError

    def socket_wait(self) -> float:
        """How long closing the socket may wait for its users: not at all on the reader
        thread itself (a callback that closes its consumer or publisher), which is one of
        them and leaves, closing the socket, when the callback returns."""
        return 0.0 if self._reader.current else 2.0

    def _close(self) -> None:
        self._reader.stop()
        dropped = self._inbox.drop()
        if dropped:
            self._log.debug("%s: %d received datagrams dropped at close", self._where, dropped)

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<{type(self).__module__}.{type(self).__name__} {self._channel!r} {self._where}{state}>"


def send_reply(
    subscriber: object,
    cls: type[core.EnvelopeWriter],
    envelopes: Sequence[core.EnvelopeWriter | core.Payload],
    addr: Address,
    timeout: float | None,
) -> None:
    """Send ``envelopes`` (``bytes``/``str`` made ``cls`` envelopes) to ``addr`` through
    the socket ``subscriber`` reads, ignoring their own ``remote_addr``: what the
    protocols' ``EnvelopeReader.reply`` does.

    Raises:
        ConfigError: ``subscriber`` is not a :class:`DatagramSubscriber` (the envelope was
            not received); a bad ``timeout``; an envelope of another protocol.
        ClosedError, MessageTooLarge, SendError, TimeoutError: as :meth:`DatagramSender.send`.
    """
    if not isinstance(subscriber, DatagramSubscriber):
        raise ConfigError("this envelope was not received by a subscriber: it cannot reply")
    if timeout is not None:
        core.check_timeout(timeout)
    subscriber._sender.send(
        core.as_envelopes(subscriber, cls, envelopes), addr, timeout, own_addresses=False
    )


def check_channel_bindings(
    protocol: str,
    bindings: object,
    operation_bindings: object,
    security: object,
    channel_cls: type[Bindings],
    operation_cls: type[Bindings],
) -> tuple[Any, Any]:
    """The channel and operation bindings as ``channel_cls`` and ``operation_cls`` (a
    document dict is parsed with ``from_dict``).

    Raises:
        ConfigError: bindings of another protocol, a bad dict, or a security scheme.
    """
    coerced = coerce_channel_bindings(channel_cls, operation_cls, bindings, operation_bindings)
    if security is not None:
        raise ConfigError(
            f"{protocol} has no security schemes (no handshake, no credentials); pass security=None"
        )
    return coerced


def check_no_subscriber(
    existing: core.Subscriber | None, where: str, *, socket_kind: str, other: str
) -> None:
    """Refuse a second subscriber on a datagram consumer: one consumer is one bound
    socket (``socket_kind``), read by one subscriber.

    Raises:
        ConfigError: ``existing`` is set; the message says whether it was closed (which
            shut the socket's receiving) and what to make instead (``other``).
    """
    if existing is None:
        return
    state = (
        "it was closed, and with it the socket's receiving"
        if existing.closed
        else f"it is {existing.channel!r}"
    )
    raise ConfigError(
        f"{where} already has its subscriber ({state}): one consumer is one {socket_kind}, "
        f"read by one subscriber; make another Consumer ({other}) for another channel"
    )


# -- endpoints: what the protocols' producers, publishers and consumers share -------------
_SubscriberT = TypeVar("_SubscriberT", bound=DatagramSubscriber)
_EnvelopeT = TypeVar("_EnvelopeT", bound=DatagramEnvelopeWriter)
_PublisherT = TypeVar("_PublisherT", bound="DatagramPublisher[Any]")
_OptionsT = TypeVar("_OptionsT", bound="_ReaderOptions")


class _SenderOptions(Protocol):
    """What :meth:`DatagramSocket._use_socket` reads of a producer's or consumer's options."""

    @property
    def headers(self) -> HeaderPolicy: ...
    @property
    def timeout(self) -> float: ...


class _ReaderOptions(_SenderOptions, Protocol):
    """What :meth:`DatagramSocket._new_reader` reads of them."""

    @property
    def max_pending(self) -> int: ...


class DatagramSocket:
    """The one socket of a datagram publisher or consumer: its :class:`SocketGate`, the
    :class:`DatagramSender` on it and the :class:`DatagramSubscriber` reading it.

    A mixin of :class:`DatagramPublisher` and :class:`DatagramConsumer`. The protocol's
    class names its logger (:attr:`_log`) and what one message is called in errors
    (:attr:`_noun`); its ``__init__`` sets ``_where`` before :meth:`_use_socket`.
    """

    _log: ClassVar[logging.Logger]
    """The protocol's logger, handed to its subscribers (a class that makes none, such as
    a publisher that receives no replies, may leave it unset)."""
    _noun: ClassVar[str] = "datagram"
    """What one message is called in errors (see :class:`DatagramSender`)."""
    _scheme: str  # names the reader threads: syncapi-<scheme>-read-<channel>
    _where: str
    _gate: SocketGate
    _sender: DatagramSender

    def _use_socket(self, sock: socket.socket, options: _SenderOptions, limit: int) -> None:
        """Keep ``sock``, with its gate and its sender (``limit``: the largest message in
        bytes): the last step of setting it up, inside the ``try`` that closes the socket
        if a step fails (setting the send timeout may)."""
        self._gate = SocketGate(sock)
        self._sender = DatagramSender(
            self._gate,
            policy=options.headers,
            limit=limit,
            where=self._where,
            timeout=options.timeout,
            noun=self._noun,
        )

    def _new_reader(
        self,
        cls: type[_SubscriberT],
        channel: str,
        bindings: Any,
        operation_bindings: Any,
        options: _ReaderOptions,
        **extra: Any,
    ) -> _SubscriberT:
        """A ``cls`` that reads this socket and replies through it, its reader thread
        started; ``extra``: the protocol's own arguments."""
        return cls(
            channel,
            bindings=bindings,
            operation_bindings=operation_bindings,
            gate=self._gate,
            sender=self._sender,
            max_pending=options.max_pending,
            embedded=options.headers == "embed",
            thread_name=f"syncapi-{self._scheme}-read-{channel}",
            where=self._where,
            log=self._log,
            **extra,
        )

    def _close_socket(self, subscriber: DatagramSubscriber | None, timeout: float) -> None:
        """Close ``subscriber`` (waiting up to ``timeout`` seconds for its callbacks),
        then the socket: see :meth:`DatagramSubscriber.socket_wait`."""
        wait = 2.0
        if subscriber is not None:
            subscriber.close(timeout=timeout)
            wait = subscriber.socket_wait()
        self._gate.close(wait)


def _checked(
    endpoint: DatagramProducer[Any] | DatagramConsumer[Any, Any],
    bindings: object,
    operation_bindings: object,
    security: object,
) -> tuple[Any, Any]:
    """The bindings of a channel ``endpoint`` opens, as its protocol's classes (see
    :func:`check_channel_bindings`)."""
    return check_channel_bindings(
        endpoint.scheme, bindings, operation_bindings, security, *endpoint._binding_types
    )


class DatagramProducer(core.Producer[_PublisherT]):
    """The base of ``udp.Producer`` and ``ip.Producer``: the peer every publisher sends
    to. The protocol's ``__init__`` resolves ``_peer``; its class names
    its bindings (:attr:`_binding_types`) and its publisher (:attr:`_publisher_class`)."""

    _binding_types: ClassVar[tuple[type[Bindings], type[Bindings]]]
    """The protocol's ``ChannelBindings`` and ``OperationBindings``."""
    _publisher_class: type[_PublisherT]
    """The protocol's ``Publisher``."""
    _peer: Address

    def _open_publisher(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> _PublisherT:
        bindings, operation_bindings = _checked(self, bindings, operation_bindings, security)
        if self._closed:
            raise ClosedError(f"{self!r} is closed")
        return self._publisher_class(self, channel, bindings, operation_bindings)


class DatagramPublisher(DatagramSocket, core.Publisher[_EnvelopeT]):
    """The base of ``udp.Publisher`` and ``ip.Publisher``: one socket that sends to the
    producer's peer. The protocol's ``__init__`` opens the socket, sets it up and keeps
    it (:meth:`_use_socket`)."""

    def __init__(
        self,
        producer: DatagramProducer[Any],
        channel: str,
        bindings: Any,
        operation_bindings: Any,
    ) -> None:
        super().__init__(channel, bindings=bindings, operation_bindings=operation_bindings)
        self._scheme = producer.scheme
        self._peer = producer._peer

    def _send(self, envelopes: Sequence[core.EnvelopeWriter], timeout: float | None) -> None:
        self._sender.send(envelopes, self._peer, timeout)

    def _close(self) -> None:
        self._gate.close()

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<syncapi.{self._scheme}.Publisher {self._where}{state}>"


class DatagramConsumer(
    DatagramSocket, core.Consumer[_SubscriberT], Generic[_SubscriberT, _OptionsT]
):
    """The base of ``udp.Consumer`` and ``ip.Consumer``: one bound socket, read by one
    subscriber. The protocol's ``__init__`` resolves its options (``_options``), opens,
    sets up and binds the socket and keeps it (:meth:`_use_socket`); its class names its
    bindings, its subscriber and what its one-subscriber error says (class attributes).
    """

    _binding_types: ClassVar[tuple[type[Bindings], type[Bindings]]]
    """The protocol's ``ChannelBindings`` and ``OperationBindings``."""
    _subscriber_class: type[_SubscriberT]
    """The protocol's ``Subscriber``."""
    _socket_kind: ClassVar[str]
    """What one consumer is, for the one-subscriber error: ``"bound socket"``..."""
    _other: ClassVar[str]
    """What to make a consumer for instead, for the same error: ``"another port"``..."""
    _options: _OptionsT

    def __init__(self, url: ServerURL | str) -> None:
        super().__init__(url)
        self._scheme = self.scheme
        self._subscriber: _SubscriberT | None = None
        self._sub_lock = threading.Lock()

    @property
    @abstractmethod
    def bound_url(self) -> str:
        """The URL of the bound socket, for a producer."""

    def _subscriber_extras(self) -> dict[str, Any]:
        """Hook: the protocol's own arguments of its subscriber (none)."""
        return {}

    def _open_subscriber(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> _SubscriberT:
        bindings, operation_bindings = _checked(self, bindings, operation_bindings, security)
        with self._sub_lock:
            check_no_subscriber(
                self._subscriber, self._where, socket_kind=self._socket_kind, other=self._other
            )
            sub = self._new_reader(
                self._subscriber_class,
                channel,
                bindings,
                operation_bindings,
                self._options,
                **self._subscriber_extras(),
            )
            self._subscriber = sub
        return sub

    def _close(self) -> None:
        # the subscriber is closed by core.Consumer.close() already, normally
        self._close_socket(self._subscriber, 0)

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<syncapi.{self.scheme}.Consumer {self.bound_url}{state}>"
