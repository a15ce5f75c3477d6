"""``udp://`` end to end on real sockets over loopback, IPv4 and IPv6 (both ends in this
process, except where a test needs another network namespace or fewer capabilities: then
a child process, named as such)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncapi import udp
from syncapi.embedded import EmbeddedReader
from syncapi.errors import (
    ClosedError,
    ConfigError,
    ConnectError,
    DecodeError,
    MessageTooLarge,
    ReceiveError,
    SendError,
)
from syncapi.headers import EMBED_MAGIC, embed
from syncapi.testing import Collector, wait_until
from tests.helpers import new_sockets, socket_fds, threads_named

ROOT = Path(__file__).resolve().parent.parent
HOSTS = ["127.0.0.1", "::1"]


def udp_threads() -> list[str]:
    return threads_named("syncapi-udp")


def url_of(host: str) -> str:
    return f"udp://[{host}]" if ":" in host else f"udp://{host}"


@pytest.fixture(params=HOSTS, ids=["ipv4", "ipv6"])
def consumer(request: pytest.FixtureRequest) -> Iterator[udp.Consumer]:
    consumer = udp.Consumer(url_of(request.param))
    yield consumer
    consumer.close()


@pytest.fixture
def producer(consumer: udp.Consumer) -> Iterator[udp.Producer]:
    producer = udp.Producer(consumer.bound_url)
    yield producer
    producer.close()


# -- sizes -----------------------------------------------------------------------------------
def test_a_65000_byte_datagram_arrives_whole(
    consumer: udp.Consumer, producer: udp.Producer
) -> None:
    got = Collector(expected=2)
    consumer.subscriber("big").start(got)
    pub = producer.publisher("big")
    big = os.urandom(65_000)
    limit = udp.MAX_DATAGRAM_IPV6 if ":" in consumer.address[0] else udp.MAX_DATAGRAM
    largest = os.urandom(limit)
    pub.send(big)
    pub.send(largest)
    assert got.wait(10), f"{len(got)} of 2 arrived"
    assert sorted(got.payloads, key=len) == [big, largest]


def test_one_byte_over_the_limit_is_refused_and_nothing_is_sent(
    consumer: udp.Consumer, producer: udp.Producer
) -> None:
    ipv6 = ":" in consumer.address[0]
    limit = udp.MAX_DATAGRAM_IPV6 if ipv6 else udp.MAX_DATAGRAM
    assert limit == (65_527 if ipv6 else 65_507)
    got = Collector()
    consumer.subscriber("over").start(got)
    pub = producer.publisher("over")
    small = pub.envelope(b"first")
    too_big = pub.envelope(bytes(limit + 1))
    with pytest.raises(MessageTooLarge) as caught:
        pub.send(small, too_big)
    assert [env for env, _ in caught.value.failures] == [small, too_big]
    assert f"{limit + 1} bytes" in str(caught.value)
    # the limit counts the bytes on the wire, after the headers are embedded
    fits = pub.envelope(bytes(limit), headers={"k": "v"})
    with pytest.raises(MessageTooLarge, match="headers embedded"):
        pub.send(fits)
    pub.send(b"after")
    assert wait_until(lambda: got.payloads == [b"after"], 5), got.payloads


# -- a burst with the default options ----------------------------------------------------
@pytest.mark.parametrize("host", HOSTS, ids=["ipv4", "ipv6"])
def test_a_burst_of_10000_datagrams_arrives_with_the_default_options(host: str) -> None:
    """Done means >= 99.9 %: the 4 MiB receive buffer (the kernel's default of ~208 KiB
    lost most of such a burst) and the reader thread keep up with one sending thread."""
    with udp.Consumer(url_of(host)) as consumer, udp.Producer(consumer.bound_url) as producer:
        assert consumer.receive_buffer >= 4 * 1024 * 1024  # Linux reports twice this
        got = Collector(expected=10_000)
        consumer.subscriber("burst").start(got)
        pub = producer.publisher("burst")
        sent = [b"%05d" % i + b"." * 95 for i in range(10_000)]
        for payload in sent:
            pub.send(payload)
        got.wait(10)
        time.sleep(0.2)
        received = got.payloads
        assert set(received) <= set(sent)
        assert len(set(received)) >= 9_990, f"only {len(set(received))} of 10,000 arrived"


# -- garbage does not stop the loop ----------------------------------------------------------
def test_garbage_datagrams_do_not_stop_the_loop(
    consumer: udp.Consumer, caplog: pytest.LogCaptureFixture
) -> None:
    good: list[bytes] = []
    failed: list[BaseException] = []

    def on_message(env: udp.EnvelopeReader) -> None:
        good.append(env.payload)  # raises DecodeError for a damaged frame

    def on_error(env: Any, exc: BaseException) -> str:
        failed.append(exc)
        return "reject"

    consumer.subscriber("garbage").start(on_message, on_error=on_error)
    family = socket.AF_INET6 if ":" in consumer.address[0] else socket.AF_INET
    frame = embed({"k": "v"}, "text/plain", b"payload")
    with socket.socket(family, socket.SOCK_DGRAM) as raw:
        raw.sendto(os.urandom(512), consumer.address)
        raw.sendto(EMBED_MAGIC, consumer.address)  # the magic alone: truncated
        raw.sendto(EMBED_MAGIC + b"\x01\xff\xff\xff\xff{", consumer.address)  # meta too long
        raw.sendto(frame[:9] + b"{not json" + frame[9 + 9 :], consumer.address)
        raw.sendto(EMBED_MAGIC + b"\x07" + frame[5:], consumer.address)  # unknown version
        raw.sendto(b"", consumer.address)
        raw.sendto(b"good", consumer.address)
    assert wait_until(lambda: b"good" in good, 5), good
    assert wait_until(lambda: len(failed) == 4, 2), failed
    assert all(isinstance(exc, DecodeError) for exc in failed)
    assert b"" in good and len(good) == 3  # the random bytes, the empty datagram, "good"


# -- headers, addresses, replies -----------------------------------------------------------
def test_headers_and_content_type_round_trip(
    consumer: udp.Consumer, producer: udp.Producer
) -> None:
    got = Collector(expected=3)
    consumer.subscriber("headers").start(got)
    pub = producer.publisher("headers")
    pub.send(
        pub.envelope(
            b'{"id": 1}',
            headers={"trace": "caf\u00e9 \u2603", "raw": b"\x00\xff"},
            content_type="application/json",
        )
    )
    pub.send(b"bare")
    pub.send(EMBED_MAGIC + b" a payload that starts with the magic")
    assert got.wait(5)
    items = {item.payload: item for item in got.items}
    framed = items[b'{"id": 1}']
    assert framed.headers == {"trace": "caf\u00e9 \u2603", "raw": b"\x00\xff"}
    assert framed.content_type == "application/json"
    assert items[b"bare"].headers == {} and items[b"bare"].content_type is None
    assert items[EMBED_MAGIC + b" a payload that starts with the magic"].headers == {}


def test_remote_addr_is_the_sender(consumer: udp.Consumer, producer: udp.Producer) -> None:
    addrs: list[Any] = []
    consumer.subscriber("addr").start(lambda env: addrs.append(env.remote_addr))
    pub = producer.publisher("addr")
    pub.send(b"x")
    assert wait_until(lambda: len(addrs) == 1, 5)
    assert addrs[0][0] == consumer.address[0]  # loopback to loopback
    assert addrs[0][1] == pub.address[1]


def test_reply_goes_back_to_the_publishers_socket(
    consumer: udp.Consumer, producer: udp.Producer
) -> None:
    def echo(env: udp.EnvelopeReader) -> None:
        env.reply(
            env.payload.upper(),
            udp.EnvelopeWriter(b"meta", headers={"n": "1"}, content_type="text/x"),
        )

    consumer.subscriber("echo").start(echo)
    pub = producer.publisher("echo")
    pub.send(b"hello")
    got = Collector(expected=2)
    assert pub.subscriber.receive(got, max_messages=2, timeout=5) == 2
    items = {item.payload: item for item in got.items}
    assert set(items) == {b"HELLO", b"meta"}
    assert items[b"meta"].headers == {"n": "1"} and items[b"meta"].content_type == "text/x"


def test_an_envelope_may_go_elsewhere(consumer: udp.Consumer, producer: udp.Producer) -> None:
    with udp.Consumer(url_of(consumer.address[0])) as other:
        mine, theirs = Collector(expected=1), Collector(expected=1)
        consumer.subscriber("a").start(mine)
        other.subscriber("b").start(theirs)
        pub = producer.publisher("a")
        env = pub.envelope(b"to the other one")
        env.set_remote_addr(other.address)
        assert env.remote_addr == other.address
        pub.send(env, b"to the peer")
        assert mine.wait(5) and theirs.wait(5)
        assert mine.payloads == [b"to the peer"]
        assert theirs.payloads == [b"to the other one"]
    with pytest.raises(ConfigError, match="port from 1 to 65535"):
        env.set_remote_addr(("127.0.0.1", 0))
    with pytest.raises(ConfigError):
        env.set_remote_addr("127.0.0.1")


def test_a_refused_sendto_is_a_send_error_naming_the_envelopes(producer: udp.Producer) -> None:
    pub = producer.publisher("refused")
    first, wrong, last = pub.envelope(b"1"), pub.envelope(b"2"), pub.envelope(b"3")
    # an address of the other family: the kernel (resolver) refuses it
    wrong.set_remote_addr(("127.0.0.1", 9) if producer.family == socket.AF_INET6 else ("::1", 9))
    with pytest.raises(SendError) as caught:
        pub.send(first, wrong, last)
    assert [env for env, _ in caught.value.failures] == [wrong, last]
    assert isinstance(caught.value.__cause__, OSError)


# -- header policies -----------------------------------------------------------------------
def test_header_policies(consumer: udp.Consumer) -> None:
    got = Collector(expected=2)
    consumer.subscriber("policy").start(got)
    with udp.Producer(consumer.bound_url, headers="raise") as strict:
        pub = strict.publisher("policy")
        with pytest.raises(ConfigError, match="'raise'"):
            pub.send(pub.envelope(b"x", headers={"a": "b"}))
        pub.send(b"plain")
    with udp.Producer(consumer.bound_url, headers="warn") as lax:
        pub = lax.publisher("policy")
        with pytest.warns(RuntimeWarning, match="dropped"):
            pub.send(pub.envelope(b"dropped headers", headers={"a": "b"}))
    assert got.wait(5)
    assert sorted(got.payloads) == [b"dropped headers", b"plain"]
    with pytest.raises(ConfigError, match="'headers'"):
        udp.Producer(consumer.bound_url, headers="nope")


def test_a_consumer_with_policy_raise_takes_datagrams_as_they_are() -> None:
    with (
        udp.Consumer("udp://127.0.0.1", headers="raise") as consumer,
        udp.Producer(consumer.bound_url) as producer,
    ):
        got = Collector(expected=1)
        consumer.subscriber("plain").start(got)
        producer.publisher("plain").send(producer.publisher("x").envelope(b"p", headers={"a": "b"}))
        assert got.wait(5)
        assert got.payloads[0].startswith(EMBED_MAGIC) and got.items[0].headers == {}


# -- multicast -------------------------------------------------------------------------------
def test_multicast_on_loopback() -> None:
    """IPv4 multicast on ``lo`` needs only the interface: the members join the group on
    127.0.0.1 and the sender sends by 127.0.0.1 (``IP_MULTICAST_IF``). No route and no
    change to the machine. Two members of one group and port both get every datagram."""
    group = f"239.255.77.{os.getpid() % 200 + 1}"
    with (
        udp.Consumer(f"udp://{group}", interface="127.0.0.1") as first,
        udp.Consumer(f"udp://{group}:{first.address[1]}", interface="lo") as second,
        udp.Producer(first.bound_url, interface="127.0.0.1", multicast_ttl=0) as producer,
    ):
        assert first.multicast and first.bound_url == f"udp://{group}:{first.address[1]}"
        a, b = Collector(expected=3), Collector(expected=3)
        first.subscriber("m").start(a)
        second.subscriber("m").start(b)
        pub = producer.publisher("m")
        for i in range(3):
            pub.send(pub.envelope(b"m%d" % i, headers={"i": str(i)}))
        assert a.wait(5) and b.wait(5), (a.payloads, b.payloads)
        assert sorted(a.payloads) == sorted(b.payloads) == [b"m0", b"m1", b"m2"]
        assert {item.headers["i"] for item in a.items} == {"0", "1", "2"}
    with pytest.raises(ConfigError, match="multicast consumers"):
        udp.Consumer("udp://127.0.0.1", interface="lo")
    with pytest.raises(ConfigError, match="no network interface"):
        udp.Consumer(f"udp://{group}", interface="no-such-if0")


IPV6_MULTICAST = r"""
import subprocess, sys
from syncapi import udp
from syncapi.testing import Collector

