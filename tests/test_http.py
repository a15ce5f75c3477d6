"""``http://`` on real sockets: a requests client against the consumer served on a real
threaded werkzeug server; bad input sent as raw bytes over TCP where requests would
refuse to send it."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

import syncapi
from syncapi import http
from syncapi.errors import ClosedError, ConfigError, SendError, TimeoutError
from syncapi.testing import Collector, wait_until

TIMEOUT = 20.0


@pytest.fixture
def consumer() -> Iterator[http.Consumer]:
    with http.Consumer("http://127.0.0.1/", deadline=5, max_body=1024) as c:
        c.serve()
        yield c


@pytest.fixture
def producer(consumer: http.Consumer) -> Iterator[http.Producer]:
    with http.Producer(consumer.servers[0].url) as p:
        yield p


def _raw(consumer: http.Consumer, request: bytes) -> tuple[int, bytes]:
    """Send raw bytes over a new TCP connection; return the status and the whole answer."""
    server = consumer.servers[0]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data


def _still_serving(consumer: http.Consumer, producer: http.Producer) -> None:
    sub = consumer.subscriber("alive")
    worker = sub.start(lambda env: env.respond(200, b"alive"))
    try:
        assert producer.publisher("alive").request(b"?").text == "alive"
    finally:
        worker.stop()
        sub.close()


# -- delivery ---------------------------------------------------------------------------------
def test_fifty_threads_two_thousand_requests_through_one_publisher(
    consumer: http.Consumer, producer: http.Producer
) -> None:
    sub = consumer.subscriber("load")
    collect = Collector(expected=2000)
    worker = sub.start(collect, workers=8)
    pub = producer.publisher("load")
    errors: list[BaseException] = []

    def send(t: int) -> None:
        try:
            for i in range(40):
                env = pub.envelope(
                    f"{t}-{i}".encode(),
                    headers={"thread": str(t), "bin": bytes([t, i]), "text": "caf\u00e9"},
                    content_type="application/x-test",
                )
                pub.send(env)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(t,)) for t in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors[:3]
    assert collect.wait(TIMEOUT)
    counts = Counter(collect.payloads)
    assert len(counts) == 2000 and set(counts.values()) == {1}, "lost or duplicated"
    for item in collect.items:
        t, i = (int(x) for x in item.payload.decode().split("-"))
        assert item.headers == {"thread": str(t), "bin": bytes([t, i]), "text": "caf\u00e9"}
        assert item.content_type == "application/x-test"
    worker.stop()


def test_request_reply_status_body_headers(
    consumer: http.Consumer, producer: http.Producer
) -> None:
    sub = consumer.subscriber("orders/{id}")

    def answer(env: http.EnvelopeReader) -> None:
        assert env.method == "POST" and env.path == "/orders/42"
        env.respond(
            201,
            b'{"id": "'
            + env.params["id"].encode()
            + b'", "q": "'
            + env.query["q"].encode()
            + b'"}',
            {"Location": "/orders/42"},
            content_type="application/json",
        )

    worker = sub.start(answer)
    pub = producer.publisher("orders/{id}", parameters={"id": "42"})
    response = pub.request(pub.envelope(b"{}", query={"q": "x y"}))
    assert response.status == 201
    assert response.json() == {"id": "42", "q": "x y"}
    assert response.headers["location"] == "/orders/42"
    assert response.content_type == "application/json"
    env = pub.envelope(b"again", query={"q": "z"})
    pub.send(env)
    assert env.response is not None and env.response.status == 201
    worker.stop()


def test_default_status_and_reply_bindings(
    consumer: http.Consumer, producer: http.Producer
) -> None:
    plain = consumer.subscriber("plain")
    accepted = consumer.subscriber("accepted", reply_bindings=http.MessageBindings(status_code=202))
    workers = [plain.start(lambda env: None), accepted.start(lambda env: None)]
    assert producer.publisher("plain").request(b"x").status == 204
    assert producer.publisher("accepted").request(b"x").status == 202
    for worker in workers:
        worker.stop()


def test_method_from_operation_bindings(consumer: http.Consumer, producer: http.Producer) -> None:
    op = http.OperationBindings(method="PUT")
    sub = consumer.subscriber("things", operation_bindings=op)
    seen: list[str] = []
    worker = sub.start(lambda env: seen.append(env.method))
    producer.publisher("things", operation_bindings=op).send(b"x")
    with pytest.raises(http.HTTPStatusError) as info:
        producer.publisher("things").send(b"x")  # POST
    assert info.value.status == 405
    assert info.value.response.headers["Allow"] == "PUT"
    assert seen == ["PUT"]
    worker.stop()


# -- errors of the callback ------------------------------------------------------------------
def test_raising_callback_is_a_500_without_traceback(
    consumer: http.Consumer, producer: http.Producer
) -> None:
    sub = consumer.subscriber("boom")

    def fail(env: http.EnvelopeReader) -> None:
        raise RuntimeError("secret internals")

    worker = sub.start(fail)
    with pytest.raises(http.HTTPStatusError) as info:
        producer.publisher("boom").send(b"x")
    assert info.value.status == 500
    assert b"secret" not in info.value.response.body
    assert b"Traceback" not in info.value.response.body
    assert worker.alive and worker.failed == 1
    _still_serving(consumer, producer)
    worker.stop()


def test_a_slow_callback_gets_a_503_at_the_deadline(producer: http.Producer) -> None:
    with http.Consumer("http://127.0.0.1/", deadline=0.5) as consumer:
        server = consumer.serve()
        sub = consumer.subscriber("slow")
        release = threading.Event()
        late: list[BaseException | None] = []

        def slow(env: http.EnvelopeReader) -> None:
            release.wait(10)
            try:
                env.respond(200, b"too late")  # dropped with a warning, not an error
                late.append(None)
            except BaseException as exc:
                late.append(exc)

        worker = sub.start(slow)
        with http.Producer(server.url) as local:
            started = time.monotonic()
            with pytest.raises(http.HTTPStatusError) as info:
                local.publisher("slow").send(b"x")
            assert info.value.status == 503
            assert time.monotonic() - started < 3
            release.set()
            assert wait_until(lambda: late == [None], 5), late
        worker.stop()
        assert worker.failed == 0


def test_no_receive_loop_is_a_503(consumer: http.Consumer, producer: http.Producer) -> None:
    consumer.subscriber("idle")
    with pytest.raises(http.HTTPStatusError) as info:
        producer.publisher("idle").send(b"x")
    assert info.value.status == 503
    assert info.value.response.headers["Retry-After"] == "1"


def test_a_full_backlog_is_a_503() -> None:
    with http.Consumer("http://127.0.0.1/", backlog=1, deadline=10) as consumer:
        server = consumer.serve()
        sub = consumer.subscriber("busy")
        release = threading.Event()
        worker = sub.start(lambda env: release.wait(10))
        with http.Producer(server.url) as producer:
            pub = producer.publisher("busy")
            results: list[int] = []

            def send() -> None:
                results.append(pub.request(b"x", raise_for_status=False).status)

            threads = [threading.Thread(target=send) for _ in range(3)]
            for thread in threads:
                thread.start()
                time.sleep(0.3)  # one running, one waiting, the third refused
            assert wait_until(lambda: 503 in results, 5), results
            release.set()
            for thread in threads:
                thread.join(10)
            assert sorted(results) == [204, 204, 503]
        worker.stop()


def test_check_content_type_is_a_415() -> None:
    with http.Consumer("http://127.0.0.1/", check_content_type=True) as consumer:
        server = consumer.serve()
        sub = consumer.subscriber("json", content_type="application/json")
        worker = sub.start(lambda env: None)
        with http.Producer(server.url) as producer:
            pub = producer.publisher("json")
            pub.send(pub.envelope(b"{}", content_type="application/json; charset=utf-8"))
            with pytest.raises(http.HTTPStatusError) as info:
                pub.send(pub.envelope(b"<x/>", content_type="application/xml"))
            assert info.value.status == 415
        worker.stop()


# -- bad input, over raw TCP ------------------------------------------------------------------
def test_unknown_path_is_a_404(consumer: http.Consumer, producer: http.Producer) -> None:
    status, body = _raw(consumer, b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert status == 404 and b"no route" in body
    _still_serving(consumer, producer)


def test_oversized_body_is_a_413_without_reading_it(
    consumer: http.Consumer, producer: http.Producer
) -> None:
    sub = consumer.subscriber("small")
    worker = sub.start(lambda env: None)
    status, _ = _raw(
        consumer,
        b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n" + b"x" * 100,
    )
    assert status == 413
    with pytest.raises(http.HTTPStatusError) as info:  # an honest length over the limit
        producer.publisher("small").send(b"y" * 2000)
    assert info.value.status == 413
    chunked = requests.post(  # no length at all: the body is counted as it is read
        consumer.servers[0].url + "/small", data=iter([b"z" * 700, b"z" * 700]), timeout=10
    )
    assert chunked.status_code == 413
    _still_serving(consumer, producer)
    worker.stop()


def test_malformed_chunked_body_is_a_400(consumer: http.Consumer, producer: http.Producer) -> None:
    sub = consumer.subscriber("chunks")
    worker = sub.start(lambda env: None)
    status, _ = _raw(
        consumer,
        b"POST /chunks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n",
    )
    assert status == 400
    _still_serving(consumer, producer)
    worker.stop()


def test_invalid_percent_encoding_is_a_400(
    consumer: http.Consumer, producer: http.Producer
) -> None:
    consumer.subscriber("items/{id}").start(lambda env: None)
    status, body = _raw(
        consumer, b"POST /items/%zz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    )
    assert status == 400 and b"percent" in body
    status, _ = _raw(consumer, b"POST /items/%ff HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert status == 400
    _still_serving(consumer, producer)


def test_foreign_clients_headers_become_message_headers(consumer: http.Consumer) -> None:
    sub = consumer.subscriber("curl")
    got: list[Any] = []
    worker = sub.start(lambda env: got.append((dict(env.headers), env.content_type)))
    answer = requests.post(
        consumer.servers[0].url + "/curl",
        data=b"{}",
        headers={"X-Trace": "abc", "Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 204
    headers, content_type = got[0]
    assert headers == {"x-trace": "abc"}
    assert content_type == "application/json"
    worker.stop()


# -- the client side -------------------------------------------------------------------------
def test_non_2xx_stops_a_send_and_names_the_rest(
    consumer: http.Consumer, producer: http.Producer
) -> None:
    pub = producer.publisher("missing")
    envs = [pub.envelope(b"1"), pub.envelope(b"2")]
    with pytest.raises(http.HTTPStatusError) as info:
        pub.send(*envs)
    assert [env for env, _ in info.value.failures] == envs
    assert "not sent" in str(info.value.failures[1][1])


def test_unreachable_server_and_timeouts() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
    with (
        http.Producer(f"http://127.0.0.1:{port}/") as producer,  # nothing listens
        pytest.raises(SendError, match="failed"),
    ):
        producer.publisher("x").send(b"x")
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(1)
        with (
            http.Producer(f"http://127.0.0.1:{mute.getsockname()[1]}/") as producer,
            pytest.raises(TimeoutError),
        ):
            producer.publisher("x").send(b"x", timeout=0.5)


def test_bad_producer_input() -> None:
    with pytest.raises(ConfigError, match="credentials"):
        http.Producer("http://user:pw@127.0.0.1:1/")
    with pytest.raises(ConfigError, match="method"):
        http.Producer("http://127.0.0.1:1/", method="FETCH")
    with http.Producer("http://127.0.0.1:1/") as producer:
        with pytest.raises(ConfigError, match="unexpanded"):
            producer.publisher("orders/{id}")
        with pytest.raises(ConfigError, match="method"):
            producer.publisher("x").envelope(b"", method="FETCH")


def test_closed_subscriber_frees_its_route(
    consumer: http.Consumer, producer: http.Producer
) -> None:
    sub = consumer.subscriber("temp")
    worker = sub.start(lambda env: None)
    producer.publisher("temp").send(b"x")
    worker.stop()
    sub.close()
    with pytest.raises(http.HTTPStatusError) as info:
        producer.publisher("temp").send(b"x")
    assert info.value.status == 404
    again = consumer.subscriber("temp")  # the address is free again
    worker = again.start(lambda env: None)
    producer.publisher("temp").send(b"x")
    worker.stop()
    with pytest.raises(ClosedError):
        sub.start(lambda env: None)


def test_consumer_close_stops_its_servers() -> None:
    consumer = http.Consumer("http://127.0.0.1/")
    server = consumer.serve()
    url = server.url
    consumer.close()
    assert not server.running
    with pytest.raises(requests.ConnectionError):
        requests.post(url + "/x", data=b"", timeout=2)


def test_registry_knows_http() -> None:
    with syncapi.producer("http://127.0.0.1:1/") as producer:
        assert isinstance(producer, http.Producer)


def test_required_query_from_operation_bindings(
    consumer: http.Consumer, producer: http.Producer
) -> None:
    op = http.OperationBindings(
        query={"type": "object", "properties": {"page": {"type": "string"}}, "required": ["page"]}
    )
    sub = consumer.subscriber("pages", operation_bindings=op)
    seen: list[str] = []
    worker = sub.start(lambda env: seen.append(env.query["page"]))
    pub = producer.publisher("pages", operation_bindings=op)
    with pytest.raises(ConfigError, match="page"):
        pub.send(b"x")  # refused before sending
    pub.send(pub.envelope(b"x", query={"page": "2"}))
    with pytest.raises(http.HTTPStatusError) as info:
        producer.publisher("pages").send(b"x")  # a client that ignores the bindings
    assert info.value.status == 400 and b"page" in info.value.response.body
    assert seen == ["2"]
    worker.stop()


def test_statuses_are_valid_wsgi_under_wsgiref() -> None:
    """wsgiref (Django's runserver) refuses hop-by-hop headers from an application: the
    consumer's own answers (413 here) must not carry any."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    with http.Consumer("http://127.0.0.1/", max_body=10) as consumer:
        consumer.subscriber("x").start(lambda env: None)
        server = make_server("127.0.0.1", 0, consumer, handler_class=Quiet)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_port}/x"
            assert requests.post(url, data=b"y" * 100, timeout=10).status_code == 413
            assert requests.post(url, data=b"ok", timeout=10).status_code == 204
        finally:
            server.shutdown()
            server.server_close()


