"""Serving a :class:`~syncapi.http.Consumer` on a threaded werkzeug server (the shared
machinery lives in :mod:`syncapi.wsgi`)."""

from __future__ import annotations

from ..wsgi import RequestHandler, ServerHandle

__all__ = ["RequestHandler", "ServerHandle"]
