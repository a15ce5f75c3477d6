"""Every script under examples/ runs, as a user runs it: a subprocess of this Python, against
the real brokers of the session (Kafka, RabbitMQ) or on loopback, checked by its output and
exit status. The Flask and Django apps are served for real and driven over HTTP; the worker
gets SIGTERM while its callbacks run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket

import syncapi
from syncapi import amqp, http, kafka

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def _env(**extra: str) -> dict[str, str]:
    """The environment of an example: this checkout first on the path, unbuffered output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _run(
    script: str, *args: str, timeout: float = 60, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``examples/<script>`` to its end."""
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=ROOT,
        env=_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


class Running:
    """A long-running example (a server, a worker): its output is read as it comes, so a
    test waits for a line instead of sleeping, and nothing blocks on a full pipe."""

    def __init__(self, args: Sequence[str], *, cwd: Path = ROOT, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(name, stream), daemon=True)
            for name, stream in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, stream: Any) -> None:
        for line in stream:
            with self._changed:
                self.lines[name].append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def output(self) -> str:
        with self._changed:
            return "\n".join(
                ["--- stdout", *self.lines["stdout"], "--- stderr", *self.lines["stderr"]]
            )

    def wait_until(self, condition: Callable[[], Any], timeout: float, what: str) -> Any:
        """Wait until ``condition()`` (called with the lines locked) is truthy; return it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = condition()
                if found:
                    return found
                left = deadline - time.monotonic()
                exited = self.proc.poll() is not None and not any(
                    r.is_alive() for r in self._readers
                )
                if left <= 0 or exited:
                    break
                self._changed.wait(min(left, 0.5))
        raise AssertionError(
            f"no {what} within {timeout} s (exit {self.proc.poll()})\n{self.output()}"
        )

    def wait_for(self, pattern: str, timeout: float = 60, stream: str = "stdout") -> re.Match[str]:
        """The first line of ``stream`` that matches ``pattern``, once it came."""

        def search() -> re.Match[str] | None:
            for line in self.lines[stream]:
                match = re.search(pattern, line)
                if match:
                    return match
            return None

        found: re.Match[str] = self.wait_until(search, timeout, f"line matching {pattern!r}")
        return found

    def matching(self, pattern: str, stream: str = "stdout") -> list[re.Match[str]]:
        with self._changed:
            lines = list(self.lines[stream])
        return [m for m in (re.search(pattern, line) for line in lines) if m]

    def finish(self, sig: int, timeout: float = 30) -> tuple[int, float]:
        """Send ``sig``; return the exit status and how long the exit took."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        elapsed = time.monotonic() - started
        for reader in self._readers:
            reader.join(10)
        return code, elapsed

    def kill(self) -> None:
        """Leave nothing behind (called in ``finally``)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)
        for reader in self._readers:
            reader.join(10)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- one example per protocol ---------------------------------------------------------------
def test_quickstart_memory() -> None:
    out = _ok(_run("quickstart.py", timeout=120))
    assert "10000 messages from 20 threads received by 10000 acks" in out


def test_kafka_orders(kafka_url: str) -> None:
    out = _ok(_run("kafka_orders.py", kafka_url, timeout=120))
    assert "sent 100 orders to shop.orders" in out
    assert "received 100/100 orders from 10 customers" in out, out
    assert "per-customer order kept" in out, out


def test_amqp_tasks(amqp_url: str) -> None:
    out = _ok(_run("amqp_tasks.py", amqp_url, timeout=120))
    assert "sent 60 tasks from 4 threads, each confirmed by the broker" in out
    assert "a task for a missing queue was refused: UnroutableError" in out
    match = re.search(r"handled 60/60 tasks: worker-a (\d+), worker-b (\d+)", out)
    assert match, out
    assert int(match[1]) > 0 and int(match[2]) > 0, f"one consumer did all the work: {out}"


