"""``ws.Consumer`` mounted in a real Flask app (werkzeug's threaded server, as
``flask run`` serves it), next to the app's own routes."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from syncapi import ws
from syncapi.errors import ConfigError
from syncapi.testing import Collector


@pytest.fixture
def app_url() -> Iterator[tuple[str, ws.Consumer]]:
    app = Flask(__name__)

    @app.get("/health")
    def health() -> str:
        return "ok"

    consumer = ws.Consumer()
    consumer.subscriber("echo").start(lambda env: env.reply(env.text.upper()))
    ws.mount_in_flask(app, "/live", consumer)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}", consumer
    consumer.close()
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_websocket_and_normal_routes_side_by_side(app_url: tuple[str, ws.Consumer]) -> None:
    address, consumer = app_url
    assert requests.get(f"http://{address}/health", timeout=5).text == "ok"
    with ws.Producer(f"ws://{address}/live") as producer:
        pub = producer.publisher("echo")
        got = Collector(expected=2)
        pub.subscriber.start(got)
        pub.send("hello", "flask")
        assert got.wait(5)
        assert got.payloads == [b"HELLO", b"FLASK"]
        assert consumer.connections[0].path == "/echo"  # the path after the mount point
        with pytest.raises(ws.HandshakeError) as info:
            producer.publisher("nowhere")
        assert info.value.status == 404
    # the app still answers after WebSocket connections came and went
    assert requests.get(f"http://{address}/health", timeout=5).text == "ok"
    assert requests.get(f"http://{address}/live/echo", timeout=5).status_code == 426


def test_mount_refuses_bad_prefixes() -> None:
    app = Flask(__name__)
    consumer = ws.Consumer()
    for prefix in ("live", "/", "/live/", "/a//b", "/a?b"):
        with pytest.raises(ConfigError):
            ws.mount_in_flask(app, prefix, consumer)
    consumer.close()
