"""Entry ``http``: ``http://`` against bare requests + Flask, both sides in this process.

No external server: each run starts its own server and client on ``127.0.0.1`` (any
free port) and stops them afterwards. Both sides do the same two jobs, ``messages``
POST requests with a ``size``-byte body each:

1. **one request at a time** (the table's main row), from one thread —

   * baseline: a plain ``requests.Session()`` and ``session.post(url, data=payload)``
     per request (checking that the answer is 204), to a bare Flask route
     (``@app.post("/bench")`` reading ``request.get_data()`` and returning
     ``("", 204)``) served by werkzeug's threaded server,
     ``werkzeug.serving.make_server(host, 0, app, threaded=True,
     request_handler=RequestHandler)``;
   * syncapi: ``http.Producer(server.url).publisher("bench")`` and
     ``publisher.send(payload)`` per request (it raises on a non-2xx answer), to an
     ``http.Consumer()`` whose ``consumer.subscriber("bench")`` runs the receive loop
     ``subscriber.start(callback)`` (one worker), the callback reading the payload and
     returning (answered 204, the default), served by ``consumer.serve()``;

2. **:data:`THREADS` threads at once** (the extra row :data:`EXTRA_THREADS`), sharing
   one ``requests.Session`` (baseline) or one publisher (syncapi), the ``messages``
   requests split evenly between them; syncapi's loop then runs
   ``subscriber.start(callback, workers=THREADS)``, one callback per sending thread, as
   werkzeug runs the Flask route on one thread per connection.

Both servers use syncapi's :class:`~syncapi.http.server.RequestHandler` (werkzeug's,
declaring HTTP/1.1, and logging each request at DEBUG instead of a line on stderr), so
the two sides serve alike and neither pays for an access log. (With werkzeug 3.1 the
handler still answers ``Connection: close`` — werkzeug's ``run_wsgi`` always sends it —
so on both sides every request opens a TCP connection and a server thread of its own.)

What is timed: the one-by-one job from the first request to the last answer, on the
sending thread; the threaded job from the moment all threads are ready (each has sent
one warm-up request) to the last thread's last answer.
Building the application, starting the servers, the clients, one warm-up request
before the one-by-one job and stopping everything come outside the clock.

Counting, not trusting: each side's server handler (the Flask route, the syncapi
callback) counts the requests it saw and their body bytes; warm-up requests left out,
a job must show exactly ``messages`` requests of ``size`` bytes, or the run raises
:class:`RuntimeError` and fails the benchmark.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .model import Entry, Goal, Params, Sample, Variant

__all__ = [
    "CHANNEL",
    "DEFAULT_MESSAGES",
    "ENTRY",
    "EXTRA_THREADS",
    "HOST",
    "THREADS",
    "Counter",
    "FlaskServer",
    "Measured",
    "check",
    "in_threads",
    "measure_baseline",
    "measure_syncapi",
    "raw_post",
    "run_baseline",
    "run_syncapi",
    "shares",
    "syncapi_send",
]

DEFAULT_MESSAGES = 1_000
"""Requests per run of each job (about 5 s per job at the ~200 req/s of a small machine)."""
THREADS = 8
"""Sending threads of the threaded job (and workers of syncapi's receive loop then)."""
HOST = "127.0.0.1"
"""Where both sides' servers listen (on any free port)."""
CHANNEL = "bench"
"""The route of both servers: ``POST /bench``."""

EXTRA_THREADS = f"{THREADS} threads, one publisher/session: req/s"
"""The extra figure of the threaded job (requests per second): the baseline's in its
samples (threads sharing one ``requests.Session``), syncapi's in syncapi's (threads
sharing one publisher)."""

_WARMUP = 1  # requests sent before each clock starts, per sending thread


def check() -> str | None:
    """Why the entry cannot run here (requests, werkzeug or Flask missing), or ``None``."""
    try:
        import requests  # noqa: F401
        import werkzeug  # noqa: F401
    except ImportError:
        return "requests and werkzeug are not installed (pip install 'syncapi[http]')"
    try:
        import flask  # noqa: F401
    except ImportError:
        return "Flask, the baseline's server, is not installed (pip install 'flask>=3.0')"
    return None


def _deadline(messages: int) -> float:
    """Seconds a job may take at most before it counts as hung (generous: 20 req/s)."""
    return 60.0 + messages / 20.0


class Counter:
    """What a server's handler saw: requests and body bytes, counted from any thread.

    Both sides' handlers call :meth:`add` once per request (the same lock on each side:
    their threads count at once in the threaded job).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._bytes = 0

    def add(self, body: bytes) -> None:
        """Count one request with body ``body``."""
        with self._lock:
            self._requests += 1
            self._bytes += len(body)

    def take(self) -> tuple[int, int]:
        """The requests and bytes counted since the last call (or since made), as
        ``(requests, bytes)``; the counts start again from zero."""
        with self._lock:
            counts = (self._requests, self._bytes)
            self._requests = self._bytes = 0
        return counts


# -- the servers --------------------------------------------------------------------------
class FlaskServer:
    """The baseline's server: a bare Flask route ``POST /bench`` that reads the body,
    counts it in ``counter`` and answers ``("", 204)``, on werkzeug's threaded server
    with syncapi's request handler, in a background thread (as ``consumer.serve()`` runs
    syncapi's).

    Attributes:
        url: the route's URL.
    """

    def __init__(self, counter: Counter) -> None:
        from flask import Flask, request
        from werkzeug.serving import make_server

        from ..http.server import RequestHandler

        app = Flask("syncapi-bench-http")

        @app.post(f"/{CHANNEL}")
        def bench() -> tuple[str, int]:
            counter.add(request.get_data())
            return ("", 204)

        self._server = make_server(HOST, 0, app, threaded=True, request_handler=RequestHandler)
        self._server.daemon_threads = True  # type: ignore[attr-defined]  # as ServerHandle
        self.url = f"http://{HOST}:{self._server.server_port}/{CHANNEL}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="syncapi-bench-flask",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the socket and end the thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10.0)


# -- the jobs, side by side -----------------------------------------------------------------
# Each takes a ready client (made, connection open) and returns the seconds it took.
def raw_post(session: Any, url: str, payload: bytes, n: int) -> float:
    """Baseline: ``session.post(url, data=payload)`` per request, each answer checked to
    be 204.

    Raises:
        RuntimeError: the server answered something else.
    """
    post = session.post
    start = time.perf_counter()
    for _ in range(n):
        response = post(url, data=payload)
        if response.status_code != 204:
            raise RuntimeError(f"Flask answered {response.status_code}, not 204: {response.text!r}")
    return time.perf_counter() - start


def syncapi_send(publisher: Any, payload: bytes, n: int) -> float:
    """syncapi: ``publisher.send(payload)`` per request (it returns once answered 2xx
    and raises otherwise)."""
    send = publisher.send
    start = time.perf_counter()
    for _ in range(n):
        send(payload)
    return time.perf_counter() - start


def shares(n: int, threads: int) -> list[int]:
    """``n`` requests split as evenly as can be between ``threads`` threads (the first
    ones take one more when it does not divide)."""
    whole, rest = divmod(n, threads)
    return [whole + (1 if i < rest else 0) for i in range(threads)]


def in_threads(job: Callable[[int], object], n: int, threads: int = THREADS) -> float:
    """Run ``job(count)`` on ``threads`` threads at once, ``n`` requests in all (see
    :func:`shares`), and return the seconds from the moment every thread is ready to the
    end of the last one. Each thread first makes ``job(1)`` (warm-up), outside the
    clock.

    Raises:
        RuntimeError: a thread failed (its error chained) or did not end in time.
    """
    stamps: list[float] = []
    ready = threading.Barrier(threads, action=lambda: stamps.append(time.perf_counter()))
    errors: list[BaseException] = []

    def body(count: int) -> None:
        try:
            job(_WARMUP)
            ready.wait()
            job(count)
        except threading.BrokenBarrierError:
            pass  # another thread failed: its error is reported
        except BaseException as exc:
            errors.append(exc)
            ready.abort()

    workers = [
        threading.Thread(target=body, args=(count,), name=f"bench-sender-{i}", daemon=True)
        for i, count in enumerate(shares(n, threads))
    ]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + _deadline(n)
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    end = time.perf_counter()
    if errors:
        raise RuntimeError(f"a sending thread failed: {errors[0]!r}") from errors[0]
    if any(worker.is_alive() for worker in workers) or not stamps:
        raise RuntimeError(f"{threads} threads did not send {n} requests in time")
    return end - stamps[0]


# -- one run of each side ---------------------------------------------------------------------
@dataclass(frozen=True)
class Measured:
    """What one side did in one run: its two timings and the server's counts behind them.

    Attributes:
        library: ``"requests + Flask"`` or ``"syncapi"``.
        messages: requests each job was asked to make.
        size: their body size in bytes.
        seconds: the one-by-one job's timed part.
        threaded_seconds: the threaded job's timed part.
        handled: requests the server's handler saw in the one-by-one job (warm-up left
            out: the server's count, not the client's).
        handled_bytes: their body bytes.
        threaded_handled: requests the handler saw in the threaded job (warm-ups left out).
        threaded_bytes: their body bytes.
    """

    library: str
    messages: int
    size: int
    seconds: float
    threaded_seconds: float
    handled: int
    handled_bytes: int
    threaded_handled: int
    threaded_bytes: int

    def verify(self) -> None:
        """Raise :class:`RuntimeError` unless the server saw exactly :attr:`messages`
        requests of :attr:`size` bytes in each job."""
        n, total = self.messages, self.messages * self.size
        seen = (self.handled, self.handled_bytes, self.threaded_handled, self.threaded_bytes)
        if seen != (n, total, n, total):
            raise RuntimeError(
                f"{self.library}: the server saw {self.handled} requests of "
                f"{self.handled_bytes} bytes in all one by one and {self.threaded_handled} "
                f"of {self.threaded_bytes} bytes from {THREADS} threads; expected {n} "
                f"requests of {total} bytes in each job"
            )

    def sample(self) -> Sample:
        """The harness's sample of this run: the one-by-one rate as its throughput, the
        threaded rate as :data:`EXTRA_THREADS`."""
        n = self.messages
        return Sample(
            messages=n, seconds=self.seconds, extra={EXTRA_THREADS: n / self.threaded_seconds}
        )


def _counted(counter: Counter, warmups: int, size: int) -> tuple[int, int]:
    """The handler's counts of a job (requests, bytes), less its ``warmups`` requests of
    ``size`` bytes each."""
    requests, total = counter.take()
    return requests - warmups, total - warmups * size


def measure_baseline(params: Params) -> Measured:
    """requests + Flask: both jobs against a fresh :class:`FlaskServer`, with the
    server's counts (not verified: see :meth:`Measured.verify`)."""
    import requests

    payload, n = params.payload(), params.messages
    counter = Counter()
    server = FlaskServer(counter)
    try:
        with requests.Session() as session:
            raw_post(session, server.url, payload, _WARMUP)
            seconds = raw_post(session, server.url, payload, n)
            handled, handled_bytes = _counted(counter, _WARMUP, params.size)
            threaded = in_threads(lambda k: raw_post(session, server.url, payload, k), n)
            threaded_handled, threaded_bytes = _counted(counter, THREADS * _WARMUP, params.size)
    finally:
        server.stop()
    return Measured(
        library="requests + Flask",
        messages=n,
        size=params.size,
        seconds=seconds,
        threaded_seconds=threaded,
        handled=handled,
        handled_bytes=handled_bytes,
        threaded_handled=threaded_handled,
        threaded_bytes=threaded_bytes,
    )


