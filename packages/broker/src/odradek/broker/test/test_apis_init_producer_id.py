"""
Tests for L{odradek.broker.apis.init_producer_id}: every version, new producer ids
that never repeat, and the answers to transactional producers while transactions are
not supported.
"""

from __future__ import annotations

import datetime
from typing import Any

from kio.schema.errors import ErrorCode
from twisted.internet.defer import Deferred, fail
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import HandlerRegistry, init_producer_id
from odradek.broker.replication import ProducerIdManager
from odradek.broker.test._brokertools import (
    BrokerFixture,
    call_handler,
    entity,
    request_module,
    round_trip,
)
from odradek.client.errors import KafkaStorageError
from odradek.client.protocol import ApiKey, VersionRange


def init_producer_id_request(
    version: int,
    transactional_id: str | None = None,
    *,
    timeout_ms: int = 60000,
    producer_id: int = -1,
    producer_epoch: int = -1,
) -> Any:
    """
    @return: an InitProducerId request of C{version}.
    """
    schema = request_module(ApiKey.INIT_PRODUCER_ID, version)
    return entity(
        schema.InitProducerIdRequest,
        transactional_id=transactional_id,
        transaction_timeout=datetime.timedelta(milliseconds=timeout_ms),
        producer_id=producer_id,
        producer_epoch=producer_epoch,
    )


class InitProducerIdTests(SynchronousTestCase):
    """
    InitProducerId hands out producer ids.
    """

    def setUp(self) -> None:
        self.broker = BrokerFixture(self)
        self.registry = HandlerRegistry()
        self.manager = init_producer_id.register(
            self.registry,
            self.broker.replica_manager,
            config=self.broker.config,
            metadata=self.broker.metadata,
        )

    def init(self, version: int = 4, *args: Any, **kwargs: Any) -> Any:
        """
        @return: the decoded response.
        """
        request = init_producer_id_request(version, *args, **kwargs)
        outcome = call_handler(self.registry, request, self.broker.clock)
        if isinstance(outcome, Deferred):
            outcome = self.successResultOf(outcome)
        return round_trip(outcome)

    def test_registered(self) -> None:
        """
        Versions 0 to 5 are served.
        """
        entry = self.registry.get(ApiKey.INIT_PRODUCER_ID)
        assert entry is not None
        self.assertEqual(entry.versions, VersionRange(0, 5))

    def test_every_version(self) -> None:
        """
        Every version answers a new producer id with epoch 0.
        """
        for version in range(6):
            with self.subTest(version=version):
                response = self.init(version)
                self.assertEqual(response.error_code, ErrorCode.none)
                self.assertEqual(response.producer_id, version)
                self.assertEqual(response.producer_epoch, 0)

    def test_existing_producer(self) -> None:
        """
        An idempotent producer naming its id and epoch gets a new id, as Kafka.
        """
        first = self.init(4)
        again = self.init(
            4, producer_id=first.producer_id, producer_epoch=first.producer_epoch
        )
        self.assertEqual((again.producer_id, again.producer_epoch), (1, 0))

    def test_half_producer(self) -> None:
        """
        A producer id without an epoch, or the reverse, is an invalid request.
        """
        for producer_id, epoch in [(5, -1), (-1, 3)]:
            with self.subTest(producer_id=producer_id):
                response = self.init(4, producer_id=producer_id, producer_epoch=epoch)
                self.assertEqual(response.error_code, ErrorCode.invalid_request)
                self.assertEqual(response.producer_id, -1)
                self.assertEqual(response.producer_epoch, -1)

    def test_ids_survive_restart(self) -> None:
        """
        After a restart producer ids continue after the last block reserved.
        """
        self.assertEqual(self.init().producer_id, 0)
        self.broker.stop()
        self.broker = BrokerFixture(self, directory=self.broker.directory)
        self.registry = HandlerRegistry()
        init_producer_id.register(
            self.registry,
            self.broker.replica_manager,
            config=self.broker.config,
            metadata=self.broker.metadata,
        )
        self.assertEqual(self.init().producer_id, 1000)

    def test_transactional(self) -> None:
        """
        A transactional producer is told this broker is not its coordinator.
        """
        response = self.init(4, "payments")
        self.assertEqual(response.error_code, ErrorCode.not_coordinator)
        self.assertEqual((response.producer_id, response.producer_epoch), (-1, -1))

    def test_empty_transactional_id(self) -> None:
        """
        An empty transactional id is an invalid request.
        """
        response = self.init(4, "")
        self.assertEqual(response.error_code, ErrorCode.invalid_request)

    def test_transaction_timeout(self) -> None:
        """
        A timeout outside 1 ms to the maximum is INVALID_TRANSACTION_TIMEOUT.
        """
        for timeout in (0, 900001):
            with self.subTest(timeout=timeout):
                response = self.init(4, "payments", timeout_ms=timeout)
                self.assertEqual(
                    response.error_code, ErrorCode.invalid_transaction_timeout
                )

    def test_no_block(self) -> None:
        """
        When no block of ids can be reserved the producer is told to retry.
        """

        class Failing:
            def allocate_producer_id_block(self, broker_id: int, size: int) -> Any:
                return fail(KafkaStorageError("disk full"))

        self.registry = HandlerRegistry()
        init_producer_id.register(
            self.registry,
            self.broker.replica_manager,
            config=self.broker.config,
            metadata=self.broker.metadata,
            producer_id_manager=ProducerIdManager(1, Failing()),  # type: ignore[arg-type]
        )
        response = self.init(4)
        self.assertEqual(response.error_code, ErrorCode.coordinator_load_in_progress)
        self.flushLoggedErrors(KafkaStorageError)
