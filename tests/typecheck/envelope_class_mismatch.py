"""Checked by mypy in tests/test_lint.py, never run, and expected to FAIL: a publisher
whose ``envelope_class`` is not its type argument's class is a type error (else its
``envelope()`` would be typed as one class and built as another)."""

from __future__ import annotations

from collections.abc import Sequence

from syncapi import core, kafka, tcp


class Mismatched(core.Publisher[kafka.EnvelopeWriter]):
    envelope_class = tcp.EnvelopeWriter  # the error mypy must report

    def _send(self, envelopes: Sequence[core.EnvelopeWriter], timeout: float | None) -> None:
        raise NotImplementedError
