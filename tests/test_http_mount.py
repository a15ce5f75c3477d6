"""syncapi.http.mount: an ``http.Consumer`` mounted in a real Flask app and in a real
Django project, each served on a real threaded werkzeug server; a syncapi Producer and
plain ``requests`` talk to it over loopback TCP, next to the app's own routes."""

from __future__ import annotations

import queue
import sys
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import django
import flask
import pytest
import requests
from django.conf import settings
from django.core.servers.basehttp import ThreadedWSGIServer
from django.core.servers.basehttp import WSGIRequestHandler as DjangoRequestHandler
from django.http import HttpResponse
from django.test.utils import override_settings
from django.urls import clear_url_caches, path, re_path
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Response as WerkzeugResponse

from syncapi import http
from syncapi.errors import ConfigError
from syncapi.http.mount import django_view, mount_in_flask

TIMEOUT = 5.0
URLCONF = "syncapi_test_mount_urls"  # a module built here (sys.modules), Django's ROOT_URLCONF
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",  # the consumer's view must be exempt
    f"{URLCONF}.read_body_first",
]
PAYLOAD = b'{"id": 7, "note": "\xc3\xa9"}\x00\xff\r\n'  # not even UTF-8: bytes stay bytes
HEADERS: dict[str, str | bytes] = {"X-Trace": "t-1", "bin": b"\x00\xff", "note": "é ✓"}


# --- real servers -------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class Served:
    """``app`` on a threaded werkzeug server on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(TIMEOUT)
        assert not self._thread.is_alive(), "the server thread did not end"


@dataclass
class Seen:
    """What a callback saw of one request."""

    payload: bytes
    headers: dict[str, str | bytes]
    content_type: str | None
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]


def seen(env: Any) -> Seen:
    assert isinstance(env, http.EnvelopeReader)
    return Seen(
        env.read(),
        dict(env.headers),
        env.content_type,
        env.method,
        env.path,
        env.params,
        env.query,
    )


class EnvironConsumer(http.Consumer):
    """An ``http.Consumer`` that keeps what its mount hands it of each WSGI environ."""

    KEYS = ("SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_LENGTH", "REQUEST_METHOD")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.environs: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.environs.append({key: environ.get(key) for key in self.KEYS})
        return super().__call__(environ, start_response)


@dataclass
class Mounted:
    """A consumer mounted in a served app."""

    kind: str
    consumer: EnvironConsumer
    producer: http.Producer
    root: str  # the app's base URL
    events: str  # the consumer's base URL (root + "/events")
    health: str  # the app's own route

    def record(self, route: str = "orders/{id}") -> queue.Queue[Seen]:
        """Start a receive loop on ``route`` that records each request (204)."""
        got: queue.Queue[Seen] = queue.Queue()
        self.consumer.subscriber(route).start(lambda env: got.put(seen(env)))
        return got

    def answer(self, callback: Callable[[Any], object], route: str = "orders/{id}") -> None:
        """Start a receive loop on ``route`` running ``callback``."""
        self.consumer.subscriber(route).start(callback)


# --- the Django project (settings are process-global: configured once) ---------------------


def _health(request: Any) -> Any:
    return HttpResponse("ok", content_type="text/plain")


def _read_body_first(get_response: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A middleware that reads the body before the view, as some do."""

    def middleware(request: Any) -> Any:
        if request.headers.get("X-Read-Body"):
            assert isinstance(request.body, bytes)
        if request.headers.get("X-Read-Post"):
            assert request.POST is not None  # a multipart form: read as a stream
        return get_response(request)

    return middleware


@dataclass
class DjangoProject:
    app: Any
    urls: Any  # the ROOT_URLCONF module

    def route(self, consumer: http.Consumer) -> None:
        view = django_view(consumer)
        self.urls.urlpatterns = [
            path("health/", _health),
            re_path(r"^events/(?P<path>.*)$", view),
            path("conv/<path:path>", view),
            re_path(r"^pos/(.*)$", view),
            re_path(r"^bad/", view),
        ]
        clear_url_caches()


