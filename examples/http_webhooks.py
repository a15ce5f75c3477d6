"""HTTP: a webhook receiver and a sender, with request/reply and no broker.

Run it with ``python examples/http_webhooks.py [http://HOST[:PORT]/]`` (default
``http://127.0.0.1/``: a free port on this machine). It needs
``pip install 'syncapi[http]'``.

* The consumer is a WSGI application. ``serve()`` runs it on a threaded werkzeug server in
  the background; the route ``webhooks/{source}`` takes ``POST /webhooks/payments``,
  ``POST /webhooks/shipping``...
* The callback checks the HMAC signature header and the JSON body, then answers with
  ``env.respond()``: ``202`` and a JSON body, ``401`` or ``422``. A request is answered
  once its callback has answered or returned, so the sender learns the outcome.
* The producer is a requests session. ``publisher.request()`` sends one webhook and
  returns the answer; a non-2xx answer raises ``HTTPStatusError``. Four threads share one
  publisher, and the consumer runs up to four callbacks at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from syncapi import http

SECRET = b"webhook-secret"  # shared by sender and receiver; in real life from a vault
EVENTS = 20


def sign(body: bytes) -> str:
    return hmac.new(SECRET, body, hashlib.sha256).hexdigest()


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1/"
    received: dict[str, str] = {}  # event id -> source
    lock = threading.Lock()

    def on_webhook(env: http.EnvelopeReader) -> None:
        if not hmac.compare_digest(env.headers.get_str("x-signature") or "", sign(env.payload)):
            env.respond(401, "bad signature", content_type="text/plain")
            return
        try:
            event = json.loads(env.payload)
            event_id = str(event["id"])
        except (ValueError, KeyError):
            env.respond(422, "not an event", content_type="text/plain")
            return
        with lock:
            received[event_id] = env.params["source"]  # the {source} of the path
        answer = {"received": event_id, "source": env.params["source"]}
        env.respond(202, json.dumps(answer), content_type="application/json")

    with http.Consumer(url) as consumer:
        worker = consumer.subscriber("webhooks/{source}").start(on_webhook, workers=4)
        server = consumer.serve()  # the route answers 503 until a loop runs: start it first
        print(f"listening on {server.url}")

        with http.Producer(server.url, timeout=10) as producer:
            payments = producer.publisher("webhooks/{source}", parameters={"source": "payments"})

            def deliver(n: int) -> int:
                body = json.dumps({"id": f"evt-{n}", "amount": n * 100}).encode()
                env = payments.envelope(
                    body, headers={"x-signature": sign(body)}, content_type="application/json"
                )
                answer = payments.request(env)  # waits for the callback's answer
                assert answer.json()["received"] == f"evt-{n}"
                return answer.status

            with ThreadPoolExecutor(max_workers=4) as pool:
                statuses = set(pool.map(deliver, range(EVENTS)))
            print(f"delivered {len(received)}/{EVENTS} webhooks, answered {sorted(statuses)}")

            forged = payments.envelope(b'{"id": "evt-x"}', headers={"x-signature": "0" * 64})
            try:
                payments.request(forged)
            except http.HTTPStatusError as exc:
                print(f"a forged webhook was answered {exc.status} {exc.response.text}")

        worker.stop()
    # leaving the with block closed the consumer and stopped its server


if __name__ == "__main__":
    main()
