"""The abstract model every protocol implements.

=====================  ==========================  =============================================
AsyncAPI term          syncapi class               what it is
=====================  ==========================  =============================================
Server                 :class:`Producer`,          a connection to a server (or a listener for
                       :class:`Consumer`           brokerless protocols), made from a URL
Channel                :class:`Publisher`,         a channel in that connection: a topic, a
                       :class:`Subscriber`         queue, an HTTP path, a WebSocket connection
Message + protocol     :class:`EnvelopeWriter`,    payload + headers + content type + protocol
                       :class:`EnvelopeReader`     extras
=====================  ==========================  =============================================

A protocol implementation subclasses these and fills in the *hooks* (the methods whose
names start with one underscore and that are documented as hooks): ``_open_publisher``,
``_open_subscriber``, ``_send``, ``_fetch``, ``_ack``, ``_nack``, ``_interrupt``,
``_keepalive`` and ``_close``. Everything else — argument checks, the closed state, the
context managers, the receive loops and their threads — lives here and in
:mod:`syncapi.runtime`, once for all protocols.

Thread-safety contract (true of every protocol, documented again per class):

* :class:`Producer` and :meth:`Publisher.send` may be called from many threads at once.
* A :class:`Subscriber`'s receive loop is owned by its worker threads; :meth:`close` and
  :meth:`~syncapi.runtime.Worker.stop` may be called from any thread (or a signal
  handler) and return within a bounded time.
"""

from __future__ import annotations

import threading
import time
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic

from .bindings import Bindings
from .errors import ClosedError, ConfigError, ReceiveError, SyncapiError
from .headers import Headers, HeadersLike

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

    from .runtime import AckMode, ErrorPolicy, Worker
    from .servers import ServerURL

# The type parameters that let a protocol's classes say what they make, so that typed
# code reaches the protocol's extras without a cast: kafka.Producer().publisher() is a
# kafka.Publisher, whose envelope() is a kafka.EnvelopeWriter. Each defaults to the base
# class, so a bare ``Producer`` means ``Producer[Publisher]``. The defaults (PEP 696) are
# for type checkers only; Python before 3.13 has no ``default=`` at run time.
if TYPE_CHECKING:
    from typing_extensions import TypeVar

    EnvelopeT = TypeVar(
        "EnvelopeT", bound="EnvelopeWriter", default="EnvelopeWriter", covariant=True
    )
    PublisherT = TypeVar("PublisherT", bound="Publisher", default="Publisher", covariant=True)
    SubscriberT = TypeVar("SubscriberT", bound="Subscriber", default="Subscriber", covariant=True)
else:
    EnvelopeT = typing.TypeVar("EnvelopeT", bound="EnvelopeWriter", covariant=True)
    PublisherT = typing.TypeVar("PublisherT", bound="Publisher", covariant=True)
    SubscriberT = typing.TypeVar("SubscriberT", bound="Subscriber", covariant=True)

__all__ = [
    "Capabilities",
    "Closable",
    "Consumer",
    "EnvelopeReader",
    "EnvelopeWriter",
    "Payload",
    "Producer",
    "Publisher",
    "Subscriber",
]

Payload = bytes | bytearray | memoryview | str
"""What a payload may be given as; ``str`` is encoded as UTF-8."""


def _to_bytes(data: object, what: str = "payload") -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8")
    raise ConfigError(
        f"{what} must be bytes, bytearray, memoryview or str, got {type(data).__name__}"
    )


_FOREVER = 1e9  # seconds (31 years): the system calls' limits are not far above


def check_timeout(timeout: object, what: str = "timeout") -> None:
    """Refuse a timeout that is not ``None`` or a number of seconds >= 0 (ConfigError)."""
    if timeout is None:
        return
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 <= timeout < _FOREVER
    ):
        raise ConfigError(
            f"{what} must be a number of seconds >= 0 (finite; None for no limit), got {timeout!r}"
        )


@dataclass(frozen=True)
class Capabilities:
    """What a protocol can do; the conformance kit skips a scenario the flags rule out.

    Attributes:
        ordered: messages on one channel arrive in the order they were sent.
        persistent: messages wait for a subscriber, and a re-created subscriber (same
            group) continues where the last one stopped.
        consumer_groups: subscribers sharing a group share the messages; different groups
            each get everything.
        headers: headers and content type travel (natively or embedded).
        redelivery: a nacked message is delivered again.
        brokerless: there is no broker: the consumer must be listening before the
            producer sends (HTTP, WebSocket, TCP, UDP, IP).
        reliable: every message sent arrives (False for UDP and raw IP).
        max_payload: the largest payload in bytes the protocol carries by default
            (``None``: no fixed limit).
    """

    ordered: bool = True
    persistent: bool = False
    consumer_groups: bool = False
    headers: bool = True
    redelivery: bool = False
    brokerless: bool = False
    reliable: bool = True
    max_payload: int | None = None


