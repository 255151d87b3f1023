"""
Tests for L{odradek.broker.replication.producer_id_manager} and the producer id
blocks of L{odradek.broker.metadata.local.LocalMetadataStore}: ids are never handed
out twice, across blocks and across reopening the store.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.config import Endpoint, SecurityProtocol
from odradek.broker.metadata import BrokerRegistration, LocalMetadataStore
from odradek.broker.metadata.interfaces import ProducerIdBlock
from odradek.broker.replication import ProducerIdManager
from odradek.client.errors import (
    CoordinatorLoadInProgressError,
    KafkaError,
    KafkaStorageError,
)

BROKER = BrokerRegistration(
    1, (Endpoint("PLAINTEXT", SecurityProtocol.PLAINTEXT, "localhost", 9092),)
)
CLUSTER = "Dx4tPEtaaXiHlqW0w9Lh8A"


class StoreTestCase(SynchronousTestCase):
    """
    A metadata store in the test's temporary directory.
    """

    def setUp(self) -> None:
        self.directory = self.mktemp()
        os.makedirs(self.directory)

    def store(self) -> LocalMetadataStore:
        """
        @return: the store, opened (again).
        """
        return LocalMetadataStore.open(
            self.directory, cluster_id=CLUSTER, broker=BROKER
        )

    @property
    def block_file(self) -> str:
        return os.path.join(
            self.directory, LocalMetadataStore.PRODUCER_ID_BLOCK_FILE_NAME
        )


class ProducerIdBlockStoreTests(StoreTestCase):
    """
    The store reserves blocks that never overlap.
    """

    def test_blocks_follow_each_other(self) -> None:
        """
        The first block starts at 0 and each next one after the last.
        """
        store = self.store()
        first = self.successResultOf(store.allocate_producer_id_block(1, 1000))
        second = self.successResultOf(store.allocate_producer_id_block(1, 10))
        self.assertEqual(first, ProducerIdBlock(1, 0, 1000))
        self.assertEqual(first.last_producer_id, 999)
        self.assertEqual(second, ProducerIdBlock(1, 1000, 10))

    def test_survives_reopen(self) -> None:
        """
        A reopened store continues after the last block reserved.
        """
        self.successResultOf(self.store().allocate_producer_id_block(1, 1000))
        block = self.successResultOf(self.store().allocate_producer_id_block(1, 1000))
        self.assertEqual(block.first_producer_id, 1000)

    def test_corrupt_file(self) -> None:
        """
        A corrupt block file fails the reservation instead of restarting at 0.
        """
        with open(self.block_file, "w") as f:
            f.write("{not json")
        failure = self.failureResultOf(
            self.store().allocate_producer_id_block(1, 1000), KafkaStorageError
        )
        self.assertIn(self.block_file, str(failure.value))

    def test_exhausted(self) -> None:
        """
        Once the int64 range is used up no block can be reserved.
        """
        with open(self.block_file, "w") as f:
            f.write(
                '{"version": 1, "broker": 1, "block_start": 9223372036854775000,'
                ' "block_end": 9223372036854775000}'
            )
        failure = self.failureResultOf(
            self.store().allocate_producer_id_block(1, 1000), KafkaError
        )
        self.assertIn("exhausted", str(failure.value))


class AsyncStore:
    """
    A metadata store whose reservations wait until the test answers them.
    """

    def __init__(self) -> None:
        self.requests: list[Deferred[ProducerIdBlock]] = []

    def allocate_producer_id_block(
        self, broker_id: int, size: int
    ) -> Deferred[ProducerIdBlock]:
        reserved: Deferred[ProducerIdBlock] = Deferred()
        self.requests.append(reserved)
        return reserved


class ProducerIdManagerTests(StoreTestCase):
    """
    The manager hands out the ids of its block, then reserves the next.
    """

    def test_sequential(self) -> None:
        """
        Ids are handed out in order, a new block reserved when one runs out.
        """
        manager = ProducerIdManager(1, self.store(), block_size=3)
        ids = [self.successResultOf(manager.generate_producer_id()) for _ in range(7)]
        self.assertEqual(ids, list(range(7)))
        self.assertEqual(manager.current_block, ProducerIdBlock(1, 6, 3))

    def test_never_repeat_after_reopen(self) -> None:
        """
        After a restart ids continue after the last block reserved.
        """
        first = ProducerIdManager(1, self.store())
        self.assertEqual(self.successResultOf(first.generate_producer_id()), 0)
        second = ProducerIdManager(1, self.store())
        self.assertEqual(self.successResultOf(second.generate_producer_id()), 1000)

    def test_waiters_share_a_reservation(self) -> None:
        """
        Requests waiting for a block share one reservation.
        """
        store = AsyncStore()
        manager = ProducerIdManager(1, store, block_size=2)  # type: ignore[arg-type]
        waiting = [manager.generate_producer_id() for _ in range(3)]
        self.assertEqual(len(store.requests), 1)
        store.requests[0].callback(ProducerIdBlock(1, 10, 2))
        self.assertEqual([self.successResultOf(d) for d in waiting[:2]], [10, 11])
        self.assertNoResult(waiting[2])
        self.assertEqual(len(store.requests), 2)
        store.requests[1].callback(ProducerIdBlock(1, 12, 2))
        self.assertEqual(self.successResultOf(waiting[2]), 12)

    def test_reservation_fails(self) -> None:
        """
        A failed reservation fails every waiter with a retriable error.
        """
        store = AsyncStore()
        manager = ProducerIdManager(1, store)  # type: ignore[arg-type]
        waiting = [manager.generate_producer_id() for _ in range(2)]
        store.requests[0].errback(KafkaStorageError("disk full"))
        for d in waiting:
            failure = self.failureResultOf(d, CoordinatorLoadInProgressError)
            self.assertIn("disk full", str(failure.value))
        self.flushLoggedErrors(KafkaStorageError)
        manager.generate_producer_id()
        self.assertEqual(len(store.requests), 2)

    def test_store_failure_at_once(self) -> None:
        """
        A store that fails at once fails the request at once.
        """
        store: Any = AsyncStore()
        store.allocate_producer_id_block = lambda broker_id, size: fail(
            KafkaStorageError("read-only")
        )
        manager = ProducerIdManager(1, store)
        self.failureResultOf(
            manager.generate_producer_id(), CoordinatorLoadInProgressError
        )
        self.flushLoggedErrors(KafkaStorageError)
