"""WebSocket: a chat server with rooms, and clients that talk through it.

Run it with ``python examples/ws_chat.py [ws://HOST[:PORT]/]`` (default
``ws://127.0.0.1/``: a free port on this machine). It needs ``pip install 'syncapi[ws]'``.

* The consumer's route ``chat/{room}`` takes WebSocket connections on ``/chat/lobby``,
  ``/chat/kitchen``... One subscriber receives the messages of every connection; each
  envelope's ``connection`` is the client it came from.
* The callback forwards a message to the other clients of the same room with
  ``conn.send()``, and answers the command ``/who`` on the sender's own connection with
  ``env.reply()``. With ``workers=4``, different clients are handled in parallel while
  each client's messages keep their order.
* Each ``producer.publisher()`` is one client connection; ``publisher.subscriber``
  receives what the server sends on it.
"""

from __future__ import annotations

import sys
import threading

from syncapi import ws


class Inbox:
    """What one client received, and a way to wait for it."""

    def __init__(self, expected: int) -> None:
        self.lines: list[str] = []
        self.expected = expected
        self.full = threading.Event()

    def __call__(self, env: ws.EnvelopeReader) -> None:
        self.lines.append(env.text)  # one client's callbacks run one at a time
        if len(self.lines) >= self.expected:
            self.full.set()


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1/"

    with ws.Consumer(url) as consumer:
        # every connection on /chat/<room>
        chat = consumer.subscriber("chat/{room}")

        def on_message(env: ws.EnvelopeReader) -> None:
            sender = env.connection  # the server's end of the sender's connection
            room = sender.params["room"]
            peers = [c for c in chat.connections if c.params["room"] == room]
            if env.text == "/who":
                nicks = sorted(c.query["nick"] for c in peers)
                env.reply(f"in {room}: {', '.join(nicks)}")  # on the sender's connection
                return
            for conn in peers:
                if conn is not sender:
                    conn.send(f"{sender.query['nick']}: {env.text}")

        worker = chat.start(on_message, workers=4)
        server = consumer.serve()
        print(f"listening on {server.url}")

        with ws.Producer(server.url) as producer:
            clients = {
                nick: producer.publisher(  # dials now: one connection per client
                    "chat/{room}", parameters={"room": room}, query={"nick": nick}
                )
                for nick, room in (("ada", "lobby"), ("bob", "lobby"), ("carol", "kitchen"))
            }
            inboxes = {"ada": Inbox(expected=4), "bob": Inbox(expected=3), "carol": Inbox(1)}
            for nick, client in clients.items():
                client.subscriber.start(inboxes[nick])

            for n in range(3):
                clients["ada"].send(f"hello {n} from ada")
                clients["bob"].send(f"hello {n} from bob")
            clients["carol"].send("anyone in the kitchen?")  # nobody else is
            clients["ada"].send("/who")

            for nick in ("ada", "bob"):
                if not inboxes[nick].full.wait(timeout=10):
                    raise SystemExit(f"{nick} got only {inboxes[nick].lines}")
            print(f"bob got: {inboxes['bob'].lines}")
            ada_chat = [line for line in inboxes["ada"].lines if line.startswith("bob: ")]
            who = [line for line in inboxes["ada"].lines if line.startswith("in ")]
            print(
                f"chat: ada got {len(ada_chat)}/3 from bob, bob got "
                f"{len(inboxes['bob'].lines)}/3 from ada, carol got {len(inboxes['carol'].lines)}; "
                f"/who answered {who}"
            )
        # the clients' connections closed normally (1000) when the producer closed
        worker.stop()


if __name__ == "__main__":
    main()
