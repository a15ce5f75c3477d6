"""The command line of the harness: ``python -m syncapi.bench``.

Tables go to stdout, one line of progress per run to stderr (``--quiet`` drops it).
Exit status: 0 when every entry ran (whether or not its goals were met — goals are
reported, not enforced), 1 when an entry failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import tempfile
import traceback
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from . import registry
from .chart import write_chart
from .model import Params
from .report import format_header, format_skipped, format_table, write_json
from .runner import MIN_ROUNDS, Benchmark, EntryResult, Report, current_report

__all__ = ["build_parser", "main"]

DEFAULT_ROUNDS = 7
"""Timed rounds per variant when ``--rounds`` is not given."""
BROKERED = frozenset({"kafka", "amqp", "idle", "latency"})
"""Entries that use a broker when one is given (``--brokers`` starts them)."""
DEFAULT_SIZE = 1024
"""Payload size in bytes when ``--size`` is not given."""

_EPILOG = """\
Each entry runs its baseline and its syncapi variants alternately (A B, B A, A B ...), one
untimed warm-up round and then --rounds timed rounds, and prints per variant the median
throughput, its min-max over the rounds and the ratio of the syncapi median to the
baseline median, with the entry's goal. Run it on an otherwise idle machine. Goals are
reported, not enforced: the exit status is 0 unless a run failed.

examples:
  python -m syncapi.bench --list
  python -m syncapi.bench memory
  python -m syncapi.bench memory --rounds 9 --messages 100000 --json bench.json
  python -m syncapi.bench --brokers --json bench.json --chart bench.png   # everything