def test_respond_refuses_what_would_break_the_wire(
    consumer: http.Consumer, producer: http.Producer
) -> None:
    sub = consumer.subscriber("strict")
    refused: list[str] = []

    def callback(env: http.EnvelopeReader) -> None:
        for bad in (
            lambda: env.respond(200, b"", {"X-Name": "\u20ac"}),  # not Latin-1
            lambda: env.respond(200, b"", {"X-Split": "a\r\nInjected: 1"}),
            lambda: env.respond(200, b"", {"Transfer-Encoding": "chunked"}),
            lambda: env.respond(200, b"", {"Bad Name": "x"}),
            lambda: env.respond(100),
        ):
            try:
                bad()
            except ConfigError as exc:
                refused.append(str(exc))
        env.respond(200, b"fine", {"X-Latin": "caf\u00e9"})

    worker = sub.start(callback)
    response = producer.publisher("strict").request(b"x", timeout=10)
    assert response.status == 200 and response.text == "fine"
    assert len(refused) == 5, refused
    worker.stop()


def test_a_request_given_up_at_its_deadline_never_runs(producer: http.Producer) -> None:
    """Requests queue behind a slow callback: those still queued when their deadline
    passes are answered 503 and never run afterwards."""
    with http.Consumer("http://127.0.0.1/", deadline=1.0) as consumer:
        server = consumer.serve()
        sub = consumer.subscriber("queue")
        ran: list[bytes] = []
        worker = sub.start(lambda env: (ran.append(env.payload), time.sleep(0.6)))
        answers: dict[bytes, int] = {}
        with http.Producer(server.url) as local:
            pub = local.publisher("queue")

            def send(payload: bytes) -> None:
                answers[payload] = pub.request(payload, raise_for_status=False).status

            threads = [threading.Thread(target=send, args=(f"r{i}".encode(),)) for i in range(4)]
            for thread in threads:
                thread.start()
                time.sleep(0.05)
            for thread in threads:
                thread.join(10)
        time.sleep(1.0)  # anything wrongly still queued would run now
        worker.stop()
        # r0 runs at once; r1 starts at 0.6 s and outlives its deadline (503 while it
        # runs); r2 and r3 are given up at 1 s, still queued, and must never start
        assert answers[b"r0"] == 204 and answers[b"r2"] == answers[b"r3"] == 503, answers
        assert b"r2" not in ran and b"r3" not in ran, (ran, answers)


