"""``wss://``: the client dials TLS (websocket-client's), against the consumer served by
werkzeug with an SSL context. The certificate is made for the test with the
``openssl`` command (a self-signed one for 127.0.0.1)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from syncapi import ws
from syncapi.errors import ConfigError, ConnectError
from syncapi.testing import Collector


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command is needed to make the test certificate"
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def wss_url(certificate: tuple[Path, Path]) -> Iterator[str]:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    consumer = ws.Consumer()
    consumer.subscriber("secure").start(lambda env: env.reply(env.payload[::-1]))
    server = make_server("127.0.0.1", 0, consumer, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"wss://127.0.0.1:{server.server_port}"
    consumer.close()
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_wss_round_trip_with_the_ca_given(wss_url: str, certificate: tuple[Path, Path]) -> None:
    with ws.Producer(wss_url, ca_certs=str(certificate[0])) as producer:
        pub = producer.publisher("secure")
        got = Collector(expected=3)
        pub.subscriber.start(got)
        big = bytes(range(256)) * 4096  # 1 MiB: many TLS records, decrypted ahead of poll
        pub.send(b"abc", "\u00e9t\u00e9", big)
        assert got.wait(10), got.payloads
        assert got.payloads == [b"cba", "\u00e9t\u00e9".encode()[::-1], big[::-1]]


def test_wss_refuses_an_unknown_certificate(wss_url: str) -> None:
    with ws.Producer(wss_url) as producer, pytest.raises(ConnectError, match="CERTIFICATE"):
        producer.publisher("secure")
    with ws.Producer(wss_url, verify=False) as producer:
        pub = producer.publisher("secure")
        got = Collector(expected=1)
        pub.subscriber.start(got)
        pub.send(b"unchecked")
        assert got.wait(10)


def test_a_missing_ca_file_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ca_certs"):
        ws.Producer("wss://127.0.0.1:1", ca_certs="/no/such/file.pem")
