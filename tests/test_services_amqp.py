"""The RabbitMQ test service itself: install, start, a real round trip, restart, stop.

Everything goes through raw pika (not syncapi) so that a failure here points at the
broker set-up, not at the AMQP protocol implementation.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pika
import pytest

from tests.services import rabbitmq
from tests.services.base import ServiceError, pid_alive
from tests.services.rabbitmq import RabbitMQService

pytestmark = pytest.mark.amqp

MESSAGES = 1_000


@pytest.fixture
def rabbit(amqp_service: RabbitMQService) -> Iterator[RabbitMQService]:
    """The session's RabbitMQ (from conftest), running before and after each test."""
    if amqp_service.pid is None:
        amqp_service.start()
    yield amqp_service
    if amqp_service.pid is None:  # a test stopped it: later tests need it back
        amqp_service.start()


def _connect(service: RabbitMQService) -> Any:
    params = pika.URLParameters(service.url)
    params.socket_timeout = 5.0
    params.blocked_connection_timeout = 10.0
    return pika.BlockingConnection(params)


def _retry(action: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return action()
        except pika.exceptions.AMQPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_url_and_processes(rabbit: RabbitMQService, record_property: Any) -> None:
    record_property("amqp_start_s", round(rabbit.timings.get("start", 0.0), 3))
    record_property("amqp_download_s", round(rabbit.timings.get("download", 0.0), 3))
    assert rabbit.url == f"amqp://guest:guest@127.0.0.1:{rabbit.port}/"
    assert rabbit.pid is not None and pid_alive(rabbit.pid)
    with open(f"/proc/{rabbit.pid}/comm") as comm:
        assert comm.read().strip() == "beam.smp"  # the script exec'd the VM
    assert len(rabbit.extra_pids) == 1, rabbit.extra_pids  # its epmd
    with open(f"/proc/{rabbit.extra_pids[0]}/comm") as comm:
        assert comm.read().strip() == "epmd"
    assert rabbit.state()["node"] == rabbit.node_name


def test_thousand_messages_with_confirms_in_order(rabbit: RabbitMQService) -> None:
    queue = f"bulk-{uuid.uuid4().hex[:8]}"
    connection = _connect(rabbit)
    try:
        channel = connection.channel()
        channel.queue_declare(queue, auto_delete=False)
        channel.confirm_delivery()
        started = time.monotonic()
        for seq in range(MESSAGES):
            channel.basic_publish(
                exchange="",
                routing_key=queue,
                body=json.dumps({"seq": seq, "pad": "x" * (seq % 50)}).encode(),
                properties=pika.BasicProperties(
                    content_type="application/json",
                    headers={"seq": seq, "kind": "bulk", "utf8": "héllo"},
                    message_id=f"m-{seq}",
                ),
                mandatory=True,
            )  # raises on a nack or an unroutable message
        published = time.monotonic() - started
        assert channel.queue_declare(queue, passive=True).method.message_count == MESSAGES

        channel.basic_qos(prefetch_count=200)
        got: list[int] = []
        started = time.monotonic()
        for method, properties, body in channel.consume(queue, inactivity_timeout=10):
            assert method is not None, f"only {len(got)} of {MESSAGES} messages arrived"
            seq = len(got)
            assert json.loads(body) == {"seq": seq, "pad": "x" * (seq % 50)}
            assert properties.content_type == "application/json"
            assert properties.headers == {"seq": seq, "kind": "bulk", "utf8": "héllo"}
            assert properties.message_id == f"m-{seq}"
            assert not method.redelivered
            channel.basic_ack(method.delivery_tag)
            got.append(seq)
            if len(got) == MESSAGES:
                break
        channel.cancel()
        consumed = time.monotonic() - started
        assert got == list(range(MESSAGES))
        assert channel.queue_declare(queue, passive=True).method.message_count == 0
        channel.queue_delete(queue)
        print(
            f"\n[amqp] {MESSAGES} confirmed publishes in {published:.2f} s, "
            f"consumed+acked in {consumed:.2f} s"
        )
    finally:
        connection.close()


def test_restart_keeps_durable_data_and_port(rabbit: RabbitMQService, record_property: Any) -> None:
    queue = f"durable-{uuid.uuid4().hex[:8]}"
    port, url, node = rabbit.port, rabbit.url, rabbit.node_name
    epmd_port, dist_port = rabbit.epmd_port, rabbit.dist_port
    old_pid = rabbit.pid
    connection = _connect(rabbit)
    try:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True)
        channel.confirm_delivery()
        channel.basic_publish(
            exchange="",
            routing_key=queue,
            body=b"survives a restart",
            properties=pika.BasicProperties(
                delivery_mode=2, content_type="text/plain", headers={"k": "v"}
            ),
            mandatory=True,
        )
    finally:
        connection.close()

    warm = rabbit.restart()
    record_property("amqp_warm_start_s", round(warm, 3))
    print(f"\n[amqp] warm start (restart, data kept) {warm:.2f} s")
    assert (rabbit.port, rabbit.url, rabbit.node_name) == (port, url, node)
    assert (rabbit.epmd_port, rabbit.dist_port) == (epmd_port, dist_port)
    assert old_pid is not None and not pid_alive(old_pid)
    assert rabbit.pid != old_pid

    connection = _retry(lambda: _connect(rabbit))
    try:
        channel = connection.channel()
        method, properties, body = _retry(lambda: channel.basic_get(queue, auto_ack=False))
        assert method is not None, "the persistent message did not survive the restart"
        assert body == b"survives a restart"
        assert properties.delivery_mode == 2
        assert properties.content_type == "text/plain"
        assert properties.headers == {"k": "v"}
        channel.basic_ack(method.delivery_tag)
        channel.queue_delete(queue)
    finally:
        connection.close()