def test_requests_waiting_when_the_loop_ends_get_503_at_once() -> None:
    with http.Consumer("http://127.0.0.1/", deadline=20) as consumer:
        server = consumer.serve()
        sub = consumer.subscriber("ending")
        release = threading.Event()
        worker = sub.start(lambda env: release.wait(10))
        answers: list[tuple[int, float]] = []
        with http.Producer(server.url) as local:
            pub = local.publisher("ending")

            def send() -> None:
                started = time.monotonic()
                status = pub.request(b"x", raise_for_status=False).status
                answers.append((status, time.monotonic() - started))

            threads = [threading.Thread(target=send) for _ in range(3)]
            for thread in threads:
                thread.start()
            time.sleep(0.5)  # one in the callback, two queued
            stopper = threading.Thread(target=worker.stop, kwargs={"timeout": 10})
            stopper.start()
            time.sleep(0.3)
            release.set()
            stopper.join(10)
            for thread in threads:
                thread.join(10)
        assert sorted(status for status, _ in answers) == [204, 503, 503]
        assert all(seconds < 5 for _, seconds in answers), answers


def test_percent_signs_in_parameters_are_text(
    consumer: http.Consumer, producer: http.Producer
) -> None:
    sub = consumer.subscriber("items/{id}")
    seen: list[str] = []
    worker = sub.start(lambda env: seen.append(env.params["id"]))
    for value in ("%41", "100%", "caf\u00e9"):
        producer.publisher("items/{id}", parameters={"id": value}).send(b"x")
    assert seen == ["%41", "100%", "caf\u00e9"]
    worker.stop()