def run(*cmd):
    subprocess.run(cmd, check=True)

run("ip", "link", "set", "lo", "up")
run("sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0")
run("sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0")
run("ip", "link", "add", "mc0", "type", "veth", "peer", "name", "mc1")
run("ip", "link", "set", "mc0", "up")
run("ip", "link", "set", "mc1", "up")
for group in ("ff15::5ca1:ab1e", "ff02::5ca1:ab1e"):  # site-local, link-local
    with udp.Consumer(f"udp://[{group}]", interface="mc0") as member:
        got = Collector(expected=2)
        member.subscriber("m").start(got)
        with udp.Producer(member.bound_url, interface="mc0") as producer:
            pub = producer.publisher("m")
            pub.send(pub.envelope(b"six", headers={"v": "6"}))
            pub.send(b"seven")
        assert got.wait(5), got.payloads
        headers = {item.payload: item.headers for item in got.items}
        print(group, sorted(got.payloads), headers[b"six"])
"""


def test_ipv6_multicast_in_a_network_namespace() -> None:
    """IPv6 multicast cannot use ``lo`` (Linux has no IPv6 multicast route on it, and
    ``::1`` is no source for a wider scope: ``sendto`` fails with ENETUNREACH). So the
    test runs in a child process in a network namespace of its own (``unshare -n``),
    on a veth pair: the machine's own settings are never touched."""
    if not os.path.exists("/usr/bin/unshare"):
        pytest.fail("this test needs unshare (util-linux) to make a network namespace")
    result = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", IPV6_MULTICAST],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "ff15::5ca1:ab1e [b'seven', b'six'] {'v': '6'}",
        "ff02::5ca1:ab1e [b'seven', b'six'] {'v': '6'}",
    ]