def test_http_webhooks() -> None:
    out = _ok(_run("http_webhooks.py"))
    assert re.search(r"listening on http://127\.0\.0\.1:\d+", out)
    assert "delivered 20/20 webhooks, answered [202]" in out
    assert "a forged webhook was answered 401 bad signature" in out


def test_ws_chat() -> None:
    out = _ok(_run("ws_chat.py"))
    assert (
        "bob got: ['ada: hello 0 from ada', 'ada: hello 1 from ada', 'ada: hello 2 from ada']"
        in out
    )
    assert "chat: ada got 3/3 from bob, bob got 3/3 from ada, carol got 0" in out
    assert "/who answered ['in lobby: ada, bob']" in out


def test_tcp_echo() -> None:
    out = _ok(_run("tcp_echo.py"))
    assert "echoed 300/300 messages over 3 connections, in order" in out
    assert "a plain socket client got b'hello'" in out


def test_udp_metrics() -> None:
    out = _ok(_run("udp_metrics.py"))
    assert "received 60/60 datagrams from 3 sender sockets; requests=30, latency_ms sum=270" in out
    assert "replies per service: {'web-1': 20, 'web-2': 20, 'billing': 20}" in out


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="raw sockets need root")
def test_ip_raw() -> None:
    out = _ok(_run("ip_raw.py"))
    assert "echoed 10/10 packets of protocol 253" in out
    assert "from 127.0.0.2 to 127.0.0.3" in out


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0, reason="needs root to drop the capability"
)
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux)")
def test_ip_raw_without_cap_net_raw_exits_2() -> None:
    result = subprocess.run(
        ["setpriv", "--bounding-set=-net_raw", sys.executable, str(EXAMPLES / "ip_raw.py")],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("ip_raw: ") and "CAP_NET_RAW" in line


# -- cron_send.py ---------------------------------------------------------------------------
def _kafka_payloads(url: str, topic: str, count: int) -> list[kafka.EnvelopeReader]:
    got: list[kafka.EnvelopeReader] = []
    with kafka.Consumer(url, auto_offset_reset="earliest") as consumer:
        sub = consumer.subscriber(topic)
        deadline = time.monotonic() + 60
        while len(got) < count and time.monotonic() < deadline:
            for env in sub.fetch(max_messages=count, timeout=5):
                assert isinstance(env, kafka.EnvelopeReader)
                got.append(env)
                env.ack()
    return got


def test_cron_send_to_kafka(kafka_url: str) -> None:
    topic = _unique("cron")
    first = _ok(_run("cron_send.py", kafka_url, topic, "a", "b", "--header", "job=nightly"))
    assert first == f"sent 2 messages to {topic}\n"
    lines = "".join(f"line {n}\n" for n in range(1200)) + "\n  \n"  # blank lines are skipped
    second = _ok(
        _run("cron_send.py", kafka_url, topic, "--content-type", "text/plain", stdin=lines)
    )
    assert second == f"sent 1200 messages to {topic}\n"

    got = _kafka_payloads(kafka_url, topic, 1202)
    assert [env.payload for env in got] == [b"a", b"b"] + [
        f"line {n}".encode() for n in range(1200)
    ]
    assert dict(got[0].headers) == {"job": "nightly"} and got[0].content_type is None
    assert got[-1].content_type == "text/plain"


def test_cron_send_to_amqp(amqp_url: str) -> None:
    queue = _unique("cron")
    work = amqp.ChannelBindings(is_="queue")
    with amqp.Consumer(amqp_url) as consumer:
        sub = consumer.subscriber(queue, work)  # the consuming side declares the queue
        out = _ok(_run("cron_send.py", amqp_url, queue, stdin="x\ny\nz\n"))
        assert out == f"sent 3 messages to {queue}\n"
        got = sub.fetch(max_messages=3, timeout=10)
        assert [env.payload for env in got] == [b"x", b"y", b"z"]
        for env in got:
            env.ack()

    missing = _run("cron_send.py", amqp_url, _unique("no-such-queue"), "x")
    assert missing.returncode == 1 and missing.stdout == ""
    [line] = missing.stderr.splitlines()
    assert line.startswith("cron_send: UnroutableError: ") and "(0 of 1 messages accepted)" in line


def _free_port() -> int:
    """A port the OS just handed out and that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cron_send_failures_exit_non_zero() -> None:
    port = _free_port()
    started = time.monotonic()
    kafka_down = _run("cron_send.py", f"kafka://127.0.0.1:{port}?connect_timeout=2", "t", "x")
    assert time.monotonic() - started < 30
    amqp_down = _run("cron_send.py", f"amqp://guest:s3cret@127.0.0.1:{port}/", "q", "x")
    for result in (kafka_down, amqp_down):
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stdout == ""
        [line] = result.stderr.splitlines()  # one clear line
        assert line.startswith("cron_send: ConnectError: "), line
        assert line.endswith("(0 of 1 messages accepted)"), line
    assert "s3cret" not in amqp_down.stderr  # the URL's password is never printed

    usage = _run("cron_send.py", "kafka://127.0.0.1:9092")
    assert usage.returncode == 2 and "usage:" in usage.stderr
    bad_header = _run("cron_send.py", "kafka://127.0.0.1:9092", "t", "x", "--header", "oops")
    assert bad_header.returncode == 2 and "NAME=VALUE" in bad_header.stderr


# -- worker.py: SIGTERM while callbacks run -------------------------------------------------
def _drain(subscriber: syncapi.Subscriber, wanted: set[str], timeout: float) -> list[str]:
    """What waits on ``subscriber``: fetch until every one of ``wanted`` came (a message
    may come twice on Kafka), then whatever else is there."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while not wanted <= set(got) and time.monotonic() < deadline:
        for env in subscriber.fetch(max_messages=50, timeout=2):
            got.append(env.payload.decode())
            env.ack()
    for env in subscriber.fetch(max_messages=50, timeout=1):  # nothing more, normally
        got.append(env.payload.decode())
        env.ack()
    return got


@pytest.mark.parametrize("broker", ["amqp", "kafka"])
def test_worker_stops_cleanly_on_sigterm(broker: str, request: pytest.FixtureRequest) -> None:
    """40 jobs of 0.3 s on 4 workers; SIGTERM once a few are done. The worker exits 0
    promptly, and every job was either handled (and acked) or is still waiting: none is
    lost. On RabbitMQ none is handled twice; Kafka promises at-least-once."""
    url: str = request.getfixturevalue(f"{broker}_url")
    channel = _unique("jobs")
    jobs = [f"job-{n}" for n in range(40)]
    if broker == "amqp":
        worker_url = url + "?prefetch=8"
        with amqp.Producer(url) as producer:  # declares the durable queue too
            producer.publisher(channel, amqp.ChannelBindings(is_="queue")).send(*jobs)
    else:
        group = _unique("workers")
        worker_url = f"{url}?group_id={group}&auto_offset_reset=earliest"
        with kafka.Producer(url) as producer:  # 4 partitions: 4 callbacks may run at once
            producer.publisher(channel, kafka.ChannelBindings(partitions=4)).send(*jobs)

    worker = Running(
        [
            str(EXAMPLES / "worker.py"),
            worker_url,
            channel,
            "--workers",
            "4",
            "--job-seconds",
            "0.3",
        ],
        env=_env(),
    )
    try:
        worker.wait_for(r"^ready: 4 workers on ")
        worker.wait_until(lambda: len(worker.lines["stdout"]) >= 6, 60, "5 handled jobs")
        code, took = worker.finish(signal.SIGTERM)
        assert code == 0, worker.output()
        assert took < 15, f"the worker took {took:.1f} s to stop\n{worker.output()}"
    finally:
        worker.kill()
    assert worker.matching(r"stopped by SIGTERM: ", "stderr"), worker.output()
    handled = [m[1] for m in worker.matching(r"^handled (\S+)$")]
    assert 5 <= len(handled) < len(jobs), worker.output()
    assert len(set(handled)) == len(handled), "a job ran twice in one run"

    wanted = set(jobs) - set(handled)
    if broker == "amqp":
        with amqp.Consumer(url) as consumer:
            rest = _drain(
                consumer.subscriber(channel, amqp.ChannelBindings(is_="queue")), wanted, 30
            )
        assert sorted(rest) == sorted(wanted), "a job was lost, or a handled one not acknowledged"
    else:
        with kafka.Consumer(url, group_id=group) as consumer:  # the worker's group goes on
            rest = _drain(consumer.subscriber(channel), wanted, 60)
        assert set(rest) >= wanted, f"jobs were lost: {sorted(wanted - set(rest))}"
        again = set(rest) & set(handled)  # at-least-once: allowed, and reported
        print(
            f"kafka: {len(handled)} handled, {len(again)} of them delivered again: {sorted(again)}"
        )


# -- the web apps, served for real ----------------------------------------------------------
class Downstream:
    """A fulfilment service that the apps send their order events to (an http:// consumer
    in this process)."""

    def __init__(self) -> None:
        self.events: list[http.EnvelopeReader] = []
        self._lock = threading.Lock()
        self.consumer = http.Consumer("http://127.0.0.1/")
        self.worker = self.consumer.subscriber("orders").start(self._take, workers=4)
        self.url = self.consumer.serve().url

    def _take(self, env: http.EnvelopeReader) -> None:
        with self._lock:
            self.events.append(env)

    def close(self) -> None:
        self.consumer.close()


def _drive_shop(root: str, downstream: Downstream, slash: str) -> None:
    """What both apps must do: publish from the view, take webhooks on the mounted consumer.
    ``slash`` ends Django's URLs (``/orders/``), not Flask's (``/orders``)."""

    def place(n: int) -> dict[str, Any]:
        items = [{"qty": n + 1, "price": 2.5}]
        answer = requests.post(f"{root}/orders{slash}", json={"items": items}, timeout=30)
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body

    with ThreadPoolExecutor(max_workers=5) as pool:  # five request threads at once
        placed = list(pool.map(place, range(5)))
    ids = {order["id"] for order in placed}
    assert len(ids) == 5

    events = {env.headers["order-id"]: env for env in downstream.events}
    assert set(events) == ids, "every order event went out, when its view answered"
    for order in placed:
        env = events[order["id"]]
        assert env.content_type == "application/json"
        assert json.loads(env.payload)["total"] == order["total"]

    with http.Producer(root + "/events") as producer:  # the mount point is the base URL
        for order in placed:
            payments = producer.publisher(
                "payments/{order_id}", parameters={"order_id": order["id"]}
            )
            answer = payments.request(json.dumps({"amount": order["total"]}))
            assert answer.status == 204
        unknown = producer.publisher("payments/nope").request(
            b'{"amount": 1}', raise_for_status=False
        )
        assert unknown.status == 404 and unknown.text == "no order nope"
        wrong = producer.publisher("nowhere").request(b"{}", raise_for_status=False)
        assert wrong.status == 404  # the consumer's own answer for an unknown route

    for order in placed:
        shown = requests.get(f"{root}/orders/{order['id']}{slash}", timeout=30).json()
        assert shown["status"] == "paid" and shown["paid"] == order["total"]

    bad = requests.post(f"{root}/orders{slash}", json={"no": "items"}, timeout=30)
    assert bad.status_code == 400
    downstream.worker.stop()  # the fulfilment service stops taking orders: 503 to the app
    refused = requests.post(
        f"{root}/orders{slash}", json={"items": [{"qty": 1, "price": 1}]}, timeout=30
    )
    assert refused.status_code == 503, refused.text
    failed = requests.get(f"{root}/orders/{refused.json()['id']}{slash}", timeout=30).json()
    assert failed["status"] == "failed"


def _live(root: str, path: str = "/live/orders") -> websocket.WebSocket:
    """A client of the Flask app's live order feed: plain websocket-client, as a browser."""
    return websocket.create_connection("ws" + root.removeprefix("http") + path, timeout=30)


def _next_frame(client: websocket.WebSocket, timeout: float = 30) -> tuple[int, bytes]:
    """The next data or close frame the app sent to ``client`` (pings are answered). The
    deadline is the test's: the socket timeout alone restarts with every ping of the app."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"nothing from the live feed within {timeout} s"
        client.settimeout(left)
        opcode, data = client.recv_data(control_frame=True)  # a close frame is answered too
        if opcode not in (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG):
            return opcode, data


def _feed(client: websocket.WebSocket) -> dict[str, Any]:
    """The next message the app sent to ``client``: JSON in a text frame."""
    opcode, data = _next_frame(client)
    assert opcode == websocket.ABNF.OPCODE_TEXT, (opcode, data)
    message: dict[str, Any] = json.loads(data)
    return message


def _drive_live_feed(root: str) -> websocket.WebSocket:
    """The Flask app's ``/live`` mount: two clients get every status change, a client's
    own question is answered to it alone, clients that leave disturb nothing. Returns a
    client that stays connected."""
    ada, bob = _live(root), _live(root)
    placed = requests.post(
        root + "/orders", json={"items": [{"qty": 3, "price": 2.0}]}, timeout=30
    ).json()
    order_id = placed["id"]
    for client in (ada, bob):  # sent before the view answered 201
        assert _feed(client) == {"id": order_id, "status": "placed", "total": 6.0}
    paid = requests.post(f"{root}/events/payments/{order_id}", json={"amount": 6.0}, timeout=30)
    assert paid.status_code == 204, paid.text
    for client in (ada, bob):
        assert _feed(client) == {"id": order_id, "status": "paid", "total": 6.0}

    ada.send(json.dumps({"get": order_id}))  # answered on ada's connection only
    assert _feed(ada) == {"id": order_id, "status": "paid", "total": 6.0}
    ada.send(json.dumps({"get": "nope"}))
    assert _feed(ada) == {"id": "nope", "error": "no such order"}
    ada.send("hello")
    assert _feed(ada) == {"error": 'expected {"get": "<order id>"}'}
    ada.send_close(websocket.STATUS_NORMAL, b"bye")  # a normal close: the app answers it
    opcode, data = _next_frame(ada)
    assert (opcode, int.from_bytes(data[:2], "big")) == (websocket.ABNF.OPCODE_CLOSE, 1000)
    ada.shutdown()

    carol = _live(root)
    carol.sock.shutdown(socket.SHUT_RDWR)  # gone without a close frame
    carol.sock.close()
    assert requests.get(root + "/health", timeout=30).text == "ok"
    later = requests.post(root + "/orders", json={"items": [{"qty": 1, "price": 4}]}, timeout=30)
    assert later.status_code == 201, later.text
    # bob got none of ada's answers: his next message is the next broadcast
    assert _feed(bob) == {"id": later.json()["id"], "status": "placed", "total": 4}

    for path in ("/live/nowhere", "/nowhere"):  # the consumer's 404, then Flask's
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            _live(root, path)
        assert refused.value.status_code == 404, path
    plain = requests.get(root + "/live/orders", timeout=30)  # not a WebSocket handshake
    assert plain.status_code == 426 and plain.headers["Upgrade"] == "websocket"
    return bob


def test_flask_app_served_by_werkzeug() -> None:
    downstream = Downstream()
    app = Running(
        [str(EXAMPLES / "flask_app" / "app.py"), "--port", "0"],
        env=_env(SHOP_ORDERS_URL=downstream.url),
    )
    bob: websocket.WebSocket | None = None
    try:
        root = app.wait_for(r"^listening on (http://127\.0\.0\.1:\d+)$")[1]
        assert requests.get(root + "/health", timeout=30).text == "ok"
        bob = _drive_live_feed(root)
        assert len(downstream.events) == 2  # the feed's two orders went out as well
        downstream.events.clear()  # _drive_shop counts its own
        _drive_shop(root, downstream, "")  # bob stays connected meanwhile

        # _drive_shop placed 5 orders at once and paid them, and 1 failed: bob saw each
        # status change once, each order's in order, from request and receive-loop threads
        feed = [_feed(bob) for _ in range(11)]
        seen = {(m["id"], m["status"]): n for n, m in enumerate(feed)}
        assert len(seen) == 11, feed
        placed = [order_id for order_id, status in seen if status == "placed"]
        failed = [order_id for order_id, status in seen if status == "failed"]
        assert len(placed) == 5 and len(failed) == 1 and failed[0] not in placed, feed
        assert all(
            seen[(order_id, "placed")] < seen.get((order_id, "paid"), -1) for order_id in placed
        ), feed

        with ThreadPoolExecutor(max_workers=1) as reader:
            closing = reader.submit(_next_frame, bob)  # the app's close frame, answered
            code, took = app.finish(signal.SIGTERM)
            opcode, data = closing.result(timeout=30)
        assert code == 0, app.output()
        assert took < 15, app.output()
        assert opcode == websocket.ABNF.OPCODE_CLOSE, (opcode, data)
        assert int.from_bytes(data[:2], "big") == 1001  # going away: the app closed its feed
    finally:
        if bob is not None:
            bob.shutdown()
        app.kill()
        downstream.close()
    assert app.lines["stdout"][-1] == "stopped: the consumers and the producer are closed"
    assert not app.matching(r"Traceback", "stderr"), app.output()


def test_django_project_served_by_runserver() -> None:
    downstream = Downstream()
    project = EXAMPLES / "django_project"
    server = Running(
        ["manage.py", "runserver", "--noreload", "127.0.0.1:0"],
        cwd=project,
        env=_env(SHOP_ORDERS_URL=downstream.url, DJANGO_SETTINGS_MODULE="shop.settings"),
    )
    try:
        root = server.wait_for(r"Starting development server at (http://127\.0\.0\.1:\d+)/")[1]
        assert requests.get(root + "/health/", timeout=30).text == "ok"
        assert requests.post(root + "/health/", timeout=30).status_code == 403  # CSRF stays on
        _drive_shop(root, downstream, "/")
        code, took = server.finish(signal.SIGINT)  # Ctrl-C: runserver exits 0
        assert code == 0, server.output()
        assert took < 15, server.output()
    finally:
        server.kill()
        downstream.close()
    assert server.matching(r"orders: messaging closed$", "stderr"), server.output()
    assert not server.matching(r"Traceback", "stderr"), server.output()


def test_examples_are_listed_in_the_guide() -> None:
    """docs/guides/examples.md names every example and the command that runs it."""
    guide = (ROOT / "docs" / "guides" / "examples.md").read_text()
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert scripts, "no examples found"
    for name in [*scripts, "flask_app/app.py", "django_project/manage.py"]:
        assert f"examples/{name}" in guide, f"{name} is missing from docs/guides/examples.md"


def _is_subsequence(lines: list[str], source: list[str]) -> bool:
    position = iter(source)
    return all(any(line == candidate for candidate in position) for line in lines)


def test_guide_snippets_are_the_examples_code() -> None:
    """Every Python snippet of docs/guides/ is the code of an example as it is now: its
    lines appear, in order, in one example file (or in this test, which drives them)."""
    sources = {
        path: [line.strip() for line in path.read_text().splitlines() if line.strip()]
        for path in [*EXAMPLES.rglob("*.py"), Path(__file__)]
    }
    checked = 0
    for guide in sorted((ROOT / "docs" / "guides").glob("*.md")):
        for block in re.findall(r"```python\n(.*?)```", guide.read_text(), flags=re.DOTALL):
            lines = [line.strip() for line in block.splitlines() if line.strip()]
            assert any(_is_subsequence(lines, source) for source in sources.values()), (
                f"{guide.name}: this snippet is not in any example as it is now:\n{block}"
            )
            checked += 1
    assert checked >= 10