@pytest.fixture(scope="module")
def django_project() -> Iterator[DjangoProject]:
    urls = types.ModuleType(URLCONF)
    urls.urlpatterns = []  # type: ignore[attr-defined]
    urls.read_body_first = _read_body_first  # type: ignore[attr-defined]
    sys.modules[URLCONF] = urls
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF=URLCONF,
            MIDDLEWARE=MIDDLEWARE,
            SECRET_KEY="syncapi-tests-only",
            INSTALLED_APPS=[],
            DATABASES={},
        )
    # whoever configured Django first, these are the settings in force here
    override = override_settings(
        DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=URLCONF, MIDDLEWARE=MIDDLEWARE
    )
    override.enable()
    try:
        django.setup()
        from django.core.wsgi import get_wsgi_application

        yield DjangoProject(get_wsgi_application(), urls)
    finally:
        override.disable()
        del sys.modules[URLCONF]
        clear_url_caches()


# --- one fixture, every deployment --------------------------------------------------------


class _QuietDjangoHandler(DjangoRequestHandler):  # type: ignore[misc]
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


class DjangoRunserver:
    """``app`` on Django's own development server (``manage.py runserver``: wsgiref,
    which refuses hop-by-hop headers from the application)."""

    def __init__(self, app: Any) -> None:
        self._server = ThreadedWSGIServer(("127.0.0.1", 0), _QuietDjangoHandler)
        self._server.set_app(app)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(TIMEOUT)
        assert not self._thread.is_alive(), "the server thread did not end"


@pytest.fixture(params=["flask", "django", "django-runserver"])
def mounted(request: pytest.FixtureRequest) -> Iterator[Mounted]:
    """The consumer mounted at ``/events`` of a Flask app (werkzeug server) or of a Django
    project (werkzeug server, or Django's runserver)."""
    kind: str = request.param
    consumer = EnvironConsumer("http://127.0.0.1/", max_body=1024, deadline=TIMEOUT)
    served: Served | DjangoRunserver
    if kind == "flask":
        app = flask.Flask("syncapi_mount_test")
        app.add_url_rule("/health", "health", lambda: "ok")
        mount_in_flask(app, "/events", consumer)
        served = Served(app)
        health = served.url + "/health"
    else:
        project: DjangoProject = request.getfixturevalue("django_project")
        project.route(consumer)
        served = Served(project.app) if kind == "django" else DjangoRunserver(project.app)
        health = served.url + "/health/"
    producer = http.Producer(served.url + "/events", timeout=TIMEOUT)
    try:
        yield Mounted(kind, consumer, producer, served.url, served.url + "/events", health)
    finally:
        producer.close()
        consumer.close()
        served.stop()


DJANGO_ONLY = pytest.mark.parametrize("mounted", ["django", "django-runserver"], indirect=True)


# --- every deployment ------------------------------------------------------------------------


def test_publisher_delivers_payload_headers_and_content_type(mounted: Mounted) -> None:
    got = mounted.record()
    pub = mounted.producer.publisher("orders/7")
    env = pub.envelope(
        PAYLOAD, headers=HEADERS, content_type="application/json", query={"q": "a b&c"}
    )
    pub.send(env)
    item = got.get(timeout=TIMEOUT)
    assert item.payload == PAYLOAD
    assert item.headers == HEADERS
    assert item.content_type == "application/json"
    assert (item.method, item.path, item.params) == ("POST", "/orders/7", {"id": "7"})
    assert item.query == {"q": "a b&c"}
    assert mounted.consumer.environs == [
        {
            "SCRIPT_NAME": "/events",
            "PATH_INFO": "/orders/7",
            "QUERY_STRING": "q=a+b%26c",
            "CONTENT_LENGTH": str(len(PAYLOAD)),
            "REQUEST_METHOD": "POST",
        }
    ]
    assert env.response is not None
    assert (env.response.status, env.response.body) == (204, b"")
    assert got.empty()


