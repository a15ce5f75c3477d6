"""The ``syncapi`` command: ``--version``, ``protocols`` and ``demo`` (``send`` and
``listen`` come next).

Exit codes: 0 ok, 1 runtime failure, 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .demo import PROTOCOLS, format_table, run_demo
from .errors import ConfigError
from .registry import available_protocols

__all__ = ["main"]


def _protocols() -> int:
    rows = []
    for scheme, found in available_protocols().items():
        if isinstance(found, ConfigError):
            rows.append((scheme, "unavailable", str(found)))
        else:
            rows.append((scheme, found.source, found.description))
    width = max((len(r[0]) for r in rows), default=6)
    source_width = max((len(r[1]) for r in rows), default=6)
    for scheme, source, text in rows:
        print(f"{scheme:<{width}}  {source:<{source_width}}  {text}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="syncapi", description="Synchronous messaging over many protocols, one model."
    )
    parser.add_argument("--version", action="version", version=f"syncapi {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "protocols", help="list the URL schemes syncapi knows and where they come from"
    )
    demo = commands.add_parser(
        "demo",
        help="real round trips on loopback through every brokerless protocol, no broker",
        description="Send messages through memory://, http://, ws://, tcp:// and udp:// "
        "on 127.0.0.1 and print what arrived, the rate and the median latency. Exits 1 "
        "when a protocol that ran lost messages (UDP may lose some on a busy machine).",
    )
    demo.add_argument(
        "--messages", type=_positive_int, default=1000, help="messages per protocol (1000)"
    )
    demo.add_argument(
        "--protocol",
        action="append",
        choices=PROTOCOLS,
        help="run only this protocol (repeatable; default: all)",
    )
    args = parser.parse_args(argv)
    if args.command == "protocols":
        return _protocols()
    if args.command == "demo":
        return _demo(args.protocol or PROTOCOLS, args.messages)
    parser.print_help()
    return 2


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
