"""
The idempotent producer's state: its producer id and epoch, and per partition the
next sequence number to give a batch, the batches that hold sequence numbers and are
not acknowledged yet, and the id and epoch those numbers belong to.

Sans-IO and owned by the I/O thread: the accumulator asks it for sequence numbers
when it drains batches, the sender tells it what the broker answered. Transactions
(C{transactional.id}) are not implemented yet.

A gap in a partition's sequence numbers makes the broker refuse every later batch
of that partition with C{OUT_OF_ORDER_SEQUENCE_NUMBER}. Like the Java client's
C{TransactionManager} for an idempotent producer (KIP-360), the gap is closed with a
new epoch:

  - a batch that fails for good (an error answer, its retries or its
    C{delivery.timeout.ms} spent) asks for a bump of its partition, as do
    C{OUT_OF_ORDER_SEQUENCE_NUMBER} for the oldest batch not acknowledged (records
    were lost) and C{UNKNOWN_PRODUCER_ID} (the broker forgot the producer); those
    two are retried rather than failed;
  - once no request is in flight the sender takes the next epoch of the same id
    (L{TransactionManager.bump_epoch}), or a new id from InitProducerId when the
    epoch is exhausted, and numbers the unacknowledged batches of each partition
    that asked from 0 again under it
    (L{TransactionManager.restart_sequences}); they are retried in their order;
  - other partitions go on under the epoch their batches hold until none of them
    is unacknowledged, then start from 0 under the new one. Meanwhile the sender
    sends their batches one at a time (L{TransactionManager.is_stale}), so that
    no new batch overtakes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from odradek.client.errors import OutOfOrderSequenceError, UnknownProducerIdError
from odradek.client.records.layout import NO_PRODUCER_EPOCH, NO_PRODUCER_ID
from odradek.client.structs import TopicPartition

if TYPE_CHECKING:
    from odradek.client.producer.batch import ProducerBatch

__all__ = ["MAX_PRODUCER_EPOCH", "MAX_SEQUENCE", "TransactionManager"]

#: The largest producer epoch; the next bump needs a new producer id.
MAX_PRODUCER_EPOCH = 32767
#: Sequence numbers are int32 and wrap to 0 after this.
MAX_SEQUENCE = 2**31 - 1


@attrs.define
class _PartitionState:
    """
    A partition's sequence numbers under one producer id and epoch.

    @ivar in_flight: the base sequences of the batches sent (or about to be) and
        not yet acknowledged nor failed, retried ones included.
    """

    producer_id: int
    producer_epoch: int
    next_sequence: int = 0
    last_acked_sequence: int = -1
    in_flight: set[int] = attrs.field(factory=set)


def _wrap(sequence: int) -> int:
    return sequence % (MAX_SEQUENCE + 1)


@attrs.define
class TransactionManager:
    """
    Producer id, epoch and sequence numbers of an idempotent producer.

    @ivar producer_id: the id the broker gave, or -1 before InitProducerId answered.
    @ivar producer_epoch: the epoch of that id, or -1.
    @ivar epoch_bump_required: set when a partition needs a new epoch; the sender
        bumps it once nothing is in flight, and drains nothing meanwhile.
    """

    producer_id: int = NO_PRODUCER_ID
    producer_epoch: int = NO_PRODUCER_EPOCH
    epoch_bump_required: bool = False
    _partitions: dict[TopicPartition, _PartitionState] = attrs.field(factory=dict)
    _partitions_to_rewrite: set[TopicPartition] = attrs.field(factory=set)

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
        return self._current_state(tp).next_sequence

    def increment_sequence(self, tp: TopicPartition, record_count: int) -> None:
        """
        Note that a batch of C{record_count} records took the next sequence numbers
        of C{tp}, and is now in flight.
        """
        state = self._current_state(tp)
        state.in_flight.add(state.next_sequence)
        state.next_sequence = _wrap(state.next_sequence + record_count)

    def _current_state(self, tp: TopicPartition) -> _PartitionState:
        """
        @return: C{tp}'s state, started afresh under the current id and epoch if it
            has none, or one of an older epoch with nothing left unacknowledged (as
            Java's C{maybeUpdateProducerIdAndEpoch}). The sender sends no new batch
            of a partition while a batch of an older epoch is unacknowledged.
        """
        state = self._partitions.get(tp)
        if state is None or (
            not state.in_flight
            and (state.producer_id, state.producer_epoch)
            != (self.producer_id, self.producer_epoch)
        ):
            state = _PartitionState(self.producer_id, self.producer_epoch)
            self._partitions[tp] = state
        return state

    # What the broker answered.

    def has_producer_id(self) -> bool:
        """@return: whether an id and epoch are ready to stamp on batches."""
        return self.producer_id != NO_PRODUCER_ID and not self.epoch_bump_required

    def set_producer_id_and_epoch(self, producer_id: int, producer_epoch: int) -> None:
        """
        Take a new id and epoch from InitProducerId. Each partition's sequences
        restart at 0 under it once nothing of the old id is unacknowledged there;
        the partitions that asked for a bump are renumbered with
        L{restart_sequences}.
        """
        self.producer_id = producer_id
        self.producer_epoch = producer_epoch
        self.epoch_bump_required = False

    def holds_sequence(self, batch: ProducerBatch) -> bool:
        """
        @return: whether C{batch} holds sequence numbers its partition's state
            counts as unacknowledged.
        """
        state = self._partitions.get(batch.topic_partition)
        return (
            state is not None
            and batch.has_sequence
            and batch.producer_id == state.producer_id
            and batch.producer_epoch == state.producer_epoch
            and batch.base_sequence in state.in_flight
        )

    def is_stale(self, batch: ProducerBatch) -> bool:
        """
        @return: whether C{batch} holds sequence numbers of an older id or epoch
            than the current one: it must be acknowledged (or fail) before any
            newer batch of its partition is sent.
        """
        return batch.has_sequence and (batch.producer_id, batch.producer_epoch) != (
            self.producer_id,
            self.producer_epoch,
        )

    def acknowledged(self, batch: ProducerBatch) -> None:
        """The broker stored (or had stored) C{batch}."""
        if not self.holds_sequence(batch):
            return
        state = self._partitions[batch.topic_partition]
        state.in_flight.discard(batch.base_sequence)
        last = batch.base_sequence + batch.record_count - 1
        if last > state.last_acked_sequence:
            state.last_acked_sequence = last

    def failed(self, batch: ProducerBatch) -> None:
        """
        C{batch} failed for good: its sequence numbers are a gap the broker will
        not fill, so its partition needs a new epoch (Java's C{handleFailedBatch}).
        Only a partition still under an older epoch, with nothing else
        unacknowledged, needs none: its next batch starts afresh anyway.
        """
        if not self.holds_sequence(batch):
            return
        tp = batch.topic_partition
        state = self._partitions[tp]
        state.in_flight.discard(batch.base_sequence)
        current = (state.producer_id, state.producer_epoch) == (
            self.producer_id,
            self.producer_epoch,
        )
        if current or state.in_flight:
            self.require_epoch_bump(tp)

    def retry_after_sequence_error(
        self, batch: ProducerBatch, error: BaseException
    ) -> bool:
        """
        Decide on C{OUT_OF_ORDER_SEQUENCE_NUMBER} and C{UNKNOWN_PRODUCER_ID}, which
        an idempotent producer retries (Java's C{canRetry}). For a batch behind an
        earlier one being retried, C{OUT_OF_ORDER_SEQUENCE_NUMBER} only means it
        came too soon; for the oldest it means records were lost, and
        C{UNKNOWN_PRODUCER_ID} that the broker forgot the producer: both ask for a
        new epoch for the partition.

        @param batch: the batch the broker answered the error for.
        @param error: the error.
        @return: whether to retry C{batch} although C{error} is not retriable.
        """
        if not isinstance(error, OutOfOrderSequenceError | UnknownProducerIdError):
            return False
        if not self.holds_sequence(batch):
            return False
        if isinstance(error, OutOfOrderSequenceError) and not self.is_next_in_line(
            batch.topic_partition, batch.base_sequence
        ):
            return True
        self.require_epoch_bump(batch.topic_partition)
        return True

    def is_next_in_line(self, tp: TopicPartition, base_sequence: int) -> bool:
        """
        @return: whether C{base_sequence} is the oldest batch of C{tp} the broker has
            not acknowledged.
        """
        state = self._partitions.get(tp)
        if state is None:
            return True
        return base_sequence == min(state.in_flight, default=base_sequence)

    def require_epoch_bump(self, tp: TopicPartition) -> None:
        """
        C{tp} needs a fresh epoch before anything more is sent (Java's
        C{requestEpochBumpForPartition}); its unacknowledged batches are then
        renumbered from 0.
        """
        self.epoch_bump_required = True
        self._partitions_to_rewrite.add(tp)

    def in_flight_count(self) -> int:
        """@return: how many batches hold sequence numbers and await an answer."""
        return sum(len(state.in_flight) for state in self._partitions.values())

    def bump_epoch(self) -> bool:
        """
        Move to the next epoch of the same producer id (nothing is renumbered yet:
        see L{take_partitions_to_rewrite}).

        @return: C{False} if the epoch is exhausted (or there is no id): the caller
            must ask the broker for a new producer id instead.
        """
        if self.producer_id == NO_PRODUCER_ID or (
            self.producer_epoch >= MAX_PRODUCER_EPOCH
        ):
            return False
        self.set_producer_id_and_epoch(self.producer_id, self.producer_epoch + 1)
        return True

    def take_partitions_to_rewrite(self) -> list[TopicPartition]:
        """
        @return: the partitions that asked for the bump, in a stable order, each to
            be given to L{restart_sequences}; forgotten here.
        """
        partitions = sorted(self._partitions_to_rewrite)
        self._partitions_to_rewrite.clear()
        return partitions

    def restart_sequences(
        self, tp: TopicPartition, batches: Iterable[ProducerBatch]
    ) -> None:
        """
        Number the unacknowledged batches of C{tp} from 0 under the current id and
        epoch, in their order, rewriting each (Java's
        C{startSequencesAtBeginning}); new batches follow them.

        @param tp: a partition that asked for a bump.
        @param batches: every batch of C{tp} that holds a sequence and awaits its
            retry, oldest first.
        """
        state = _PartitionState(self.producer_id, self.producer_epoch)
        for batch in batches:
            batch.reset_producer_state(
                self.producer_id, self.producer_epoch, state.next_sequence
            )
            state.in_flight.add(state.next_sequence)
            state.next_sequence = _wrap(state.next_sequence + batch.record_count)
        self._partitions[tp] = state