def _stop(worker: Any) -> None:
    """Stop a receive loop; raise :class:`RuntimeError` if it had failed."""
    worker.stop()
    if worker.error is not None:
        raise RuntimeError(f"syncapi: the receive loop failed: {worker.error!r}") from worker.error


def measure_syncapi(params: Params) -> Measured:
    """syncapi ``http://``: both jobs through a producer's publisher to a consumer's
    subscriber on a fresh ``consumer.serve()``, with the server's counts (not verified:
    see :meth:`Measured.verify`)."""
    from .. import http

    payload, n = params.payload(), params.messages
    counter = Counter()

    def on_request(env: Any) -> None:
        counter.add(env.payload)

    consumer = http.Consumer()
    try:
        subscriber = consumer.subscriber(CHANNEL)
        server = consumer.serve()
        with http.Producer(server.url) as producer:
            publisher = producer.publisher(CHANNEL)
            worker = subscriber.start(on_request)
            try:
                syncapi_send(publisher, payload, _WARMUP)
                seconds = syncapi_send(publisher, payload, n)
            finally:
                _stop(worker)
            handled, handled_bytes = _counted(counter, _WARMUP, params.size)
            worker = subscriber.start(on_request, workers=THREADS)
            try:
                threaded = in_threads(lambda k: syncapi_send(publisher, payload, k), n)
            finally:
                _stop(worker)
            threaded_handled, threaded_bytes = _counted(counter, THREADS * _WARMUP, params.size)
    finally:
        consumer.close()
    return Measured(
        library="syncapi",
        messages=n,
        size=params.size,
        seconds=seconds,
        threaded_seconds=threaded,
        handled=handled,
        handled_bytes=handled_bytes,
        threaded_handled=threaded_handled,
        threaded_bytes=threaded_bytes,
    )


def run_baseline(params: Params) -> Sample:
    """The baseline variant: requests + Flask, both jobs, verified."""
    run = measure_baseline(params)
    run.verify()
    return run.sample()


def run_syncapi(params: Params) -> Sample:
    """The syncapi variant: ``http://`` publisher to ``http://`` consumer, both jobs,
    verified."""
    run = measure_syncapi(params)
    run.verify()
    return run.sample()


ENTRY = Entry(
    name="http",
    description=(
        "http:// vs bare requests + Flask (in-process servers): POST one at a time, "
        f"and from {THREADS} threads"
    ),
    baseline=Variant(
        name="requests + Flask",
        run=run_baseline,
        metric="POST: session.post() -> Flask route",
    ),
    variants=(
        Variant(
            name="syncapi http://",
            run=run_syncapi,
            metric="POST: send(payload) vs requests+Flask",
            goal=Goal(min_ratio=0.9),
        ),
    ),
    default_messages=DEFAULT_MESSAGES,
    check=check,
)
"""The ``http`` entry of the harness."""
