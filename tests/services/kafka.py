"""Apache Kafka for the test suite: the real broker's jars from Maven Central, run in KRaft.

No Kafka broker exists in Debian or PyPI, so :meth:`KafkaService.install` resolves
``org.apache.kafka:kafka_2.13`` (plus ``slf4j-simple`` for plain-text logs) with Maven,
using ``kafka_pom.xml`` next to this file, into ``CACHE_DIR/kafka-<version>/libs``;
Maven's own repository is kept at ``CACHE_DIR/m2``. Nothing lands in the work tree, and
a marker file (written only after a complete copy) makes later runs skip Maven.

Each :class:`KafkaService` is one combined broker+controller node (``node.id=1``) with
its data in its work directory: a client listener on ``127.0.0.1:port`` and a controller
listener on a second loopback port. The log directory is formatted once with
``kafka.tools.StorageTool``; :meth:`~tests.services.base.Service.restart` keeps data,
ports and cluster id. The PID we start is the JVM itself (no wrapper script), in a
session of its own, so SIGTERM to it is Kafka's clean shutdown and nothing outlives it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.services.base import CACHE_DIR, Service, ServiceError, free_port, run

__all__ = ["KAFKA_VERSION", "POM", "KafkaService"]

# Why 4.4.0 (measured 2026-11 on the 2-core test machine, kafka-python 3.0.12, the newest
# 3.0.x): the candidates were the newest 4.x on Maven Central (4.4.0) and the newest 3.9.x
# (3.9.2). Against each, the same script ran: admin create_topics (3 partitions, with
# retention.ms/max.message.bytes configs, checked by describe_topics/describe_configs);
# 3,000 records with acks=all, keys and headers; a group consuming half with manual
# commit() and a second member resuming from the committed offsets (all 3,000 once, in
# order per partition, list_group_offsets == 3,000); gzip + idempotent producer on an
# auto-created topic; a 60 s group session with auto-commit and two 25 s gaps between
# polls (session_timeout 10 s, so only background heartbeats kept the member): one
# assignment, no revocation; and a broker restart under a live producer and consumer
# group: 200/200 delivered, no duplicate. Both versions passed all of it, twice, with no
# WARN/ERROR line in the broker log and no Python warning; kafka-python logged the same
# three client-side warnings with both (a consumer joining before its own metadata has
# the topic: "No partition metadata for topic", "Topic ... not found" on auto-create),
# so nothing told 4.4.0 apart. kafka-python 3.0.12 knows brokers up to 4.3 and talks to
# 4.4.0 as (4, 3), negotiating each API's version down, which is what it is built to do.
# With the class archive, start and restart take the same ~2-3 s on both.
KAFKA_VERSION = "4.4.0"
"""The Apache Kafka release the tests run against (``SYNCAPI_TEST_KAFKA_VERSION`` overrides;
3.9.2 is the tested fallback)."""

POM = Path(__file__).with_name("kafka_pom.xml")
"""The throw-away Maven project whose dependencies are the broker's jars."""

JAVA_OPTIONS = [
    "-Xmx512m",
    "-Xms256m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:-UsePerfData",  # no /tmp/hsperfdata_<user> files
    "-Djava.awt.headless=true",
]
"""The broker's JVM: small heap, G1 with short pauses (Kafka's own defaults, resized)."""

LOG_OPTIONS = [
    "-Dorg.slf4j.simpleLogger.logFile=System.out",
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
    "-Dorg.slf4j.simpleLogger.showDateTime=true",
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
    "-Dorg.slf4j.simpleLogger.showThreadName=false",
    "-Dorg.slf4j.simpleLogger.showShortLogName=true",
    # the ~200-line dumps of every configuration value, several per start
    "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.common.config.AbstractConfig=warn",
]
"""slf4j-simple: one plain line per event on stdout, which goes to the service's log."""

INSTALL_TIMEOUT = 900.0
"""Seconds Maven may take for a cold download (about 45 MB of jars)."""


