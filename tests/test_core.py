"""The core model: envelopes, the closed state, the registry and the face's errors."""

from __future__ import annotations

import importlib
import io
import typing
from collections.abc import Sequence

import pytest

import syncapi
from syncapi import core, memory, registry
from syncapi.errors import ClosedError, ConfigError, ProtocolNotFound, SyncapiError


def test_envelope_writer_is_file_like() -> None:
    env = syncapi.EnvelopeWriter(b"ab", headers={"h": "v"}, content_type="text/plain")
    assert env.write(b"cd") == 2
    assert env.write("\u00e9") == 2
    assert env.read(3) == b"abc"
    assert env.read() == b"d\xc3\xa9"
    assert env.read() == b""
    env.seek(0)
    assert env.read() == env.payload == b"abcd\xc3\xa9"
    assert len(env) == 6
    env.reset_payload()
    assert env.payload == b"" and env.headers == {"h": "v"}
    env.set_headers({"x": b"1"})
    env.set_content_type(None)
    assert (env.headers, env.content_type) == ({"x": b"1"}, None)
    with pytest.raises(ConfigError, match="payload must be"):
        syncapi.EnvelopeWriter(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="content type must be a str"):
        env.set_content_type(b"text/plain")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="seek position"):
        env.seek(-1)
    assert "EnvelopeWriter(0 bytes" in repr(env)


def test_envelope_reader_is_file_like() -> None:
    env = syncapi.EnvelopeReader(b"hello", content_type="text/plain", channel="c")
    assert env.read(2) == b"he" and env.read() == b"llo" and env.read() == b""
    assert env.headers == {} and env.identity == "channel 'c'" and env.ordering_key is None
    # a reader without a subscriber settles once and then refuses
    env.ack()
    with pytest.raises(ClosedError, match="already settled"):
        env.nack()
    assert io.BytesIO(syncapi.EnvelopeReader(b"x").read()).read() == b"x"


class _Pub(core.Publisher):
    """A minimal publisher recording what it was asked to send (a test double for the core)."""

    def __init__(self) -> None:
        super().__init__("ch")
        self.sent: list[bytes] = []
        self.flushed = 0

    def _send(self, envelopes: Sequence[core.EnvelopeWriter], timeout: float | None) -> None:
        self.sent += [e.payload for e in envelopes]

    def flush(self, timeout: float | None = None) -> None:
        self.flushed += 1


def test_publisher_send_checks_and_close_flushes() -> None:
    pub = _Pub()
    pub.send()  # nothing to do
    pub.send(b"a", "b", bytearray(b"c"), pub.envelope(b"d"))
    assert pub.sent == [b"a", b"b", b"c", b"d"]

    class OtherEnvelope(core.EnvelopeWriter):
        __slots__ = ()

    class StrictPub(_Pub):
        envelope_class = OtherEnvelope

    with pytest.raises(ConfigError, match=r"make it with publisher\.envelope"):
        StrictPub().send(core.EnvelopeWriter(b"x"))
    with pub:
        pass
    assert pub.closed and pub.flushed == 1
    pub.close()
    assert pub.flushed == 1, "close() is idempotent"
    with pytest.raises(ClosedError):
        pub.send(b"x")


def test_unknown_scheme_lists_known_ones() -> None:
    with pytest.raises(ProtocolNotFound) as info:
        syncapi.producer("nosuch://host:1")
    assert info.value.scheme == "nosuch"
    assert "memory" in info.value.known
    assert "known schemes:" in str(info.value) and "memory" in str(info.value)
    assert isinstance(info.value, ConfigError) and isinstance(info.value, SyncapiError)


@pytest.mark.parametrize("url", ["", "no-scheme", "memory:/x", "9bad://x", "memory://x#frag", 42])
def test_malformed_urls(url: object) -> None:
    with pytest.raises(ConfigError):
        syncapi.consumer(url)  # type: ignore[arg-type]


def test_register_protocol_and_replace() -> None:
    proto = syncapi.Protocol(
        name="mem2",
        producer=memory.Producer,
        consumer=memory.Consumer,
        schemes=("mem2", "mem2s"),
    )
    registered = syncapi.register_protocol(proto)
    try:
        assert registered.source == "register_protocol()"
        with syncapi.producer("mem2s://reg") as p:
            assert isinstance(p, memory.Producer)
        with pytest.raises(ConfigError, match="already registered"):
            syncapi.register_protocol(proto)
        syncapi.register_protocol(proto, replace=True)
        assert "mem2" in registry.known_schemes()
        assert isinstance(syncapi.available_protocols()["memory"], syncapi.Protocol)
    finally:
        syncapi.unregister_protocol("mem2")
        syncapi.unregister_protocol("mem2s")
    with pytest.raises(ProtocolNotFound):
        syncapi.get_protocol("mem2")