def test_non_ascii_route(mounted: Mounted) -> None:
    got = mounted.record()
    mounted.producer.publisher("orders/né ✓").send(b"x")
    item = got.get(timeout=TIMEOUT)
    assert (item.path, item.params) == ("/orders/né ✓", {"id": "né ✓"})
    seen_by_wsgi = mounted.consumer.environs[0]
    wsgi_path = "/orders/né ✓".encode().decode("latin-1")  # PEP 3333: bytes as latin-1
    assert (seen_by_wsgi["SCRIPT_NAME"], seen_by_wsgi["PATH_INFO"]) == ("/events", wsgi_path)


def test_request_reply_returns_status_body_and_headers(mounted: Mounted) -> None:
    def answer(env: Any) -> None:
        order = env.params["id"]
        env.respond(
            201,
            b"created " + order.encode() + b" from " + env.read(),
            [
                ("X-Order", order),
                ("X-Tag", "a"),
                ("X-Tag", "b"),
                ("Set-Cookie", "first=1; Path=/"),
                ("Set-Cookie", "second=2; Path=/"),
            ],
            content_type="text/plain; charset=utf-8",
        )

    mounted.answer(answer)
    response = mounted.producer.publisher("orders/42").request(b"{}")
    assert (response.status, response.body) == (201, b"created 42 from {}")
    assert response.headers["X-Order"] == "42"
    assert response.headers["X-Tag"] == "a, b"
    assert response.content_type == "text/plain; charset=utf-8"
    assert response.headers["Content-Length"] == str(len(response.body))
    raw = requests.post(mounted.events + "/orders/43", data=b"[]", timeout=TIMEOUT)
    assert (raw.status_code, raw.content) == (201, b"created 43 from []")
    assert raw.reason == WerkzeugResponse(status=201).status.split(" ", 1)[1]  # the consumer's
    cookies = [c.strip() for c in raw.raw.headers.getlist("Set-Cookie")]
    assert cookies == ["first=1; Path=/", "second=2; Path=/"]


def test_consumer_answers_pass_through(mounted: Mounted) -> None:
    """500 of a failing callback, 405 with Allow, 413 over max_body: the consumer's own."""

    def fail(env: Any) -> None:
        raise RuntimeError("boom")

    mounted.answer(fail)
    response = mounted.producer.publisher("orders/1").request(b"{}", raise_for_status=False)
    assert response.status == 500
    assert "boom" not in response.text
    wrong = requests.get(mounted.events + "/orders/1", timeout=TIMEOUT)
    assert (wrong.status_code, wrong.headers["Allow"]) == (405, "POST")
    big = requests.post(mounted.events + "/orders/1", data=b"x" * 4096, timeout=TIMEOUT)
    assert big.status_code == 413
    assert big.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("mounted", ["flask", "django"], indirect=True)  # wsgiref: no chunked
def test_chunked_body_is_delivered(mounted: Mounted) -> None:
    got = mounted.record()
    chunks = [b"first,", b"second,", b"third"]
    response = requests.post(mounted.events + "/orders/9", data=iter(chunks), timeout=TIMEOUT)
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert response.status_code == 204
    assert got.get(timeout=TIMEOUT).payload == b"first,second,third"


def test_app_routes_still_work(mounted: Mounted) -> None:
    mounted.record()
    response = requests.get(mounted.health, timeout=TIMEOUT)
    assert (response.status_code, response.text) == (200, "ok")


def test_unknown_paths_get_the_right_404(mounted: Mounted) -> None:
    got = mounted.record()
    with pytest.raises(http.HTTPStatusError) as caught:
        mounted.producer.publisher("nope/7").send(b"x")
    inside = caught.value.response
    assert inside.status == 404
    assert inside.content_type is not None and inside.content_type.startswith("text/plain")
    assert "no route for /nope/7" in inside.text  # the consumer saw the path after /events
    for outside in ("/elsewhere/", "/eventsx/orders/7"):
        response = requests.post(mounted.root + outside, data=b"x", timeout=TIMEOUT)
        assert response.status_code == 404, outside
        assert response.headers["Content-Type"].startswith("text/html"), outside  # the app's
    assert got.empty()