def _mentions(pid: int, needles: list[str]) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            text = handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return any(needle in text for needle in needles)


def test_stop_leaves_nothing_behind(rabbit: RabbitMQService, record_property: Any) -> None:
    pids = rabbit.pids()
    everything = rabbit.own_pids()  # the VM, its port helpers, epmd
    assert rabbit.pid in everything and set(rabbit.extra_pids) <= set(everything)
    assert len(pids) == 2 and all(pid_alive(pid) for pid in pids), pids
    needles = [rabbit.node_name, str(rabbit.workdir)]

    started = time.monotonic()
    rabbit.stop()
    stopped = time.monotonic() - started
    record_property("amqp_stop_s", round(stopped, 3))
    print(f"\n[amqp] stop {stopped:.2f} s; was {pids} (all: {everything})")

    assert rabbit.pid is None and rabbit.pids() == []
    alive = [pid for pid in everything if pid_alive(pid)]
    assert alive == [], f"still alive after stop(): {alive}"
    mentioning = [
        int(entry)
        for entry in os.listdir("/proc")
        if entry.isdigit() and int(entry) != os.getpid() and _mentions(int(entry), needles)
    ]
    assert [pid for pid in mentioning if pid_alive(pid)] == []
    assert rabbit.own_pids() == []
    with socket.socket() as sock, pytest.raises(OSError):
        sock.settimeout(2)
        sock.connect(("127.0.0.1", rabbit.port))
    assert Path(rabbit.workdir, "mnesia", rabbit.node_name).is_dir()  # data kept


# -- install() without touching the machine: apt-get is faked -------------------------------
class FakeApt:
    """What the fake apt-get saw and how it answers."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.policy = "rabbitmq-server:\n  Installed: (none)\n  Candidate: 3.10.8-1.1\n"
        self.failing_installs = 1  # the first install fails, as with stale lists (a 404)

    def verbs(self) -> list[str]:
        return [next(w for w in ("policy", "install", "update") if w in c) for c in self.calls]


@pytest.fixture
def fake_apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeApt:
    """A missing server script, root, and an apt-get that records its commands."""
    server = tmp_path / "bin" / "rabbitmq-server"
    apt = FakeApt()

    def fake_run(command: Any, *, what: str, timeout: float, **kwargs: Any) -> str:
        apt.calls.append(list(command))
        assert timeout >= 60
        if command[:2] == ["apt-cache", "policy"]:
            return apt.policy
        if "install" in command:
            assert kwargs["env"]["DEBIAN_FRONTEND"] == "noninteractive"
            if apt.failing_installs:
                apt.failing_installs -= 1
                raise ServiceError("apt-get install: 404 Not Found")
            server.parent.mkdir()
            server.write_text("#!/bin/sh\n")
        return ""

    monkeypatch.setattr(rabbitmq, "RABBITMQ_SERVER", server)
    monkeypatch.setattr(rabbitmq, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(rabbitmq, "run", fake_run)
    monkeypatch.setattr(rabbitmq.os, "geteuid", lambda: 0)
    monkeypatch.setattr(rabbitmq.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(rabbitmq, "_erlang_pids", lambda: iter(()))  # never stop real ones
    return apt


def test_install_updates_lists_only_when_install_fails(fake_apt: FakeApt, tmp_path: Path) -> None:
    service = RabbitMQService(tmp_path / "svc")
    service.install()
    assert fake_apt.verbs() == ["policy", "install", "update", "install"]
    assert fake_apt.calls[1][-3:] == ["-y", "--no-install-recommends", "rabbitmq-server"]
    assert service.timings["download"] > 0
    fake_apt.calls.clear()
    service.install()  # installed now: nothing runs
    assert fake_apt.calls == [] and service.timings["download"] == 0.0


def test_install_updates_lists_first_without_a_candidate(fake_apt: FakeApt, tmp_path: Path) -> None:
    fake_apt.policy = ""  # a fresh machine: empty package lists
    fake_apt.failing_installs = 0
    RabbitMQService(tmp_path / "svc").install()
    assert fake_apt.verbs() == ["policy", "update", "install"]


def test_install_as_non_root_says_what_to_run(
    fake_apt: FakeApt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rabbitmq.os, "geteuid", lambda: 1000)
    with pytest.raises(
        ServiceError, match=r"apt-get install -y --no-install-recommends rabbitmq-server"
    ):
        RabbitMQService(tmp_path / "svc").install()
    assert fake_apt.calls == []
