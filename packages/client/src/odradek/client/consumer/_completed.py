"""
A partition's fetched data, L{CompletedFetch}: the record batches one Fetch
returned for one partition, handed out as L{ConsumerRecord}s only when asked for
(Kafka's C{CompletedFetch}); and L{FetchBuffer}, which holds the completed fetches
and hands their records out.

Records are decoded only as they are handed out, a slice of a batch at a time,
straight into consumer records (L{odradek.client.consumer._decoding}): a record
lives from the poll that returns it to the application's dropping it, and the
garbage collector, which examines every object that outlives a collection, has
little to examine. Keys and values are deserialized then, the bytes deserializer
skipped. For C{read_committed}, batches of
aborted transactions are dropped by Kafka's algorithm; control batches are never
returned, whatever the isolation level, but their offsets move the position on.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable, Iterator, Sequence

import attrs
from twisted.logger import Logger

from odradek.client import errors
from odradek.client.consumer._decoding import RecordDecoder
from odradek.client.consumer.subscription import FetchPosition, SubscriptionState
from odradek.client.records import (
    RECORD_BATCH_OVERHEAD,
    CompressionType,
    ControlRecordType,
    DefaultRecordBatch,
    RecordBatchReader,
    decompress,
)
from odradek.client.records.layout import LOG_OVERHEAD
from odradek.client.serialization import (
    BytesDeserializer,
    IDeserializer,
    SerializationError,
)
from odradek.client.structs import ConsumerRecord, TopicPartition

__all__ = [
    "CompletedFetch",
    "FetchBuffer",
    "RecordDeserializationError",
    "has_complete_batch",
    "record_too_large",
]

_log = Logger()

_Deserialize = Callable[[str, bytes | None], object]
_MIN_SLICE = 64
"""The fewest records decoded at a time, however few are asked for."""
_BATCH_LENGTH = struct.Struct(">i")


def has_complete_batch(records: bytes) -> bool:
    """@return: whether fetched C{records} begin with a whole batch."""
    if len(records) < LOG_OVERHEAD:
        return False
    length: int = _BATCH_LENGTH.unpack_from(records, LOG_OVERHEAD - 4)[0]
    return LOG_OVERHEAD + length <= len(records)


def record_too_large(
    tp: TopicPartition, offset: int, max_bytes: int
) -> errors.RecordTooLargeError:
    """@return: the error of a fetch of C{tp} that returned no whole batch."""
    return errors.RecordTooLargeError(
        f"There are some messages at [Partition=Offset]: {{{tp}={offset}}} whose"
        f" size is larger than the fetch size {max_bytes} and hence cannot be"
        " returned. Increase the fetch size on the client (using"
        " max.partition.fetch.bytes), or decrease the maximum message size the"
        " broker will allow (using message.max.bytes)."
    )


class RecordDeserializationError(SerializationError):
    """
    A fetched record's key or value did not deserialize. The consumer's position
    stays at that record: seek past it (C{offset + 1}) to go on.

    @ivar partition: the record's partition.
    @ivar offset: the record's offset.
    """

    def __init__(self, message: str, topic: str, partition: int, offset: int) -> None:
        """
        @param message: what went wrong.
        @param topic: the record's topic.
        @param partition: its partition.
        @param offset: its offset.
        """
        super().__init__(message, topic)
        self.partition = partition
        self.offset = offset

    @property
    def topic_partition(self) -> TopicPartition:
        """The record's topic and partition."""
        return TopicPartition(self.topic, self.partition)


def _deserializer(deserializer: IDeserializer | None) -> _Deserialize | None:
    if deserializer is None or type(deserializer) is BytesDeserializer:
        return None
    return deserializer.deserialize


