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
    withdrawn: bool = False

    def _withdraw(self) -> None:
        self.withdrawn = True


def deliver(tracker: OffsetTracker, tp: tuple[str, int], first: int, n: int) -> list[Msg]:
    msgs = [Msg(tp, first + i) for i in range(n)]
    assert tracker.delivered(tp, msgs)
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
    assert tracker.delivered(TP, [Msg(TP, 2)]) is False  # fetched before the seek: dropped
    tracker.take_rewinds()
    assert tracker.delivered(TP, [Msg(TP, 0)]) is True


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


# -- a rewind takes back its offset and the later ones, never the earlier ones -------------
def test_handing_back_a_message_keeps_the_acks_of_earlier_ones_in_flight() -> None:
    """A stopping loop hands back offset 2 while callbacks of offsets 0 and 1 still run
    (several workers, ordering "none" or "key"): their acks count, and the committed
    position moves past them."""
    tracker = OffsetTracker()
    a, b, c, d = deliver(tracker, TP, 0, 4)
    assert tracker.rewind(c, failed=False) == 0  # no callback ran for it: no failure
    assert d.withdrawn and not (a.withdrawn or b.withdrawn or c.withdrawn)
    assert tracker.pending([TP]) == 2  # a rebalance would wait for the running two
    assert tracker.settle(a) and tracker.settle(b)
    assert tracker.pending([TP]) == 0
    assert tracker.to_commit() == {TP: 2}
    assert not tracker.settle(c) and not tracker.settle(d)  # taken back: stale
    assert tracker.to_commit() == {}
    assert tracker.take_rewinds() == [(TP, 2)]
    c2, d2 = deliver(tracker, TP, 2, 2)
    assert tracker.delivery_count(TP, 2) == 1, "a hand-back is no failed delivery"
    assert not tracker.settle(c), "the old delivery must not settle the new one"
    assert tracker.to_commit() == {}
    assert tracker.settle(c2) and tracker.settle(d2)
    assert tracker.to_commit() == {TP: 4}


def test_a_failed_rewind_keeps_the_earlier_messages_in_flight_too() -> None:
    tracker = OffsetTracker()
    a, b, c = deliver(tracker, TP, 0, 3)
    assert tracker.rewind(b) == 1
    assert c.withdrawn and not a.withdrawn
    assert tracker.settle(a)
    assert tracker.to_commit() == {TP: 1}
    assert not tracker.settle(b), "the nacked message itself is taken back"


def test_the_messages_before_a_pending_rewind_still_settle() -> None:
    """While the seek is pending, newly fetched messages of the partition are refused,
    but the earlier messages in flight still settle."""
    tracker = OffsetTracker()
    a, b, c, _ = deliver(tracker, TP, 0, 4)
    tracker.rewind(c, failed=False)
    assert tracker.delivered(TP, [Msg(TP, 4)]) is False  # fetched before the seek
    assert tracker.settle(a) and tracker.settle(b)
    assert tracker.to_commit() == {TP: 2}
    assert tracker.take_rewinds() == [(TP, 2)]
    (c2,) = deliver(tracker, TP, 2, 1)
    assert tracker.settle(c2)
    assert tracker.to_commit() == {TP: 3}


def test_several_rewinds_take_back_from_the_lowest_offset_only() -> None:
    """A stop hands back several messages, in any order; a callback in flight before
    them fails meanwhile: the partition goes back to the lowest, and only the messages
    from there on are taken back."""
    tracker = OffsetTracker()
    msgs = deliver(tracker, TP, 0, 8)
    assert tracker.rewind(msgs[7], failed=False) == 0
    assert tracker.rewind(msgs[5], failed=False) == 0
    assert msgs[6].withdrawn and not msgs[7].withdrawn  # 7 was handed back itself
    assert tracker.rewind(msgs[6], failed=False) == 0  # withdrawn already: stale
    assert tracker.rewind(msgs[3]) == 1  # a running callback fails: rewound to it
    assert msgs[4].withdrawn
    assert not any(m.withdrawn for m in msgs[:4])
    assert [tracker.settle(m) for m in msgs] == [True] * 3 + [False] * 5
    assert tracker.to_commit() == {TP: 3}
    assert tracker.take_rewinds() == [(TP, 3)]
    again = deliver(tracker, TP, 3, 5)
    assert [tracker.delivery_count(TP, o) for o in range(3, 8)] == [2, 1, 1, 1, 1]
    assert all(tracker.settle(m) for m in again)
    assert tracker.to_commit() == {TP: 8}
    assert tracker.delivery_count(TP, 3) == 1


