"""
Tests for L{odradek.broker.log.producer_state}, alone and through a L{Log}.
"""

from __future__ import annotations

import os

import attrs
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.log.config import LogConfig
from odradek.broker.log.files import list_snapshots
from odradek.broker.log.producer_state import ProducerStateManager
from odradek.broker.test._logtools import FakeClock, make_batch, open_log
from odradek.client.errors import InvalidProducerEpochError, OutOfOrderSequenceError


@attrs.frozen
class Batch:
    """
    The producer fields of a batch, offsets assigned.
    """

    producer_id: int
    producer_epoch: int
    base_sequence: int
    last_sequence: int
    base_offset: int
    last_offset: int
    max_timestamp: int = 1000


def batch(pid: int, epoch: int, first_seq: int, count: int, offset: int) -> Batch:
    last_seq = (first_seq + count - 1) % 2**31
    return Batch(pid, epoch, first_seq, last_seq, offset, offset + count - 1)


class ProducerStateManagerTests(SynchronousTestCase):
    """
    Epoch and sequence checks, duplicates and snapshots.
    """

    def setUp(self) -> None:
        self.directory = self.mktemp()
        os.makedirs(self.directory)
        self.state = ProducerStateManager("orders-0", self.directory)

    def append(self, *batches: Batch) -> None:
        duplicate, updated = self.state.check(batches)
        self.assertIsNone(duplicate)
        self.state.commit(updated, batches[-1].last_offset + 1)

    def test_new_producer_any_sequence(self) -> None:
        """
        A producer the partition does not know may start at any sequence.
        """
        self.append(batch(1, 0, 42, 3, 0))
        self.assertEqual(self.state.producers[1].last_seq, 44)

    def test_in_sequence(self) -> None:
        """
        Batches following each other are accepted.
        """
        self.append(batch(1, 0, 0, 3, 0))
        self.append(batch(1, 0, 3, 2, 3))
        self.append(batch(1, 0, 5, 1, 5), batch(1, 0, 6, 1, 6))
        self.assertEqual(self.state.producers[1].last_seq, 6)

    def test_out_of_order(self) -> None:
        """
        A gap in the sequence is OUT_OF_ORDER_SEQUENCE_NUMBER naming both numbers.
        """
        self.append(batch(1, 0, 0, 3, 0))
        error = self.assertRaises(
            OutOfOrderSequenceError, self.state.check, [batch(1, 0, 5, 1, 3)]
        )
        self.assertIn("5 (incoming)", str(error))
        self.assertIn("2 (current end", str(error))
        self.assertIn("orders-0", str(error))

    def test_duplicate(self) -> None:
        """
        A retried batch is recognised, with its original offsets, among the last five.
        """
        for i in range(6):
            self.append(batch(1, 0, 2 * i, 2, 10 * i))
        duplicate, updated = self.state.check([batch(1, 0, 4, 2, 99)])
        assert duplicate is not None
        self.assertEqual((duplicate.first_offset, duplicate.last_offset), (20, 21))
        self.assertEqual(updated, {})
        self.assertRaises(
            OutOfOrderSequenceError, self.state.check, [batch(1, 0, 0, 2, 99)]
        )

    def test_fenced_epoch(self) -> None:
        """
        An older epoch is INVALID_PRODUCER_EPOCH.
        """
        self.append(batch(1, 3, 0, 1, 0))
        error = self.assertRaises(
            InvalidProducerEpochError, self.state.check, [batch(1, 2, 1, 1, 1)]
        )
        self.assertIn("epoch of producer 1", str(error))
        self.assertIn("2, smaller than the last seen epoch 3", str(error))

    def test_new_epoch_resets(self) -> None:
        """
        A new epoch starts over at sequence 0 and forgets the old batches.
        """
        self.append(batch(1, 0, 0, 5, 0))
        self.append(batch(1, 1, 0, 1, 5))
        entry = self.state.producers[1]
        self.assertEqual((entry.producer_epoch, len(entry.batches)), (1, 1))

    def test_new_epoch_must_start_at_zero(self) -> None:
        """
        A new epoch starting at another sequence is out of order.
        """
        self.append(batch(1, 0, 0, 5, 0))
        error = self.assertRaises(
            OutOfOrderSequenceError, self.state.check, [batch(1, 1, 3, 1, 5)]
        )
        self.assertIn("new epoch", str(error))

    def test_sequence_wraps(self) -> None:
        """
        After 2**31 - 1 the sequence continues at 0.
        """
        self.append(batch(1, 0, 2**31 - 2, 2, 0))
        self.assertEqual(self.state.producers[1].last_seq, 2**31 - 1)
        self.append(batch(1, 0, 0, 1, 2))

    def test_check_is_tentative(self) -> None:
        """
        Nothing changes until the checked entries are committed.
        """
        self.append(batch(1, 0, 0, 1, 0))
        self.state.check([batch(1, 0, 1, 1, 1)])
        self.assertEqual(self.state.producers[1].last_seq, 0)

    def test_snapshot_round_trip(self) -> None:
        """
        A snapshot restores every producer with its last batches.
        """
        self.append(batch(1, 0, 0, 2, 0), batch(2, 4, 7, 1, 2))
        self.append(batch(1, 0, 2, 2, 3))
        path = self.state.take_snapshot()
        self.assertTrue(path.endswith("00000000000000000005.snapshot"))
        other = ProducerStateManager("orders-0", self.directory)
        self.assertEqual(other.load_latest_snapshot(100), 5)
        self.assertEqual(other.producers, self.state.producers)

    def test_corrupt_snapshot_skipped(self) -> None:
        """
        A corrupt snapshot is deleted and the one before it used.
        """
        self.append(batch(1, 0, 0, 2, 0))
        self.state.take_snapshot()
        self.append(batch(1, 0, 2, 2, 2))
        path = self.state.take_snapshot()
        with open(path, "r+b") as f:
            f.seek(12)
            f.write(b"\xff")
        other = ProducerStateManager("orders-0", self.directory)
        self.assertEqual(other.load_latest_snapshot(100), 2)
        self.assertEqual(list_snapshots(self.directory), [2])

    def test_snapshots_after_end_deleted(self) -> None:
        """
        Snapshots beyond the log end (after a truncation) are deleted on load.
        """
        self.append(batch(1, 0, 0, 2, 0))
        self.state.take_snapshot()
        other = ProducerStateManager("orders-0", self.directory)
        self.assertIsNone(other.load_latest_snapshot(1))
        self.assertEqual(list_snapshots(self.directory), [])

    def test_expiry(self) -> None:
        """
        Producers idle longer than the expiration are forgotten.
        """
        self.append(batch(1, 0, 0, 1, 0))
        self.assertEqual(self.state.remove_expired_producers(1500, 1000), 0)
        self.assertEqual(self.state.remove_expired_producers(2000, 1000), 1)
        self.assertEqual(self.state.producers, {})


