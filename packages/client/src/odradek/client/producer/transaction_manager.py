"""
The idempotent producer's state: its producer id and epoch, and per partition the
next sequence number to give a batch and the last one the broker acknowledged.

Sans-IO and owned by the I/O thread: the accumulator asks it for sequence numbers
when it drains batches, the sender tells it what the broker answered. Like the Java
client's C{TransactionManager}, an idempotent producer that hits a sequence error it
cannot repair (C{OUT_OF_ORDER_SEQUENCE_NUMBER} for the oldest batch in flight, or
C{UNKNOWN_PRODUCER_ID}) bumps its own epoch and starts every partition's sequence
from 0 again, once the batches in flight have come back (KIP-360). Transactions
(C{transactional.id}) are not implemented yet.
"""

from __future__ import annotations

import attrs

from odradek.client.records.layout import NO_PRODUCER_EPOCH, NO_PRODUCER_ID
from odradek.client.structs import TopicPartition

__all__ = ["TransactionManager"]

#: The largest producer epoch; the next bump needs a new producer id.
MAX_PRODUCER_EPOCH = 32767
#: Sequence numbers are int32 and wrap to 0 after this.
MAX_SEQUENCE = 2**31 - 1


@attrs.define
class _PartitionState:
    next_sequence: int = 0
    last_acked_sequence: int = -1
    in_flight: set[int] = attrs.field(factory=set)


@attrs.define
class TransactionManager:
    """
    Producer id, epoch and sequence numbers of an idempotent producer.

    @ivar producer_id: the id the broker gave, or -1 before InitProducerId answered.
    @ivar producer_epoch: the epoch of that id, or -1.
    @ivar epoch_bump_required: set when a sequence error needs a new epoch; the
        sender bumps it once nothing is in flight.
    """

    producer_id: int = NO_PRODUCER_ID
    producer_epoch: int = NO_PRODUCER_EPOCH
    epoch_bump_required: bool = False
    _partitions: dict[TopicPartition, _PartitionState] = attrs.field(factory=dict)

    # The accumulator's sequence source.

    def producer_id_and_epoch(self) -> tuple[int, int]:
        """
        @return: the producer id and epoch to stamp on batches, or (-1, -1) while
            there is none (or a bump is pending): then no batch may be drained.
        """
        if self.epoch_bump_required:
            return NO_PRODUCER_ID, NO_PRODUCER_EPOCH
        return self.producer_id, self.producer_epoch

    def is_transactional(self) -> bool:
        """@return: C{False}: only idempotence is implemented."""
        return False

    def next_sequence(self, tp: TopicPartition) -> int:
        """@return: the sequence number for the next new batch of C{tp}."""
        state = self._partitions.get(tp)
        return 0 if state is None else state.next_sequence

    def increment_sequence(self, tp: TopicPartition, record_count: int) -> None:
        """
        Note that a batch of C{record_count} records took the next sequence numbers
        of C{tp}, and is now in flight.
        """
        state = self._state(tp)
        state.in_flight.add(state.next_sequence)
        state.next_sequence = (state.next_sequence + record_count) % (MAX_SEQUENCE + 1)

    # What the broker answered.

    def has_producer_id(self) -> bool:
        """@return: whether an id and epoch are ready to stamp on batches."""
        return self.producer_id != NO_PRODUCER_ID and not self.epoch_bump_required

    def set_producer_id_and_epoch(self, producer_id: int, producer_epoch: int) -> None:
        """Take a new id and epoch from InitProducerId; every sequence restarts at 0."""
        self.producer_id = producer_id
        self.producer_epoch = producer_epoch
        self.epoch_bump_required = False
        self._partitions.clear()

    def acknowledged(
        self, tp: TopicPartition, base_sequence: int, record_count: int
    ) -> None:
        """The broker stored (or had stored) the batch at C{base_sequence}."""
        state = self._state(tp)
        state.in_flight.discard(base_sequence)
        last = base_sequence + record_count - 1
        if last > state.last_acked_sequence:
            state.last_acked_sequence = last

    def failed(self, tp: TopicPartition, base_sequence: int) -> None:
        """A batch of C{tp} failed for good: it no longer holds a sequence."""
        state = self._state(tp)
        state.in_flight.discard(base_sequence)

    def is_next_in_line(self, tp: TopicPartition, base_sequence: int) -> bool:
        """
        @return: whether C{base_sequence} is the oldest batch of C{tp} the broker has
            not acknowledged. An C{OUT_OF_ORDER_SEQUENCE_NUMBER} for any later batch
            only means an earlier one is being retried, so the later one is retried
            too; for the oldest it means records were lost, and the epoch is bumped.
        """
        state = self._partitions.get(tp)
        if state is None:
            return True
        return base_sequence == min(state.in_flight, default=base_sequence)

    def require_epoch_bump(self) -> None:
        """A sequence error needs a fresh epoch before anything more is sent."""
        self.epoch_bump_required = True

    def in_flight_count(self) -> int:
        """@return: how many batches hold sequence numbers and await an answer."""
        return sum(len(state.in_flight) for state in self._partitions.values())

    def bump_epoch(self) -> bool:
        """
        Move to the next epoch of the same producer id, restarting every sequence.

        @return: C{False} if the epoch is exhausted (or there is no id): the caller
            must ask the broker for a new producer id instead.
        """
        if self.producer_id == NO_PRODUCER_ID or (
            self.producer_epoch >= MAX_PRODUCER_EPOCH
        ):
            return False
        self.set_producer_id_and_epoch(self.producer_id, self.producer_epoch + 1)
        return True

    def _state(self, tp: TopicPartition) -> _PartitionState:
        state = self._partitions.get(tp)
        if state is None:
            state = self._partitions[tp] = _PartitionState()
        return state