class Closable:
    """Base of every object that holds a resource.

    :meth:`close` is idempotent and thread-safe, and the object is a context manager that
    closes on exit. Subclasses put their clean-up in :meth:`_close`, which runs once.
    """

    _closed: bool = False
    _close_lock: threading.RLock

    def __init__(self) -> None:
        self._closed = False
        # re-entrant: close() may run in a signal handler that interrupted a close()
        self._close_lock = threading.RLock()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    def close(self) -> None:
        """Release the resource. Safe to call more than once and from any thread."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._close()

    def _close(self) -> None:
        """Hook: release what the object holds. Called once, by :meth:`close`."""

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"{self!r} is closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- envelopes -----------------------------------------------------------------------------
class EnvelopeWriter:
    """An outgoing message: payload bytes, headers, content type and protocol extras.

    File-like: :meth:`write` appends to the payload and :meth:`read` reads it back. Build
    one directly or with :meth:`Publisher.envelope`; protocols subclass it to add their
    extras (``set_key``, ``set_routing_key``...).

    An envelope is not thread-safe; build it in one thread, then send it from any.
    Sending does not consume it: the same envelope can be sent again.
    """

    __slots__ = ("_bindings", "_buf", "_content_type", "_headers", "_pos")

    message_bindings: ClassVar[type[Bindings] | None] = None
    """The protocol's ``MessageBindings`` class. When set, ``bindings`` given to the
    constructor or :meth:`set_bindings` are coerced to it (a document dict is parsed with
    ``from_dict``; any other type is a :class:`~syncapi.errors.ConfigError`). ``None``
    (the default, for protocols without bindings) stores them as given."""

    def __init__(
        self,
        payload: Payload = b"",
        *,
        headers: HeadersLike | None = None,
        content_type: str | None = None,
        bindings: Any = None,
    ) -> None:
        # bytes until the first write(), so that building and sending an envelope from
        # a bytes payload copies nothing; a bytearray once it is appended to
        self._buf: bytes | bytearray = payload if type(payload) is bytes else _to_bytes(payload)
        self._pos = 0
        self._headers: Headers | None = Headers.of(headers) if headers else None
        self._content_type: str | None = None
        if content_type is not None:
            self.set_content_type(content_type)
        self._bindings: Any = None
        if bindings is not None:
            self.set_bindings(bindings)

    # file-like
    def write(self, data: Payload) -> int:
        """Append ``data`` to the payload; return the number of bytes written."""
        chunk = _to_bytes(data, "data")
        if type(self._buf) is bytes:
            self._buf = bytearray(self._buf)
        self._buf += chunk
        return len(chunk)

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes of the payload (all that is left when negative)."""
        end = len(self._buf) if size is None or size < 0 else self._pos + size
        chunk = bytes(self._buf[self._pos : end])
        self._pos += len(chunk)
        return chunk

    def seek(self, position: int) -> int:
        """Move the read position to ``position`` (from the start); return it."""
        if position < 0:
            raise ConfigError(f"seek position must be >= 0, got {position}")
        self._pos = position
        return position

    def reset_payload(self) -> None:
        """Empty the payload (headers, content type and extras are kept)."""
        self._buf = b""
        self._pos = 0

    def set_headers(self, headers: HeadersLike | None) -> None:
        """Replace all headers (``None`` removes them)."""
        self._headers = Headers.of(headers) if headers else None

    def set_content_type(self, content_type: str | None) -> None:
        """Set the payload's media type, e.g. ``"application/json"`` (``None`` unsets)."""
        if content_type is not None and not isinstance(content_type, str):
            raise ConfigError(f"content type must be a str, got {type(content_type).__name__}")
        self._content_type = content_type

    def set_bindings(self, bindings: Any) -> None:
        """Set the protocol's message bindings for this envelope: its ``MessageBindings``,
        or their document dict (parsed with ``from_dict``); ``None`` removes them. (A
        protocol that names no :attr:`message_bindings` stores what it is given.)

        Raises:
            ConfigError: bindings of another type (e.g. another protocol's), or a dict
                the protocol's ``MessageBindings`` refuse.
        """
        kind = self.message_bindings
        self._bindings = bindings if kind is None else kind.coerce(bindings)

    @property
    def payload(self) -> bytes:
        """The whole payload as ``bytes``."""
        buf = self._buf
        return buf if type(buf) is bytes else bytes(buf)

    @property
    def headers(self) -> Headers:
        """The headers (live: changing them changes the envelope)."""
        if self._headers is None:
            self._headers = Headers()
        return self._headers

    @property
    def has_headers(self) -> bool:
        """Whether any header is set (without creating an empty :class:`Headers`)."""
        return bool(self._headers)

    @property
    def content_type(self) -> str | None:
        """The payload's media type, or ``None``."""
        return self._content_type

    @property
    def bindings(self) -> Any:
        """The message bindings set with :meth:`set_bindings`, or ``None``."""
        return self._bindings

    def __len__(self) -> int:
        return len(self._buf)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self._buf)} bytes, headers={dict(self._headers or {})!r}, "
            f"content_type={self._content_type!r})"
        )


