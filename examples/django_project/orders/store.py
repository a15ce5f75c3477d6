"""The orders of this process, shared by request threads and receive-loop threads.

A real project keeps them in the database; with several server processes, each process
would have its own dict.
"""

from __future__ import annotations

import threading
from typing import Any


class Orders:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: dict[str, dict[str, Any]] = {}

    def add(self, order_id: str, order: dict[str, Any]) -> None:
        with self._lock:
            self._orders[order_id] = order

    def get(self, order_id: str) -> dict[str, Any] | None:
        with self._lock:
            order = self._orders.get(order_id)
            return dict(order) if order is not None else None

    def update(self, order_id: str, **changes: Any) -> bool:
        with self._lock:
            if order_id not in self._orders:
                return False
            self._orders[order_id].update(changes)
            return True


orders = Orders()
