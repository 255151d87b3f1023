"""
L{ProducerIdManager}: hands out producer ids to idempotent producers
(InitProducerId), from blocks of ids the metadata store reserves for this broker.

A block is reserved durably before any of its ids is handed out, and blocks never
overlap, so a producer id is never given twice, not even across restarts (the ids
left in a block when the broker stops are skipped). Requests that arrive while a
block is being reserved wait for it together.

This belongs with the transaction coordinator, which will hand out ids to
transactional producers too; it lives here until that package exists.
"""

from __future__ import annotations

from typing import Final

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from odradek.broker.metadata import IMetadataStore
from odradek.broker.metadata.interfaces import ProducerIdBlock
from odradek.client.errors import CoordinatorLoadInProgressError

__all__ = ["PRODUCER_ID_BLOCK_SIZE", "ProducerIdManager"]

PRODUCER_ID_BLOCK_SIZE: Final = 1000
"""How many ids a broker reserves at a time, as in Kafka."""


class ProducerIdManager:
    """
    Producer ids for this broker; see the module's description.

    @ivar broker_id: this broker's id.
    @ivar block_size: how many ids to reserve at a time.
    """

    _log = Logger()

    def __init__(
        self,
        broker_id: int,
        metadata: IMetadataStore,
        block_size: int = PRODUCER_ID_BLOCK_SIZE,
    ) -> None:
        """
        @param broker_id: see L{broker_id}.
        @param metadata: reserves the blocks.
        @param block_size: see L{block_size}.
        """
        self.broker_id = broker_id
        self.block_size = block_size
        self._metadata = metadata
        self._block: ProducerIdBlock | None = None
        self._next_id = 0
        self._waiting: list[Deferred[int]] | None = None

    @property
    def current_block(self) -> ProducerIdBlock | None:
        """The block ids are handed out from, if one was reserved."""
        return self._block

    def generate_producer_id(self) -> Deferred[int]:
        """
        @return: fires with a producer id never handed out before; fails with
            L{CoordinatorLoadInProgressError} (retriable, as Kafka answers while
            it has no block) if no block could be reserved.
        """
        producer_id = self._take()
        if producer_id is not None:
            return succeed(producer_id)
        waiter: Deferred[int] = Deferred()
        if self._waiting is not None:
            self._waiting.append(waiter)
            return waiter
        self._waiting = [waiter]
        reserved = self._metadata.allocate_producer_id_block(
            self.broker_id, self.block_size
        )
        reserved.addCallbacks(self._reserved, self._not_reserved)
        return waiter

    def _take(self) -> int | None:
        block = self._block
        if block is None or self._next_id > block.last_producer_id:
            return None
        producer_id = self._next_id
        self._next_id += 1
        return producer_id

    def _reserved(self, block: ProducerIdBlock) -> None:
        self._log.info(
            "Reserved producer ids {first} to {last}",
            first=block.first_producer_id,
            last=block.last_producer_id,
        )
        self._block = block
        self._next_id = block.first_producer_id
        waiting, self._waiting = self._waiting or [], None
        for index, waiter in enumerate(waiting):
            producer_id = self._take()
            if producer_id is None:
                # More waiters than ids: the rest wait for the next block.
                for later in waiting[index:]:
                    self.generate_producer_id().chainDeferred(later)
                return
            waiter.callback(producer_id)

    def _not_reserved(self, failure: Failure) -> None:
        self._log.failure("Cannot reserve a block of producer ids", failure)
        waiting, self._waiting = self._waiting or [], None
        error = CoordinatorLoadInProgressError(
            f"broker {self.broker_id} could not reserve producer ids:"
            f" {failure.getErrorMessage()}"
        )
        for waiter in waiting:
            waiter.errback(error)