SLOW_LINK = r"""
import subprocess, threading, time
from syncapi import udp
from syncapi.errors import ClosedError, TimeoutError

def run(*cmd):
    subprocess.run(cmd, check=True)

run("ip", "link", "set", "lo", "up")
run("ip", "link", "add", "to0", "type", "veth", "peer", "name", "to1")
run("ip", "addr", "add", "10.9.0.1/24", "dev", "to0")
run("ip", "link", "set", "to0", "up")
run("ip", "link", "set", "to1", "up")
run("ip", "neigh", "add", "10.9.0.3", "lladdr", "02:00:00:00:00:03", "dev", "to0")
run("tc", "qdisc", "add", "dev", "to0", "root", "tbf", "rate", "8kbit", "burst", "1600",
    "limit", "100000000")
with udp.Producer("udp://10.9.0.3:9", timeout=0.3) as producer:
    pub = producer.publisher("slow")
    sent = 0
    try:
        for _ in range(10_000):
            pub.send(bytes(8000))
            sent += 1
    except TimeoutError as exc:
        print("TimeoutError", sent < 10_000, "option 'timeout'" in str(exc))

producer = udp.Producer("udp://10.9.0.3:9", timeout=30)
pub = producer.publisher("slow")
outcome = []

def blast():
    try:
        for _ in range(100_000):
            pub.send(bytes(8000))
    except BaseException as exc:
        outcome.append((type(exc).__name__, time.monotonic()))

thread = threading.Thread(target=blast)
thread.start()
time.sleep(1.0)
closing = time.monotonic()
producer.close()
thread.join(5)
print(outcome[0][0], outcome[0][1] - closing < 1.0)
"""