@attrs.define(eq=False)
class CompletedFetch:
    """
    The data one Fetch returned for one partition, or an error to report for it.

    @ivar tp: the partition.
    @ivar fetch_offset: the offset the fetch asked for.
    @ivar records: the record batches returned; a last batch cut short is ignored.
    @ivar key_deserializer: the key deserializer; C{None} or the bytes
        deserializer hand keys out as they are.
    @ivar value_deserializer: the same for values.
    @ivar check_crcs: whether to check each batch's CRC-32C (C{check.crcs}).
    @ivar aborted_transactions: for C{read_committed}, the (producer id, first
        offset) of the transactions aborted in the data; C{None} hands out every
        data record (C{read_uncommitted}).
    @ivar error: an error the fetch ended with, to raise once when the fetch is
        reached instead of handing out records.
    @ivar next_fetch_offset: the offset after what was handed out (or skipped).
    @ivar last_epoch: the leader epoch of the last batch handed out, or C{None}.
    @ivar consumed: whether everything was handed out.
    """

    tp: TopicPartition
    fetch_offset: int
    records: bytes = b""
    key_deserializer: IDeserializer | None = None
    value_deserializer: IDeserializer | None = None
    check_crcs: bool = True
    aborted_transactions: Sequence[tuple[int, int]] | None = None
    error: errors.KafkaError | None = None
    next_fetch_offset: int = attrs.field(init=False)
    last_epoch: int | None = attrs.field(init=False, default=None)
    consumed: bool = attrs.field(init=False, default=False)
    _batches: Iterator[DefaultRecordBatch] = attrs.field(init=False)
    _decoder: RecordDecoder | None = attrs.field(init=False, default=None)
    _pending: list[ConsumerRecord] = attrs.field(init=False, factory=list)
    _taken: int = attrs.field(init=False, default=0)
    _batch_end: int = attrs.field(init=False, default=0)
    _failure: BaseException | None = attrs.field(init=False, default=None)
    _aborted: deque[tuple[int, int]] = attrs.field(init=False, factory=deque)
    _aborted_producers: set[int] = attrs.field(init=False, factory=set)

    def __attrs_post_init__(self) -> None:
        self.next_fetch_offset = self.fetch_offset
        self._batches = iter(RecordBatchReader(self.records))
        if self.aborted_transactions:
            ordered = sorted(self.aborted_transactions, key=lambda each: each[1])
            self._aborted.extend(ordered)

    def end_offset(self) -> int | None:
        """
        @return: the offset after the last complete batch of the data (where
            the next fetch may start while this data is handed out), or C{None}
            for an error or no complete batch.
        """
        if self.error is not None:
            return None
        end = None
        for batch in RecordBatchReader(self.records):
            end = batch.next_offset
        return end

    @property
    def read_committed(self) -> bool:
        """Whether records of aborted transactions are dropped."""
        return self.aborted_transactions is not None

    def drain(self) -> None:
        """Drop what is left: nothing more is handed out."""
        self.consumed = True
        self._pending = []
        self._taken = 0
        self._failure = None
        self._decoder = None

    def fetch_records(self, max_records: int) -> list[ConsumerRecord]:
        """
        Hand out the next records, decoding batches as needed, and move
        L{next_fetch_offset} past them.

        A record that fails (a corrupt batch, a record that does not decode or
        deserialize) stops the records at the one before it: those are returned,
        and this call or the next raises, and every call after that, until the
        fetch is drained (the application seeks).

        @param max_records: the most records to return.
        @return: up to C{max_records} records; none once L{consumed}.
        @raise errors.CorruptRecordError: for a batch whose CRC does not match or
            that does not decompress.
        @raise errors.InvalidRecordError: for records that do not decode.
        @raise RecordDeserializationError: for a key or value that does not
            deserialize.
        """
        records: list[ConsumerRecord] = []
        while len(records) < max_records and not self.consumed:
            pending = self._pending
            taken = self._taken
            if taken < len(pending):
                wanted = max_records - len(records)
                if taken == 0 and len(pending) <= wanted:
                    chunk = pending
                else:
                    chunk = pending[taken : taken + wanted]
                if records:
                    records.extend(chunk)
                else:
                    records = chunk
                self._taken = taken = taken + len(chunk)
                last = chunk[-1]
                self.next_fetch_offset = last.offset + 1
                self.last_epoch = last.leader_epoch
                if (
                    taken == len(pending)
                    and self._decoder is None
                    and self._failure is None
                ):
                    # Compaction may have removed the batch's last records.
                    self.next_fetch_offset = max(last.offset + 1, self._batch_end)
                continue
            if self._failure is not None:
                if records:
                    break
                raise self._failure
            if not self._decode_more(max_records - len(records)):
                self.consumed = True
        return records

    def _decode_more(self, wanted: int) -> bool:
        """
        Decode the next records to hand out into L{_pending}, from the batch being
        decoded or the next one that has records to hand out, or record the
        failure met on the way.

        @param wanted: how many records are asked for.
        @return: whether records or a failure are pending; C{False} at the end.
        """
        try:
            while True:
                decoder = self._decoder
                if decoder is None:
                    decoder = self._decoder = self._next_batch()
                    if decoder is None:
                        return False
                records = self._decode(decoder, max(wanted, _MIN_SLICE))
                if decoder.done:
                    self._decoder = None
                if records or self._failure is not None:
                    self._pending = records
                    self._taken = 0
                    return True
                if self._decoder is None:
                    self.next_fetch_offset = max(
                        self.next_fetch_offset, self._batch_end
                    )
        except errors.KafkaError as e:
            self._decoder = None
            self._failure = _wrapped(self.tp, e)
            return True

    def _next_batch(self) -> RecordDecoder | None:
        """
        @return: the decoder of the next batch that has records to hand out, or
            C{None} at the end.
        @raise errors.CorruptRecordError: for a batch whose CRC does not match or
            that does not decompress.
        """
        for batch in self._batches:
            if self.check_crcs and not batch.is_valid():
                batch.validate()
            if self._skipped(batch):
                self.next_fetch_offset = max(self.next_fetch_offset, batch.next_offset)
                self.last_epoch = _epoch(batch)
                continue
            self._batch_end = batch.next_offset
            return RecordDecoder(
                batch, _uncompressed(batch), self.tp.topic, self.tp.partition
            )
        return None

    def _skipped(self, batch: DefaultRecordBatch) -> bool:
        """
        @return: whether C{batch} has nothing to hand out: a control batch, or for
            C{read_committed} a batch of an aborted transaction.
        """
        if self.read_committed and batch.has_producer_id:
            # Transactions that began before the batch ended may cover it.
            aborted = self._aborted
            last_offset = batch.last_offset
            while aborted and aborted[0][1] <= last_offset:
                self._aborted_producers.add(aborted.popleft()[0])
            if batch.is_control_batch:
                if _is_abort_marker(batch):
                    self._aborted_producers.discard(batch.producer_id)
            elif batch.is_transactional:
                return batch.producer_id in self._aborted_producers
        return batch.is_control_batch

    def _decode(self, decoder: RecordDecoder, most: int) -> list[ConsumerRecord]:
        """
        @return: the next records of C{decoder}, up to C{most}, those at or after
            L{next_fetch_offset}, deserialized; those before a key or value that
            failed to deserialize, with L{_failure} set.
        """
        records = decoder.decode(most)
        start = self.next_fetch_offset
        if records and records[0].offset < start:
            # A compressed batch, or a fetch from inside a batch.
            records = [record for record in records if record.offset >= start]
        key = _deserializer(self.key_deserializer)
        value = _deserializer(self.value_deserializer)
        if key is None and value is None:
            return records
        return self._deserialize(records, key, value)

    def _deserialize(
        self,
        records: list[ConsumerRecord],
        key: _Deserialize | None,
        value: _Deserialize | None,
    ) -> list[ConsumerRecord]:
        topic = self.tp.topic
        for index, record in enumerate(records):
            try:
                if key is not None:
                    record.key = key(topic, record.key)  # type: ignore[arg-type]
                if value is not None:
                    record.value = value(topic, record.value)  # type: ignore[arg-type]
            except Exception as e:
                failure = RecordDeserializationError(
                    f"Error deserializing key/value for partition {self.tp} at offset"
                    f" {record.offset}. If needed, please seek past the record to"
                    f" continue consumption: {e}",
                    topic,
                    self.tp.partition,
                    record.offset,
                )
                failure.__cause__ = e
                self._failure = failure
                return records[:index]
        return records