class EnvelopeReader:
    """A received message: payload, headers, content type and protocol extras.

    File-like: :meth:`read` reads the payload. A protocol subclasses it to add its extras
    (``key``, ``partition``, ``routing_key``, ``remote_addr``...) and its identity.

    Settling: in the default ``ack="auto"`` mode the receive loop acknowledges the message
    when the callback returns; in ``ack="manual"`` mode the callback calls :meth:`ack` or
    :meth:`nack` itself (from any thread). A message is settled once; settling it again
    raises :class:`~syncapi.errors.ClosedError`.
    """

    __slots__ = (
        "_channel",
        "_content_type",
        "_headers",
        "_payload",
        "_pos",
        "_settled",
        "_subscriber",
    )

    def __init__(
        self,
        payload: bytes,
        *,
        headers: Headers | None = None,
        content_type: str | None = None,
        channel: str = "",
        subscriber: Subscriber | None = None,
    ) -> None:
        self._payload = payload
        self._pos = 0
        self._headers = headers
        self._content_type = content_type
        self._channel = channel
        self._subscriber = subscriber
        self._settled = False

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes of the payload (all that is left when negative)."""
        if self._pos == 0 and (size is None or size < 0):
            self._pos = len(self._payload)
            return self._payload
        end = len(self._payload) if size is None or size < 0 else self._pos + size
        chunk = self._payload[self._pos : end]
        self._pos += len(chunk)
        return chunk

    def seek(self, position: int) -> int:
        """Move the read position to ``position`` (from the start); return it."""
        if position < 0:
            raise ConfigError(f"seek position must be >= 0, got {position}")
        self._pos = position
        return position

    @property
    def payload(self) -> bytes:
        """The whole payload as ``bytes``."""
        return self._payload

    @property
    def headers(self) -> Headers:
        """The message's headers (empty when it has none)."""
        if self._headers is None:
            self._headers = Headers()
        return self._headers

    @property
    def content_type(self) -> str | None:
        """The payload's media type, or ``None`` when the sender set none."""
        return self._content_type

    @property
    def channel(self) -> str:
        """The channel address the message arrived on."""
        return self._channel

    @property
    def ordering_key(self) -> Hashable | None:
        """Messages with the same non-``None`` key are handled one at a time, in order.

        The receive loop with ``workers > 1`` never runs two callbacks for the same key
        at once (Kafka: the partition). ``None``: no order to keep across workers.
        """
        return None

    @property
    def identity(self) -> str:
        """A short text naming the message in logs (channel and protocol position)."""
        return f"channel {self._channel!r}"

    @property
    def settled(self) -> bool:
        """Whether the message was acknowledged or negatively acknowledged."""
        return self._settled

    def _settle(self) -> Subscriber | None:
        if self._settled:
            raise ClosedError(f"message on {self.identity} is already settled (acked or nacked)")
        self._settled = True
        return self._subscriber

    def ack(self) -> None:
        """Acknowledge: the message was handled and must not come again."""
        sub = self._settle()
        if sub is not None:
            sub._ack(self)

    def nack(self, requeue: bool = True) -> None:
        """Negatively acknowledge: deliver again (``requeue=True``) or drop/dead-letter it."""
        sub = self._settle()
        if sub is not None:
            sub._nack(self, requeue)

    def reject(self) -> None:
        """Refuse the message for good: ``nack(requeue=False)``."""
        self.nack(requeue=False)

    def _fail(self, requeue: bool) -> None:
        """Settle a message whose callback failed, as the receive loop's ``on_error``
        policy decided (``requeue`` or not): through :meth:`Subscriber._nack_failed`, so
        that a protocol can count failures apart from nacks the user asked for."""
        sub = self._settle()
        if sub is not None:
            sub._nack_failed(self, requeue)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.identity}, {len(self._payload)} bytes, "
            f"content_type={self._content_type!r})"
        )


