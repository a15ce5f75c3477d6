"""The documentation site builds with mkdocs --strict: no broken link, no missing anchor, no
page left out of the nav, no docstring the API reference cannot render.

mkdocs and mkdocstrings-python come with the ``test`` extra (``pip install -e '.[test]'``)
on Python 3.11 and later (mkdocstrings-python 2 needs 3.11); ``mkdocs.yml`` at the
repository root configures the site.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROTOCOLS = ("memory", "kafka", "amqp", "http", "ws", "tcp", "udp", "ip")

# pages the site must have, as paths of the built site
PAGES = (
    "index.html",
    "concepts/index.html",
    "threading/index.html",
    "cli/index.html",
    "writing-a-protocol/index.html",
    "benchmarks/index.html",
    "testing/index.html",
    "api/index.html",
    "api/syncapi/index.html",
    "api/model/index.html",
    "api/contract/index.html",
    "api/testing/index.html",
    *(f"{name}/index.html" for name in PROTOCOLS),
    *(f"api/{name}/index.html" for name in PROTOCOLS),
)

# anchors the API reference must have: one object of each kind of page
ANCHORS = {
    "api/syncapi/index.html": ("syncapi.producer", "syncapi.Subscriber.receive", "syncapi.Worker"),
    "api/contract/index.html": ("syncapi.core.Subscriber._fetch", "syncapi.core.Publisher._send"),
    "api/testing/index.html": ("syncapi.testing.ProtocolConformance",),
    **{f"api/{name}/index.html": (f"syncapi.{name}.CAPABILITIES",) for name in PROTOCOLS},
}


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="mkdocstrings-python 2 needs Python 3.11 or later"
)
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    missing = [page for page in PAGES if not (site / page).is_file()]
    assert not missing, f"pages missing from the site: {missing}\n{output}"
    for page, anchors in ANCHORS.items():
        html = (site / page).read_text(encoding="utf-8")
        absent = [anchor for anchor in anchors if f'id="{anchor}"' not in html]
        assert not absent, f"{page} lacks the API entries {absent}"