def _epoch(batch: DefaultRecordBatch) -> int | None:
    epoch = batch.partition_leader_epoch
    return epoch if epoch >= 0 else None


def _uncompressed(batch: DefaultRecordBatch) -> bytes:
    """
    @return: the records of C{batch}, decompressed.
    @raise errors.CorruptRecordError: if they do not decompress.
    """
    body = batch.buffer[RECORD_BATCH_OVERHEAD:]
    compression = batch.compression_type
    if compression is CompressionType.NONE:
        return body.tobytes()
    try:
        return decompress(compression, body)
    except errors.CorruptRecordError as e:
        raise errors.CorruptRecordError(f"{batch.describe()}: {e.message}") from None


def _is_abort_marker(batch: DefaultRecordBatch) -> bool:
    for record in batch:
        return ControlRecordType.parse(record.key) is ControlRecordType.ABORT
    return False


def _wrapped(tp: TopicPartition, error: errors.KafkaError) -> errors.KafkaError:
    """
    @return: C{error} again, of its Kafka class, saying which partition failed and
        what to do.
    """
    kind = errors.error_for_code(error.code) if error.code != -1 else type(error)
    wrapped = kind(
        f"Received exception when fetching the next record from {tp}. If needed,"
        f" please seek past the record to continue consumption: {error.message}"
    )
    wrapped.__cause__ = error
    return wrapped


