"""A third-party protocol, installed with pip, is found through its entry point and passes
the conformance kit.

``tests/thirdparty/`` is a separate distribution, ``syncapi-spool`` (package
``syncapi_spool``, scheme ``spool://``), written the way a user writes a protocol. The
module fixture really installs it with pip into a temporary directory and puts that on
``sys.path``; nothing here imports ``syncapi_spool`` itself: every object comes through
``syncapi.producer()``/``syncapi.consumer()`` and the ``syncapi.protocols`` entry point.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from urllib.parse import quote

import pytest

import syncapi
from syncapi import registry
from syncapi.testing import Collector, ProtocolConformance, wait_until

SOURCE = Path(__file__).resolve().parent / "thirdparty"

SPOOL_CAPABILITIES = syncapi.Capabilities(
    ordered=True,
    persistent=True,
    consumer_groups=False,
    headers=True,
    redelivery=True,
    brokerless=False,
    reliable=True,
    max_payload=8 * 1024 * 1024,
)
"""What the package must declare; the kit runs against these flags."""


def _can_build_offline() -> bool:
    """Whether pip can build the wheel with what is installed (no build isolation).

    setuptools builds wheels by itself from version 70.1; older ones need ``wheel``; a
    Python without setuptools (3.12 and newer venvs) builds in isolation.
    """
    if importlib.util.find_spec("setuptools") is None:
        return False
    version = tuple(int(part) for part in metadata.version("setuptools").split(".")[:2])
    return version >= (70, 1) or importlib.util.find_spec("wheel") is not None


def _spool_modules() -> list[str]:
    return [name for name in sys.modules if name.partition(".")[0] == "syncapi_spool"]


@pytest.fixture(scope="module")
def spool_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """pip-install ``tests/thirdparty`` into a fresh target directory; yield that directory.

    The sources are copied first, so that the build leaves nothing in the repository.
    """
    registry.refresh_entry_points()
    if "spool" in registry.known_schemes() or _spool_modules():
        pytest.fail("syncapi-spool is already installed or imported; this test must install it")
    work = tmp_path_factory.mktemp("spool-install")
    source, target = work / "src", work / "site"
    source.mkdir()
    shutil.copy2(SOURCE / "pyproject.toml", source)
    shutil.copytree(
        SOURCE / "syncapi_spool",
        source / "syncapi_spool",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-input"]
    command += ["--disable-pip-version-check", "--target", str(target)]
    if _can_build_offline():
        command += ["--no-build-isolation", "--no-index"]
    # else pip builds in isolation and fetches setuptools and wheel from the package index
    result = subprocess.run(
        [*command, str(source)], capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"pip could not install {SOURCE}:\n{result.stdout}\n{result.stderr}")
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    registry.refresh_entry_points()
    try:
        yield target
    finally:
        sys.path.remove(str(target))
        importlib.invalidate_caches()
        registry.unregister_protocol("spool")  # in case a test registered it by hand
        registry.refresh_entry_points()
        for name in _spool_modules():
            del sys.modules[name]


def spool_url(directory: Path, query: str = "") -> str:
    """``spool:///DIR`` for a directory (percent-encoded, as URL paths are)."""
    return f"spool://{quote(str(directory))}" + (f"?{query}" if query else "")


# -- (a) discovery ---------------------------------------------------------------------------
def test_scheme_comes_from_the_installed_entry_point(spool_package: Path, tmp_path: Path) -> None:
    dist = metadata.distribution("syncapi-spool")
    assert Path(str(dist.locate_file(""))).resolve() == spool_package.resolve()
    (ep,) = [ep for ep in dist.entry_points if ep.group == registry.ENTRY_POINT_GROUP]
    assert (ep.name, ep.value) == ("spool", "syncapi_spool:PROTOCOL")

    assert "spool" in registry.known_schemes()
    protocol = syncapi.get_protocol("spool")
    assert protocol.source.startswith("entry point")
    assert "syncapi-spool" in protocol.source

    with syncapi.producer(spool_url(tmp_path)) as producer:
        cls = type(producer)
        assert cls is protocol.producer
        assert cls.__module__ == "syncapi_spool.client"
        module_file = sys.modules[cls.__module__].__file__
        assert module_file is not None
        assert Path(module_file).resolve().is_relative_to(spool_package.resolve())
        assert cls.scheme == "spool"
        assert cls.capabilities == SPOOL_CAPABILITIES
    consumer = syncapi.consumer(spool_url(tmp_path))
    assert type(consumer) is protocol.consumer
    consumer.close()


