"""The receiving side of ``http://``: a WSGI application whose routes are subscribers.

:class:`Consumer` **is** a WSGI application. ``consumer.subscriber("orders/{id}")``
registers a route; a request on it becomes an :class:`EnvelopeReader` handed to the
subscriber's receive loop, and the request waits (up to ``deadline``) for the callback:

==========================================  ==============================================
what happened                               the answer
==========================================  ==============================================
the callback called ``env.respond(...)``     that status, body and headers
the callback returned (acked)                ``default_status`` (204), or the
                                             subscriber's ``MessageBindings.statusCode``
the callback raised (nacked)                 500, no traceback in the body
no route for the path                        404
a route, but not for this method             405 with ``Allow``
body over ``max_body``                       413 (the body is not read further)
``Content-Type`` not the declared one        415 (with ``check_content_type=True``)
broken percent-escape, bad chunked body,    400
a required query parameter missing, an
invalid ``Syncapi-Headers`` header
no receive loop running (or it ended         503 with ``Retry-After``
while the request waited), ``backlog``
requests already waiting, consumer closed
the callback took longer than ``deadline``   503 (its later answer is dropped)
==========================================  ==============================================

Serve it with :meth:`Consumer.serve` (a threaded werkzeug server in the background), or
mount it in any WSGI server or framework (Flask's ``DispatcherMiddleware``, Django's
WSGI handler): see :mod:`syncapi.http.mount`.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

from werkzeug.exceptions import ClientDisconnected
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response as WerkzeugResponse

from .. import core
from ..channels import ChannelRouter
from ..errors import ClosedError, ConfigError, DecodeError
from ..headers import Headers
from ..servers import ServerURL, resolve_options
from ..wsgi import Serving, text_response
from .bindings import ChannelBindings, MessageBindings, OperationBindings
from .options import ConsumerOptions
from .producer import check_bindings
from .wire import _TOKEN, CAPABILITIES, headers_from_request

__all__ = ["Consumer", "EnvelopeReader", "Subscriber"]

_log = logging.getLogger("syncapi.http")
_WAKE = object()
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
StartResponse = Callable[..., Any]


class EnvelopeReader(core.EnvelopeReader):
    """A received HTTP request: body, headers, content type and the HTTP extras
    :attr:`method`, :attr:`path`, :attr:`params` (the route's ``{name}`` values),
    :attr:`query`, :attr:`http_headers` and :attr:`remote_addr`; :meth:`respond`
    answers it."""

    __slots__ = (
        "_done",
        "_http_headers",
        "_method",
        "_outcome",
        "_params",
        "_path",
        "_query",
        "_remote",
        "_reply",
    )

    def __init__(
        self,
        payload: bytes,
        *,
        headers: Headers,
        content_type: str | None,
        channel: str,
        subscriber: Subscriber,
        method: str,
        path: str,
        params: dict[str, str],
        query: list[tuple[str, str]],
        http_headers: list[tuple[str, str]],
        remote_addr: str | None,
    ) -> None:
        super().__init__(
            payload,
            headers=headers,
            content_type=content_type,
            channel=channel,
            subscriber=subscriber,
        )
        self._method = method
        self._path = path
        self._params = params
        self._query = query
        self._http_headers = http_headers
        self._remote = remote_addr
        self._reply: tuple[int, bytes, list[tuple[str, str]]] | None = None
        self._outcome = ""  # "acked", "failed", "released" once settled
        self._done = threading.Event()

    @property
    def method(self) -> str:
        """The request method (``"POST"``...)."""
        return self._method

    @property
    def path(self) -> str:
        """The request path (decoded)."""
        return self._path

    @property
    def params(self) -> dict[str, str]:
        """The values of the route's ``{name}`` parameters."""
        return dict(self._params)

    @property
    def query(self) -> dict[str, str]:
        """The query parameters (the first value of each name; see :attr:`query_list`)."""
        out: dict[str, str] = {}
        for name, value in self._query:
            out.setdefault(name, value)
        return out

    @property
    def query_list(self) -> list[tuple[str, str]]:
        """Every query parameter as ``(name, value)``, in order."""
        return list(self._query)

    @property
    def http_headers(self) -> list[tuple[str, str]]:
        """Every HTTP header of the request as ``(name, value)``."""
        return list(self._http_headers)

    @property
    def remote_addr(self) -> str | None:
        """The client's address."""
        return self._remote

    @property
    def ordering_key(self) -> Hashable | None:
        """``None``: requests are independent."""
        return None

    @property
    def identity(self) -> str:
        """Method and path, for logs."""
        return f"{self._method} {self._path}"

    def respond(
        self,
        status: int = 200,
        body: bytes | str = b"",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        *,
        content_type: str | None = None,
    ) -> None:
        """Answer the request now (and acknowledge it). ``str`` bodies are UTF-8.

        After the consumer's ``deadline`` the client has had its 503 already: the answer
        is dropped with a warning.

        Raises:
            ConfigError: a status outside 200-599, or a header that would break the
                response (not Latin-1, CR/LF, framing or hop-by-hop headers).
            ClosedError: the request was already answered.
        """
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            raise ConfigError(f"status must be an integer from 200 to 599, got {status!r}")
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
        for pair in pairs:
            _check_response_header(pair)
        if content_type is not None:
            pairs.append(("Content-Type", content_type))
        sub = self._subscriber
        assert isinstance(sub, Subscriber)
        with sub._lock:
            if self._outcome == "abandoned":  # given up at its deadline: the client had 503
                _log.warning(
                    "%s: respond(%d) after the deadline; the client was answered 503",
                    self.identity,
                    status,
                )
                return
            if self._reply is not None or self._outcome:
                raise ClosedError(f"request {self.identity} was already answered")
            self._reply = (status, data, pairs)
            if self._settled:  # ack="before": settled, not answered yet
                self._outcome = "acked"
                self._done.set()
                return
        self.ack()


_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_MANAGED_HEADERS = frozenset(
    {
        "connection",
        "content-length",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


def _check_response_header(pair: object) -> None:
    """Refuse what would break the response on the wire (ConfigError), before it is sent."""
    if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
        raise ConfigError(f"response headers must be (str, str) pairs, got {pair!r}")
    name, value = pair
    if not _TOKEN.fullmatch(name):
        raise ConfigError(f"response header name {name!r} is not an HTTP token")
    if name.lower() in _MANAGED_HEADERS:
        raise ConfigError(
            f"response header {name!r} is managed by the server (framing or hop-by-hop)"
        )
    if not _HEADER_VALUE.fullmatch(value):
        raise ConfigError(
            f"response header {name!r}: the value must be Latin-1 text without control "
            f"characters (CR, LF...), got {value!r}"
        )


class Subscriber(core.Subscriber):
    """A route of the consumer: requests on it are handed to this subscriber's receive
    loop (see :mod:`syncapi.http.consumer` for the answers). Without a running loop the
    route answers 503."""

    concurrent_fetch = True
    default_on_error = "reject"  # no redelivery: a failed request is answered 500

    def __init__(
        self,
        consumer: Consumer,
        channel: str,
        bindings: ChannelBindings | None,
        operation_bindings: OperationBindings | None,
        content_type: str | None,
    ) -> None:
        super().__init__(channel, bindings=bindings, operation_bindings=operation_bindings)
        self._consumer = consumer
        op = operation_bindings
        self.methods: frozenset[str] = (
            frozenset({op.method}) if op is not None and op.method else frozenset({"POST"})
        )
        """The methods this route accepts (``OperationBindings.method``, default POST)."""
        self.content_type = content_type
        """The declared content type (checked with ``check_content_type=True``)."""
        self.required_query: tuple[str, ...] = (
            op.required_query() if op is not None and op.query else ()
        )
        """Query parameters a request must have (``OperationBindings.query``'s
        ``required``); a request without them is answered 400."""
        self._status: int | None = None
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._waiting = 0
        self._lock = threading.Lock()
        self._waiters = 0

    def set_reply_bindings(self, bindings: MessageBindings | Mapping[str, Any] | None) -> None:
        """Answer with ``bindings.statusCode`` when a callback returns without ``respond``
        (a document dict is parsed with ``from_dict``)."""
        message = MessageBindings.coerce(bindings)
        self._status = None if message is None else message.status_code

    @property
    def receiving(self) -> bool:
        """Whether a receive loop is running on this route."""
        return bool(self._loops)

    # -- the request side (WSGI threads) ---------------------------------------------------
    def _offer(self, env: EnvelopeReader, backlog: int) -> str:
        """Queue a request for the loop: ``""`` when queued, else why not (503)."""
        with self._lock:  # atomic with the drains of close() and of the last loop's end
            if self._closed or not self._loops:
                return "nothing receives on this route now"
            if self._waiting >= backlog:
                return f"the route is busy: {backlog} requests wait"
            self._waiting += 1
            self._inbox.put(env)
        return ""

    def _give_up(self, env: EnvelopeReader) -> bool:
        """At the deadline: withdraw ``env`` unless it was answered meanwhile; ``True``
        when withdrawn (the loop skips it, a late answer is dropped)."""
        with self._lock:
            if env._outcome:
                return False
            env._outcome = "abandoned"
            env._settled = True  # the runtime skips a settled envelope it has not started
            env._done.set()
            return True

    def _default_status(self, fallback: int) -> int:
        return self._status or fallback

    # -- the loop side ------------------------------------------------------------------------
    def _fetch(self, max_messages: int, timeout: float | None) -> Sequence[core.EnvelopeReader]:
        # one request at a time, whatever max_messages says: a request held in a fetched
        # batch would wait behind the others while another worker idles, and could be
        # given up at its deadline and then run all the same
        if self._closed:
            raise ClosedError(f"{self!r} is closed")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                self._waiters += 1
            try:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                item = self._inbox.get(timeout=left) if left != 0 else self._inbox.get_nowait()
            except queue.Empty:
                return []
            finally:
                with self._lock:
                    self._waiters -= 1
            if item is _WAKE:
                return []
            with self._lock:
                self._waiting -= 1
                if not item._outcome:  # not given up at its deadline
                    return [item]

    def _interrupt(self) -> None:
        for _ in range(max(1, self._waiters)):
            self._inbox.put(_WAKE)

    def _finish(self, env: core.EnvelopeReader, outcome: str) -> None:
        assert isinstance(env, EnvelopeReader)
        with self._lock:
            if env._outcome:
                return  # given up at the deadline (or already finished)
            env._outcome = outcome
            env._done.set()

    def _ack(self, envelope: core.EnvelopeReader) -> None:
        self._finish(envelope, "acked")

    def _nack(self, envelope: core.EnvelopeReader, requeue: bool) -> None:
        self._finish(envelope, "failed")

    def _release(self, envelope: core.EnvelopeReader) -> None:
        self._finish(envelope, "released")

    def _drain(self) -> None:
        """Answer every queued request 503 at once (no loop will take them). Called with
        ``self._lock`` held."""
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if item is _WAKE:
                continue
            self._waiting -= 1
            if item._outcome:
                continue  # given up at its deadline: answered already
            item._outcome = "released"
            item._settled = True
            item._done.set()

    def _unregister_loop(self, loop: Any) -> None:
        super()._unregister_loop(loop)
        with self._lock:
            if not self._loops:
                self._drain()  # the last loop ended: nobody takes the waiting ones

    def _close(self) -> None:
        self._consumer._remove(self)
        with self._lock:
            self._drain()
        self._inbox.put(_WAKE)


class Consumer(Serving, core.Consumer[Subscriber]):
    """A WSGI application whose routes are :class:`Subscriber`\\ s.

    ``http://host:port/`` names where :meth:`serve` listens by default (no port: any
    free port). Options: :class:`~syncapi.http.ConsumerOptions`. Thread-safe: a threaded WSGI
    server calls it from many threads at once.
    """

    scheme = "http"
    capabilities = CAPABILITIES

    def __init__(self, url: ServerURL | str = "http://127.0.0.1/", **options: Any) -> None:
        super().__init__(url)
        self._options: ConsumerOptions = resolve_options(ConsumerOptions, self._url.query, options)
        self._router: ChannelRouter[Subscriber] = ChannelRouter()
        self._init_serving()

    @property
    def options(self) -> ConsumerOptions:
        """The options in force."""
        return self._options

    def subscriber(
        self,
        channel_name: str,
        bindings: Any = None,
        *,
        operation_bindings: Any = None,
        security: Any = None,
        parameters: Mapping[str, object] | None = None,
        content_type: str | None = None,
        reply_bindings: MessageBindings | Mapping[str, Any] | None = None,
    ) -> Subscriber:
        """Register a route (see :meth:`syncapi.Consumer.subscriber`); ``content_type``
        declares the body's media type (checked with ``check_content_type=True``) and
        ``reply_bindings.statusCode`` the status of a callback that returns without
        ``respond``."""
        reply = MessageBindings.coerce(reply_bindings)  # a bad one opens nothing
        opened = self._open_channel(
            lambda ch, b, o, sec: self._make_subscriber(ch, b, o, sec, content_type),
            channel_name,
            bindings,
            operation_bindings,
            security,
            parameters,
        )
        assert isinstance(opened, Subscriber)
        opened.set_reply_bindings(reply)
        return opened

    def _open_subscriber(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> Subscriber:
        return self._make_subscriber(channel, bindings, operation_bindings, security, None)

    def _make_subscriber(
        self,
        channel: str,
        bindings: Any,
        operation_bindings: Any,
        security: Any,
        content_type: str | None,
    ) -> Subscriber:
        channel_bindings, op = check_bindings(bindings, operation_bindings)
        if security is not None:
            raise ConfigError(
                "http consumers do not check credentials; put that in your WSGI stack"
            )
        sub = Subscriber(self, channel, channel_bindings, op, content_type)
        self._router.add(channel.strip("/"), sub)
        return sub

    def _remove(self, sub: Subscriber) -> None:
        self._router.remove(sub.channel.strip("/"))

    def _close(self) -> None:
        self._stop_servers()

    # -- WSGI --------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI entry point."""
        response = self._handle(Request(environ))
        return response(environ, start_response)

    def _handle(self, request: Request) -> WerkzeugResponse:
        opts = self._options
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
        if _BAD_ESCAPE.search(raw.split("?", 1)[0]):
            return text_response(400, "the path holds a '%' that is not a percent-escape")
        if "\ufffd" in request.path:
            return text_response(400, "the path is not valid UTF-8 once decoded")
        if self._closed:
            return text_response(503, "the consumer is closed", [("Retry-After", "1")])
        found = self._router.resolve(request.path.strip("/"))
        if found is None:
            return text_response(404, f"no route for {request.path}")
        sub, params = found
        if request.method not in sub.methods:
            allow = ", ".join(sorted(sub.methods))
            return text_response(405, f"{request.path} accepts {allow}", [("Allow", allow)])
        missing = [name for name in sub.required_query if name not in request.args]
        if missing:
            return text_response(400, f"missing query parameter(s): {', '.join(missing)}")
        declared = sub.content_type if opts.check_content_type else None
        if declared is not None and request.mimetype != declared.split(";")[0].strip().lower():
            return text_response(415, f"{request.path} takes {declared}")
        length = request.content_length
        if length is not None and length > opts.max_body:
            return text_response(413, f"the body is over {opts.max_body} bytes")
        try:
            body = request.stream.read(opts.max_body + 1)
        except (ClientDisconnected, OSError, ValueError) as exc:
            return text_response(400, f"the body could not be read: {exc}")
        if len(body) > opts.max_body:
            return text_response(413, f"the body is over {opts.max_body} bytes")
        if not sub.receiving or sub.closed:
            return text_response(
                503, f"nothing receives on {request.path} now", [("Retry-After", "1")]
            )
        pairs = list(request.headers.items())
        try:
            headers = headers_from_request(pairs)
        except DecodeError as exc:
            return text_response(400, str(exc))
        env = EnvelopeReader(
            body,
            headers=headers,
            content_type=request.headers.get("Content-Type"),
            channel=sub.channel,
            subscriber=sub,
            method=request.method,
            path=request.path,
            params=params,
            query=list(request.args.items(multi=True)),
            http_headers=pairs,
            remote_addr=request.remote_addr,
        )
        refused = sub._offer(env, opts.backlog)
        if refused:
            return text_response(503, f"{request.path}: {refused}", [("Retry-After", "1")])
        if not env._done.wait(opts.deadline) and sub._give_up(env):
            _log.warning(
                "%s: no answer within the deadline (%s s): 503", env.identity, opts.deadline
            )
            return text_response(503, f"no answer within {opts.deadline} s", [("Retry-After", "1")])
        return self._answer(sub, env)

    def _answer(self, sub: Subscriber, env: EnvelopeReader) -> WerkzeugResponse:
        if env._reply is not None:
            status, data, headers = env._reply
            return WerkzeugResponse(data, status=status, headers=headers)
        if env._outcome == "acked":
            empty = WerkzeugResponse(b"", status=sub._default_status(self._options.default_status))
            del empty.headers["Content-Type"]  # no body, no media type
            return empty
        if env._outcome == "released":
            return text_response(
                503, "the receive loop stopped before handling it", [("Retry-After", "1")]
            )
        return text_response(500, "the request could not be handled")
