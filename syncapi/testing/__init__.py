"""The conformance kit and test helpers for syncapi protocols (needs pytest).

* :class:`ProtocolConformance` — subclass it once to prove a protocol implementation
  (ours or yours) against every scenario the protocol's capabilities allow.
* :class:`Collector`, :class:`Received`, :func:`wait_until` — helpers for any test that
  receives messages.
"""

from .collect import Collector, Received, wait_until
from .conformance import ProtocolConformance

__all__ = ["Collector", "ProtocolConformance", "Received", "wait_until"]
