"""The at-least-once bookkeeping of Kafka subscribers (pure: no broker needed)."""

from __future__ import annotations

from dataclasses import dataclass

from syncapi.kafka.offsets import OffsetTracker

TP = ("orders", 0)
OTHER = ("orders", 1)


@dataclass(eq=False)
class Msg:
    """A stand-in for an EnvelopeReader: the fields the tracker reads."""

    _tp: tuple[str, int]
    _offset: int
    _epoch: int = 0
    withdrawn: bool = False

    def _withdraw(self) -> None:
        self.withdrawn = True


def deliver(tracker: OffsetTracker, tp: tuple[str, int], first: int, n: int) -> list[Msg]:
    msgs = [Msg(tp, first + i) for i in range(n)]
    epoch = tracker.delivered(tp, msgs)
    for m in msgs:
        m._epoch = epoch
    return msgs


def test_nothing_is_committable_before_the_first_ack() -> None:
    tracker = OffsetTracker()
    deliver(tracker, TP, 10, 3)
    assert tracker.to_commit() == {TP: 10}  # the position before the first unsettled one


def test_the_position_stops_at_the_first_unsettled_message() -> None:
    tracker = OffsetTracker()
    a, b, c = deliver(tracker, TP, 0, 3)
    assert tracker.settle(c)
    assert tracker.to_commit() == {TP: 0}
    assert tracker.settle(a)
    assert tracker.to_commit() == {TP: 1}
    assert tracker.to_commit() == {}  # nothing moved since
    assert tracker.settle(b)
    assert tracker.to_commit() == {TP: 3}


def test_partitions_are_independent() -> None:
    tracker = OffsetTracker()
    (a,) = deliver(tracker, TP, 5, 1)
    (b,) = deliver(tracker, OTHER, 7, 1)
    tracker.settle(b)
    assert tracker.to_commit() == {TP: 5, OTHER: 8}
    assert tracker.pending([TP]) == 1 and tracker.pending([OTHER]) == 0
    tracker.settle(a)
    assert tracker.to_commit() == {TP: 6}


def test_a_failed_commit_is_sent_again() -> None:
    tracker = OffsetTracker()
    (a,) = deliver(tracker, TP, 0, 1)
    tracker.settle(a)
    offsets = tracker.to_commit()
    assert offsets == {TP: 1}
    tracker.commit_failed(offsets)
    assert tracker.to_commit() == {TP: 1}


def test_a_rewind_withdraws_later_messages_and_ignores_their_stale_acks() -> None:
    tracker = OffsetTracker()
    a, b, c, d = deliver(tracker, TP, 0, 4)
    tracker.settle(a)
    assert tracker.rewind(b) == 1  # first failed delivery of offset 1
    assert c.withdrawn and d.withdrawn and not a.withdrawn
    assert tracker.take_rewinds() == [(TP, 1)]
    assert tracker.take_rewinds() == []
    assert not tracker.settle(c), "an ack from before the rewind must change nothing"
    assert tracker.to_commit() == {TP: 1}
    # messages fetched before the seek landed would be refused; after it, offset 1 again
    b2, c2 = deliver(tracker, TP, 1, 2)
    assert tracker.delivery_count(TP, 1) == 2 and tracker.delivery_count(TP, 2) == 1
    assert tracker.rewind(b2) == 2
    assert c2.withdrawn
    assert tracker.take_rewinds() == [(TP, 1)]
    b3, c3 = deliver(tracker, TP, 1, 2)
    assert tracker.settle(b3) and tracker.settle(c3)
    assert tracker.delivery_count(TP, 1) == 1, "a settled message's failures are forgotten"
    assert tracker.to_commit() == {TP: 3}


def test_messages_of_a_partition_with_a_pending_rewind_are_refused() -> None:
    tracker = OffsetTracker()
    a, _ = deliver(tracker, TP, 0, 2)
    tracker.rewind(a)
    assert tracker.delivered(TP, [Msg(TP, 2)]) == -1  # fetched before the seek: dropped
    tracker.take_rewinds()
    assert tracker.delivered(TP, [Msg(TP, 0)]) >= 0


def test_revoke_returns_uncommitted_positions_and_withdraws_pending() -> None:
    tracker = OffsetTracker()
    a, b = deliver(tracker, TP, 0, 2)
    (c,) = deliver(tracker, OTHER, 0, 1)
    tracker.settle(a)
    tracker.settle(c)
    assert tracker.to_commit() == {TP: 1, OTHER: 1}
    (d,) = deliver(tracker, OTHER, 1, 1)
    tracker.settle(d)
    assert tracker.revoke([TP, OTHER]) == {OTHER: 2}  # TP's position 1 is committed already
    assert b.withdrawn
    assert not tracker.settle(b)
    assert tracker.to_commit() == {}
    # should the partitions come back to this member with kafka-python's read position
    # kept, the withdrawn message must come again: each is rewound to its position
    assert sorted(tracker.take_rewinds()) == [(TP, 1), (OTHER, 2)]


def test_revoke_rewinds_to_the_first_polled_but_undelivered_offset() -> None:
    tracker = OffsetTracker()
    (a,) = deliver(tracker, TP, 0, 1)
    tracker.settle(a)
    THIRD = ("orders", 2)
    assert tracker.revoke([TP, THIRD], {TP: 5, THIRD: 40}) == {TP: 1, THIRD: 40}
    assert sorted(tracker.take_rewinds()) == [(TP, 1), (THIRD, 40)]
    # a message handed out before the revocation and acked late changes nothing
    assert not tracker.settle(a)