@attrs.define(eq=False)
class FetchBuffer:
    """
    The completed fetches waiting to be handed out, in the order they arrived,
    and the handing out: one partition's fetched data after the other (Kafka's
    C{FetchBuffer} and C{FetchCollector}).

    @ivar subscriptions: the assignment and positions, which L{collect} moves on.
    """

    subscriptions: SubscriptionState
    _completed: deque[CompletedFetch] = attrs.field(init=False, factory=deque)
    _next_in_line: CompletedFetch | None = attrs.field(init=False, default=None)
    _drained: dict[TopicPartition, int] = attrs.field(init=False, factory=dict)
    _drains: int = attrs.field(init=False, default=0)

    def add(self, fetch: CompletedFetch) -> None:
        """Buffer a partition's fetched data (or error) behind the others."""
        self._completed.append(fetch)

    def clear(self) -> None:
        """Drop everything buffered."""
        self._completed.clear()
        self._next_in_line = None

    def buffered_partitions(self) -> set[TopicPartition]:
        """
        @return: the partitions with fetched data (or an error) not yet handed
            out, for their current position: data for a position left behind
            (after a seek) is dropped when reached, and counts for nothing.
        """
        buffered = {
            fetch.tp
            for fetch in self._completed
            if self.is_current(fetch.tp, fetch.next_fetch_offset)
        }
        line = self._next_in_line
        if (
            line is not None
            and not line.consumed
            and self.is_current(line.tp, line.next_fetch_offset)
        ):
            buffered.add(line.tp)
        return buffered

    def ahead_offset(self, tp: TopicPartition) -> int | None:
        """
        @return: where a fetch of C{tp} may start while its buffered data is
            handed out: after the one current, error-free fetched data buffered
            for it; C{None} when there is none, or more than one.
        """
        found = [
            fetch for fetch in self._completed if fetch.tp == tp and not fetch.consumed
        ]
        line = self._next_in_line
        if line is not None and line.tp == tp and not line.consumed:
            found.append(line)
        if len(found) != 1 or not self.is_current(tp, found[0].next_fetch_offset):
            return None
        return found[0].end_offset()

    def drain_order(self, tp: TopicPartition) -> int:
        """
        @return: a key that sorts partitions whose data was handed out longest
            ago (or never) first, so that each gets its turn in fetches (Kafka's
            C{movePartitionToEnd}).
        """
        return self._drained.get(tp, 0)

    def has_available(self) -> bool:
        """
        @return: whether L{collect} has records or an error to give (possibly
            records of partitions since paused or sought, which it keeps or drops).
        """
        line = self._next_in_line
        return bool(self._completed) or (line is not None and not line.consumed)

    def is_current(self, tp: TopicPartition, offset: int) -> bool:
        """@return: whether C{tp} is still assigned and at C{offset}."""
        subscriptions = self.subscriptions
        if not subscriptions.is_assigned(tp):
            return False
        position = subscriptions.position(tp)
        return position is not None and position.offset == offset

    def collect(self, max_records: int) -> list[ConsumerRecord]:
        """
        Hand out up to C{max_records} buffered records, as L{Fetcher.collect
        <odradek.client.consumer.fetcher.Fetcher.collect>} says.

        @param max_records: the most records to return.
        @return: the records, maybe none.
        @raise errors.KafkaError: the error buffered for a partition, or met
            handing out its records (see L{CompletedFetch.fetch_records}).
        @raise RecordDeserializationError: for a key or value the deserializer
            refused.
        """
        records: list[ConsumerRecord] = []
        paused: list[CompletedFetch] = []
        try:
            while len(records) < max_records:
                fetch = self._next_in_line
                if fetch is None or fetch.consumed:
                    self._next_in_line = None
                    if not self._completed:
                        break
                    fetch = self._completed[0]
                    if fetch.error is not None:
                        if records:
                            break
                        self._completed.popleft()
                        if self.is_current(fetch.tp, fetch.fetch_offset):
                            raise fetch.error
                        continue
                    self._next_in_line = self._completed.popleft()
                elif self.subscriptions.is_paused(fetch.tp):
                    paused.append(fetch)
                    self._next_in_line = None
                else:
                    taken = self._fetch_records(fetch, max_records - len(records))
                    if records:
                        records.extend(taken)
                    else:
                        records = taken
        except (errors.KafkaError, SerializationError):
            if not records:
                raise
        finally:
            self._completed.extend(paused)
        return records

    def _fetch_records(
        self, fetch: CompletedFetch, max_records: int
    ) -> list[ConsumerRecord]:
        tp = fetch.tp
        subscriptions = self.subscriptions
        position = (
            subscriptions.position(tp) if subscriptions.is_fetchable(tp) else None
        )
        if position is None or position.offset != fetch.next_fetch_offset:
            _log.debug(
                "Dropping fetched records of {tp} at offset {offset}: the"
                " partition is no longer fetchable there",
                tp=tp,
                offset=fetch.next_fetch_offset,
            )
            fetch.drain()
            return []
        try:
            return fetch.fetch_records(max_records)
        finally:
            if fetch.next_fetch_offset > position.offset:
                subscriptions.set_position(
                    tp, FetchPosition(fetch.next_fetch_offset, fetch.last_epoch)
                )
            if fetch.consumed:
                self._drains += 1
                self._drained[tp] = self._drains
