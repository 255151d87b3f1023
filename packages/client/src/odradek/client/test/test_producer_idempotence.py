"""
Tests for L{odradek.client.producer._idempotence}: an idempotent producer closes
the sequence gap a failed batch leaves with a new epoch (KIP-360), against fake
brokers that check sequence numbers as Kafka's do.
"""

from __future__ import annotations

from typing import Any

from odradek.client import errors
from odradek.client.producer.transaction_manager import (
    MAX_PRODUCER_EPOCH,
    TransactionManager,
)
from odradek.client.structs import TopicPartition
from odradek.client.test._producertools import (
    PRODUCER_ID,
    SenderTestCase,
    batches_in,
    outcome,
)

O0, O1, O2 = (TopicPartition("orders", p) for p in range(3))
TOO_LARGE = errors.RecordTooLargeError.code


def stamps(requests: list[Any], tp: TopicPartition = O0) -> list[tuple[int, int, int]]:
    """
    @return: the producer id, epoch and base sequence of C{tp}'s batch in each
        request that carries one.
    """
    batches = [batches_in(request).get(tp) for request in requests]
    return [
        (batch.producer_id, batch.producer_epoch, batch.base_sequence)
        for batch in batches
        if batch is not None
    ]


class EpochBumpTests(SenderTestCase):
    """
    A batch that fails for good, or a sequence error, makes the producer bump its
    epoch and renumber the batches still to deliver of the partition from 0.
    """

    idempotent = True
    check_sequences = True
    delivery_timeout_ms = 3000

    @property
    def manager_(self) -> TransactionManager:
        """The sender's transaction manager."""
        assert self.manager is not None
        return self.manager

    def send_held(self, tp: TopicPartition, *values: bytes) -> list[Any]:
        """
        Send each value as a batch of its own to node 1, which holds its answers.

        @return: the records' futures.
        """
        self.reactor.settle()
        self.cluster.hold.add(1)
        futures = []
        for value in values:
            futures.append(self.send(tp, value))
            self.reactor.settle()
        return futures

    def test_refused_batch_repaired(self) -> None:
        """
        A batch refused with C{MESSAGE_TOO_LARGE} fails alone; the two batches in
        flight behind it, refused as out of order, are renumbered from 0 under
        the next epoch and delivered in order.
        """
        before = self.send(O0, b"before")
        self.reactor.settle()
        large, first, second = self.send_held(O0, b"large", b"first", b"second")
        self.cluster.errors[O0] = [TOO_LARGE]
        self.cluster.release(1)
        self.reactor.settle()
        self.assertIsInstance(outcome(large), errors.RecordTooLargeError)
        self.assertEqual([outcome(first), outcome(second)], [None, None])
        self.assertEqual(self.manager_.producer_epoch, 1)
        self.advance(0.1)
        self.assertEqual(
            [outcome(f).offset for f in (before, first, second)],  # type: ignore[union-attr]
            [0, 1, 2],
        )
        self.assertEqual(self.values(O0), [b"before", b"first", b"second"])
        self.assertEqual(
            stamps(self.cluster.requests_to(1)),
            [
                (PRODUCER_ID, 0, 0),
                (PRODUCER_ID, 0, 1),
                (PRODUCER_ID, 0, 2),
                (PRODUCER_ID, 0, 3),
                (PRODUCER_ID, 1, 0),
                (PRODUCER_ID, 1, 1),
            ],
        )
        self.assertEqual(len(self.cluster.init_requests), 1)
        self.assertFalse(self.accumulator.has_incomplete())

    def test_refused_last_batch(self) -> None:
        """
        A refused batch with nothing behind it bumps the epoch too: the next
        batch starts at sequence 0 under it, with no out-of-order answer.
        """
        large = self.send(O0, b"large")
        self.cluster.errors[O0] = [TOO_LARGE]
        self.reactor.settle()
        self.assertIsInstance(outcome(large), errors.RecordTooLargeError)
        after = self.send(O0, b"after")
        self.reactor.settle()
        self.assertEqual(outcome(after).offset, 0)  # type: ignore[union-attr]
        self.assertEqual(
            stamps(self.cluster.requests_to(1)),
            [(PRODUCER_ID, 0, 0), (PRODUCER_ID, 1, 0)],
        )

    def test_out_of_order_oldest_retried(self) -> None:
        """
        C{OUT_OF_ORDER_SEQUENCE_NUMBER} for the oldest batch (the broker lost
        records) bumps the epoch, and the batch and the one behind it are
        delivered under it.
        """
        first, second = self.send_held(O0, b"first", b"second")
        self.cluster.errors[O0] = [errors.OutOfOrderSequenceError.code]
        self.cluster.release(1)
        self.advance(0.1)
        self.assertEqual([outcome(f).offset for f in (first, second)], [0, 1])  # type: ignore[union-attr]
        self.assertEqual(
            stamps(self.cluster.requests_to(1))[2:],
            [(PRODUCER_ID, 1, 0), (PRODUCER_ID, 1, 1)],
        )

    def test_epoch_exhausted(self) -> None:
        """
        At the largest epoch the bump asks InitProducerId for a new producer id,
        under which the batches behind the refused one start from 0.
        """
        self.cluster.next_producer = (PRODUCER_ID, MAX_PRODUCER_EPOCH)
        large, after = self.send_held(O0, b"large", b"after")
        self.cluster.next_producer = (PRODUCER_ID + 1, 0)
        self.cluster.errors[O0] = [TOO_LARGE]
        self.cluster.release(1)
        self.advance(0.1)
        self.assertIsInstance(outcome(large), errors.RecordTooLargeError)
        self.assertEqual(outcome(after).offset, 0)  # type: ignore[union-attr]
        self.assertEqual(len(self.cluster.init_requests), 2)
        self.assertEqual(
            stamps(self.cluster.requests_to(1)),
            [
                (PRODUCER_ID, MAX_PRODUCER_EPOCH, 0),
                (PRODUCER_ID, MAX_PRODUCER_EPOCH, 1),
                (PRODUCER_ID + 1, 0, 0),
            ],
        )

    def test_expired_retry_repaired(self) -> None:
        """
        A batch awaiting its retry that reaches C{delivery.timeout.ms} expires;
        the batch behind it, refused as out of order meanwhile, is renumbered
        under the next epoch and delivered.
        """
        first = self.send_held(O0, b"first")[0]
        self.advance(0.5)
        second = self.send_held(O0, b"second")[0]
        self.cluster.errors[O0] = [errors.NotLeaderOrFollowerError.code]
        self.cluster.set_leader(O0, -1)
        refreshed = self.metadata.refresh()  # answered after the Produce requests
        self.cluster.release(1)
        self.reactor.settle()
        self.successResultOf(refreshed)
        self.advance(2.4, 24)
        self.assertEqual([outcome(first), outcome(second)], [None, None])
        self.advance(0.1)
        error = outcome(first)
        self.assertIsInstance(error, errors.RequestTimedOutError)
        self.assertIn("Expiring 1 record(s) for orders-0", str(error))
        self.assertEqual(self.manager_.producer_epoch, 1)
        self.cluster.set_leader(O0, 1)
        self.advance(0.4, 4)
        self.assertEqual(outcome(second).offset, 0)  # type: ignore[union-attr]
        self.assertEqual(self.values(O0), [b"second"])
        self.assertEqual(stamps(self.cluster.requests_to(1))[-1], (PRODUCER_ID, 1, 0))

    def test_other_partition_keeps_order(self) -> None:
        """
        A retried batch of a partition that did not ask for the bump goes out
        under the old epoch, alone: the partition's next batch waits for its
        answer and then starts the new epoch at sequence 0.
        """
        retried, large = self.send_held(O2, b"retried")[0], self.send(O0, b"large")
        self.reactor.settle()
        self.cluster.errors[O2] = [errors.NotLeaderOrFollowerError.code]
        self.cluster.errors[O0] = [TOO_LARGE]
        self.cluster.release(1)
        self.reactor.settle()
        self.assertIsInstance(outcome(large), errors.RecordTooLargeError)
        self.assertEqual(self.manager_.producer_epoch, 1)
        self.cluster.hold.add(1)
        after = self.send(O2, b"after")
        self.advance(0.1)
        self.assertEqual(
            stamps(self.cluster.requests_to(1)[2:], O2), [(PRODUCER_ID, 0, 0)]
        )
        self.assertIsNone(outcome(after))
        self.cluster.release(1)
        self.reactor.settle()
        self.assertEqual([outcome(f).offset for f in (retried, after)], [0, 1])  # type: ignore[union-attr]
        self.assertEqual(
            stamps(self.cluster.requests_to(1)[3:], O2), [(PRODUCER_ID, 1, 0)]
        )
        self.assertEqual(self.values(O2), [b"retried", b"after"])