# -- server: producer and consumer ---------------------------------------------------------
def _expand_channel(channel_name: str, parameters: Mapping[str, object] | None) -> str:
    if not isinstance(channel_name, str):
        raise ConfigError(f"channel name must be a str, got {type(channel_name).__name__}")
    if parameters is None:
        return channel_name
    from .channels import ChannelAddress

    return ChannelAddress(channel_name).expand(parameters)


class _Endpoint(Closable):
    """What Producer and Consumer share: the URL, the options, and their children."""

    scheme: ClassVar[str] = ""
    """The URL scheme the class is registered for (e.g. ``"memory"``)."""
    capabilities: ClassVar[Capabilities] = Capabilities()
    """What the protocol can do (see :class:`Capabilities`)."""

    def __init__(self, url: ServerURL | str) -> None:
        """Parse ``url``; a protocol's own ``__init__(url, **options)`` resolves its
        options (see :func:`syncapi.servers.resolve_options`) and connects."""
        from .servers import ServerURL, parse_server_url

        super().__init__()
        self._url: ServerURL = url if isinstance(url, ServerURL) else parse_server_url(url)
        self._children: list[Closable] = []
        self._children_lock = threading.Lock()

    @property
    def url(self) -> ServerURL:
        """The parsed server URL (its ``str`` hides the password)."""
        return self._url

    def _open_channel(
        self,
        opener: Callable[[str, Any, Any, Any], Closable],
        channel_name: str,
        bindings: Any,
        operation_bindings: Any,
        security: Any,
        parameters: Mapping[str, object] | None,
    ) -> Closable:
        """Check, expand the address, open through the protocol's hook, and adopt."""
        self._check_open()
        address = _expand_channel(channel_name, parameters)
        child = opener(address, bindings, operation_bindings, security)
        with self._children_lock:
            if not self._closed:
                self._children = [c for c in self._children if not c.closed]
                self._children.append(child)
                return child
        child.close()  # close() ran while the channel opened: it must not outlive it
        raise ClosedError(f"{self!r} was closed while {address!r} was opening")

    def close(self, timeout: float | None = 10.0) -> None:
        """Close every channel opened from this object, then the connection itself.

        ``timeout`` bounds, in all, how long subscribers' running callbacks may take to
        finish (see :meth:`Subscriber.close`). Idempotent and thread-safe.
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            with self._children_lock:
                children, self._children = self._children, []
            for child in children:
                if isinstance(child, Subscriber):
                    left = None if deadline is None else max(0.0, deadline - time.monotonic())
                    child.close(left)
                else:
                    child.close()
        finally:
            self._close()

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<{type(self).__module__}.{type(self).__name__} {self._url}{state}>"


class Producer(_Endpoint, ABC, Generic[PublisherT]):
    """A connection to a server for sending; the factory of :class:`Publisher` objects.

    Generic in the publisher type it makes (a protocol declares
    ``class Producer(core.Producer[Publisher])``), so that :meth:`publisher` is typed as
    the protocol's publisher.

    Thread-safe: share one producer (and its publishers) between all threads of an app.
    Closing it closes every publisher it made, flushing what they hold.
    """

    def publisher(
        self,
        channel_name: str,
        bindings: Any = None,
        *,
        operation_bindings: Any = None,
        security: Any = None,
        parameters: Mapping[str, object] | None = None,
    ) -> PublisherT:
        """Open a channel for sending.

        Args:
            channel_name: the channel address (topic, routing key, path...). It may hold
                ``{name}`` expressions, filled from ``parameters``.
            bindings: the protocol's ``ChannelBindings``.
            operation_bindings: the protocol's ``OperationBindings`` for the send operation.
            security: a :mod:`syncapi.security` scheme with credentials, where the
                protocol supports per-channel security.
            parameters: values for the ``{name}`` expressions of ``channel_name``.

        Raises:
            ClosedError: the producer is closed.
            ConfigError: bad channel name, parameters or bindings.
        """
        opened = self._open_channel(
            self._open_publisher, channel_name, bindings, operation_bindings, security, parameters
        )
        assert isinstance(opened, Publisher), f"{type(self).__name__}._open_publisher"
        return opened  # type: ignore[return-value]  # what _open_publisher made

    @abstractmethod
    def _open_publisher(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> PublisherT:
        """Hook: create the protocol's :class:`Publisher` for a concrete address."""


