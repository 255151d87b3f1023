"""
The futures of a producer batch's records (Kafka's C{ProduceRequestResult} and
C{FutureRecordMetadata}).

Each L{ProducerBatch<odradek.client.producer.batch.ProducerBatch>} has one
L{ProduceRequestResult}, completed once; each of its records has one small
L{FutureRecordMetadata} over it and at most one callback entry: no Deferred per
record. Waiters block on a C{threading.Event}; callbacks run on the thread that
completes the batch.

The batch reaches into its result (C{_callbacks}, C{_set}, C{_fire}) to add a
record's callback without the lock while it is open, and to record how it ended
between completing the result and calling the callbacks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from twisted.logger import Logger

from odradek.client.errors import RequestTimedOutError
from odradek.client.records.layout import NO_TIMESTAMP
from odradek.client.structs import RecordMetadata, TopicPartition

__all__ = ["Callback", "FutureRecordMetadata", "ProduceRequestResult"]

_log = Logger()

Callback = Callable[[RecordMetadata | None, BaseException | None], object]
"""
A record's callback: called with C{(metadata, None)} or C{(None, error)} on the
thread that completes the batch.
"""

_Entries = list[tuple[Callback, "FutureRecordMetadata"]]


class ProduceRequestResult:
    """
    The outcome of one batch, shared by its records' futures: completed once from
    any thread, awaited from any other.

    @ivar topic_partition: the batch's partition.
    @ivar base_offset: the offset of the batch's first record, or -1 (before
        completion, on failure, with C{acks=0}).
    @ivar log_append_time: the broker's append time on a LogAppendTime topic, or -1.
    @ivar error: the error the batch failed with, or C{None}.
    @ivar record_errors: for a batch rejected because of some records (KIP-467), their
        own errors by index in the batch; the others failed with C{error}.
    """

    __slots__ = (
        "_callbacks",
        "_event",
        "_lock",
        "base_offset",
        "error",
        "log_append_time",
        "record_errors",
        "topic_partition",
    )

    def __init__(self, topic_partition: TopicPartition) -> None:
        """@param topic_partition: the batch's partition."""
        self.topic_partition = topic_partition
        self.base_offset = -1
        self.log_append_time = NO_TIMESTAMP
        self.error: BaseException | None = None
        self.record_errors: Mapping[int, BaseException] | None = None
        self._event = threading.Event()
        self._lock = threading.Lock()
        # (callback, future) entries in append order; None once completed.
        self._callbacks: _Entries | None = []

    def done(self) -> bool:
        """@return: whether the result was completed."""
        return self._event.is_set()

    def wait(self, timeout_seconds: float | None = None) -> bool:
        """
        Block the calling thread until the result is completed.

        @param timeout_seconds: the longest wait, or C{None} to wait for ever.
        @return: whether it was completed in time.
        """
        return self._event.wait(timeout_seconds)

    def error_for(self, index: int) -> BaseException | None:
        """
        @param index: a record's index in the batch (its relative offset).
        @return: the error that record failed with, or C{None}.
        """
        if self.error is None or self.record_errors is None:
            return self.error
        return self.record_errors.get(index, self.error)

    def complete(
        self,
        base_offset: int,
        log_append_time: int,
        error: BaseException | None = None,
        record_errors: Mapping[int, BaseException] | None = None,
    ) -> bool:
        """
        Complete the result, wake the waiters, then call the records' callbacks in
        append order; a callback that raises is logged and the others still run.

        @param base_offset: the offset of the batch's first record, or -1.
        @param log_append_time: the broker's append time, or -1.
        @param error: the error the batch failed with, or C{None}.
        @param record_errors: errors of single records by index, if any.
        @return: C{False} if it was completed already; nothing changes then.
        """
        entries = self._set(base_offset, log_append_time, error, record_errors)
        if entries is None:
            return False
        self._fire(entries)
        return True

    def _set(
        self,
        base_offset: int,
        log_append_time: int,
        error: BaseException | None,
        record_errors: Mapping[int, BaseException] | None,
    ) -> _Entries | None:
        with self._lock:
            entries = self._callbacks
            if entries is None:
                return None
            self.base_offset = base_offset
            self.log_append_time = log_append_time
            self.error = error
            self.record_errors = record_errors
            self._callbacks = None
        return entries

    def _fire(self, entries: _Entries) -> None:
        self._event.set()
        for callback, future in entries:
            _run_callback(callback, future)

    def add_callback(self, callback: Callback, future: FutureRecordMetadata) -> None:
        """
        Call C{callback} with the outcome of C{future}'s record on completion, or now
        if completed.

        @param callback: the function to call.
        @param future: a future over this result.
        """
        with self._lock:
            entries = self._callbacks
            if entries is not None:
                entries.append((callback, future))
                return
        _run_callback(callback, future)


