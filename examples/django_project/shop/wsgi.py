"""The WSGI application, for gunicorn, uWSGI or mod_wsgi: ``gunicorn shop.wsgi --threads 8``."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

application = get_wsgi_application()
