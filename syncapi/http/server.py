"""Serving a :class:`~syncapi.http.Consumer` on a threaded werkzeug server."""

from __future__ import annotations

import logging
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ..errors import ConnectError

__all__ = ["RequestHandler", "ServerHandle"]

_log = logging.getLogger("syncapi.http")


class RequestHandler(WSGIRequestHandler):
    """werkzeug's request handler with its access log on the ``syncapi.http`` logger at
    DEBUG instead of werkzeug's INFO lines on stderr.

    It speaks HTTP/1.1 (chunked responses), but werkzeug's server closes the connection
    after every response (``Connection: close``: it cannot drain an unread request body
    safely), so each request opens a new connection. For heavy traffic, serve the
    consumer with a production WSGI server (gunicorn, waitress, uWSGI) instead.
    """

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log one request at DEBUG."""
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s %s %s %s", self.address_string(), self.requestline, code, size)

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's name
        """werkzeug's other messages, on ``syncapi.http`` (errors stay errors)."""
        level = logging.ERROR if type == "error" else logging.DEBUG
        _log.log(level, "%s " + message, self.address_string(), *args)


class ServerHandle:
    """A running werkzeug server (one thread per request) in a background thread.

    Attributes:
        host: the address it listens on.
        port: the bound port (useful when 0 asked for any free one).
    """

    def __init__(self, app: Any, host: str, port: int) -> None:
        try:
            self._server: BaseWSGIServer = make_server(
                host, port, app, threaded=True, request_handler=RequestHandler
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
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"syncapi-http-serve-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://host:port`` of the server (a wildcard host shown as 127.0.0.1)."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server still serves."""
        return not self._stopped.is_set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting requests, close the socket and end the thread. Idempotent."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<syncapi.http.ServerHandle {self.url} {state}>"
