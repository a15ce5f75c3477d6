#!/usr/bin/env python
"""Django's command-line utility for the shop project.

Serve it with ``python manage.py runserver --noreload 127.0.0.1:8000`` (see
``orders/apps.py`` for why ``--noreload``).
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