class KafkaService(Service):
    """One single-node KRaft Kafka on 127.0.0.1 (see the module documentation)."""

    name = "kafka"

    def __init__(self, workdir: Path, version: str | None = None) -> None:
        super().__init__(workdir)
        self.version = version or os.environ.get("SYNCAPI_TEST_KAFKA_VERSION") or KAFKA_VERSION
        self.controller_port = 0  # chosen once, kept across restart()
        self._dump_classes_to: Path | None = None  # set on the class-archive training run

    # -- where things are ----------------------------------------------------------------
    @property
    def home(self) -> Path:
        """This version's directory in the cache."""
        return CACHE_DIR / f"kafka-{self.version}"

    @property
    def libs(self) -> Path:
        """The broker's jars (the JVM's class path is ``libs/*``)."""
        return self.home / "libs"

    @property
    def _marker(self) -> Path:
        return self.home / "COMPLETE"

    @property
    def class_archive(self) -> Path:
        """The JVM class-data archive (AppCDS) of this version's broker, for this JVM build.

        Mapping the broker's ~5,000 pre-parsed classes instead of loading them from the jars
        saves about 3 s of every start on two cores; a stale or unusable archive only makes
        the JVM print a warning and load classes the slow way.
        """
        return self.home / f"classes-{_jvm_key()}.jsa"

    @property
    def data_dir(self) -> Path:
        """Kafka's ``log.dirs`` (topic partitions and the KRaft metadata log)."""
        return self.workdir / "data"

    @property
    def config_file(self) -> Path:
        """The ``server.properties`` the broker runs with."""
        return self.workdir / "server.properties"

    @property
    def bootstrap(self) -> str:
        """``host:port`` for a client's ``bootstrap_servers``."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://127.0.0.1:{self.port}"

    def state(self) -> dict[str, Any]:
        return {**super().state(), "controller_port": self.controller_port, "version": self.version}

    # -- install -------------------------------------------------------------------------
    def install(self) -> None:
        """Resolve the broker's jars into the cache unless a complete copy is there, then
        build the class archive if it is missing (see :attr:`class_archive`).

        Concurrent installs (two test processes) are serialised with lock files; a copy
        interrupted half-way has no marker and is redone from scratch.
        """
        self._download()
        self._build_class_archive()

    def _download(self) -> None:
        if self._marker.exists():
            self.timings["download"] = 0.0
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise ServiceError(
                "kafka: Maven is needed to fetch the broker's jars: apt-get install -y maven"
            )
        started = time.monotonic()
        with _locked(CACHE_DIR / f"kafka-{self.version}.lock"):
            if self._marker.exists():  # another process finished while we waited
                self.timings["download"] = 0.0
                return
            partial = self.home / "libs.partial"
            shutil.rmtree(partial, ignore_errors=True)
            shutil.rmtree(self.libs, ignore_errors=True)
            run(
                [
                    mvn,
                    "-q",
                    "-B",
                    "-Dstyle.color=never",
                    "-f",
                    str(POM),
                    f"-Dkafka.version={self.version}",
                    f"-Dmaven.repo.local={CACHE_DIR / 'm2'}",
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={partial}",
                    "-DincludeScope=runtime",
                ],
                what=f"kafka: fetching Apache Kafka {self.version} from Maven Central",
                timeout=INSTALL_TIMEOUT,
            )
            if not any(partial.glob(f"kafka_2.13-{self.version}.jar")):
                raise ServiceError(f"kafka: Maven ran but {partial} has no kafka_2.13 jar")
            partial.rename(self.libs)
            self._marker.write_text(f"org.apache.kafka:kafka_2.13:{self.version}\n")
        self.timings["download"] = time.monotonic() - started

    def _build_class_archive(self) -> None:
        """Start and stop one throw-away broker with ``-XX:ArchiveClassesAtExit``.

        Skipped when the archive exists, on the training broker itself, or when
        ``SYNCAPI_TEST_KAFKA_CDS=0``. A failure is a warning, never an error: the broker
        runs as well without the archive, only slower to start.
        """
        self.timings.setdefault("class_archive", 0.0)
        if (
            self._dump_classes_to is not None
            or os.environ.get("SYNCAPI_TEST_KAFKA_CDS", "1") == "0"
            or self.class_archive.exists()
        ):
            return
        started = time.monotonic()
        with _locked(self.home / "classes.lock"):
            if self.class_archive.exists():
                return
            partial = self.class_archive.with_name(self.class_archive.name + ".partial")
            partial.unlink(missing_ok=True)
            training = Path(tempfile.mkdtemp(prefix="training-", dir=self.home))
            trainer = KafkaService(training, self.version)
            trainer._dump_classes_to = partial
            try:
                trainer.start(timeout=180)
                trainer.stop(timeout=120)  # the JVM writes the archive as it exits
                if not partial.exists() or partial.stat().st_size == 0:
                    raise ServiceError(f"the JVM wrote no class archive\n{trainer.log_tail()}")
                partial.rename(self.class_archive)
            except ServiceError as exc:
                warnings.warn(
                    f"kafka: no class archive, brokers start without it: {exc}", stacklevel=2
                )
            finally:
                trainer.stop()
                partial.unlink(missing_ok=True)
                shutil.rmtree(training, ignore_errors=True)
        self.timings["class_archive"] = time.monotonic() - started

    def _class_options(self, dump: bool = True) -> list[str]:
        if self._dump_classes_to is not None:
            if not dump:
                return []
            return [f"-XX:ArchiveClassesAtExit={self._dump_classes_to}"]
        if self.class_archive.exists():
            return [f"-XX:SharedArchiveFile={self.class_archive}"]
        return []

    # -- start ---------------------------------------------------------------------------
    def _java(self, main_class: str, *args: str, options: list[str]) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise ServiceError("kafka: no java on PATH: apt-get install -y openjdk-17-jre-headless")
        return [
            java,
            *options,
            *LOG_OPTIONS,
            "-cp",
            f"{self.libs}/*",
            main_class,
            *args,
        ]

    def _write_config(self) -> None:
        port, cport = self.port, self.controller_port
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{cport}",
            "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.data_dir),
            # one node: every internal topic has one replica, and few partitions
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "3",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "3",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "num.partitions": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            # small files, short retention: tests write little and throw it away
            "log.segment.bytes": str(16 * 1024 * 1024),
            "log.retention.hours": "1",
            "log.retention.check.interval.ms": "60000",
            # two cores: few threads
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "background.threads": "4",
        }
        if int(self.version.split(".")[0]) >= 4:  # share groups (KIP-932) came in 4.0
            settings["share.coordinator.state.topic.replication.factor"] = "1"
            settings["share.coordinator.state.topic.min.isr"] = "1"
        self.config_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))

    def _format_storage(self) -> None:
        """Format ``log.dirs`` for KRaft, once: a formatted directory is kept as it is."""
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = "-"
        while cluster_id.startswith("-"):  # StorageTool reads "-abc..." as an option (as
            # Kafka's own Uuid.randomUuid() knows, and avoids the same way)
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(self.config_file),
                # a short-lived tool: C1 only is fine here (never for the broker)
                options=[
                    "-Xmx256m",
                    "-XX:-UsePerfData",
                    "-XX:TieredStopAtLevel=1",
                    *self._class_options(dump=False),
                ],
            ),
            what="kafka: formatting the KRaft log directory",
            timeout=120,
        )

    def _launch(self) -> subprocess.Popen[bytes]:
        if not self.controller_port:
            self.controller_port = free_port()
            while self.controller_port == self.port:
                self.controller_port = free_port()
        self._write_config()
        self._format_storage()
        options = [*JAVA_OPTIONS, *self._class_options()]
        command = self._java("kafka.Kafka", str(self.config_file), options=options)
        with self.log_file.open("ab") as log:
            log.write(f"--- {time.strftime('%H:%M:%S')} {' '.join(command)}\n".encode())
            log.flush()
            return subprocess.Popen(
                command,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _ready_check(self) -> None:
        """Raise unless kafka-python can fetch metadata naming this broker."""
        # A refused connection is the common case while the JVM starts: answer it without
        # building a client (kafka-python waits out its whole bootstrap timeout on it).
        with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
            pass
        admin = _admin_client(
            bootstrap_servers=self.bootstrap,
            request_timeout_ms=3000,
            bootstrap_timeout_ms=3000,
            client_id="syncapi-test-readiness",
        )
        try:
            admin.list_topics()
            cluster = admin.describe_cluster()
        finally:
            admin.close()
        brokers = cluster.get("brokers") or []
        if not any(b.get("broker_id") == 1 and not b.get("is_fenced") for b in brokers):
            raise ServiceError(f"kafka: broker 1 is not in the cluster metadata yet: {brokers}")


def _jvm_key() -> str:
    """A short digest naming the JVM build (an archive only fits the JVM that wrote it)."""
    java = shutil.which("java")
    if java is None:
        return "nojava"
    real = Path(java).resolve()
    libjvm = real.parent.parent / "lib" / "server" / "libjvm.so"
    info = libjvm.stat() if libjvm.exists() else real.stat()
    text = f"{real}|{info.st_size}|{info.st_mtime_ns}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _admin_client(**config: Any) -> Any:
    """A ``KafkaAdminClient`` that does not leak when its constructor fails.

    kafka-python 3.0 starts its IO thread and opens a socket before bootstrapping in
    ``__init__``; when the bootstrap fails, the half-built client is never closed (one
    thread and one socket left per failed readiness probe). Close it ourselves.
    """
    from kafka import KafkaAdminClient

    class _Closing(KafkaAdminClient):  # type: ignore[misc]
        def __init__(self, **configs: Any) -> None:
            try:
                super().__init__(**configs)
            except BaseException:
                if hasattr(self, "_net"):
                    self._closed = False
                    with contextlib.suppress(Exception):
                        self.close()
                raise

    return _Closing(**config)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