# -- (b) the conformance kit -------------------------------------------------------------------
class TestSpoolConformance(ProtocolConformance):
    """The whole kit against ``spool://``, each test in a spool directory of its own."""

    capabilities = SPOOL_CAPABILITIES
    timeout = 10.0

    @pytest.fixture(autouse=True)
    def _spool_dir(self, spool_package: Path, tmp_path: Path) -> None:
        self.url = spool_url(tmp_path / "spool")

    def make_consumer(self, group: str | None = None) -> syncapi.Consumer:
        return syncapi.consumer(self.url, group=group)

    def make_producer(self, consumer: syncapi.Consumer) -> syncapi.Producer:
        return syncapi.producer(self.url)


# -- (c) bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("spool://", "absolute path"),
        ("spool://relative/dir", "no host"),
        ("spool:///tmp/spool?poll_interval=0", "poll_interval"),
        ("spool:///tmp/spool?group=../up", "group"),
        ("spool:///tmp/spool?pol_interval=1", "did you mean 'poll_interval'"),
    ],
)
def test_bad_urls_are_config_errors(spool_package: Path, url: str, match: str) -> None:
    with pytest.raises(syncapi.ConfigError, match=match):
        syncapi.consumer(url)
    with pytest.raises(syncapi.ConfigError, match=match):
        syncapi.producer(url)


@pytest.mark.parametrize("channel", ["", ".hidden", "../escape", "a/b"])
def test_bad_channel_names_are_config_errors(
    spool_package: Path, tmp_path: Path, channel: str
) -> None:
    with (
        syncapi.producer(spool_url(tmp_path)) as producer,
        pytest.raises(syncapi.ConfigError, match="plain file name"),
    ):
        producer.publisher(channel)
    assert sorted(os.listdir(tmp_path)) == [], "a bad channel name created something"


# -- what the spool protocol documents -------------------------------------------------------
def test_file_format_and_malformed_files(spool_package: Path, tmp_path: Path) -> None:
    """A file another program drops in is received; a malformed one goes to .rejected."""
    channel = tmp_path / "inbox"
    channel.mkdir()
    meta = b'{"h":{"k":"v","raw":{"b64":"AP8="}},"ct":"text/plain"}'
    (channel / "00000000000000000001-0000000000.msg").write_bytes(b"garbage")
    (channel / "00000000000000000002-0000000000.msg").write_bytes(
        len(meta).to_bytes(4, "big") + meta + b"hello"
    )
    with syncapi.consumer(spool_url(tmp_path)) as consumer:
        (env,) = consumer.subscriber("inbox").fetch(timeout=5)
        assert env.read() == b"hello"
        assert env.headers == {"k": "v", "raw": b"\x00\xff"}
        assert env.content_type == "text/plain"
        assert env.path.parent.name.startswith(".claimed-")
        env.ack()
        assert not env.path.exists()
    rejected = os.listdir(channel / ".rejected")
    assert rejected == ["00000000000000000001-0000000000.msg"]


def test_nack_and_close_put_messages_where_documented(spool_package: Path, tmp_path: Path) -> None:
    url = spool_url(tmp_path)
    with syncapi.producer(url) as producer, syncapi.consumer(url) as consumer:
        producer.publisher("jobs").send(b"0", b"1", b"2", b"3")
        sub = consumer.subscriber("jobs")
        first, second, third, _ = sub.fetch(4, timeout=5)
        first.nack(requeue=False)
        assert (tmp_path / "jobs" / ".rejected" / first.path.name).exists()
        second.nack(requeue=True)
        third.ack()
        sub.close()  # the fourth, claimed and unsettled, goes back
        assert [p for p in os.listdir(tmp_path / "jobs") if p.startswith(".claimed")] == []
        again = consumer.subscriber("jobs").fetch(10, timeout=5)
        assert [env.read() for env in again] == [b"1", b"3"], "not back, or not in send order"


def test_subscribers_compete_for_messages(spool_package: Path, tmp_path: Path) -> None:
    """Subscribers of one channel share its messages: each is handled exactly once."""
    url = spool_url(tmp_path, "poll_interval=0.01")
    sent = [f"m{i}".encode() for i in range(300)]
    collectors = [Collector(delay=0.005) for _ in range(3)]
    with syncapi.producer(url) as producer:
        consumers = [syncapi.consumer(url) for _ in collectors]
        try:
            for consumer, collect in zip(consumers, collectors, strict=True):
                consumer.subscriber("work").start(collect, workers=2)
            publisher = producer.publisher("work")
            threads = [threading.Thread(target=publisher.send, args=sent[i::3]) for i in range(3)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert wait_until(lambda: sum(len(c) for c in collectors) >= len(sent), 10)
        finally:
            for consumer in consumers:
                consumer.close()
    got = [payload for collect in collectors for payload in collect.payloads]
    assert sorted(got) == sorted(sent), "lost or duplicated messages"
    assert sum(1 for collect in collectors if len(collect)) > 1, "one subscriber took everything"