def test_protocol_validation() -> None:
    with pytest.raises(ConfigError, match="invalid URL scheme"):
        syncapi.Protocol(
            name="x",
            producer=memory.Producer,
            consumer=memory.Consumer,
            schemes=("Bad_",),
        )
    with pytest.raises(ConfigError, match=r"takes a syncapi\.Protocol"):
        syncapi.register_protocol("memory")  # type: ignore[arg-type]


def test_import_syncapi_needs_no_protocol_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, syncapi, syncapi.memory, syncapi.testing.collect\n"
        "bad = [m for m in ('kafka', 'pika', 'requests', 'werkzeug', 'websocket') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_errors_hierarchy() -> None:
    assert issubclass(syncapi.TimeoutError, TimeoutError)
    assert issubclass(syncapi.ConnectError, ConnectionError)
    assert issubclass(syncapi.MessageTooLarge, syncapi.SendError)
    for name in (
        "ConfigError",
        "ConnectError",
        "SendError",
        "ReceiveError",
        "TimeoutError",
        "ClosedError",
    ):
        assert issubclass(getattr(syncapi, name), SyncapiError)


def test_broken_entry_points_are_config_errors(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A third-party package that is broken never leaks its own exception."""
    import pathlib
    import sys

    root = pathlib.Path(str(tmp_path))
    dist = root / "broken_proto-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-proto\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[syncapi.protocols]\nbroken = broken_proto:PROTOCOL\nboom = boom_proto:PROTOCOL\n"
    )
    (root / "broken_proto.py").write_text("X = 1\n")
    (root / "boom_proto.py").write_text("raise RuntimeError('import-time failure')\n")
    monkeypatch.syspath_prepend(str(root))
    registry.refresh_entry_points()
    try:
        with pytest.raises(ConfigError, match=r"'broken'.*AttributeError"):
            syncapi.producer("broken://x")
        with pytest.raises(ConfigError, match=r"'boom'.*import-time failure"):
            syncapi.producer("boom://x")
        found = syncapi.available_protocols()
        assert isinstance(found["boom"], ConfigError)
        assert isinstance(found["memory"], syncapi.Protocol)
    finally:
        monkeypatch.undo()
        registry.refresh_entry_points()
        for name in ("broken_proto", "boom_proto"):
            sys.modules.pop(name, None)


def test_closing_while_a_channel_opens_leaks_nothing() -> None:
    """consumer.close() racing subscriber(): the new subscriber is closed, not adopted."""
    import threading
    import time

    class SlowOpeningConsumer(memory.Consumer):
        """memory:// with a slow _open_subscriber, to widen the race window for real."""

        def _open_subscriber(self, *args: object) -> syncapi.Subscriber:
            time.sleep(0.2)
            return super()._open_subscriber(*args)  # type: ignore[arg-type]

    consumer = SlowOpeningConsumer("memory://race")
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            consumer.subscriber("c")
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=open_one)
    thread.start()
    time.sleep(0.05)
    consumer.close()
    thread.join(5)
    assert len(errors) == 1 and isinstance(errors[0], ClosedError)
    assert memory.get_broker("race")._channels["c"].queues == {}, "the subscriber's queue leaked"
    assert consumer._children == []
    memory.reset("race")


@pytest.mark.parametrize("protocol", ["memory", "kafka", "amqp", "http", "ws", "tcp", "udp", "ip"])
def test_protocol_classes_type_hints_resolve_at_run_time(protocol: str) -> None:
    """Tools that read annotations at run time (``typing.get_type_hints``: documentation
    generators, validators) can read every public class, e.g. the envelope's
    ``message_bindings``, which names a class that must be importable at run time."""
    module = importlib.import_module(f"syncapi.{protocol}")
    for name in ("Producer", "Consumer", "Publisher", "Subscriber", "EnvelopeWriter"):
        hints = typing.get_type_hints(getattr(module, name))
        assert isinstance(hints, dict)
    assert "message_bindings" in typing.get_type_hints(module.EnvelopeWriter)
