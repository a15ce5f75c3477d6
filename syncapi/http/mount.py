"""Mounting an ``http://`` :class:`~syncapi.http.Consumer` inside a Flask or Django app.

A :class:`~syncapi.http.Consumer` is a WSGI application, so it can share a web app's
server and port instead of running its own (:meth:`~syncapi.http.Consumer.serve`). The
consumer then sees the path *after* the mount point: mounted at ``/events``, a request
to ``/events/orders/7`` reaches the route ``orders/{id}``, and a path under ``/events``
with no route gets the consumer's ``404``. The app's own routes keep working.

Flask (or any app with a ``wsgi_app`` attribute)::

    from flask import Flask
    from syncapi import http
    from syncapi.http.mount import mount_in_flask

    app = Flask(__name__)

    @app.get("/health")
    def health() -> str:
        return "ok"

    consumer = http.Consumer()
    consumer.subscriber("orders/{id}").start(handle_order)
    mount_in_flask(app, "/events", consumer)  # POST /events/orders/7 -> handle_order

Django (``urls.py``; the pattern must capture the rest of the path as ``path``)::

    from django.urls import path, re_path
    from syncapi import http
    from syncapi.http.mount import django_view

    consumer = http.Consumer()
    consumer.subscriber("orders/{id}").start(handle_order)

    urlpatterns = [
        path("health/", views.health),
        re_path(r"^events/(?P<path>.*)$", django_view(consumer)),  # POST /events/orders/7
    ]

The consumer's receive loops run in this process: start them (``subscriber.start``) where
the app is built, once per process (with a pre-forking server, in each worker), and close
the consumer at shutdown. Each request blocks a server thread until its callback is done
(up to the consumer's ``deadline``), so use a threaded server.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from ..wsgi import mount_in_flask
from ..wsgi import wsgi_str as _wsgi_str
from .consumer import Consumer

__all__ = ["django_view", "mount_in_flask"]

# Hop-by-hop headers (RFC 9110 section 7.6.1): the WSGI server's business, never part of a
# Django response (PEP 3333; Django's runserver refuses them).
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)


def django_view(consumer: Consumer) -> Callable[..., Any]:
    """A Django view (CSRF-exempt, any method) that hands each request to ``consumer``.

    Route it with a pattern that captures the rest of the path as ``path``::

        re_path(r"^events/(?P<path>.*)$", django_view(consumer))

    (``path("events/<path:path>", ...)`` works too, but does not match ``/events/``
    itself.) The consumer sees ``/`` + ``path`` as its path and the matched part as
    ``SCRIPT_NAME``; it gets the body even when a middleware already read
    ``request.body``, and a chunked body the WSGI server de-chunked (Django itself
    reads no body without ``Content-Length``). The consumer's status, reason, headers
    and body become the ``HttpResponse``; hop-by-hop headers (``Connection``...) are
    left to the server, a repeated header is joined with ``", "`` (a repeated
    ``Set-Cookie`` goes through ``response.cookies``).

    Built for WSGI deployments; under ASGI the WSGI environ is made from
    ``request.META`` and Django runs the view in its (single) sync thread, so requests
    wait for each other's callbacks.

    Raises (from the view):
        django.core.exceptions.ImproperlyConfigured: the URL pattern captured no
            ``path`` that ends the URL.
        django.http.request.RawPostDataException: a middleware consumed the body as a
            stream (``request.POST`` of a multipart form) before the view.
    """
    from django.core.exceptions import (  # type: ignore[import-untyped]
        ImproperlyConfigured,
    )
    from django.http import HttpResponse  # type: ignore[import-untyped]
    from django.http.request import RawPostDataException  # type: ignore[import-untyped]
    from django.views.decorators.csrf import csrf_exempt  # type: ignore[import-untyped]

    def view(request: Any, *args: str, **kwargs: str) -> Any:
        if "path" in kwargs:
            rest = kwargs["path"]
        elif len(args) == 1:
            rest = args[0]
        else:
            raise ImproperlyConfigured(
                "django_view(consumer) needs a URL pattern capturing the rest of the path "
                'as path, e.g. re_path(r"^events/(?P<path>.*)$", django_view(consumer))'
            )
        path_info: str = request.path_info
        if not path_info.endswith(rest):
            raise ImproperlyConfigured(
                f"the captured path {rest!r} does not end the request path {path_info!r}"
            )
        mount = path_info[: len(path_info) - len(rest)]
        meta = request.META
        environ: dict[str, Any] = dict(meta)
        script = str(meta.get("SCRIPT_NAME") or "").rstrip("/") + mount.rstrip("/")
        environ["SCRIPT_NAME"] = _wsgi_str(script)
        environ["PATH_INFO"] = _wsgi_str(rest if rest.startswith("/") else "/" + rest)
        raw_input = getattr(request, "environ", {}).get("wsgi.input")
        if (
            not meta.get("CONTENT_LENGTH")
            and meta.get("wsgi.input_terminated")
            and raw_input is not None
        ):
            # chunked: Django saw no body (no Content-Length) and left the stream alone
            environ["wsgi.input"] = raw_input
        else:
            if getattr(request, "_read_started", False) and not hasattr(request, "_body"):
                raise RawPostDataException(
                    "the request body was read as a stream before django_view got it"
                )
            environ["wsgi.input"] = request  # its body, as read so far or still to read
        environ["wsgi.input_terminated"] = True  # both streams end with the body
        environ.setdefault("wsgi.version", (1, 0))
        environ.setdefault("wsgi.url_scheme", request.scheme)
        environ.setdefault("wsgi.errors", sys.stderr)
        environ.setdefault("wsgi.multithread", True)
        environ.setdefault("wsgi.multiprocess", False)
        environ.setdefault("wsgi.run_once", False)

        started: list[tuple[str, list[tuple[str, str]]]] = []
        chunks: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            if exc_info is not None and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [(status, list(headers))]
            return chunks.append

        result = consumer(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if not started:
            raise RuntimeError(f"{consumer!r} returned without calling start_response")
        status, headers = started[0]
        code, _, reason = status.partition(" ")
        response = HttpResponse(b"".join(chunks), status=int(code), reason=reason or None)
        del response["Content-Type"]  # Django's default; the consumer's own comes below
        for name, value in headers:
            lowered = name.lower()
            if lowered in _HOP_BY_HOP:
                continue
            if lowered not in response:
                response[name] = value
            elif lowered == "set-cookie":
                response.cookies.load(value)
            else:
                response[name] = f"{response[name]}, {value}"
        return response

    view.__doc__ = f"Hands the request to {consumer!r}."
    exempt: Callable[..., Any] = csrf_exempt(view)
    return exempt
