"""The ``syncapi`` command (minimal for now: ``--version`` and ``protocols``).

Exit codes: 0 ok, 1 runtime failure, 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
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
    args = parser.parse_args(argv)
    if args.command == "protocols":
        return _protocols()
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