def test_a_send_that_cannot_go_on_times_out_and_close_wakes_it() -> None:
    """A real full send buffer: in a child process in a network namespace of its own, a
    veth whose queue drains at 8 kbit/s (``tc tbf``) keeps the datagrams in flight, so
    ``sendto()`` blocks. With ``timeout=0.3`` the send raises TimeoutError (the
    ``SO_SNDTIMEO`` of the option); a send blocked with ``timeout=30`` ends with
    ClosedError as soon as another thread closes the producer."""
    if not os.path.exists("/usr/bin/unshare"):
        pytest.fail("this test needs unshare (util-linux) to make a network namespace")
    result = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", SLOW_LINK],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["TimeoutError True True", "ClosedError True"]


# -- the receive buffer ----------------------------------------------------------------------
def rmem_max() -> int:
    return int(Path("/proc/sys/net/core/rmem_max").read_text())


def test_a_receive_buffer_over_rmem_max_is_forced_as_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("this test checks SO_RCVBUFFORCE and needs root (CAP_NET_ADMIN)")
    asked = rmem_max() * 2
    with udp.Consumer("udp://127.0.0.1", rcvbuf=asked) as consumer:
        assert consumer.receive_buffer >= 2 * asked


RCVBUF_CAPPED = r"""
import logging, sys
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
from syncapi import udp
asked = int(sys.argv[1])
with udp.Consumer("udp://127.0.0.1", rcvbuf=asked) as a, udp.Consumer("udp://127.0.0.1", rcvbuf=asked) as b:
    print("granted", a.receive_buffer)
"""


