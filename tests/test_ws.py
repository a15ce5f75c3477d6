"""``ws://`` end to end: real websocket-client connections to the consumer on a real
threaded werkzeug server, over loopback (both in this process unless a test needs a
peer it can freeze, which then runs in a child process)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import syncapi
from syncapi import ws
from syncapi.errors import ConfigError, MessageTooLarge, TimeoutError
from syncapi.testing import Collector, wait_until
from tests.helpers import new_sockets, socket_fds


def ws_threads() -> list[str]:
    """Threads of this process that syncapi.ws or its server started."""
    return [
        t.name
        for t in threading.enumerate()
        if t.name.startswith("syncapi-ws") or "process_request_thread" in t.name
    ]


@pytest.fixture
def consumer() -> Iterator[ws.Consumer]:
    consumer = ws.Consumer("ws://127.0.0.1/")
    consumer.serve()
    yield consumer
    consumer.close()


@pytest.fixture
def url(consumer: ws.Consumer) -> str:
    return str(consumer.servers[0].url)


@pytest.fixture
def producer(url: str) -> Iterator[ws.Producer]:
    producer = ws.Producer(url)
    yield producer
    producer.close()


class Got(Collector):
    """A Collector that also records each message's opcode (in :attr:`opcodes`)."""

    def __init__(self, expected: int | None = None) -> None:
        super().__init__(expected, on_message=self._opcode)
        self.opcodes: dict[bytes, ws.Opcode] = {}
        self.kinds: list[ws.Opcode] = []

    def _opcode(self, env: Any) -> None:
        self.opcodes[env.payload] = env.opcode
        self.kinds.append(env.opcode)


def echo(env: ws.EnvelopeReader) -> None:
    out = env.connection.envelope(env.payload, headers=env.headers, content_type=env.content_type)
    out.set_opcode(env.opcode)
    env.reply(out)


# -- messages --------------------------------------------------------------------------------
def test_registry_and_url(url: str) -> None:
    with syncapi.producer(url) as producer:
        assert isinstance(producer, ws.Producer)
    assert url.startswith("ws://127.0.0.1:")


def test_text_binary_opcodes_and_headers_round_trip(
    consumer: ws.Consumer, producer: ws.Producer
) -> None:
    consumer.subscriber("echo").start(echo)
    pub = producer.publisher("echo")
    got = Got(expected=5)
    pub.subscriber.start(got)
    pub.send("h\u00e9llo")  # str: text
    pub.send(b"\x00\xff binary")  # bytes: binary
    env = pub.envelope(b"text from bytes")
    env.set_opcode("text")
    pub.send(env)
    with_headers = pub.envelope(
        "caf\u00e9", headers={"k": "v", "b": b"\x00\x01"}, content_type="text/plain"
    )
    pub.send(with_headers)
    raw_magic = ws.EnvelopeWriter(b"\x00SYH not embedded")  # must not be misread
    pub.send(raw_magic)
    assert got.wait(10), got.payloads
    items = {item.payload: item for item in got.items}
    assert got.opcodes["h\u00e9llo".encode()] is ws.Opcode.TEXT
    assert got.opcodes[b"\x00\xff binary"] is ws.Opcode.BINARY
    assert got.opcodes[b"text from bytes"] is ws.Opcode.TEXT
    embedded = items["caf\u00e9".encode()]
    assert got.opcodes["caf\u00e9".encode()] is ws.Opcode.TEXT, "the opcode survives embedding"
    assert embedded.headers == {"k": "v", "b": b"\x00\x01"}
    assert embedded.content_type == "text/plain"
    assert items[b"\x00SYH not embedded"].headers == {}


def test_text_must_be_utf8(producer: ws.Producer, consumer: ws.Consumer) -> None:
    consumer.subscriber("utf8")
    pub = producer.publisher("utf8")
    env = pub.envelope(b"\xff\xfe")
    env.set_opcode(ws.Opcode.TEXT)
    with pytest.raises(ConfigError, match="UTF-8"):
        pub.send(env)
    with pytest.raises(ConfigError, match="'text'"):
        env.set_opcode("ping")


