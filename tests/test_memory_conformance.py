"""memory:// passes the conformance kit."""

from __future__ import annotations

import uuid

import syncapi
from syncapi import memory
from syncapi.testing import ProtocolConformance


class TestMemoryConformance(ProtocolConformance):
    """The kit against the in-process broker, each test on a broker of its own."""

    capabilities = memory.CAPABILITIES
    timeout = 10.0

    def setup_method(self) -> None:
        self.url = f"memory://kit-{uuid.uuid4().hex[:8]}"

    def make_consumer(self, group: str | None = None) -> syncapi.Consumer:
        return syncapi.consumer(self.url, group=group)

    def make_producer(self, consumer: syncapi.Consumer) -> syncapi.Producer:
        return syncapi.producer(self.url)
