"""
One producer batch (Kafka's C{ProducerBatch}).

A L{ProducerBatch} collects a partition's records in a L{RecordBatchBuilder} until
the Sender drains, closes and sends it. Its records' futures are in
L{odradek.client.producer.future}: one L{ProduceRequestResult} per batch, completed
once, and one small L{FutureRecordMetadata} per record over it.

Batches are never split: one the broker rejects with C{MESSAGE_TOO_LARGE} fails with
L{RecordTooLargeError<odradek.client.errors.RecordTooLargeError>} (Kafka's Java
producer splits it and retries the halves).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum

import attrs
from twisted.logger import Logger

from odradek.client.errors import IllegalStateError
from odradek.client.producer.future import (
    Callback,
    FutureRecordMetadata,
    ProduceRequestResult,
)
from odradek.client.records.builder import RecordBatchBuilder
from odradek.client.records.layout import NO_SEQUENCE, NO_TIMESTAMP, Header
from odradek.client.records.offsets import restamp_producer_state
from odradek.client.structs import TopicPartition

__all__ = ["FinalState", "ProducerBatch"]

_log = Logger()


class FinalState(Enum):
    """How a batch ended."""

    ABORTED = "ABORTED"
    """Failed by the producer itself (closing, a fatal error), never answered."""
    FAILED = "FAILED"
    """Failed by an error response or an expired delivery timeout."""
    SUCCEEDED = "SUCCEEDED"
    """Acknowledged by the broker."""


def _make_result(batch: ProducerBatch) -> ProduceRequestResult:
    return ProduceRequestResult(batch.topic_partition)


@attrs.define(eq=False, on_setattr=attrs.setters.NO_OP)
class ProducerBatch:
    """
    Records for one partition on their way to the broker.

    Records are appended under the accumulator's lock while the batch is the last in
    its queue; it is completed only after leaving the queue, so the two never
    overlap.

    @ivar topic_partition: the partition.
    @ivar created_ms: when the batch was created, in milliseconds.
    @ivar produce_future: the batch's L{ProduceRequestResult}.
    @ivar attempts: how many times it was put back for a retry.
    @ivar last_attempt_ms: when it was created or last put back.
    @ivar last_append_ms: when a record was last appended, or it was put back.
    @ivar drained_ms: when it was last drained to be sent; 0 before.
    @ivar retry: whether it was put back at least once.
    @ivar retry_backoff_ms: how long after C{last_attempt_ms} it may be sent again.
    @ivar reserved_bytes: the memory reserved for it in the
        L{BufferPool<odradek.client.producer.buffer.BufferPool>}.
    """

    topic_partition: TopicPartition
    _builder: RecordBatchBuilder = attrs.field(alias="builder")
    created_ms: int
    produce_future: ProduceRequestResult = attrs.field(
        init=False, default=attrs.Factory(_make_result, takes_self=True)
    )
    attempts: int = attrs.field(init=False, default=0)
    last_attempt_ms: int = attrs.field(init=False, default=0)
    last_append_ms: int = attrs.field(init=False, default=0)
    drained_ms: int = attrs.field(init=False, default=0)
    retry: bool = attrs.field(init=False, default=False)
    retry_backoff_ms: int = attrs.field(init=False, default=0)
    reserved_bytes: int = attrs.field(init=False, default=0)
    _final_state: FinalState | None = attrs.field(init=False, default=None)
    _records: bytes | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self.last_attempt_ms = self.last_append_ms = self.created_ms

    def try_append(
        self,
        timestamp: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[Header],
        callback: Callback | None,
        now_ms: int,
    ) -> FutureRecordMetadata | None:
        """
        Append a record if it fits in C{batch.size}; the first record always fits
        (the producer checked it against C{max.request.size}).

        @param timestamp: the record's timestamp in milliseconds.
        @param key: the serialized key or C{None}.
        @param value: the serialized value or C{None}.
        @param headers: the record's headers.
        @param callback: called when the record completes, or C{None}.
        @param now_ms: the current time in milliseconds.
        @return: the record's future, or C{None} if it does not fit or the batch is
            closed.
        """
        if self._records is not None:
            return None
        offset = self._builder.try_append(timestamp, key, value, headers)
        if offset < 0:
            return None
        self.last_append_ms = now_ms
        future = FutureRecordMetadata(
            self.produce_future,
            offset,
            timestamp,
            -1 if key is None else len(key),
            -1 if value is None else len(value),
        )
        if callback is not None:
            # No lock needed: an open batch is never being completed (see above).
            entries = self.produce_future._callbacks
            assert entries is not None
            entries.append((callback, future))
        return future

    @property
    def tp(self) -> TopicPartition:
        """The partition: a short name for C{topic_partition}."""
        return self.topic_partition

    @property
    def record_count(self) -> int:
        """How many records the batch holds."""
        return self._builder.records_count

    @property
    def estimated_size_in_bytes(self) -> int:
        """The batch's size on the wire: estimated while open, exact once closed."""
        if self._records is not None:
            return len(self._records)
        return self._builder.estimated_size_in_bytes()

    @property
    def uncompressed_size_in_bytes(self) -> int:
        """The size of the batch were its records not compressed."""
        return self._builder.uncompressed_size_in_bytes()

    def is_full(self) -> bool:
        """@return: whether the batch is closed or has reached C{batch.size}."""
        return self._builder.is_full()

    @property
    def is_closed(self) -> bool:
        """Whether the batch was closed: it has its bytes and takes no records."""
        return self._records is not None

    def close(self) -> None:
        """Build the batch's bytes, compressed; closing again changes nothing."""
        if self._records is None:
            self._records = self._builder.build()

    @property
    def records(self) -> bytes:
        """
        The batch as it goes on the wire.

        @raise IllegalStateError: before L{close}.
        """
        if self._records is None:
            raise IllegalStateError(f"the batch for {self.topic_partition} is open")
        return self._records

    def set_producer_state(
        self,
        producer_id: int,
        producer_epoch: int,
        base_sequence: int,
        is_transactional: bool,
    ) -> None:
        """
        Stamp the idempotent producer's state on the batch, before it is closed.

        @param producer_id: the producer id.
        @param producer_epoch: the producer epoch.
        @param base_sequence: the sequence number of the batch's first record.
        @param is_transactional: whether the records belong to a transaction.
        @raise IllegalStateError: if the batch is closed: a batch to retry under a
            new epoch is renumbered with L{reset_producer_state}.
        """
        if self._records is not None:
            raise IllegalStateError(
                f"the batch for {self.topic_partition} is closed: its producer state"
                " cannot change"
            )
        builder = self._builder
        builder.producer_id = producer_id
        builder.producer_epoch = producer_epoch
        builder.base_sequence = base_sequence
        builder.is_transactional = is_transactional

    def reset_producer_state(
        self, producer_id: int, producer_epoch: int, base_sequence: int
    ) -> None:
        """
        Give a batch that holds a sequence another producer id, epoch and base
        sequence, closed or not (Kafka's C{ProducerBatch.resetProducerState}): an
        idempotent producer does so when it bumps its epoch and numbers its
        unacknowledged batches from 0 again. A closed batch's bytes are rewritten
        in place with a new CRC (L{restamp_producer_state}); the transactional flag
        stays.

        @param producer_id: the producer id.
        @param producer_epoch: the producer epoch.
        @param base_sequence: the sequence number of the batch's first record.
        @raise IllegalStateError: if the batch holds no sequence yet (give it one
            with L{set_producer_state}) or is complete.
        """
        if not self.has_sequence or self._final_state is not None:
            raise IllegalStateError(
                f"the batch for {self.topic_partition} holds no sequence to reset"
            )
        builder = self._builder
        builder.producer_id = producer_id
        builder.producer_epoch = producer_epoch
        builder.base_sequence = base_sequence
        if self._records is not None:
            buffer = bytearray(self._records)
            restamp_producer_state(buffer, producer_id, producer_epoch, base_sequence)
            self._records = bytes(buffer)

    @property
    def producer_id(self) -> int:
        """The batch's producer id, or -1."""
        return self._builder.producer_id

    @property
    def producer_epoch(self) -> int:
        """The batch's producer epoch, or -1."""
        return self._builder.producer_epoch

    @property
    def base_sequence(self) -> int:
        """The sequence number of the batch's first record, or -1."""
        return self._builder.base_sequence

    @property
    def has_sequence(self) -> bool:
        """Whether a sequence number was assigned."""
        return self._builder.base_sequence != NO_SEQUENCE

    @property
    def is_transactional(self) -> bool:
        """Whether the batch belongs to a transaction."""
        return self._builder.is_transactional

    @property
    def final_state(self) -> FinalState | None:
        """How the batch ended, or C{None} while it has not."""
        return self._final_state

    def in_retry(self) -> bool:
        """@return: whether the batch was put back for a retry."""
        return self.retry

    def reenqueued(self, now_ms: int) -> None:
        """
        Note that the batch is put back for a retry.

        @param now_ms: the current time in milliseconds.
        """
        self.attempts += 1
        self.last_attempt_ms = self.last_append_ms = max(self.last_append_ms, now_ms)
        self.retry = True

    def drained(self, now_ms: int) -> None:
        """
        Note that the batch is taken to be sent.

        @param now_ms: the current time in milliseconds.
        """
        self.drained_ms = max(self.drained_ms, now_ms)

    def waited_time_ms(self, now_ms: int) -> int:
        """
        @param now_ms: the current time in milliseconds.
        @return: the time since the batch was created or put back, at least 0.
        """
        return max(0, now_ms - self.last_attempt_ms)

    def has_reached_delivery_timeout(
        self, delivery_timeout_ms: int, now_ms: int
    ) -> bool:
        """
        @param delivery_timeout_ms: C{delivery.timeout.ms}.
        @param now_ms: the current time in milliseconds.
        @return: whether C{delivery_timeout_ms} passed since the batch was created.
        """
        return delivery_timeout_ms <= now_ms - self.created_ms

    def done(
        self,
        base_offset: int,
        log_append_time: int,
        error: BaseException | None = None,
        record_errors: Mapping[int, BaseException] | None = None,
    ) -> bool:
        """
        Complete the batch: wake whoever waits on its records, then call their
        callbacks in append order, each with C{(metadata, None)} or C{(None, error)};
        a callback that raises is logged and the others still run.

        @param base_offset: the offset of the first record, -1 if unknown.
        @param log_append_time: the broker's append time, or -1.
        @param error: the error the batch failed with, or C{None}.
        @param record_errors: the errors of single records by index, if any.
        @return: C{False} if the batch was completed already (say it expired and its
            answer came late): nothing changes then.
        """
        state = FinalState.SUCCEEDED if error is None else FinalState.FAILED
        return self._complete(state, base_offset, log_append_time, error, record_errors)

    def abort(self, error: BaseException) -> bool:
        """
        Fail the batch without an answer from the broker.

        @param error: the error every record fails with.
        @return: C{False} if the batch was completed already.
        """
        return self._complete(FinalState.ABORTED, -1, NO_TIMESTAMP, error, None)

    def _complete(
        self,
        state: FinalState,
        base_offset: int,
        log_append_time: int,
        error: BaseException | None,
        record_errors: Mapping[int, BaseException] | None,
    ) -> bool:
        result = self.produce_future
        entries = result._set(base_offset, log_append_time, error, record_errors)
        if entries is None:
            _log.debug(
                "Ignoring {state} for a batch of {topic_partition}: it is {final}",
                state=state.value,
                topic_partition=str(self.topic_partition),
                final=getattr(self._final_state, "value", None),
            )
            return False
        self._final_state = state
        result._fire(entries)
        return True

    def __repr__(self) -> str:
        return (
            f"<ProducerBatch {self.topic_partition} records={self.record_count}"
            f" created_ms={self.created_ms} attempts={self.attempts}"
            f" state={getattr(self._final_state, 'value', None)}>"
        )