class IdempotentLogTests(SynchronousTestCase):
    """
    Idempotent appends through a L{Log}, across restarts.
    """

    def setUp(self) -> None:
        self.directory = self.mktemp()
        self.clock = FakeClock()

    def test_duplicate_returns_original_offsets(self) -> None:
        """
        A retried batch is answered with its original offsets and not written.
        """
        log = open_log(self.directory, clock=self.clock)
        first = log.append_as_leader(
            make_batch(3, producer_id=5, producer_epoch=0, base_sequence=0), 0
        )
        log.append_as_leader(make_batch(1), 0)
        size = log.size
        retry = log.append_as_leader(
            make_batch(3, producer_id=5, producer_epoch=0, base_sequence=0), 0
        )
        self.assertTrue(retry.duplicate)
        self.assertEqual(
            (retry.first_offset, retry.last_offset),
            (first.first_offset, first.last_offset),
        )
        self.assertEqual(log.size, size)
        self.assertEqual(log.log_end_offset, 4)
        log.close()

    def test_state_survives_restart(self) -> None:
        """
        After a clean restart, retries are still recognised and gaps still refused.
        """
        log = open_log(self.directory, clock=self.clock)
        for seq in range(0, 9, 3):
            log.append_as_leader(
                make_batch(3, producer_id=5, producer_epoch=0, base_sequence=seq), 0
            )
        log.close()
        log = open_log(self.directory, clock=self.clock, had_clean_shutdown=True)
        retry = log.append_as_leader(
            make_batch(3, producer_id=5, producer_epoch=0, base_sequence=6), 0
        )
        self.assertTrue(retry.duplicate)
        self.assertEqual(retry.first_offset, 6)
        self.assertRaises(
            OutOfOrderSequenceError,
            log.append_as_leader,
            make_batch(1, producer_id=5, producer_epoch=0, base_sequence=10),
            0,
        )
        log.close()

    def test_rebuilt_from_snapshot_and_scan(self) -> None:
        """
        After a crash, state is the last snapshot (taken at a roll) plus a scan of the
        later batch headers.
        """
        config = LogConfig(segment_bytes=300)
        log = open_log(self.directory, config, self.clock)
        for seq in range(6):
            log.append_as_leader(
                make_batch(1, producer_id=5, producer_epoch=0, base_sequence=seq), 0
            )
        self.assertGreater(len(log.segments), 1)
        snapshots = list_snapshots(log.directory)
        self.assertTrue(snapshots)
        self.assertLess(snapshots[-1], log.log_end_offset)
        log.local.close_handlers()
        log = open_log(self.directory, config, self.clock)
        self.assertEqual(log.producer_state.producers[5].last_seq, 5)
        retry = log.append_as_leader(
            make_batch(1, producer_id=5, producer_epoch=0, base_sequence=5), 0
        )
        self.assertTrue(retry.duplicate)
        log.append_as_leader(
            make_batch(1, producer_id=5, producer_epoch=0, base_sequence=6), 0
        )
        log.close()

    def test_truncation_rebuilds_state(self) -> None:
        """
        Truncating the log forgets the sequences of the removed batches.
        """
        log = open_log(self.directory, clock=self.clock)
        for seq in range(4):
            log.append_as_leader(
                make_batch(1, producer_id=5, producer_epoch=0, base_sequence=seq), 0
            )
        log.truncate_to(2)
        self.assertEqual(log.producer_state.producers[5].last_seq, 1)
        log.append_as_leader(
            make_batch(1, producer_id=5, producer_epoch=0, base_sequence=2), 0
        )
        log.close()