# --- Flask only ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prefix", ["", "/", "events", "/events/", "//events", "/a//b", "/a?b", "/a#b", None]
)
def test_mount_in_flask_rejects_bad_prefixes(prefix: Any) -> None:
    app = flask.Flask("syncapi_mount_test")
    before = app.wsgi_app
    with http.Consumer() as consumer, pytest.raises(ConfigError):
        mount_in_flask(app, prefix, consumer)
    assert app.wsgi_app == before


def test_mount_in_flask_needs_a_wsgi_app() -> None:
    with http.Consumer() as consumer, pytest.raises(ConfigError, match="wsgi_app"):
        mount_in_flask(object(), "/events", consumer)


def test_flask_non_ascii_prefix_and_two_mounts() -> None:
    app = flask.Flask("syncapi_mount_test")
    app.add_url_rule("/health", "health", lambda: "ok")
    with http.Consumer() as first, http.Consumer() as second:
        got_first: queue.Queue[Seen] = queue.Queue()
        got_second: queue.Queue[Seen] = queue.Queue()
        first.subscriber("orders/{id}").start(lambda env: got_first.put(seen(env)))
        second.subscriber("orders/{id}").start(lambda env: got_second.put(seen(env)))
        mount_in_flask(app, "/événements", first)
        mount_in_flask(app, "/a/b", second)
        served = Served(app)
        try:
            with http.Producer(served.url + "/événements") as producer:
                producer.publisher("orders/1").send(b"one")
            with http.Producer(served.url + "/a/b") as producer:
                producer.publisher("orders/2").send(b"two")
            assert requests.get(served.url + "/health", timeout=TIMEOUT).text == "ok"
        finally:
            served.stop()
        assert got_first.get(timeout=TIMEOUT).payload == b"one"
        assert got_second.get(timeout=TIMEOUT).payload == b"two"


# --- Django only ---------------------------------------------------------------------------


@DJANGO_ONLY
def test_django_view_is_csrf_exempt_where_the_app_is_not(mounted: Mounted) -> None:
    got = mounted.record()
    mounted.producer.publisher("orders/5").send(b"x")
    assert got.get(timeout=TIMEOUT).payload == b"x"
    refused = requests.post(mounted.health, data=b"x", timeout=TIMEOUT)
    assert refused.status_code == 403  # the CSRF middleware is on for the app's views


@DJANGO_ONLY
def test_django_body_read_by_a_middleware_first(mounted: Mounted) -> None:
    got = mounted.record()
    pub = mounted.producer.publisher("orders/6")
    pub.send(pub.envelope(PAYLOAD, headers={"X-Read-Body": "1"}))
    item = got.get(timeout=TIMEOUT)
    assert (item.payload, item.headers) == (PAYLOAD, {"X-Read-Body": "1"})


@DJANGO_ONLY
def test_django_body_consumed_as_a_stream_is_an_error(mounted: Mounted) -> None:
    got = mounted.record()
    response = requests.post(
        mounted.events + "/orders/8",
        files={"f": ("f.txt", b"data")},
        headers={"X-Read-Post": "1"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 500  # never an empty body handed on as if it were sent
    assert got.empty()


@DJANGO_ONLY
def test_django_url_patterns(mounted: Mounted) -> None:
    got = mounted.record()
    for prefix, order in (("/conv", "3"), ("/pos", "4")):
        response = requests.post(
            f"{mounted.root}{prefix}/orders/{order}", data=order, timeout=TIMEOUT
        )
        assert response.status_code == 204, prefix
        item = got.get(timeout=TIMEOUT)
        assert (item.path, item.params, item.payload) == (
            f"/orders/{order}",
            {"id": order},
            order.encode(),
        )
    bad = requests.post(mounted.root + "/bad/orders/5", data=b"x", timeout=TIMEOUT)
    assert bad.status_code == 500  # ImproperlyConfigured: the pattern captures no path
    assert got.empty()
    mounts = [(e["SCRIPT_NAME"], e["PATH_INFO"]) for e in mounted.consumer.environs]
    assert mounts == [("/conv", "/orders/3"), ("/pos", "/orders/4")]