def test_producer_wide_headers_reach_the_envelope(consumer: http.Consumer) -> None:
    sub = consumer.subscriber("tenant")
    got: list[dict[str, Any]] = []
    worker = sub.start(lambda env: got.append(dict(env.headers)))
    with http.Producer(consumer.servers[0].url, headers={"X-Tenant": "acme"}) as producer:
        pub = producer.publisher("tenant")
        pub.send(b"plain")
        pub.send(pub.envelope(b"with", headers={"k": "v"}))
    assert got == [{"x-tenant": "acme"}, {"k": "v", "x-tenant": "acme"}]
    worker.stop()


def test_request_timeouts_are_checked(consumer: http.Consumer, producer: http.Producer) -> None:
    pub = producer.publisher("nowhere")
    with pytest.raises(ConfigError):
        pub.request(b"x", timeout="3")  # type: ignore[arg-type]
    with pytest.raises((TimeoutError, http.HTTPStatusError)):
        pub.request(b"x", timeout=0)  # as short as possible, never a bare ValueError


def test_serve_on_a_taken_port_is_a_connect_error(consumer: http.Consumer) -> None:
    from syncapi.errors import ConnectError

    taken = consumer.servers[0].port
    with pytest.raises(ConnectError, match="cannot listen"):
        consumer.serve(port=taken)
    assert consumer.servers[0].running  # the first server is untouched


def test_a_sent_request_is_never_sent_again(consumer: http.Consumer) -> None:
    """retries covers connections that could not be made; a request that reached the
    server and timed out is not repeated (the server may have it)."""
    sub = consumer.subscriber("once", operation_bindings=http.OperationBindings(method="PUT"))
    runs: list[int] = []
    worker = sub.start(lambda env: (runs.append(1), time.sleep(1.0)))
    with http.Producer(consumer.servers[0].url, retries=2) as producer:
        pub = producer.publisher("once", operation_bindings=http.OperationBindings(method="PUT"))
        with pytest.raises(TimeoutError):
            pub.send(b"x", timeout=0.3)
    time.sleep(1.5)
    assert runs == [1]
    worker.stop()
