"""The ``syncapi`` command: ``--version``, ``protocols``, ``demo``, ``send`` and
``listen``.

Exit codes: 0 ok, 1 runtime failure, 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import Any

from . import __version__
from .cli_io import UsageError, listen, parse_headers, payload_batches, send
from .demo import PROTOCOLS, format_table, run_demo
from .errors import ConfigError, MissingDependency, ProtocolNotFound, SyncapiError
from .progress import Progress
from .registry import available_protocols

__all__ = ["build_parser", "main"]


_DISTRIBUTIONS = {"websocket": "websocket-client", "kafka": "kafka-python"}
"""Modules whose package on PyPI has another name."""


def _protocols() -> int:
    rows = [("SCHEME", "STATUS", "FROM", "DESCRIPTION")]
    for scheme, found in available_protocols().items():
        if isinstance(found, MissingDependency):
            missing = _DISTRIBUTIONS.get(found.missing or "", found.missing or "a library")
            fix = f"pip install 'syncapi[{found.extra}]'" if found.extra else "install it"
            rows.append((scheme, "missing", found.source, f"needs {missing}: {fix}"))
        elif isinstance(found, ConfigError):
            rows.append((scheme, "broken", "", " ".join(str(found).split())))
        else:
            rows.append((scheme, "ok", found.source, found.description))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
            + "  "
            + row[3]
        )
    return 0


_EXIT_CODES = "exit codes: 0 done, 1 runtime failure, 2 usage error"


def _command(
    commands: Any, name: str, summary: str, description: str, examples: Sequence[str]
) -> argparse.ArgumentParser:
    """A subcommand whose --help has the same parts as every other: what it does, its
    options, examples and the exit codes."""
    epilog = "examples:\n" + "".join(f"  {line}\n" for line in examples) + "\n" + _EXIT_CODES
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``syncapi`` command, with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="syncapi",
        description="Synchronous messaging over many protocols, one model.",
        epilog="'syncapi COMMAND --help' tells more of each command.\n" + _EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"syncapi {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _command(
        commands,
        "protocols",
        "list the URL schemes, where they come from and what they are missing",
        "List every URL scheme syncapi knows: whether it loads, where it comes from\n"
        "(built in or a package's entry point) and what to install when a client\n"
        "library is missing.",
        ["syncapi protocols"],
    )
    demo = _command(
        commands,
        "demo",
        "real round trips on loopback through every brokerless protocol, no broker",
        "Send messages through memory://, http://, ws://, tcp:// and udp:// on\n"
        "127.0.0.1 and print what arrived, the rate and the median latency. Exits 1\n"
        "when a protocol that ran lost messages (UDP may lose some on a busy machine).",
        ["syncapi demo", "syncapi demo --protocol tcp --protocol udp --messages 10000"],
    )
    demo.add_argument(
        "--messages", type=_positive_int, default=1000, metavar="N", help="per protocol (1000)"
    )
    demo.add_argument(
        "--protocol",
        action="append",
        choices=PROTOCOLS,
        help="run only this protocol (repeatable; default: all)",
    )
    send = _command(
        commands,
        "send",
        "send messages: DATA, '-' (one per line of stdin) or --file",
        "Send messages to CHANNEL of the server at URL and return once the server\n"
        "accepted every one. A progress line shows on a terminal for long sends.",
        [
            "syncapi send tcp://127.0.0.1:9000 orders '{\"id\": 1}' --header trace=abc",
            "syncapi send kafka://127.0.0.1:9092 orders hello --key k1 --count 1000",
            "tail -f app.log | syncapi send amqp://guest:guest@127.0.0.1/ logs -",
            "syncapi send http://127.0.0.1:8000/ uploads --file report.pdf",
        ],
    )
    send.add_argument("url", metavar="URL", help="the server, e.g. kafka://host:9092")
    send.add_argument("channel", metavar="CHANNEL", help="the channel: topic, queue, path")
    send.add_argument("data", metavar="DATA", nargs="?", help="the message; '-': stdin lines")
    send.add_argument("--file", metavar="PATH", help="send this file's bytes as one message")
    send.add_argument(
        "--header", action="append", default=[], metavar="NAME=VALUE", help="(repeatable)"
    )
    send.add_argument("--content-type", metavar="TYPE", help="e.g. application/json")
    send.add_argument(
        "--count", type=_positive_int, default=1, metavar="N", help="send each message N times"
    )
    send.add_argument("--key", help="the record key (kafka://)")
    send.add_argument("--routing-key", metavar="KEY", help="the routing key (amqp://)")
    send.add_argument("--opcode", choices=("text", "binary"), help="the frame type (ws://)")
    send.add_argument("--remote-addr", metavar="HOST:PORT", help="the destination (udp://, ip://)")
    send.add_argument(
        "--quiet", action="store_true", help="no progress line (it shows only on a terminal)"
    )
    listen = _command(
        commands,
        "listen",
        "print the messages that arrive on a channel",
        "Receive on CHANNEL of URL and print each message: its payload, one per line,\n"
        "or with --json one object per line (payload, headers, content type, extras).\n"
        "Brokerless consumers (http, ws, tcp, udp) listen on the URL's address and\n"
        "print where on standard error. Ctrl-C stops (exit 0).",
        [
            "syncapi listen tcp://127.0.0.1:9000 orders --json",
            "syncapi listen kafka://127.0.0.1:9092 orders --group audit --count 10",
        ],
    )
    listen.add_argument("url", metavar="URL", help="the server, e.g. kafka://host:9092")
    listen.add_argument("channel", metavar="CHANNEL", help="the channel: topic, queue, path")
    listen.add_argument("--json", action="store_true", help="one JSON object per message")
    listen.add_argument("--count", type=_positive_int, metavar="N", help="stop after N messages")
    listen.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")
    listen.add_argument("--group", help="the consumer group (kafka://, amqp://)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "protocols":
            return _protocols()
        if args.command == "demo":
            return _demo(args.protocol or PROTOCOLS, args.messages)
        if args.command == "send":
            return _send(args)
        if args.command == "listen":
            return _listen(args)
    except (UsageError, ProtocolNotFound, ConfigError) as exc:
        return _failed(exc, 2, args.debug)
    except SyncapiError as exc:
        return _failed(exc, 1, args.debug)
    parser.print_help()
    return 2


def _failed(exc: BaseException, code: int, debug: bool) -> int:
    if debug:
        traceback.print_exception(exc)
    text = " ".join(str(exc).split())
    print(f"syncapi: error: {text}", file=sys.stderr)
    return code


def _send(args: argparse.Namespace) -> int:
    extras = {
        name: value
        for name, value in (
            ("key", args.key),
            ("routing_key", args.routing_key),
            ("opcode", args.opcode),
            ("remote_addr", args.remote_addr),
        )
        if value is not None
    }
    total = None if args.data == "-" else args.count
    with Progress(sys.stderr, total, enabled=sys.stderr.isatty() and not args.quiet) as bar:
        send(
            args.url,
            args.channel,
            payload_batches(args.data, args.file, sys.stdin.buffer, count=args.count),
            headers=parse_headers(args.header),
            content_type=args.content_type,
            extras=extras,
            progress=bar,
        )
    return 0


def _listen(args: argparse.Namespace) -> int:
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError(f"--timeout must be > 0 seconds, got {args.timeout}")
    listen(
        args.url,
        args.channel,
        as_json=args.json,
        count=args.count,
        timeout=args.timeout,
        group=args.group,
        out=sys.stdout.buffer,
        stop=threading.Event(),
    )
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _demo(protocols: Sequence[str], messages: int) -> int:
    print(f"syncapi {__version__}: {messages} round trips per protocol on 127.0.0.1\n")
    rows = run_demo(protocols, messages=messages)
    print(format_table(rows))
    return 0 if all(row.ok or row.error is not None for row in rows) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
