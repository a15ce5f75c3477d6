"""Start the messaging when Django starts, and close it when the process ends."""

from __future__ import annotations

import atexit

from django.apps import AppConfig
from django.conf import settings


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        # ready() runs once per process, in every process that sets Django up: each
        # server worker, but also manage.py commands and runserver's autoreloader
        # (hence --noreload). Making an http:// producer connects to nothing; a
        # kafka:// or amqp:// one connects at once.
        from .messaging import messaging

        messaging.start(settings.SHOP_ORDERS_URL)
        atexit.register(messaging.close)  # a normal exit: Ctrl-C, sys.exit, gunicorn
