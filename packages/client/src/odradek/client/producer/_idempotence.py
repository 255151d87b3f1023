"""
The sender's part of idempotence: getting a producer id (InitProducerId) and
bumping the epoch when a partition's sequence numbers need a fresh start (KIP-360,
see L{odradek.client.producer.transaction_manager}).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from odradek.client import errors
from odradek.client.network.requests import (
    init_producer_id_request,
    parse_init_producer_id_response,
)
from odradek.client.producer.transaction_manager import TransactionManager
from odradek.client.protocol.apis import ApiKey

if TYPE_CHECKING:
    from odradek.client.network.connection import KafkaConnection
    from odradek.client.network.metadata import MetadataManager
    from odradek.client.producer.accumulator import RecordAccumulator

__all__ = ["EpochManager"]

_log = Logger()


@attrs.define(eq=False)
class EpochManager:
    """
    Keeps an idempotent producer supplied with a producer id and epoch.

    @ivar manager: the producer's id, epoch and sequences.
    @ivar accumulator: where batches to renumber wait.
    @ivar metadata: for a connection to the least loaded broker.
    @ivar transaction_timeout_ms: sent in InitProducerId.
    @ivar wakeup: runs the sender again soon.
    @ivar schedule: runs the sender again after so many milliseconds.
    """

    manager: TransactionManager
    accumulator: RecordAccumulator
    metadata: MetadataManager
    transaction_timeout_ms: int
    wakeup: Callable[[], None]
    schedule: Callable[[int], None]
    _pending: bool = attrs.field(default=False, init=False)

    def ensure(self, in_flight_requests: int) -> None:
        """
        Called while the manager has no id, or needs a new epoch: bump the epoch
        once no request is in flight, and ask for a new id if there is none or
        the epoch is exhausted. Does nothing while InitProducerId is on its way.

        @param in_flight_requests: the Produce requests awaiting an answer.
        """
        manager = self.manager
        if self._pending:
            return
        if manager.epoch_bump_required:
            if in_flight_requests:
                return  # wait for the requests in flight to come back
            if manager.bump_epoch():
                _log.info(
                    "Bumped the producer epoch to {epoch}", epoch=manager.producer_epoch
                )
                self._restart_sequences()
                self.wakeup()
                return
        self._pending = True
        d = self.metadata.least_loaded_connection()
        d.addCallback(self._ask).addCallbacks(self._answered, self._failed)

    def _ask(self, connection: KafkaConnection) -> Deferred[Any]:
        version = connection.version_for(ApiKey.INIT_PRODUCER_ID)
        request = init_producer_id_request(
            version,
            transactional_id=None,
            transaction_timeout_ms=self.transaction_timeout_ms,
        )
        return connection.send(request)

    def _answered(self, response: Any) -> None:
        self._pending = False
        code, producer_id, epoch = parse_init_producer_id_response(response)
        if code:
            error = errors.error_for_code(code)
            _log.warn("InitProducerId failed: {error}", error=error.name)
            if not error.retriable:
                self.accumulator.abort_incomplete_batches(
                    error(f"cannot get a producer id for idempotence: {error.name}")
                )
                self.wakeup()
                return
            self.schedule(self.metadata.retry_backoff_ms)
            return
        self.manager.set_producer_id_and_epoch(producer_id, epoch)
        self._restart_sequences()
        self.wakeup()

    def _failed(self, failure: Failure) -> None:
        self._pending = False
        _log.debug("InitProducerId failed: {error}", error=failure.value)
        self.schedule(self.metadata.retry_backoff_ms)

    def _restart_sequences(self) -> None:
        """
        Renumber from 0, under the new id or epoch, the batches awaiting a retry in
        each partition that asked for the bump.
        """
        manager = self.manager
        for tp in manager.take_partitions_to_rewrite():
            batches = self.accumulator.retried_batches(tp)
            manager.restart_sequences(tp, batches)
            _log.info(
                "Renumbered {count} batch(es) of {tp} from sequence 0 under producer"
                " id {id} epoch {epoch}",
                count=len(batches),
                tp=tp,
                id=manager.producer_id,
                epoch=manager.producer_epoch,
            )