def test_a_capped_receive_buffer_logs_one_warning_without_cap_net_admin() -> None:
    """Without CAP_NET_ADMIN (dropped in a child process with ``setpriv``) the kernel's
    cap stands: one WARNING naming ``net.core.rmem_max``, for two consumers."""
    cap = rmem_max()
    result = subprocess.run(
        ["setpriv", "--bounding-set=-net_admin", sys.executable, "-c", RCVBUF_CAPPED, str(cap * 2)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1, result.stderr
    assert "net.core.rmem_max" in warnings[0] and "syncapi.udp" in warnings[0]
    assert result.stdout.strip() == f"granted {2 * cap}"


# -- one subscriber, lifecycle, leaks --------------------------------------------------------
def test_one_consumer_has_one_subscriber(consumer: udp.Consumer) -> None:
    sub = consumer.subscriber("first")
    with pytest.raises(ConfigError, match="one consumer is one bound socket"):
        consumer.subscriber("second")
    sub.close()
    with pytest.raises(ConfigError, match="was closed"):
        consumer.subscriber("third")


def test_close_from_another_thread_unblocks_receive(consumer: udp.Consumer) -> None:
    sub = consumer.subscriber("close")
    timer = threading.Timer(0.3, sub.close)
    timer.start()
    started = time.monotonic()
    assert sub.receive(lambda env: None) == 0
    assert time.monotonic() - started < 1.3
    timer.join()
    assert not udp_threads()


def test_close_in_a_signal_handler_unblocks_receive(consumer: udp.Consumer) -> None:
    sub = consumer.subscriber("signal")
    previous = signal.signal(signal.SIGALRM, lambda *_: sub.close(timeout=0))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        started = time.monotonic()
        assert sub.receive(lambda env: None, timeout=5) == 0
        assert time.monotonic() - started < 1.3
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert wait_until(lambda: not udp_threads(), 2), udp_threads()


def test_close_from_inside_a_callback_is_quick_and_complete() -> None:
    """A callback that closes its own consumer (or the publisher whose replies it reads)
    runs on the reader thread itself, when the loop is idle: the close must not wait
    for that thread, and the socket is still closed once the callback returns."""
    before = socket_fds()
    consumer = udp.Consumer("udp://127.0.0.1")
    producer = udp.Producer(consumer.bound_url)
    took: list[float] = []

    def close_consumer(env: udp.EnvelopeReader) -> None:
        env.reply(b"bye")
        started = time.monotonic()
        consumer.close()
        took.append(time.monotonic() - started)

    def close_publisher(env: udp.EnvelopeReader) -> None:
        started = time.monotonic()
        producer.close()
        took.append(time.monotonic() - started)

    consumer.subscriber("in").start(close_consumer)
    pub = producer.publisher("in")
    pub.subscriber.start(close_publisher)
    pub.send(b"hello")
    assert wait_until(lambda: len(took) == 2, 5), took
    assert max(took) < 0.5, took
    assert wait_until(lambda: not new_sockets(before) and not udp_threads(), 2), udp_threads()


def test_a_reader_that_ends_on_its_own_ends_the_loop_with_an_error(
    consumer: udp.Consumer,
) -> None:
    """Nothing in syncapi shuts a socket down but close(); a reader that ends all the
    same (the socket shut down from outside, here through the consumer's internals) must
    not leave the receive loop waiting forever: the loop ends with ReceiveError."""
    sub = consumer.subscriber("ended")
    threading.Timer(0.2, lambda: consumer._gate.shutdown(socket.SHUT_RD)).start()
    with pytest.raises(ReceiveError, match="the reader ended"):
        sub.receive(lambda env: None, timeout=5)


def test_sends_racing_close_end_cleanly() -> None:
    """Ten threads send while another closes the publisher: each send either went out
    or raised ClosedError; nothing else escapes, no descriptor is left."""
    before = socket_fds()
    with udp.Consumer("udp://127.0.0.1") as consumer:
        for _ in range(5):
            producer = udp.Producer(consumer.bound_url)
            pub = producer.publisher("race")
            errors: list[BaseException] = []
            start = threading.Event()

            def blast(
                pub: udp.Publisher = pub,
                errors: list[BaseException] = errors,
                start: threading.Event = start,
            ) -> None:
                start.wait()
                for _ in range(2000):
                    try:
                        pub.send(b"x")
                    except ClosedError:
                        return
                    except BaseException as exc:
                        errors.append(exc)
                        return

            threads = [threading.Thread(target=blast) for _ in range(10)]
            for thread in threads:
                thread.start()
            start.set()
            time.sleep(0.01)
            producer.close()
            for thread in threads:
                thread.join(10)
            assert not errors, errors
    assert not new_sockets(before), new_sockets(before)


def test_nothing_leaks_after_close() -> None:
    before_fds, before_threads = socket_fds(), udp_threads()
    for host in HOSTS:
        for _ in range(3):
            consumer = udp.Consumer(url_of(host))
            producer = udp.Producer(consumer.bound_url)
            got = Collector(expected=1)
            worker = consumer.subscriber("leak").start(got, workers=2)
            pub = producer.publisher("leak")
            replies = pub.subscriber  # a second reader thread
            pub.send(b"x")
            assert got.wait(5)
            assert len(udp_threads()) == 2
            producer.close()
            consumer.close()
            assert worker.join(2)
            assert replies.closed
    assert not new_sockets(before_fds), new_sockets(before_fds)
    assert udp_threads() == before_threads


def test_closed_objects_refuse_work() -> None:
    consumer = udp.Consumer("udp://127.0.0.1")
    producer = udp.Producer(consumer.bound_url)
    pub = producer.publisher("c")
    sub = consumer.subscriber("c")
    producer.close()
    with pytest.raises(ClosedError):
        pub.send(b"x")
    with pytest.raises(ClosedError):
        _ = pub.subscriber
    consumer.close()
    consumer.close()
    assert sub.closed
    with pytest.raises(ClosedError):
        consumer.subscriber("d")


def test_a_full_inbox_makes_the_reader_wait() -> None:
    """``max_pending`` bounds what waits in the process: with stalled callbacks the
    reader stops reading (the kernel buffer takes the rest, then drops). Two workers, so
    that the messages go through the inbox (a one-worker loop that is idle lets the
    reader thread run the callback itself, and a stalled callback then stalls the
    reader directly)."""
    with (
        udp.Consumer("udp://127.0.0.1", max_pending=4) as consumer,
        udp.Producer(consumer.bound_url) as producer,
    ):
        release = threading.Event()
        seen: list[bytes] = []

        def slow(env: udp.EnvelopeReader) -> None:
            seen.append(env.payload)
            release.wait(10)

        sub = consumer.subscriber("slow")
        sub.start(slow, workers=2)
        pub = producer.publisher("slow")
        for i in range(50):
            pub.send(b"%d" % i)
        assert wait_until(lambda: sub._inbox.blocked, 5), "the reader never waited for room"
        release.set()
        assert wait_until(lambda: len(seen) == 50, 5), len(seen)


# -- URLs, options, bindings -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("udp://127.0.0.1", "needs the peer's port"),
        ("udp://127.0.0.1:9/path", "no paths"),
        ("udp://u:p@127.0.0.1:9", "no credentials"),
        ("udp://a:1,b:2", "exactly one host"),
        ("udp://no-such-host.invalid:9", "cannot resolve"),
        ("udp://127.0.0.1:9?timeout=0", "'timeout' must be > 0"),
        ("udp://127.0.0.1:9?multicast_ttl=300", "multicast_ttl"),
        ("udp://127.0.0.1:9?nope=1", "unknown option"),
    ],
)
def test_bad_producer_urls(url: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        udp.Producer(url)


def test_bad_consumer_input() -> None:
    with pytest.raises(ConfigError, match="'rcvbuf' must be > 0"):
        udp.Consumer("udp://127.0.0.1", rcvbuf=0)
    with udp.Consumer("udp://127.0.0.1") as taken:
        with pytest.raises(ConnectError, match="cannot bind"):
            udp.Consumer(taken.bound_url)
        with pytest.raises(ConfigError, match=r"udp\.ChannelBindings"):
            taken.subscriber("x", bindings=object())
        with pytest.raises(ConfigError, match="no security"):
            taken.subscriber("x", security=object())
        sub = taken.subscriber("x", bindings=udp.ChannelBindings.from_dict({"x-note": "ok"}))
        assert sub.bindings.extensions == {"x-note": "ok"}
    with pytest.raises(ConfigError):
        udp.ChannelBindings.from_dict({"port": 9})


def test_url_options_and_the_capabilities() -> None:
    with udp.Consumer("udp://127.0.0.1?max_pending=7&rcvbuf=1048576") as consumer:
        assert consumer.options.max_pending == 7 and consumer.options.rcvbuf == 1_048_576
        assert consumer.bound_url == f"udp://127.0.0.1:{consumer.address[1]}"
    with udp.Consumer("udp://[::1]") as consumer:
        assert consumer.bound_url == f"udp://[::1]:{consumer.address[1]}"
    caps = udp.CAPABILITIES
    assert (caps.ordered, caps.reliable, caps.brokerless, caps.headers) == (
        False,
        False,
        True,
        True,
    )
    assert (caps.redelivery, caps.persistent, caps.consumer_groups) == (False, False, False)
    assert caps.max_payload == 65_507
    assert udp.Subscriber.default_on_error == "reject"
    assert udp.PROTOCOL.schemes == ("udp",)


def test_the_readers_fast_init_sets_every_slot() -> None:
    """EnvelopeReader.__init__ sets the slots of its bases itself (it runs once per
    datagram); a slot added to a base class must be set there too."""
    env = udp.EnvelopeReader(b"p", ("127.0.0.1", 9), "c", None, True, None)
    slots = [
        name
        for cls in type(env).__mro__
        for name in getattr(cls, "__slots__", ())
        if name != "__weakref__"
    ]
    assert "_decoded" in slots and "_settled" in slots
    for name in slots:
        getattr(env, name)  # AttributeError when left unset
    assert isinstance(env, EmbeddedReader)
    assert (env.payload, env.headers, env.content_type, env.settled) == (b"p", {}, None, False)


def test_logs_go_to_syncapi_udp(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="syncapi.udp"):
        consumer = udp.Consumer("udp://127.0.0.1", max_pending=1)
        sub = consumer.subscriber("log")
        with udp.Producer(consumer.bound_url) as producer:
            producer.publisher("log").send(b"a", b"b", b"c")
        assert wait_until(lambda: sub._inbox.blocked, 5)
        consumer.close()
    assert any(r.name == "syncapi.udp" and "dropped at close" in r.message for r in caplog.records)