"""


def _int_at_least(minimum: int, what: str) -> type[int]:
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be >= {minimum}, got {value}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse  # type: ignore[return-value]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m syncapi.bench``."""
    parser = argparse.ArgumentParser(
        prog="python -m syncapi.bench",
        description="Benchmark syncapi's protocols against their plain baselines.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "entries",
        nargs="*",
        metavar="ENTRY",
        help="entries to run (default: all of them; see --list)",
    )
    parser.add_argument(
        "--list", action="store_true", help="list the entries with a description and exit"
    )
    parser.add_argument(
        "--rounds",
        type=_int_at_least(MIN_ROUNDS, "rounds"),
        default=DEFAULT_ROUNDS,
        metavar="N",
        help=f"timed rounds per variant, at least {MIN_ROUNDS} (default: {DEFAULT_ROUNDS})",
    )
    parser.add_argument(
        "--messages",
        type=_int_at_least(1, "messages"),
        default=None,
        metavar="N",
        help="messages per run (default: the entry's own, e.g. 50,000 for memory)",
    )
    parser.add_argument(
        "--size",
        type=_int_at_least(0, "size"),
        default=DEFAULT_SIZE,
        metavar="BYTES",
        help=f"payload size in bytes (default: {DEFAULT_SIZE})",
    )
    parser.add_argument(
        "--json", metavar="PATH", default=None, help="also write the results as JSON to PATH"
    )
    parser.add_argument(
        "--url",
        metavar="URL",
        default=None,
        help="the server of the entries that need one, e.g. kafka://127.0.0.1:9092 "
        "(python -m tests.services start kafka starts one and prints its URL)",
    )
    parser.add_argument(
        "--chart",
        metavar="PATH",
        default=None,
        help="also draw the results as a PNG chart (needs matplotlib: the bench extra)",
    )
    parser.add_argument(
        "--brokers",
        action="store_true",
        help="start a Kafka and a RabbitMQ broker for the entries that need one, and stop "
        "them at the end (the test suite's services layer: run from a clone of the "
        "repository; Java 17 and Maven for Kafka, rabbitmq-server for AMQP)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the harness with command-line arguments ``argv`` (default: ``sys.argv[1:]``);
    return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    known = registry.entry_names()
    if args.list:
        width = max((len(name) for name in known), default=0)
        for entry in registry.entries():
            print(f"{entry.name.ljust(width)}  {entry.description}")
        return 0
    unknown = [name for name in args.entries if name not in known]
    if unknown:
        parser.error(f"unknown entry {', '.join(map(repr, unknown))} (known: {', '.join(known)})")
    names = list(dict.fromkeys(args.entries)) or known
    if args.url is not None:
        takers = [n for n in names if registry.get_entry(n).url_env]
        if not takers:
            parser.error(f"--url: none of {', '.join(names)} needs a server URL")
        for name in takers:
            os.environ[str(registry.get_entry(name).url_env)] = args.url

    if args.chart is not None:
        try:
            import matplotlib  # noqa: F401  # fail now, not after a quarter of an hour
        except ImportError:
            parser.error("--chart needs matplotlib: pip install 'syncapi[bench]'")
    with ExitStack() as brokers:
        if args.brokers:
            try:
                _start_brokers(brokers, names)
            except Exception as exc:
                print(f"python -m syncapi.bench: --brokers: {exc}", file=sys.stderr)
                return 1
        return _run(args, names)


def _start_brokers(stack: ExitStack, names: Sequence[str]) -> None:
    """Start the brokers the selected entries need and whose URL is not set already,
    through the test suite's services layer; each is stopped when ``stack`` closes."""
    from . import amqp, kafka

    wanted = {"kafka": kafka.URL_ENV, "amqp": amqp.URL_ENV}
    needs = {name for name in names if registry.get_entry(name).url_env or name in BROKERED}
    if not needs:
        return
    try:  # by name: the services layer is the repository's, not the package's
        kafka_module = importlib.import_module("tests.services.kafka")
        rabbitmq_module = importlib.import_module("tests.services.rabbitmq")
    except ImportError as exc:
        raise RuntimeError(
            f"the services layer is not importable ({exc}); run from the root of a clone "
            "of the syncapi repository, or start brokers yourself and pass --url"
        ) from exc
    factories = {"kafka": kafka_module.KafkaService, "amqp": rabbitmq_module.RabbitMQService}
    for kind, env in wanted.items():
        if os.environ.get(env):
            continue
        workdir = Path(tempfile.mkdtemp(prefix=f"syncapi-bench-{kind}-"))
        stack.callback(shutil.rmtree, workdir, True)
        service = factories[kind](workdir)
        _progress(f"starting a {kind} broker for the benchmarks ...")
        seconds = service.start()
        stack.callback(service.stop)
        os.environ[env] = service.url
        stack.callback(os.environ.pop, env, None)
        _progress(f"{kind}: {service.url} (started in {seconds:.1f} s)")


def _run(args: argparse.Namespace, names: Sequence[str]) -> int:
    results: list[EntryResult] = []
    skipped: dict[str, str] = {}
    failed = False
    empty = current_report([])
    print(format_header(empty.syncapi_version, empty.machine, empty.versions), flush=True)
    try:
        for name in names:
            entry = registry.get_entry(name)
            reason = entry.check() if entry.check is not None else None
            if reason is not None:
                skipped[name] = reason
                print("\n" + format_skipped(name, reason), flush=True)
                continue
            params = Params(messages=args.messages or entry.default_messages, size=args.size)
            bench = Benchmark(
                entry, params, rounds=args.rounds, progress=None if args.quiet else _progress
            )
            try:
                result = bench.run()
            except Exception as exc:
                failed = True
                traceback.print_exc(file=sys.stderr)
                print(f"\n{name}: FAILED: {exc!r}", flush=True)
                continue
            results.append(result)
            print("\n" + format_table(result), flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    report = Report(
        syncapi_version=empty.syncapi_version,
        machine=empty.machine,
        results=tuple(results),
        skipped=skipped,
        versions=empty.versions,
    )
    if args.json is not None:
        write_json(report, args.json)
    if args.chart is not None and results:
        write_chart(report, args.chart)
        print(f"\nchart: {args.chart}", flush=True)
    return 1 if failed else 0
