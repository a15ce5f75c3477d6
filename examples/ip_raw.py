"""Raw IP: an echo service on IP protocol 253, over loopback.

Run it as root (or with the CAP_NET_RAW capability) with
``python examples/ip_raw.py [ip://HOST?protocol=N]`` (default
``ip://127.0.0.2?protocol=253``). Nothing needs installing. Without the capability it
prints why and exits with status 2.

* A consumer is one raw socket of protocol 253, bound to its address: it receives the
  packets of that protocol sent to 127.0.0.2, with the IPv4 header's fields on each
  envelope (``source``, ``destination``, ``ttl``), and ``env.reply()`` answers the source.
* The client sends from 127.0.0.3 (``source=``) and has a consumer of its own there for
  the replies: a publisher's raw socket receives nothing. Loopback has all of 127.0.0.0/8,
  so each end gets an address of its own (every raw socket of a protocol sees every
  packet sent to its address).
* 253 is reserved for experiments and testing (RFC 3692). Raw IP has no ports and no
  delivery guarantee; headers travel embedded in the payload.
"""

from __future__ import annotations

import sys
import threading

import syncapi
from syncapi import ip

PACKETS = 10
CLIENT = "127.0.0.3"


def main() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else "ip://127.0.0.2?protocol=253"
    try:
        echo = ip.Consumer(url)  # a raw socket: needs root or CAP_NET_RAW
    except syncapi.ConfigError as exc:
        print(f"ip_raw: {exc}", file=sys.stderr)
        return 2
    replies: list[ip.EnvelopeReader] = []
    all_back = threading.Event()

    def on_reply(env: ip.EnvelopeReader) -> None:
        replies.append(env)  # one worker: callbacks run one at a time
        if len(replies) == PACKETS:
            all_back.set()

    with (
        echo,
        ip.Consumer(f"ip://{CLIENT}", protocol=echo.protocol) as client,
        ip.Producer(echo.bound_url, source=CLIENT, ttl=16) as producer,
    ):
        echo.subscriber("echo").start(lambda env: env.reply(env.payload.upper()))
        client.subscriber("replies").start(on_reply)
        print(f"echo listening on {echo.bound_url}")

        pub = producer.publisher("echo")
        for n in range(PACKETS):
            pub.send(pub.envelope(f"ping {n}", headers={"seq": str(n)}))
        if not all_back.wait(timeout=10):
            raise SystemExit(f"only {len(replies)} of {PACKETS} replies came back")

    first = replies[0]
    print(
        f"echoed {len(replies)}/{PACKETS} packets of protocol {first.protocol}: "
        f"{first.payload!r} from {first.source} to {first.destination}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
