"""``python -m tests.services start|stop|status [kafka|amqp|all]``: the test brokers by hand.

``start`` runs a broker in the background (its data under the cache directory) and
prints its URL — export it as ``SYNCAPI_TEST_KAFKA_URL``/``SYNCAPI_TEST_AMQP_URL`` to
let the tests use it; ``stop`` stops what ``start`` started (by the PIDs it recorded);
``status`` says what runs. Exit codes: 0 ok, 1 failure, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .base import STATE_DIR, Service, ServiceError, pid_alive

KINDS = ("kafka", "amqp")


def _make(kind: str, workdir: Path) -> Service:
    if kind == "kafka":
        from .kafka import KafkaService

        return KafkaService(workdir)
    from .rabbitmq import RabbitMQService

    return RabbitMQService(workdir)


def _state(kind: str) -> dict[str, object] | None:
    path = STATE_DIR / f"{kind}.json"
    if not path.exists():
        return None
    data: dict[str, object] = json.loads(path.read_text())
    return data


def _start(kind: str) -> int:
    state = _state(kind)
    if state is not None and isinstance(state.get("pid"), int) and pid_alive(int(state["pid"])):
        print(f"{kind}: already running at {state['url']}")
        return 0
    service = _make(kind, STATE_DIR / "data" / kind)
    seconds = service.start()
    service.save_state()
    print(f"{kind}: {service.url} (started in {seconds:.1f} s, pid {service.pid})")
    return 0


def _stop(kind: str) -> int:
    state = _state(kind)
    if state is None:
        print(f"{kind}: not running")
        return 0
    service = _make(kind, Path(str(state["workdir"])))
    service.pid = state["pid"] if isinstance(state["pid"], int) else None
    extra = state.get("extra_pids")
    service.extra_pids = [int(p) for p in extra] if isinstance(extra, list) else []
    service.stop()
    service.clear_state()
    print(f"{kind}: stopped")
    return 0


def _status(kind: str) -> int:
    state = _state(kind)
    running = (
        state is not None and isinstance(state.get("pid"), int) and pid_alive(int(state["pid"]))
    )  # type: ignore[arg-type]
    print(f"{kind}: {'running at ' + str(state['url']) if running and state else 'not running'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.services", description=__doc__.splitlines()[0]
    )
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("broker", nargs="?", default="all", choices=(*KINDS, "all"))
    args = parser.parse_args(argv)
    kinds = KINDS if args.broker == "all" else (args.broker,)
    action = {"start": _start, "stop": _stop, "status": _status}[args.action]
    try:
        for kind in kinds:
            action(kind)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
