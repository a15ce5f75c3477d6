"""Settings of the shop project: the least Django needs, and where order events go."""

from __future__ import annotations

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "not-a-secret-set-DJANGO_SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = ["orders.apps.OrdersConfig"]  # its ready() starts the messaging
MIDDLEWARE = ["django.middleware.csrf.CsrfViewMiddleware"]  # django_view is exempt
ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}  # the example keeps its orders in memory
USE_TZ = True

# Where POST /orders/ sends each order event (the channel "orders"): any syncapi URL,
# e.g. kafka://broker:9092 or the http:// base URL of a fulfilment service.
SHOP_ORDERS_URL = os.environ.get("SHOP_ORDERS_URL", "memory://shop")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(threadName)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "orders": {"handlers": ["console"], "level": "INFO"},
        "syncapi": {"handlers": ["console"], "level": "WARNING"},
    },
}