def test_a_message_from_before_an_applied_rewind_may_rewind_again() -> None:
    """A callback that ran since before a rewind that was applied (and whose partition
    was read again from the rewind point) still fails or succeeds for real: a failure
    rewinds the partition to it, withdrawing the messages delivered again since."""
    tracker = OffsetTracker()
    a, b, c, _ = deliver(tracker, TP, 0, 4)
    tracker.rewind(c, failed=False)
    assert tracker.take_rewinds() == [(TP, 2)]
    again = deliver(tracker, TP, 2, 3)  # offsets 2, 3 and 4
    assert tracker.settle(a)
    assert tracker.rewind(b) == 1
    assert all(m.withdrawn for m in again)
    assert [tracker.settle(m) for m in again] == [False] * 3
    assert tracker.to_commit() == {TP: 1}
    assert tracker.take_rewinds() == [(TP, 1)]
    b2, c2 = deliver(tracker, TP, 1, 2)
    assert tracker.delivery_count(TP, 1) == 2
    assert tracker.settle(b2) and tracker.settle(c2)
    assert tracker.to_commit() == {TP: 3}


def test_a_message_before_a_rewind_may_be_dead_lettered() -> None:
    """An exhausted or rejected message is settled after it was dead-lettered: a rewind
    of a later offset meanwhile must not make that settle stale."""
    tracker = OffsetTracker()
    a, _ = deliver(tracker, TP, 0, 2)
    assert tracker.rewind(a) == 1
    tracker.take_rewinds()
    a2, b2, c2 = deliver(tracker, TP, 0, 3)
    assert tracker.delivery_count(TP, 0) == 2  # say this is max_deliveries: dead-letter
    tracker.rewind(c2, failed=False)  # meanwhile the loop stops: offset 2 handed back
    assert tracker.settle(a2), "the dead-lettered message was not taken back"
    assert tracker.delivery_count(TP, 0) == 1
    assert tracker.settle(b2)
    assert tracker.to_commit() == {TP: 2}


def test_revoking_after_a_rewind_takes_back_everything() -> None:
    """A rewind keeps the earlier messages in flight; a revocation then takes them back
    too (another member may own the partition next), and their late acks are stale."""
    tracker = OffsetTracker()
    a, b, c, d = deliver(tracker, TP, 0, 4)
    (e,) = deliver(tracker, OTHER, 0, 1)
    assert tracker.rewind(b) == 1
    tracker.rewind(d, failed=False)  # withdrawn already: stale
    assert c.withdrawn and d.withdrawn
    assert tracker.revoke([TP]) == {TP: 0}
    assert a.withdrawn and not b.withdrawn  # b's own callback settled it (with the nack)
    assert not tracker.settle(a) and not tracker.settle(b)
    assert tracker.rewind(a) == 0
    assert tracker.delivery_count(TP, 1) == 1, "a revocation forgets the failures"
    assert tracker.take_rewinds() == [(TP, 0)]
    assert tracker.settle(e), "another partition is not touched"
    assert tracker.to_commit() == {OTHER: 1}
    # should the partition come back, it starts afresh from the rewind point
    a2, b2 = deliver(tracker, TP, 0, 2)
    assert not tracker.settle(a), "a delivery from before the revocation stays stale"
    assert tracker.settle(a2) and tracker.settle(b2)
    assert tracker.to_commit() == {TP: 2}


def test_the_reproduction_of_the_lost_acks() -> None:
    """The bug report, as it was: a message type of its own, offsets 0 and 1 in flight."""

    class M:
        def __init__(self, o: int) -> None:
            self._tp, self._offset = "t", o

        def _withdraw(self) -> None:
            pass

    t = OffsetTracker()
    ms = [M(o) for o in range(4)]
    assert t.delivered("t", ms)
    t.rewind(ms[2], failed=False)
    assert (t.settle(ms[0]), t.settle(ms[1])) == (True, True)
    assert t.to_commit() == {"t": 2}
