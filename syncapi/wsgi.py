"""Serving and mounting WSGI applications: what the web protocols (``http://``,
``ws://``) share.

Their consumers are WSGI applications. This module runs one on a threaded werkzeug
server in the background (:class:`ServerHandle`, what ``consumer.serve()`` returns) and
mounts one under a path prefix of a Flask app (:func:`mount_in_flask`). It imports
werkzeug, so only those protocol packages import it: ``import syncapi`` does not.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Response as WerkzeugResponse

from .errors import ConfigError, ConnectError

__all__ = [
    "RequestHandler",
    "ServerHandle",
    "Serving",
    "mount_in_flask",
    "request_handler_for",
    "text_response",
    "wsgi_str",
]


class RequestHandler(WSGIRequestHandler):
    """werkzeug's request handler with its access log on a ``syncapi.<protocol>`` logger
    at DEBUG instead of werkzeug's INFO lines on stderr (:func:`request_handler_for`
    makes one per logger; this one logs on ``syncapi.http``).

    It speaks HTTP/1.1 (chunked responses), but werkzeug's server closes the connection
    after every response (``Connection: close``: it cannot drain an unread request body
    safely), so each request opens a new connection. For heavy traffic, serve the
    consumer with a production WSGI server (gunicorn, waitress, uWSGI) instead.
    """

    protocol_version = "HTTP/1.1"
    logger: logging.Logger = logging.getLogger("syncapi.http")
    """Where the access log and werkzeug's messages go."""

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        """The application ended the request by raising ``ConnectionError`` (a WebSocket
        it took over, or a client gone): read no further request from the socket."""
        self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log one request at DEBUG."""
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug("%s %s %s %s", self.address_string(), self.requestline, code, size)

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's name
        """werkzeug's other messages, on :attr:`logger`: server errors stay errors, a
        client's bad request (``code 400, message ...``) is DEBUG, as scanners and
        broken clients are routine on an open port."""
        client_error = (
            message.startswith("code %d") and args and isinstance(args[0], int) and args[0] < 500
        )
        level = logging.ERROR if type == "error" and not client_error else logging.DEBUG
        self.logger.log(level, "%s " + message, self.address_string(), *args)


_handlers: dict[str, type[RequestHandler]] = {"syncapi.http": RequestHandler}
_handlers_lock = threading.Lock()


def request_handler_for(logger: str) -> type[RequestHandler]:
    """The :class:`RequestHandler` class that logs on ``logger`` (one class per name)."""
    with _handlers_lock:
        cls = _handlers.get(logger)
        if cls is None:
            cls = type(f"RequestHandler_{logger}", (RequestHandler,), {})
            cls.logger = logging.getLogger(logger)
            _handlers[logger] = cls
        return cls


class ServerHandle:
    """A running werkzeug server (one thread per connection) in a background thread.

    Attributes:
        host: the address it listens on.
        port: the bound port (useful when 0 asked for any free one).
    """

    scheme: str = "http"
    """The URL scheme of :attr:`url`."""

    def __init__(
        self,
        app: Callable[..., Any],
        host: str,
        port: int,
        *,
        logger: str = "syncapi.http",
        scheme: str = "http",
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        try:
            self._server: BaseWSGIServer = make_server(
                host, port, app, threaded=True, request_handler=request_handler_for(logger)
            )
        except OSError as exc:
            raise ConnectError(f"cannot listen on {host}:{port}: {exc}") from exc
        except SystemExit as exc:  # werkzeug exits the process when the port is taken
            raise ConnectError(
                f"cannot listen on {host}:{port}: the address is in use (or not allowed)"
            ) from exc
        self._server.daemon_threads = True  # type: ignore[attr-defined]
        self.host = host
        self.port: int = self._server.server_port
        self.scheme = scheme
        self._on_stop = on_stop
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"syncapi-{scheme}-serve-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """``scheme://host:port`` of the server (a wildcard host shown as 127.0.0.1)."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        host = "::1" if host == "::" else host
        host = f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server still serves."""
        return not self._stopped.is_set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting connections, close the socket and end the thread. Idempotent.

        Connections already accepted are the application's to end (``ws://`` closes
        its open WebSocket connections here, through ``on_stop``).
        """
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        if self._on_stop is not None:
            self._on_stop()
        self._thread.join(timeout)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<syncapi.{self.scheme}.ServerHandle {self.url} {state}>"


