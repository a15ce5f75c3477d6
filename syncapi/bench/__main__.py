"""``python -m syncapi.bench``: run the benchmark harness (see :mod:`syncapi.bench.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