class Consumer(_Endpoint, ABC, Generic[SubscriberT]):
    """A connection to a server (or a listener) for receiving; makes :class:`Subscriber`\\ s.

    Generic in the subscriber type it makes, as :class:`Producer` is in its publishers.

    Thread-safe. Closing it closes every subscriber it made, stopping their loops.
    """

    def subscriber(
        self,
        channel_name: str,
        bindings: Any = None,
        *,
        operation_bindings: Any = None,
        security: Any = None,
        parameters: Mapping[str, object] | None = None,
    ) -> SubscriberT:
        """Open a channel for receiving. Arguments as for :meth:`Producer.publisher`.

        Raises:
            ClosedError: the consumer is closed.
            ConfigError: bad channel name, parameters or bindings.
        """
        opened = self._open_channel(
            self._open_subscriber, channel_name, bindings, operation_bindings, security, parameters
        )
        assert isinstance(opened, Subscriber), f"{type(self).__name__}._open_subscriber"
        return opened  # type: ignore[return-value]  # what _open_subscriber made

    @abstractmethod
    def _open_subscriber(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> SubscriberT:
        """Hook: create the protocol's :class:`Subscriber` for an address."""


# -- channel: publisher and subscriber -----------------------------------------------------
class _Channel(Closable):
    """What Publisher and Subscriber share: the address and the bindings in force."""

    def __init__(
        self, channel: str, *, bindings: Any = None, operation_bindings: Any = None
    ) -> None:
        super().__init__()
        self._channel = channel
        self._bindings = bindings
        self._operation_bindings = operation_bindings

    @property
    def channel(self) -> str:
        """The channel address (topic, queue, routing key, path...)."""
        return self._channel

    @property
    def bindings(self) -> Any:
        """The channel bindings in force."""
        return self._bindings

    @property
    def operation_bindings(self) -> Any:
        """The operation bindings in force."""
        return self._operation_bindings

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<{type(self).__module__}.{type(self).__name__} {self._channel!r}{state}>"


class Publisher(_Channel, ABC, Generic[EnvelopeT]):
    """A channel for sending.

    Generic in its envelope type (a protocol declares
    ``class Publisher(core.Publisher[EnvelopeWriter])`` and sets :attr:`envelope_class`
    to the same class), so that :meth:`envelope` is typed as the protocol's writer.

    :meth:`send` is thread-safe and returns only when the server accepted every envelope
    (Kafka acks, AMQP confirms, HTTP 2xx, a written frame, a sent datagram), or raises
    :class:`~syncapi.errors.SendError` naming the envelopes that failed.
    """

    envelope_class: type[EnvelopeT] = EnvelopeWriter  # type: ignore[assignment]
    """The protocol's envelope writer type, made by :meth:`envelope`: the class of the
    type argument (a type checker refuses any other)."""

    def envelope(
        self,
        payload: Payload = b"",
        *,
        headers: HeadersLike | None = None,
        content_type: str | None = None,
        bindings: Any = None,
    ) -> EnvelopeT:
        """Make a new envelope of this protocol's type."""
        if headers is None and content_type is None and bindings is None:
            return self.envelope_class(payload)  # keyword passing costs, and this is hot
        return self.envelope_class(
            payload, headers=headers, content_type=content_type, bindings=bindings
        )

    def send(self, *envelopes: EnvelopeWriter | Payload, timeout: float | None = None) -> None:
        """Send one or more envelopes and wait until the server accepted all of them.

        Plain ``bytes``/``str`` are accepted as payload-only envelopes.

        Args:
            envelopes: what to send, in order.
            timeout: seconds to wait for the server at most (``None``: the protocol's
                configured default).

        Raises:
            ClosedError: the publisher is closed.
            SendError: the server refused or lost some envelopes (see ``failures``).
            MessageTooLarge: an envelope is over the size limit.
            TimeoutError: not confirmed within ``timeout``.
        """
        if self._closed:
            raise ClosedError(f"{self!r} is closed")
        if timeout is not None:
            check_timeout(timeout)
        cls = self.envelope_class
        if len(envelopes) == 1 and type(envelopes[0]) is cls:
            self._send(envelopes, timeout)  # type: ignore[arg-type]  # checked just above
            return
        if not envelopes:
            return
        self._send(as_envelopes(self, cls, envelopes), timeout)

    @abstractmethod
    def _send(self, envelopes: Sequence[EnvelopeWriter], timeout: float | None) -> None:
        """Hook: send the envelopes and wait for the server's acceptance."""

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything sent is delivered to the server (a no-op where ``send``
        already waits, which is every built-in protocol)."""

    def close(self) -> None:
        """Flush what is pending, then release the channel. Idempotent, thread-safe."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            self.flush()
        finally:
            self._close()


def as_envelopes(
    sender: object, cls: type[EnvelopeWriter], envelopes: Sequence[EnvelopeWriter | Payload]
) -> list[EnvelopeWriter]:
    """``envelopes`` as ``cls`` envelopes for ``sender`` (named in errors): plain
    ``bytes``/``str`` become payload-only envelopes.

    Raises:
        ConfigError: an envelope of another protocol.
    """
    items: list[EnvelopeWriter] = []
    for env in envelopes:
        if isinstance(env, cls):
            items.append(env)
        elif isinstance(env, EnvelopeWriter):
            raise ConfigError(
                f"{sender!r} sends {cls.__module__}.{cls.__name__} envelopes, "
                f"got a {type(env).__module__}.{type(env).__name__}; make it with publisher.envelope()"
            )
        else:
            items.append(cls(env))
    return items


Callback = Callable[[Any], object]
"""A receive callback: called with one :class:`EnvelopeReader`; its return value is ignored."""


class Subscriber(_Channel, ABC):
    """A channel for receiving.

    Use :meth:`receive` to run the receive loop on the calling thread, or :meth:`start` to
    run it in background worker threads. Callbacks get an :class:`EnvelopeReader`; by
    default the message is acknowledged when the callback returns (at-least-once) and a
    callback that raises goes to the ``on_error`` policy — the loop always goes on.

    Thread-safety: the loop threads own the subscriber; :meth:`close` may be called from
    any thread and stops every loop (in-flight callbacks finish first, within ``timeout``).

    Protocol implementers fill in :meth:`_fetch` and, where the protocol has them,
    :meth:`_ack`, :meth:`_nack`, :meth:`_interrupt`, :meth:`_keepalive` and :meth:`_close`.
    """

    poll_interval: ClassVar[float] = 0.5
    """Longest a loop with a ``stop=`` event blocks in :meth:`_fetch` before it checks the
    event (an event cannot wake a fetch)."""
    idle_wait: ClassVar[float] = 5.0
    """Longest a loop with nothing but :meth:`_interrupt` to wake it (a ``start()`` loop,
    or a ``receive()`` with neither ``stop=`` nor ``timeout``) blocks in :meth:`_fetch`.
    ``stop()`` and ``close()`` wake the fetch at once (and, while they wait, again every
    :attr:`poll_interval`, in case the first came just before the fetch blocked), so this
    is a safety net, not a latency: an idle loop does not wake twice a second for nothing
    (1,000 idle ``start()`` loops cost 15 % of a CPU at 0.5 s)."""
    concurrent_fetch: ClassVar[bool] = False
    """Set by a protocol whose :meth:`_fetch` may run on several threads at once and
    whose messages carry no :attr:`~EnvelopeReader.ordering_key`: ``start(workers=N)``
    then runs N fetching loops instead of one fetcher handing off to N workers."""
    default_on_error: ClassVar[str] = "requeue"
    """The ``on_error`` policy used when none is given (protocols without redelivery use
    ``"reject"``)."""
    direct_dispatch: ClassVar[bool] = False
    """Set by a protocol whose messages arrive on threads of its own (a socket reader):
    a ``start(workers=1)`` loop then lets those threads run the callbacks when the loop
    is idle (:meth:`_attach_direct` gives the protocol the loop; it calls the loop's
    ``run_pushed``), saving a hand-off between threads per message. Messages that come
    while a callback runs still go through :meth:`_fetch`, in order."""

    def __init__(
        self, channel: str, *, bindings: Any = None, operation_bindings: Any = None
    ) -> None:
        super().__init__(channel, bindings=bindings, operation_bindings=operation_bindings)
        self._loops: set[Any] = set()
        self._loops_lock = threading.RLock()  # re-entrant for the same reason
        self._close_deferred = False  # close() ran inside a loop: the loop's end releases

    # -- public API ----------------------------------------------------------------------
    def receive(
        self,
        callback: Callback,
        *,
        stop: threading.Event | None = None,
        timeout: float | None = None,
        on_error: ErrorPolicy | None = None,
        ack: AckMode = "auto",
        max_messages: int | None = None,
    ) -> int:
        """Run the receive loop on this thread; return how many messages it ran the callback
        for (those whose callback raised included).

        Blocks until ``stop`` is set, ``timeout`` seconds have passed, ``max_messages``
        were handled, or the subscriber is closed (from another thread). None of those is
        an error: the call just returns.

        Args:
            callback: called with each :class:`EnvelopeReader`.
            stop: an event that ends the loop when set (checked at least every
                :attr:`poll_interval` seconds).
            timeout: seconds to run at most (``None``: no limit).
            on_error: what to do with a message whose callback raised: ``"requeue"``,
                ``"reject"``, ``"ack"``, ``"stop"`` or a callable (see
                :mod:`syncapi.runtime`). Default: :attr:`default_on_error`.
            ack: ``"auto"`` (after the callback returns), ``"manual"`` (the callback
                calls ``env.ack()``) or ``"before"`` (before the callback: at-most-once).
            max_messages: return after handling this many messages.

        Raises:
            ClosedError: the subscriber was already closed.
            ReceiveError: the protocol failed for good (after its own reconnects).
            Exception: the callback's exception, when ``on_error`` says ``"stop"``.
        """
        from .runtime import run_inline

        self._check_open()
        return run_inline(
            self,
            callback,
            stop=stop,
            timeout=timeout,
            on_error=on_error,
            ack=ack,
            max_messages=max_messages,
        )

    def start(
        self,
        callback: Callback,
        *,
        workers: int = 1,
        on_error: ErrorPolicy | None = None,
        ack: AckMode = "auto",
        max_in_flight: int | None = None,
        name: str | None = None,
    ) -> Worker:
        """Run the receive loop in background threads; return its :class:`~syncapi.runtime.Worker`.

        Args:
            callback: called with each :class:`EnvelopeReader`, on a worker thread.
            workers: how many callbacks may run at once. Messages with the same
                :attr:`EnvelopeReader.ordering_key` never run at once, so per-key
                (per-partition) order is kept.
            on_error: as for :meth:`receive`.
            ack: as for :meth:`receive`.
            max_in_flight: how many fetched messages may wait or run at once (default
                ``max(32, 2 * workers)``); fetching pauses beyond it, so slow callbacks
                never make a queue grow without bound. It also caps one fetch (the
                prefetch, in AMQP words), at 64 messages at most.
            name: a name for the threads (default from the channel).
        """
        from .runtime import Worker

        self._check_open()
        return Worker(
            self,
            callback,
            workers=workers,
            on_error=on_error,
            ack=ack,
            max_in_flight=max_in_flight,
            name=name,
        )

    def fetch(self, max_messages: int = 1, timeout: float | None = None) -> list[EnvelopeReader]:
        """Pull up to ``max_messages`` messages, waiting up to ``timeout`` for the first.

        The low-level pull API: the caller must ``ack()``/``nack()`` each message itself
        (unless the protocol has no acknowledgements). Returns ``[]`` on timeout.
        Not to be mixed with a running loop on the same subscriber.
        """
        self._check_open()
        if not isinstance(max_messages, int) or isinstance(max_messages, bool) or max_messages < 1:
            raise ConfigError(f"max_messages must be an integer >= 1, got {max_messages!r}")
        check_timeout(timeout)
        return self._fetch_wrapped(max_messages, timeout)

    def _fetch_wrapped(self, max_messages: int, timeout: float | None) -> list[EnvelopeReader]:
        """:meth:`_fetch`, with any non-syncapi error turned into a :class:`ReceiveError`."""
        try:
            return list(self._fetch(max_messages, timeout))
        except SyncapiError:
            raise
        except Exception as exc:
            raise ReceiveError(f"receiving from {self!r} failed: {exc}") from exc

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop every loop on this subscriber and release it.

        In-flight callbacks may finish (up to ``timeout`` seconds in all) so that their
        acks go through; fetched messages no callback has started are nacked for
        redelivery. Safe from any thread, more than once. Called from inside a callback,
        it returns at once and the subscriber is released when that loop has ended (its
        running callbacks' acks included). In a signal handler, pass ``timeout=0``.
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        with self._loops_lock:
            loops = list(self._loops)
        for loop in loops:
            loop.request_stop()
        self._interrupt()
        deadline = None if timeout is None else time.monotonic() + timeout
        for loop in loops:
            if not loop.runs_here():
                loop.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        with self._loops_lock:
            if any(loop.runs_here() for loop in self._loops):
                self._close_deferred = True  # our own loop releases us when it ends
                return
        self._close()

    # -- loop bookkeeping (used by syncapi.runtime) ---------------------------------------
    def _register_loop(self, loop: Any) -> None:
        with self._loops_lock:
            if self._closed:
                raise ClosedError(f"{self!r} is closed")
            self._loops.add(loop)

    def _unregister_loop(self, loop: Any) -> None:
        with self._loops_lock:
            self._loops.discard(loop)
            release = self._close_deferred and not self._loops
            if release:
                self._close_deferred = False
        if release:
            self._close()  # the close() called from inside this loop, completed

    # -- hooks -----------------------------------------------------------------------------
    @abstractmethod
    def _fetch(self, max_messages: int, timeout: float | None) -> Sequence[EnvelopeReader]:
        """Hook: return up to ``max_messages`` ready messages, waiting up to ``timeout``
        seconds for the first one (``None``: wait until one comes or :meth:`_interrupt`).

        Return ``[]`` on timeout or after :meth:`_interrupt`; raise
        :class:`~syncapi.errors.ClosedError` once closed. Only ever called from one
        thread at a time (the loop's dispatcher), so it may use a thread-unsafe client.
        """

    def _ack(self, envelope: EnvelopeReader) -> None:
        """Hook: acknowledge ``envelope``. Called from any worker thread."""

    def _nack(self, envelope: EnvelopeReader, requeue: bool) -> None:
        """Hook: negatively acknowledge ``envelope``. Called from any worker thread."""

    def _nack_failed(self, envelope: EnvelopeReader, requeue: bool) -> None:
        """Hook: settle a message whose callback failed (the ``on_error`` outcome).
        Default: ``_nack(envelope, requeue)``; a protocol that limits redeliveries of
        failing messages overrides it."""
        self._nack(envelope, requeue)

    def _release(self, envelope: EnvelopeReader) -> None:
        """Hook: hand back a fetched message that no callback ran for (the loop stopped
        first), so that it is delivered again. Called from any loop thread, with the
        message already marked settled. Default: ``_nack(envelope, requeue=True)``; a
        protocol that counts failed deliveries overrides it so that this one does not
        count."""
        self._nack(envelope, True)

    def _attach_direct(self, loop: Any) -> None:
        """Hook (``direct_dispatch`` protocols): a direct loop starts; push messages to
        ``loop.run_pushed`` from now on."""

    def _detach_direct(self, loop: Any) -> None:
        """Hook (``direct_dispatch`` protocols): the direct loop ends; stop pushing."""

    def _direct_waiting(self) -> bool:
        """Hook (``direct_dispatch`` protocols): whether messages wait to be run (queued
        for :meth:`_fetch`, or fetched and not yet run): a pushed batch must not pass them."""
        return False

    def _callback_done(self, envelope: EnvelopeReader) -> None:
        """Hook: the callback of ``envelope`` returned or raised (and, in ``ack="auto"``
        mode, the message was settled), on the thread that ran it. Default: nothing; a
        protocol that must know when a message's work is over (not only settled, which
        ``ack="before"`` does first) overrides it."""

    def _direct_done(self, size: int) -> None:
        """Hook (``direct_dispatch`` protocols): a batch of ``size`` messages fetched by
        the direct loop has run; a stopped loop handed back what it did not run first."""

    def _interrupt(self) -> None:
        """Hook: make a blocked :meth:`_fetch` return soon. Called from any thread, also
        from a signal handler: it must not block for long (a bounded lock wait of a few
        milliseconds at most) and must never wait for the fetching thread."""

    def _keepalive(self) -> None:
        """Hook: called on the dispatcher thread at least every :attr:`poll_interval`
        while fetching is paused because callbacks are busy (Kafka keeps its group
        membership here)."""