class Serving:
    """Mixin of a consumer that is a WSGI application: :meth:`serve` runs it on a
    threaded werkzeug server; :meth:`_stop_servers` (from the consumer's close) stops
    them all. The consumer calls :meth:`_init_serving` in its ``__init__``."""

    _url: Any
    serving_scheme: str = "http"
    """The URL scheme of the servers' ``url``."""
    serving_logger: str = "syncapi.http"
    """The logger of the servers' access log."""

    def _init_serving(self) -> None:
        self._servers: list[ServerHandle] = []
        self._servers_lock = threading.Lock()

    if TYPE_CHECKING:

        @property
        def closed(self) -> bool:
            """The consumer's (:class:`syncapi.core.Closable`)."""

        def _check_open(self) -> None:
            """The consumer's (:class:`syncapi.core.Closable`)."""

    def serve(self, host: str | None = None, port: int | None = None) -> ServerHandle:
        """Serve this application on a threaded werkzeug server in a background thread.

        ``host`` and ``port`` default to the consumer URL's (no port there: any free
        one). Returns a :class:`ServerHandle` with the bound ``port``, ``url`` and
        ``stop()``; closing the consumer stops it too.

        Raises:
            ConnectError: the address is taken or not allowed.
        """
        self._check_open()
        address = self._url.hosts[0] if self._url.hosts else None
        holder: list[ServerHandle] = []
        handle = ServerHandle(
            self,  # type: ignore[arg-type]  # the consumer is the WSGI application
            host if host is not None else (address.host if address else "127.0.0.1"),
            port if port is not None else ((address.port or 0) if address else 0),
            logger=self.serving_logger,
            scheme=self.serving_scheme,
            on_stop=lambda: self._server_stopped(holder[0]) if holder else None,
        )
        holder.append(handle)
        with self._servers_lock:
            self._servers.append(handle)
        if self.closed:  # closed while the server started: it must not outlive it
            self._stop_servers()
            from .errors import ClosedError

            raise ClosedError(f"{self!r} was closed while its server started")
        return handle

    @property
    def servers(self) -> list[ServerHandle]:
        """The servers :meth:`serve` started and that still run."""
        with self._servers_lock:
            return [s for s in self._servers if s.running]

    def _server_stopped(self, handle: ServerHandle) -> None:
        """Hook: ``handle`` stopped accepting (``ws://`` closes its connections here)."""

    def _stop_servers(self) -> None:
        with self._servers_lock:
            servers, self._servers = self._servers, []
        for server in servers:
            server.stop()


def text_response(
    status: int, detail: str, headers: Sequence[tuple[str, str]] = ()
) -> WerkzeugResponse:
    """A short plain-text answer: ``"<status phrase>: <detail>"`` and ``headers``."""
    phrase = WerkzeugResponse(status=status).status
    return WerkzeugResponse(
        f"{phrase}: {detail}\n",
        status=status,
        headers=list(headers),
        content_type="text/plain; charset=utf-8",
    )


def wsgi_str(text: str) -> str:
    """``text`` as a WSGI environ string: its UTF-8 bytes, one character per byte."""
    return text.encode("utf-8").decode("latin-1")


def mount_in_flask(flask_app: Any, prefix: str, consumer: Callable[..., Any]) -> None:
    """Serve ``consumer`` (a WSGI application) under ``prefix`` (``"/events"``) of
    ``flask_app``.

    Wraps ``flask_app.wsgi_app`` in werkzeug's ``DispatcherMiddleware``: requests whose
    path is ``prefix`` or starts with ``prefix + "/"`` go to the consumer (which sees the
    path after the prefix), every other request to the app as before. Works with any
    object whose ``wsgi_app`` attribute is a WSGI application; mounting several
    consumers under different prefixes stacks.

    Args:
        flask_app: the ``flask.Flask`` application.
        prefix: the mount point: starts with ``/``, no trailing ``/``, no ``?``, ``#``
            or empty segment.
        consumer: the consumer to mount (``http.Consumer``, ``ws.Consumer``).

    Raises:
        ConfigError: a malformed ``prefix``, or ``flask_app`` has no ``wsgi_app``.
    """
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    if not isinstance(prefix, str) or not prefix.startswith("/") or prefix == "/":
        raise ConfigError(f"the mount prefix must start with '/' and name a path, got {prefix!r}")
    if prefix.endswith("/"):
        raise ConfigError(f"the mount prefix must not end with '/', got {prefix!r}")
    if "//" in prefix or "?" in prefix or "#" in prefix:
        raise ConfigError(f"the mount prefix must be a plain path, got {prefix!r}")
    if not callable(getattr(flask_app, "wsgi_app", None)):
        raise ConfigError(f"{flask_app!r} has no wsgi_app to mount the consumer in")
    if not callable(consumer):
        raise ConfigError(f"expected a consumer (a WSGI application) to mount, got {consumer!r}")
    # DispatcherMiddleware compares with PATH_INFO, which holds the path's UTF-8 bytes
    flask_app.wsgi_app = DispatcherMiddleware(flask_app.wsgi_app, {wsgi_str(prefix): consumer})
