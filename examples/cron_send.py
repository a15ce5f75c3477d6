"""A cron-style sender: connect, send, close, and say with the exit status how it went.

Run it with ``python examples/cron_send.py URL CHANNEL [MESSAGE ...]``; without messages
it sends each non-blank line of its standard input. For example, from a crontab::

    */5 * * * * python /srv/app/examples/cron_send.py 'kafka://broker:9092?connect_timeout=5' reports.daily "$(date -I)"
    0 3 * * *   /srv/app/export.sh | python /srv/app/examples/cron_send.py amqp://etl:pw@mq/ exports

It works with any syncapi URL. The protocol's options go in the URL's query
(``connect_timeout``, ``send_timeout``...). Exit status:

* ``0``: every message was sent, and the server accepted it (Kafka acks, AMQP confirms,
  HTTP 2xx); one line on stdout says how many;
* ``1``: connecting or sending failed; one line on stderr says why and how many messages
  were accepted before the failure (a second run may send those again);
* ``2``: bad arguments (argparse's usage message).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import syncapi

BATCH = 500  # envelopes per send() call: one call waits for all of them at once


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Send messages to a channel and exit.")
    parser.add_argument("url", help="server URL, e.g. kafka://broker:9092")
    parser.add_argument("channel", help="topic, queue, path...")
    parser.add_argument("messages", nargs="*", help="payloads (default: lines of stdin)")
    parser.add_argument("--content-type", help="content type of every message")
    parser.add_argument(
        "--header", action="append", default=[], metavar="NAME=VALUE", help="repeatable"
    )
    parser.add_argument("--timeout", type=float, help="seconds each send may wait")
    args = parser.parse_args(argv)
    for header in args.header:
        if "=" not in header:
            parser.error(f"--header {header!r}: expected NAME=VALUE")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    headers = dict(header.split("=", 1) for header in args.header)
    messages: list[str] = args.messages or [line.rstrip("\r\n") for line in sys.stdin]
    messages = [message for message in messages if message.strip()]

    accepted = 0
    try:
        with syncapi.producer(args.url) as producer:  # connects (Kafka, AMQP) or not (HTTP)
            publisher = producer.publisher(args.channel)
            for start in range(0, len(messages), BATCH):
                batch = [
                    publisher.envelope(message, headers=headers, content_type=args.content_type)
                    for message in messages[start : start + BATCH]
                ]
                try:
                    publisher.send(*batch, timeout=args.timeout)
                except syncapi.SendError as exc:
                    accepted += len(batch) - len(exc.failures)  # those not listed got through
                    raise
                accepted += len(batch)
        # leaving the with block closed the producer: whatever it buffered is flushed
    except syncapi.SyncapiError as exc:
        reason = " ".join(str(exc).split())  # one line, whatever the message
        print(
            f"cron_send: {type(exc).__name__}: {reason} "
            f"({accepted} of {len(messages)} messages accepted)",
            file=sys.stderr,
        )
        return 1
    print(f"sent {len(messages)} messages to {args.channel}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