def test_twenty_connections_a_thousand_messages_each_way(
    consumer: ws.Consumer, producer: ws.Producer
) -> None:
    """Done means: 20 client connections x 1,000 messages both ways, text and binary,
    all intact and in order per connection."""
    conns, count = 20, 1000
    received: dict[int, list[bytes]] = {}
    lock = threading.Lock()
    done = threading.Event()

    def on_message(env: ws.EnvelopeReader) -> None:
        with lock:
            received.setdefault(id(env.connection), []).append(env.payload)
            if sum(map(len, received.values())) == conns * count:
                done.set()

    route = consumer.subscriber("many")
    route.start(on_message, workers=4)
    pubs = [producer.publisher("many") for _ in range(conns)]
    client_got = [Got(expected=count) for _ in range(conns)]
    for pub, got in zip(pubs, client_got, strict=True):
        pub.subscriber.start(got)

    def client(i: int) -> None:
        for n in range(count):
            pubs[i].send(f"{i}:{n}" if n % 2 else f"{i}:{n}".encode())

    threads = [threading.Thread(target=client, args=(i,)) for i in range(conns)]
    for t in threads:
        t.start()
    assert wait_until(lambda: len(route.connections) == conns, 10)

    def server(conn: ws.Connection) -> None:
        for n in range(count):
            conn.send(f"s:{n}" if n % 2 else f"s:{n}".encode())

    senders = [threading.Thread(target=server, args=(c,)) for c in route.connections]
    for t in senders:
        t.start()
    for t in threads + senders:
        t.join(60)
    assert done.wait(60), f"server got {sum(map(len, received.values()))} of {conns * count}"
    by_prefix = {seq[0].split(b":")[0]: seq for seq in received.values()}
    assert sorted(by_prefix) == sorted(str(i).encode() for i in range(conns))
    for prefix, seq in by_prefix.items():
        assert seq == [prefix + f":{n}".encode() for n in range(count)], "order or content lost"
    for got in client_got:
        assert got.wait(60), f"a client got {len(got)} of {count}"
        assert got.payloads == [f"s:{n}".encode() for n in range(count)]
        assert got.kinds == [ws.Opcode.BINARY, ws.Opcode.TEXT] * (count // 2)


@pytest.mark.parametrize("kind", ["binary", "text"])
def test_four_mib_message_both_ways(
    consumer: ws.Consumer, producer: ws.Producer, kind: str
) -> None:
    consumer.subscriber("big").start(echo)
    pub = producer.publisher("big")
    big: bytes | str = os.urandom(4 << 20) if kind == "binary" else "\u00e9" * (2 << 20)
    got = Got(expected=1)
    pub.subscriber.start(got)
    pub.send(big)
    assert got.wait(30)
    expected = big if isinstance(big, bytes) else big.encode()
    assert got.payloads == [expected]
    assert got.kinds == [ws.Opcode.BINARY if kind == "binary" else ws.Opcode.TEXT]


# -- closing, and what it leaves behind ------------------------------------------------------
def test_server_closes_first_nothing_left_behind() -> None:
    base_fds, base_threads = socket_fds(), ws_threads()
    consumer = ws.Consumer()
    server = consumer.serve()
    producer = ws.Producer(server.url)
    consumer.listen("bye")
    pub = producer.publisher("bye")
    conn = consumer.accept("bye", timeout=5)
    ended: list[object] = []
    runner = threading.Thread(target=lambda: ended.append(pub.subscriber.receive(lambda e: None)))
    runner.start()
    conn.close(code=1000, reason="done here")
    runner.join(5)
    assert ended == [0], "a normal close ends the client's receive loop quietly"
    assert pub.close_code == 1000 and pub.close_reason == "done here"
    with pytest.raises(ws.ConnectionClosedError) as info:
        pub.send(b"after the close")
    assert info.value.code == 1000
    assert not pub.connected
    producer.close()
    consumer.close()
    assert wait_until(lambda: not new_sockets(base_fds), 5), new_sockets(base_fds)
    assert wait_until(lambda: ws_threads() == base_threads, 5), ws_threads()


def test_client_closes_first_nothing_left_behind() -> None:
    base_fds, base_threads = socket_fds(), ws_threads()
    consumer = ws.Consumer()
    server = consumer.serve()
    producer = ws.Producer(server.url)
    consumer.listen("bye")
    pub = producer.publisher("bye")
    conn = consumer.accept("bye", timeout=5)
    ended: list[object] = []

    def run() -> None:
        try:
            ended.append(conn.receive(lambda e: None))
        except ws.ConnectionClosedError as exc:
            ended.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    pub.close(code=4001, reason="client leaves")
    runner.join(5)
    assert len(ended) == 1 and isinstance(ended[0], ws.ConnectionClosedError)
    assert ended[0].code == 4001, "a close other than 1000/1001 ends the loop with it"
    assert wait_until(lambda: conn.close_code == 4001, 5)
    assert conn.close_reason == "client leaves"
    assert not conn.connected
    with pytest.raises(ws.ConnectionClosedError):
        conn.send(b"to nobody")
    assert wait_until(lambda: consumer.connections == [], 5)
    producer.close()
    consumer.close()
    assert wait_until(lambda: not new_sockets(base_fds), 5), new_sockets(base_fds)
    assert wait_until(lambda: ws_threads() == base_threads, 5), ws_threads()


def test_a_close_code_other_than_normal_ends_the_loop_with_it(
    consumer: ws.Consumer, producer: ws.Producer
) -> None:
    consumer.listen("codes")
    pub = producer.publisher("codes")
    conn = consumer.accept("codes", timeout=5)
    worker = pub.subscriber.start(lambda env: None)
    conn.close(code=4000, reason="policy says no")
    assert wait_until(lambda: not worker.alive, 5)
    assert isinstance(worker.error, ws.ConnectionClosedError)
    assert worker.error.code == 4000 and worker.error.reason == "policy says no"
    assert not worker.error.normal


def test_consumer_close_sends_going_away(consumer: ws.Consumer, producer: ws.Producer) -> None:
    consumer.subscriber("away")
    pub = producer.publisher("away")
    assert wait_until(lambda: len(consumer.connections) == 1, 5)
    consumer.close()
    assert wait_until(lambda: pub.close_code == 1001, 5), pub.close_code


# -- ways to take connections ------------------------------------------------------------------
def test_accept_waits_for_the_next_connection_and_keeps_a_backlog(
    consumer: ws.Consumer, url: str
) -> None:
    with pytest.raises(TimeoutError):
        consumer.accept("seed", timeout=0.2)
    producer = ws.Producer(url)
    early = producer.publisher("seed")  # nobody waits yet: it waits in the backlog
    conn = consumer.accept("seed", timeout=5)
    early.send("first")
    got: list[str] = []
    conn.receive(lambda env: got.append(env.text), max_messages=1, timeout=5)
    assert got == ["first"]
    conn.send("back")
    answers: list[str] = []
    early.subscriber.receive(lambda env: answers.append(env.text), max_messages=1, timeout=5)
    assert answers == ["back"]
    assert conn.publisher.channel == conn.channel
    producer.close()


def test_accept_backlog_full_answers_503(url: str) -> None:
    consumer = ws.Consumer(accept_backlog=1)
    server = consumer.serve()
    consumer.listen("full")
    with ws.Producer(server.url) as producer:
        producer.publisher("full")
        with pytest.raises(ws.HandshakeError) as info:
            producer.publisher("full")
        assert info.value.status == 503
    consumer.close()


def test_on_connect_handler_owns_each_connection(
    consumer: ws.Consumer, producer: ws.Producer
) -> None:
    def session(conn: ws.Connection) -> None:
        conn.send(f"welcome {conn.params['room']} {conn.query.get('user')}")
        conn.receive(lambda env: conn.send(env.text[::-1]), max_messages=2)

    consumer.on_connect("rooms/{room}", session)
    pub = producer.publisher("rooms/blue", query={"user": "ann"})
    got = Collector(expected=3)
    worker = pub.subscriber.start(got)
    pub.send("abc", "xyz")
    assert got.wait(10)
    assert got.payloads == [b"welcome blue ann", b"cba", b"zyx"]
    # the handler returned: the connection closed normally, the client's loop ended quietly
    assert wait_until(lambda: not worker.alive, 5)
    assert worker.error is None and pub.close_code == 1000


def test_a_raising_handler_closes_with_1011(consumer: ws.Consumer, producer: ws.Producer) -> None:
    def broken(conn: ws.Connection) -> None:
        raise RuntimeError("handler bug")

    consumer.on_connect("broken", broken)
    pub = producer.publisher("broken")
    assert wait_until(lambda: pub.close_code == 1011, 5), pub.close_code
    assert pub.close_reason == "server error"


def test_route_keeps_each_clients_order_with_workers(
    consumer: ws.Consumer, producer: ws.Producer
) -> None:
    seen: dict[int, list[int]] = {}
    lock = threading.Lock()

    def slow(env: ws.EnvelopeReader) -> None:
        time.sleep(0.002)
        with lock:
            seen.setdefault(id(env.connection), []).append(int(env.text))

    route = consumer.subscriber("ordered")
    route.start(slow, workers=4)
    pubs = [producer.publisher("ordered") for _ in range(3)]
    for n in range(50):
        for pub in pubs:
            pub.send(str(n))
    assert wait_until(lambda: sum(map(len, seen.values())) == 150, 10)
    assert all(seq == list(range(50)) for seq in seen.values())
    route.close()
    assert wait_until(lambda: all(p.close_code == 1001 for p in pubs), 5), (
        "route close closes its connections"
    )


# -- handshake: bindings, query, headers, subprotocols ----------------------------------------
def test_bindings_drive_the_handshake(consumer: ws.Consumer, url: str) -> None:
    bindings = ws.ChannelBindings.from_dict(
        {
            "method": "GET",
            "query": {
                "type": "object",
                "properties": {
                    "heartbeat": {"type": "boolean", "default": True},
                    "token": {"type": "string"},
                },
                "required": ["token"],
            },
            "headers": {
                "type": "object",
                "properties": {"X-Api-Key": {"type": "string"}},
                "required": ["X-Api-Key"],
            },
        }
    )
    consumer.subscriber("feed", bindings)
    with ws.Producer(url) as producer:
        with pytest.raises(ConfigError, match="token"):
            producer.publisher("feed", bindings)
        with pytest.raises(ConfigError, match="X-Api-Key"):
            producer.publisher("feed", bindings, query={"token": "t"})
        pub = producer.publisher(
            "feed", bindings, query={"token": "t"}, handshake_headers={"X-Api-Key": "k"}
        )
        assert "heartbeat=true" in pub.url and "token=t" in pub.url
        assert wait_until(lambda: len(consumer.connections) == 1, 5)
        conn = consumer.connections[0]
        assert conn.query == {"heartbeat": "true", "token": "t"}
        assert ("X-Api-Key", "k") in conn.request_headers
        # a client that does not know the bindings is refused by the server
        with pytest.raises(ws.HandshakeError) as info:
            producer.publisher("feed")
        assert info.value.status == 400 and b"token" in info.value.body
        with pytest.raises(ws.HandshakeError) as info:
            producer.publisher("feed", query={"token": "t"})
        assert info.value.status == 400 and b"X-Api-Key" in info.value.body
        post = ws.ChannelBindings(method="post")
        with pytest.raises(ConfigError, match="GET"):
            producer.publisher("feed", post)


def test_subprotocol_negotiation() -> None:
    consumer = ws.Consumer(subprotocols=("v2.chat", "v1.chat"))
    server = consumer.serve()
    consumer.subscriber("chat")
    with ws.Producer(server.url, subprotocols=["v1.chat", "v2.chat"]) as producer:
        pub = producer.publisher("chat")
        assert pub.subprotocol == "v2.chat"
        assert wait_until(lambda: len(consumer.connections) == 1, 5)
        assert consumer.connections[0].subprotocol == "v2.chat"
    consumer.close()


def test_header_policies(consumer: ws.Consumer, url: str) -> None:
    consumer.subscriber("policy")
    with ws.Producer(url, headers="raise") as producer:
        pub = producer.publisher("policy")
        with pytest.raises(ConfigError, match="raise"):
            pub.send(pub.envelope(b"x", headers={"a": "b"}))
        pub.send(b"no headers is fine")
    with ws.Producer(url, headers="warn") as producer:
        pub = producer.publisher("policy")
        with pytest.warns(RuntimeWarning, match="dropped"):
            pub.send(pub.envelope(b"x", headers={"a": "b"}))


# -- limits ----------------------------------------------------------------------------------
def test_oversized_message_from_client_closes_1009_and_server_goes_on(url: str) -> None:
    consumer = ws.Consumer(max_message=1024)
    server = consumer.serve()
    got = Collector()
    consumer.subscriber("small").start(got)
    with ws.Producer(server.url) as producer:
        pub = producer.publisher("small")
        worker = pub.subscriber.start(lambda env: None)
        pub.send(b"x" * 1025)
        assert wait_until(lambda: pub.close_code == 1009, 5), pub.close_code
        assert wait_until(lambda: not worker.alive, 5)
        assert isinstance(worker.error, ws.ConnectionClosedError) and worker.error.code == 1009
        other = producer.publisher("small")
        other.send(b"y" * 1024)
        assert wait_until(lambda: got.payloads == [b"y" * 1024], 5), "the server stopped serving"
    consumer.close()


def test_send_over_max_message_raises_before_sending(consumer: ws.Consumer, url: str) -> None:
    consumer.subscriber("limit")
    with ws.Producer(url, max_message=100) as producer:
        pub = producer.publisher("limit")
        with pytest.raises(MessageTooLarge):
            pub.send(b"z" * 101)
        pub.send(b"z" * 100)
    conn_limit = ws.Consumer(max_message=10)
    server = conn_limit.serve()
    with ws.Producer(server.url) as producer:
        conn_limit.listen("c")
        producer.publisher("c")
        conn = conn_limit.accept("c", timeout=5)
        with pytest.raises(MessageTooLarge):
            conn.send(b"1234567890!")
    conn_limit.close()


def test_oversized_message_from_server_closes_1009_on_the_client(
    consumer: ws.Consumer, url: str
) -> None:
    with ws.Producer(url, max_message=1000) as producer:
        consumer.listen("down")
        pub = producer.publisher("down")
        conn = consumer.accept("down", timeout=5)
        worker = pub.subscriber.start(lambda env: None)
        conn.send(b"q" * 1001)
        assert wait_until(lambda: not worker.alive, 5)
        assert isinstance(worker.error, ws.ConnectionClosedError)
        assert worker.error.code == 1009
        assert wait_until(lambda: conn.close_code == 1009, 5), conn.close_code


def test_idle_timeout_closes_going_away() -> None:
    consumer = ws.Consumer(idle_timeout=0.3)
    server = consumer.serve()
    consumer.subscriber("idle")
    with ws.Producer(server.url) as producer:
        pub = producer.publisher("idle")
        started = time.monotonic()
        assert wait_until(lambda: pub.close_code is not None, 5)
        assert pub.close_code == 1001 and pub.close_reason == "idle timeout"
        assert 0.25 <= time.monotonic() - started < 3
    consumer.close()


def test_a_client_that_reads_nothing_makes_server_sends_time_out() -> None:
    """Backpressure all the way: the client's inbox is full (no loop), so its reader
    stops reading, TCP fills, and the server's send times out instead of hanging."""
    consumer = ws.Consumer(timeout=1.0)
    server = consumer.serve()
    with ws.Producer(server.url, max_pending=1) as producer:
        consumer.listen("slow")
        producer.publisher("slow")
        conn = consumer.accept("slow", timeout=5)
        chunk = b"c" * (1 << 20)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            for _ in range(200):
                conn.send(chunk)
        assert time.monotonic() - started < 30
        assert wait_until(lambda: not conn.connected, 5)
    consumer.close()


# -- reconnect ---------------------------------------------------------------------------------
def test_reconnect_after_the_server_restarts() -> None:
    consumer = ws.Consumer()
    server = consumer.serve()
    port = server.port
    got = Collector()
    consumer.subscriber("re").start(got)
    producer = ws.Producer(server.url, reconnect=True, reconnect_delay=0.05)
    pub = producer.publisher("re")
    pub.send(b"before")
    assert wait_until(lambda: got.payloads == [b"before"], 5)
    consumer.close()  # closes with 1001, the client redials
    assert wait_until(lambda: not pub.connected, 5)
    consumer2 = ws.Consumer()
    got2 = Collector()
    consumer2.subscriber("re").start(got2)
    consumer2.serve(port=port)
    pub.send(b"after", timeout=10)  # waits for the new connection
    assert wait_until(lambda: got2.payloads == [b"after"], 5)
    assert pub.reconnects >= 1 and pub.connected
    producer.close()
    consumer2.close()


def test_reconnect_gives_up_after_its_attempts() -> None:
    consumer = ws.Consumer()
    server = consumer.serve()
    consumer.subscriber("gone")
    producer = ws.Producer(server.url, reconnect=True, reconnect_delay=0.05, reconnect_attempts=2)
    pub = producer.publisher("gone")
    worker = pub.subscriber.start(lambda env: None)
    consumer.close()
    assert wait_until(lambda: not worker.alive, 10)
    assert isinstance(worker.error, ws.ConnectionClosedError)
    assert "gave up after 2" in str(worker.error)
    with pytest.raises(ws.ConnectionClosedError):
        pub.send(b"x")
    producer.close()


def test_close_during_reconnect_returns_at_once() -> None:
    consumer = ws.Consumer()
    server = consumer.serve()
    consumer.subscriber("x")
    producer = ws.Producer(server.url, reconnect=True, reconnect_delay=5)
    pub = producer.publisher("x")
    consumer.close()
    assert wait_until(lambda: not pub.connected, 5)
    started = time.monotonic()
    producer.close()
    assert time.monotonic() - started < 2
    assert wait_until(lambda: not [n for n in ws_threads() if "read" in n], 5), ws_threads()


# -- errors on the client side -------------------------------------------------------------------
def test_connect_errors(consumer: ws.Consumer, url: str) -> None:
    consumer.subscriber("known")
    with ws.Producer(url) as producer:
        with pytest.raises(ws.HandshakeError) as info:
            producer.publisher("unknown/path")
        assert info.value.status == 404
    with ws.Producer("ws://127.0.0.1:1/") as producer, pytest.raises(syncapi.errors.ConnectError):
        producer.publisher("x")
    with pytest.raises(ConfigError):
        ws.Producer("ws://a:1,b:2/")
    with pytest.raises(ConfigError):
        ws.Producer("ws://u:p@host:1/")
    with pytest.raises(ConfigError):
        ws.Producer("ws://127.0.0.1:1/", ping_interval=0)
    with ws.Producer(url) as producer, pytest.raises(ConfigError, match=r"ws\.ChannelBindings"):
        producer.publisher("known", bindings=object())


def test_options_from_the_url() -> None:
    producer = ws.Producer("ws://127.0.0.1:1/?ping_interval=none&reconnect=true&subprotocols=a,b")
    assert producer.options.ping_interval is None
    assert producer.options.reconnect is True
    assert producer.options.subprotocols == ("a", "b")
    producer.close()
    consumer = ws.Consumer("ws://127.0.0.1/?idle_timeout=5&max_message=10")
    assert consumer.options.idle_timeout == 5 and consumer.options.max_message == 10
    consumer.close()


def test_objects_repr_and_properties(consumer: ws.Consumer, producer: ws.Producer) -> None:
    consumer.subscriber("r")
    pub = producer.publisher("r")
    assert "ws://127.0.0.1" in repr(pub) and pub.connected and pub.close_code is None
    assert wait_until(lambda: len(consumer.connections) == 1, 5)
    conn: Any = consumer.connections[0]
    assert "/r" in repr(conn) and conn.remote_addr == "127.0.0.1"


# -- details a careful user would meet -----------------------------------------------------------
def test_close_codes_are_checked(consumer: ws.Consumer, producer: ws.Producer) -> None:
    consumer.listen("codes")
    pub = producer.publisher("codes")
    conn = consumer.accept("codes", timeout=5)
    for bad in (999, 1005, 1006, 1015, 2000, 5000, True):
        with pytest.raises(ConfigError, match="close code"):
            pub.close(code=bad)
        with pytest.raises(ConfigError, match="close code"):
            conn.close(code=bad)
    with pytest.raises(ConfigError, match="123"):
        conn.close(reason="x" * 124)
    assert pub.connected and conn.connected, "a refused close() closes nothing"
    pub.close(code=3001, reason="app says bye")
    assert wait_until(lambda: conn.close_code == 3001, 5)
    assert conn.close_reason == "app says bye"


def test_a_close_without_a_code_ends_the_loop_quietly(consumer: ws.Consumer, url: str) -> None:
    """What a browser's ``ws.close()`` sends: a close frame with no code (1005)."""
    import websocket

    consumer.listen("nocode")
    raw = websocket.create_connection(url + "/nocode")
    conn = consumer.accept("nocode", timeout=5)
    ended: list[object] = []
    runner = threading.Thread(target=lambda: ended.append(conn.receive(lambda env: None)))
    runner.start()
    raw.send(b"", websocket.ABNF.OPCODE_CLOSE)
    runner.join(5)
    assert ended == [0], "1005 is a normal end"
    assert conn.close_code == 1005
    raw.shutdown()


def test_send_timeout_bounds_a_blocked_write() -> None:
    consumer = ws.Consumer(timeout=30)
    server = consumer.serve()
    with ws.Producer(server.url, max_pending=1) as producer:
        consumer.listen("stuck")
        producer.publisher("stuck")  # its reader stops at the first message: nobody receives
        conn = consumer.accept("stuck", timeout=5)
        chunk = b"c" * (1 << 20)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            for _ in range(200):
                conn.send(chunk, timeout=0.5)
        assert time.monotonic() - started < 10, "timeout= did not bound the write"
    consumer.close()


def test_allowed_origins() -> None:
    import websocket

    consumer = ws.Consumer(allowed_origins=("HTTPS://App.Example/",))  # as a user may write it
    server = consumer.serve()
    consumer.subscriber("o")
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(server.url + "/o", origin="https://evil.example")
    assert info.value.status_code == 403
    good = websocket.create_connection(server.url + "/o", origin="https://app.example")
    anonymous = websocket.create_connection(server.url + "/o", suppress_origin=True)
    assert good.connected and anonymous.connected
    good.close()
    anonymous.close()
    consumer.close()
    with pytest.raises(ConfigError, match="allowed_origins"):
        ws.Consumer(allowed_origins=("app.example",))


def test_plain_policies_never_read_embedded_headers() -> None:
    consumer = ws.Consumer(headers="warn")
    server = consumer.serve()
    got = Collector(expected=1)
    consumer.subscriber("plain").start(got)
    with ws.Producer(server.url, headers="raise") as producer:
        pub = producer.publisher("plain")
        looks_embedded = b"\x00SYH\x01\x00\x00\x00\x02{}payload"
        pub.send(looks_embedded)
        assert got.wait(5)
        assert got.payloads == [looks_embedded] and got.items[0].headers == {}
    consumer.close()


def test_handshake_error_headers_ignore_case(consumer: ws.Consumer, producer: ws.Producer) -> None:
    consumer.subscriber("posted", ws.ChannelBindings(method="POST"))
    with pytest.raises(ws.HandshakeError) as info:
        producer.publisher("posted")
    assert info.value.status == 405
    assert info.value.headers["Allow"] == info.value.headers["allow"] == "POST"


def test_no_stray_request_after_closes(
    consumer: ws.Consumer, producer: ws.Producer, caplog: pytest.LogCaptureFixture
) -> None:
    """Closing from either side leaves nothing on the socket that the WSGI server would
    read as a new (bad) HTTP request."""
    caplog.set_level("DEBUG", logger="syncapi.ws")
    consumer.listen("tidy")
    for i in range(10):
        pub = producer.publisher("tidy")
        conn = consumer.accept("tidy", timeout=5)
        if i % 2:
            pub.close()
        else:
            conn.close()
        assert wait_until(
            lambda c=conn, p=pub: c.close_code is not None and not p.connected,  # type: ignore[misc]
            5,
        )
    time.sleep(0.2)
    assert not [r for r in caplog.records if "Bad request" in r.getMessage()]


def test_a_trickling_client_cannot_hold_off_the_idle_timeout() -> None:
    """Bytes that never make a message keep coming (a frame sent a byte at a time):
    the idle timeout still closes the connection."""
    import socket as socketlib

    consumer = ws.Consumer(idle_timeout=0.5, ping_interval=None)
    server = consumer.serve()
    consumer.subscriber("slow")
    sock = socketlib.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(
        b"GET /slow HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert b" 101 " in sock.recv(4096)
    frame = b"\x82\xfe\x10\x00" + b"\x00" * 4 + b"x" * 4096  # a 4 KiB masked binary frame
    started = time.monotonic()
    closed = False
    for byte in frame:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            closed = True
            break
        time.sleep(0.01)
        if time.monotonic() - started > 5:
            break
    assert wait_until(lambda: consumer.connections == [], 5)
    assert time.monotonic() - started < 4, "the trickle held the connection open"
    assert closed or consumer.connections == []
    sock.close()
    consumer.close()


@pytest.mark.parametrize("direction", ["client->server", "server->client"])
def test_max_pending_bounds_what_waits(direction: str) -> None:
    """With nobody receiving, a receiver holds at most max_pending messages (plus one
    read's batch): 1 MiB messages stop being taken after a few MiB, not a hundred."""
    consumer = ws.Consumer(max_pending=2, timeout=1.0)
    server = consumer.serve()
    consumer.listen("bp")
    with ws.Producer(server.url, max_pending=2, timeout=1.0) as producer:
        pub = producer.publisher("bp")
        conn = consumer.accept("bp", timeout=5)
        chunk = b"m" * (1 << 20)
        sent = 0
        with pytest.raises(TimeoutError):
            for _ in range(200):
                (pub if direction == "client->server" else conn).send(chunk)
                sent += 1
        inbox = (conn if direction == "client->server" else pub.subscriber)._inbox
        assert inbox._count <= 2, f"{inbox._count} messages wait, the limit is 2"
        # socket buffers hold a few MiB on loopback; 64 would mean the batches ignore it
        assert sent < 40, f"{sent} MiB went out before the receiver stopped taking"
    consumer.close()


@pytest.mark.parametrize("timeout", [None, 1.0])
def test_client_send_timeout_bounds_the_whole_write(timeout: float | None) -> None:
    """A server that reads nothing: the send that blocks raises TimeoutError within its
    limit (the option, or timeout=), not a multiple of it after partial writes."""
    consumer = ws.Consumer(max_pending=1)  # no loop: the reader stops after one message
    server = consumer.serve()
    consumer.subscriber("full")
    with ws.Producer(server.url, timeout=1.0 if timeout is None else 30.0) as producer:
        pub = producer.publisher("full")
        chunk = b"t" * (4 << 20)
        took = 0.0
        with pytest.raises(TimeoutError):
            for _ in range(100):
                started = time.monotonic()
                pub.send(chunk, timeout=timeout)
        took = time.monotonic() - started
        assert took < 1.6, f"the send that timed out took {took:.2f} s for a 1 s limit"
    consumer.close()
