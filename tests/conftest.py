"""Session fixtures that bring up real brokers for the tests that need them.

A test that uses ``kafka_url``/``kafka_service`` is marked ``kafka``, one that uses
``amqp_url``/``amqp_service`` is marked ``amqp`` (automatically), so
``pytest -m "not kafka"`` runs without Java and starts no broker. A broker starts once
per session, the first time a selected test needs it, and is stopped at the end; the
run then checks that none of its processes is left, and prints how long each broker
took to start (download or install included on a cold machine).

``SYNCAPI_TEST_KAFKA_URL`` / ``SYNCAPI_TEST_AMQP_URL`` point the tests at brokers that
already run instead (tests that restart a broker then skip, saying why).

A broker that cannot start makes every test that needs it fail with the reason and the
broker's log tail — never a skip: the suite does not pass without its real peers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.services.base import Service, pid_alive, processes_mentioning

_ENV = {"kafka": "SYNCAPI_TEST_KAFKA_URL", "amqp": "SYNCAPI_TEST_AMQP_URL"}
_started: dict[str, Service] = {}
_failed: dict[str, str] = {}
_report: list[str] = []


def _factory(kind: str) -> Callable[[Path], Service]:
    if kind == "kafka":
        from tests.services.kafka import KafkaService

        return KafkaService
    from tests.services.rabbitmq import RabbitMQService

    return RabbitMQService


def _service(kind: str) -> Service:
    if kind in _failed:
        pytest.fail(_failed[kind], pytrace=False)
    if kind not in _started:
        workdir = Path(tempfile.mkdtemp(prefix=f"syncapi-{kind}-"))
        try:
            service = _factory(kind)(workdir)
            seconds = service.start()
        except Exception as exc:
            _failed[kind] = f"the {kind} broker could not start: {exc}"
            pytest.fail(_failed[kind], pytrace=False)
        download = service.timings.get("download", 0.0)
        state = "cold (download/install included)" if download else "warm"
        _report.append(
            f"{kind}: started in {seconds:.1f} s, {state}; download/install {download:.1f} s"
        )
        _started[kind] = service
    return _started[kind]


def _url(kind: str) -> str:
    external = os.environ.get(_ENV[kind])
    if external:
        return external
    return _service(kind).url


@pytest.fixture(scope="session")
def kafka_url() -> str:
    """``kafka://127.0.0.1:PORT`` of the session's Kafka broker (or SYNCAPI_TEST_KAFKA_URL)."""
    return _url("kafka")


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """``amqp://guest:guest@127.0.0.1:PORT/`` of the session's RabbitMQ (or SYNCAPI_TEST_AMQP_URL)."""
    return _url("amqp")


def _own(kind: str) -> Service:
    if os.environ.get(_ENV[kind]):
        pytest.skip(f"{_ENV[kind]} points at an external broker, which this test cannot restart")
    return _service(kind)


@pytest.fixture(scope="session")
def kafka_service() -> Service:
    """The session's Kafka broker as a :class:`~tests.services.base.Service` (restartable)."""
    return _own("kafka")


@pytest.fixture(scope="session")
def amqp_service() -> Service:
    """The session's RabbitMQ as a :class:`~tests.services.base.Service` (restartable)."""
    return _own("amqp")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs a broker with the broker's marker."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for kind in _ENV:
            if {f"{kind}_url", f"{kind}_service"} & names:
                item.add_marker(getattr(pytest.mark, kind))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the brokers and check that none of their processes is left."""
    leaked: list[str] = []
    for kind, service in list(_started.items()):
        pids = service.pids()
        try:
            service.stop()
        except Exception as exc:
            leaked.append(f"{kind}: stop failed: {exc}")
        left = sorted(
            {pid for pid in pids if pid_alive(pid)}
            | set(processes_mentioning(str(service.workdir)))
        )
        if left:
            leaked.append(f"{kind}: processes still alive after stop: {left}")
        else:
            _report.append(
                f"{kind}: stopped; no process left (its {len(pids)} PIDs and any process "
                f"naming {service.workdir})"
            )
            shutil.rmtree(service.workdir, ignore_errors=True)
        del _started[kind]
    if leaked:
        _report.extend(f"LEAK {line}" for line in leaked)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the brokers' start times and the leak check."""
    if _report or _failed:
        terminalreporter.section("syncapi test brokers")
        for line in _report:
            terminalreporter.write_line(line)
        for kind, why in _failed.items():
            terminalreporter.write_line(f"{kind}: FAILED TO START: {why.splitlines()[0]}")
