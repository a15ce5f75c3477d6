"""The benchmark harness: ``python -m syncapi.bench [ENTRY ...]``.

Speed targets live here, not in the tests. Each *entry* benchmarks one protocol against
its *baseline* — the plainest way to do the same job without syncapi (a
``queue.Queue`` hand-off for ``memory://``, the bare client library for a broker, raw
sockets for TCP/UDP). The harness runs the baseline and the syncapi variants
alternately (A B, B A, A B …, one untimed warm-up round, then at least five timed rounds) and
prints, per variant, the median throughput, its min–max over the rounds and the ratio
of medians, next to the entry's goal::

    python -m syncapi.bench --list
    python -m syncapi.bench memory
    python -m syncapi.bench memory --rounds 9 --messages 100000 --json bench.json

It is not part of the pass/fail tests: goals are reported, never enforced.

Adding an entry (each protocol issue does): write ``syncapi/bench/<name>.py`` defining
``ENTRY = Entry(name, description, baseline=Variant(...), variants=(Variant(...), ...))``
whose variants take :class:`Params` and return a :class:`Sample`, import any
third-party library inside the variants (or the entry's ``check``), and add the module
to :data:`~syncapi.bench.registry.BUILTIN_ENTRIES`. Extra figures of a run (latency
percentiles, RSS, thread counts) go in ``Sample.extra``; the runner summarises them
and the table and JSON report them next to throughput.

Modules: :mod:`.model` (the types), :mod:`.stats` (median, spread, ratio, percentiles),
:mod:`.runner` (alternation and results), :mod:`.report` (text and JSON),
:mod:`.registry` (entries by name), :mod:`.cli` (the command) and one module per entry.
"""

from .model import Entry, Goal, Params, Sample, Variant, VariantFunc
from .registry import entries, entry_names, get_entry, register, unregister
from .runner import Benchmark, EntryResult, Machine, Report, Row, VariantResult, schedule

__all__ = [
    "Benchmark",
    "Entry",
    "EntryResult",
    "Goal",
    "Machine",
    "Params",
    "Report",
    "Row",
    "Sample",
    "Variant",
    "VariantFunc",
    "VariantResult",
    "entries",
    "entry_names",
    "get_entry",
    "register",
    "schedule",
    "unregister",
]