def _run_callback(callback: Callback, future: FutureRecordMetadata) -> None:
    error = future._result.error_for(future._relative_offset)
    try:
        if error is None:
            callback(future.value(), None)
        else:
            callback(None, error)
    except Exception:
        _log.failure(
            "Producer callback for a record of {topic_partition} raised",
            topic_partition=str(future._result.topic_partition),
        )


class FutureRecordMetadata:
    """
    What C{send} returns for one record: its L{RecordMetadata} once its batch is
    acknowledged. Safe to use from any thread.
    """

    __slots__ = (
        "_key_size",
        "_relative_offset",
        "_result",
        "_timestamp",
        "_value_size",
    )

    def __init__(
        self,
        result: ProduceRequestResult,
        relative_offset: int,
        timestamp: int,
        key_size: int,
        value_size: int,
    ) -> None:
        """
        @param result: the batch's result.
        @param relative_offset: the record's index in the batch.
        @param timestamp: the record's create timestamp.
        @param key_size: the serialized key's size, -1 for a null key.
        @param value_size: the serialized value's size, -1 for a null value.
        """
        self._result = result
        self._relative_offset = relative_offset
        self._timestamp = timestamp
        self._key_size = key_size
        self._value_size = value_size

    @property
    def topic_partition(self) -> TopicPartition:
        """The record's partition."""
        return self._result.topic_partition

    def done(self) -> bool:
        """@return: whether the record's batch was completed, with success or not."""
        return self._result.done()

    def _wait(self, timeout: float | None) -> None:
        if not self._result.wait(timeout):
            raise RequestTimedOutError(
                f"the record for {self._result.topic_partition} was not acknowledged"
                f" within the {timeout} seconds waited (the send may still succeed)"
            )

    def get(self, timeout: float | None = None) -> RecordMetadata:
        """
        Block until the record's batch completes.

        @param timeout: the longest wait in seconds, or C{None} to wait for ever.
        @return: the record's metadata.
        @raise RequestTimedOutError: if the batch did not complete in time.
        @raise BaseException: the error the record failed with.
        """
        self._wait(timeout)
        error = self._result.error_for(self._relative_offset)
        if error is not None:
            raise error
        return self.value()

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """
        Block until the record's batch completes.

        @param timeout: the longest wait in seconds, or C{None} to wait for ever.
        @return: the error the record failed with, or C{None} if it succeeded.
        @raise RequestTimedOutError: if the batch did not complete in time.
        """
        self._wait(timeout)
        return self._result.error_for(self._relative_offset)

    def add_done_callback(self, fn: Callback) -> None:
        """
        Call C{fn(metadata, None)} or C{fn(None, error)} when the record completes,
        on the completing thread; at once if it has completed.

        @param fn: the function to call; what it raises is logged.
        """
        self._result.add_callback(fn, self)

    def value(self) -> RecordMetadata:
        """
        The record's metadata, without waiting (meaningful once the batch succeeded).

        @return: the metadata; the offset is -1 when the base offset is unknown
            (C{acks=0}), the timestamp the log append time if the broker set one.
        """
        result = self._result
        base_offset = result.base_offset
        log_append_time = result.log_append_time
        tp = result.topic_partition
        return RecordMetadata(
            tp.topic,
            tp.partition,
            -1 if base_offset == -1 else base_offset + self._relative_offset,
            self._timestamp if log_append_time == NO_TIMESTAMP else log_append_time,
            self._key_size,
            self._value_size,
        )
