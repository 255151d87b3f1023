"""
L{ProducerStateManager}: what a partition remembers of each idempotent producer, to
fence stale epochs, refuse sequence gaps and recognise retried batches.

The rules are Kafka's (since KIP-360): a producer id the partition does not know may
start at any sequence (its records may have been deleted by retention), a new epoch
must start at sequence 0, a smaller epoch is fenced with C{INVALID_PRODUCER_EPOCH},
and within an epoch each batch must follow the last one, sequences wrapping from
2**31 - 1 to 0. A batch equal to one of the last five of its producer is a retry: the
append is answered with the original offsets and writes nothing. The broker never
answers C{UNKNOWN_PRODUCER_ID} from here, as Kafka no longer does.

The state survives restarts through snapshot files, C{<offset>.snapshot} (20 digits),
taken when a segment rolls and when the log closes; loading takes the latest snapshot
at or before the log end and replays the batch headers after it.

Transactions (markers, the last stable offset, aborted transaction indexes) are not
tracked yet: the transaction coordinator is not built.
"""

from __future__ import annotations

import collections
import contextlib
import os
import struct
from collections.abc import Iterable, Sequence
from typing import Final, Protocol

import attrs
from crc32c import crc32c

from odradek.broker.log.files import list_snapshots, snapshot_path
from odradek.client.errors import InvalidProducerEpochError, OutOfOrderSequenceError

__all__ = [
    "BatchMetadata",
    "ProducerStateEntry",
    "ProducerStateManager",
]

NUM_BATCHES_TO_RETAIN: Final = 5
_INT32_MAX: Final = 0x7FFFFFFF
_VERSION: Final = 1
_FILE_HEADER = struct.Struct(">hIi")  # version, crc of the rest, entry count
_ENTRY = struct.Struct(">qhiqqb")
_BATCH = struct.Struct(">iiqqq")


class ProducerBatch(Protocol):
    """
    What the manager reads of a batch: L{BatchInfo} on append,
    L{odradek.broker.log._scan.BatchHeader} when replaying the log.
    """

    @property
    def producer_id(self) -> int:
        """The producer id, or -1."""

    @property
    def producer_epoch(self) -> int:
        """The producer epoch."""

    @property
    def base_sequence(self) -> int:
        """The first record's sequence."""

    @property
    def last_sequence(self) -> int:
        """The last record's sequence."""

    @property
    def base_offset(self) -> int:
        """The first offset."""

    @property
    def last_offset(self) -> int:
        """The last offset."""

    @property
    def max_timestamp(self) -> int:
        """The batch's max timestamp."""


@attrs.frozen
class BatchMetadata:
    """
    What is kept of one of a producer's recent batches.

    @ivar first_seq: the first record's sequence.
    @ivar last_seq: the last record's sequence.
    @ivar first_offset: the first record's offset.
    @ivar last_offset: the last record's offset.
    @ivar timestamp: the batch's max timestamp.
    """

    first_seq: int
    last_seq: int
    first_offset: int
    last_offset: int
    timestamp: int


@attrs.define
class ProducerStateEntry:
    """
    The state of one producer id in one partition.

    @ivar producer_id: the producer id.
    @ivar producer_epoch: its current epoch, -1 when unknown.
    @ivar coordinator_epoch: the transaction coordinator's epoch, -1 when unknown.
    @ivar current_txn_first_offset: the first offset of its open transaction, or -1.
    @ivar last_timestamp: the timestamp of its last batch, for expiry.
    @ivar batches: its last batches, oldest first, at most five.
    """

    producer_id: int
    producer_epoch: int = -1
    coordinator_epoch: int = -1
    current_txn_first_offset: int = -1
    last_timestamp: int = -1
    batches: collections.deque[BatchMetadata] = attrs.field(
        factory=lambda: collections.deque(maxlen=NUM_BATCHES_TO_RETAIN)
    )

    @property
    def last_seq(self) -> int:
        """
        @return: the last sequence written, or -1.
        """
        return self.batches[-1].last_seq if self.batches else -1

    def copy(self) -> ProducerStateEntry:
        """
        @return: an independent copy, to update tentatively.
        """
        return attrs.evolve(
            self, batches=collections.deque(self.batches, maxlen=NUM_BATCHES_TO_RETAIN)
        )

    def find_duplicate(
        self, epoch: int, first_seq: int, last_seq: int
    ) -> BatchMetadata | None:
        """
        @return: the retained batch with the same epoch and sequence range, if any.
        """
        if epoch != self.producer_epoch:
            return None
        for batch in self.batches:
            if batch.first_seq == first_seq and batch.last_seq == last_seq:
                return batch
        return None

    def add_batch(self, epoch: int, metadata: BatchMetadata) -> None:
        """
        Remember a batch, forgetting the previous epoch's batches if the epoch
        changed.
        """
        if epoch != self.producer_epoch:
            self.batches.clear()
            self.producer_epoch = epoch
        self.batches.append(metadata)
        self.last_timestamp = metadata.timestamp


def _in_sequence(last_seq: int, next_seq: int) -> bool:
    return next_seq == last_seq + 1 or (next_seq == 0 and last_seq == _INT32_MAX)


@attrs.define(eq=False)
class ProducerStateManager:
    """
    The idempotent producers of one partition.

    @ivar topic_partition: the partition's name, for messages.
    @ivar directory: the partition directory, where snapshots go.
    @ivar producers: the state of each producer id.
    @ivar map_end_offset: the offset up to which the state reflects the log.
    """

    topic_partition: str
    directory: str
    producers: dict[int, ProducerStateEntry] = attrs.field(factory=dict)
    map_end_offset: int = 0

    def check(
        self, batches: Sequence[ProducerBatch]
    ) -> tuple[BatchMetadata | None, dict[int, ProducerStateEntry]]:
        """
        Check an append's batches against each producer's state.

        @param batches: the batches, offsets assigned.
        @return: the original metadata if a batch repeats a retained one (the append
            is then a retry), else C{None}; and the updated entries to L{commit}
            after writing.
        @raise InvalidProducerEpochError: for an epoch below the producer's.
        @raise OutOfOrderSequenceError: for a sequence that does not follow.
        """
        updated: dict[int, ProducerStateEntry] = {}
        for batch in batches:
            pid = batch.producer_id
            if pid < 0:
                continue
            current = self.producers.get(pid)
            if current is not None and pid not in updated:
                duplicate = current.find_duplicate(
                    batch.producer_epoch, batch.base_sequence, batch.last_sequence
                )
                if duplicate is not None:
                    return duplicate, {}
            entry = updated.get(pid)
            if entry is None:
                entry = current.copy() if current else ProducerStateEntry(pid)
                updated[pid] = entry
            self._check_epoch_and_sequence(entry, current, batch)
            entry.add_batch(
                batch.producer_epoch,
                BatchMetadata(
                    batch.base_sequence,
                    batch.last_sequence,
                    batch.base_offset,
                    batch.last_offset,
                    batch.max_timestamp,
                ),
            )
        return None, updated

    def _check_epoch_and_sequence(
        self,
        entry: ProducerStateEntry,
        current: ProducerStateEntry | None,
        batch: ProducerBatch,
    ) -> None:
        epoch, first_seq = batch.producer_epoch, batch.base_sequence
        where = (
            f"producer {batch.producer_id} at offset {batch.base_offset} in"
            f" {self.topic_partition}"
        )
        if epoch < entry.producer_epoch:
            raise InvalidProducerEpochError(
                f"epoch of {where} is {epoch}, smaller than the last seen epoch"
                f" {entry.producer_epoch}"
            )
        if epoch != entry.producer_epoch:
            if first_seq != 0 and entry.producer_epoch != -1:
                raise OutOfOrderSequenceError(
                    f"invalid sequence number for the new epoch {epoch} of {where}:"
                    f" {first_seq} (it must be 0; the current epoch is"
                    f" {entry.producer_epoch})"
                )
            return
        if current is None or current.producer_epoch == -1:
            return
        last_seq = entry.last_seq
        if not _in_sequence(last_seq, first_seq):
            raise OutOfOrderSequenceError(
                f"out of order sequence number for {where}: {first_seq} (incoming),"
                f" {last_seq} (current end sequence number)"
            )

    def commit(self, updated: dict[int, ProducerStateEntry], end_offset: int) -> None:
        """
        Keep the entries L{check} returned, once the append is written.

        @param updated: the entries from L{check}.
        @param end_offset: the log end offset after the append.
        """
        self.producers.update(updated)
        self.map_end_offset = end_offset

    def replay(self, batches: Iterable[ProducerBatch]) -> None:
        """
        Rebuild state from batches already in the log, without validation (they were
        validated when appended).

        @param batches: the batch headers, in log order.
        """
        producers = self.producers
        for batch in batches:
            pid = batch.producer_id
            if pid >= 0:
                entry = producers.get(pid)
                if entry is None:
                    entry = producers[pid] = ProducerStateEntry(pid)
                entry.add_batch(
                    batch.producer_epoch,
                    BatchMetadata(
                        batch.base_sequence,
                        batch.last_sequence,
                        batch.base_offset,
                        batch.last_offset,
                        batch.max_timestamp,
                    ),
                )
            self.map_end_offset = batch.last_offset + 1

    def remove_expired_producers(self, now_ms: int, expiration_ms: int) -> int:
        """
        Forget producers idle for longer than C{producer.id.expiration.ms}.

        @return: how many were forgotten.
        """
        expired = [
            pid
            for pid, entry in self.producers.items()
            if entry.current_txn_first_offset < 0
            and now_ms - entry.last_timestamp >= expiration_ms
        ]
        for pid in expired:
            del self.producers[pid]
        return len(expired)

    # Snapshots.

    def take_snapshot(self) -> str:
        """
        Write the state to C{<map_end_offset>.snapshot}, atomically.

        @return: the snapshot's path.
        """
        body = bytearray()
        for entry in self.producers.values():
            body += _ENTRY.pack(
                entry.producer_id,
                entry.producer_epoch,
                entry.coordinator_epoch,
                entry.current_txn_first_offset,
                entry.last_timestamp,
                len(entry.batches),
            )
            for b in entry.batches:
                body += _BATCH.pack(
                    b.first_seq, b.last_seq, b.first_offset, b.last_offset, b.timestamp
                )
        count = struct.pack(">i", len(self.producers))
        crc = crc32c(bytes(body), crc32c(count))
        data = _FILE_HEADER.pack(_VERSION, crc, len(self.producers)) + body
        path = snapshot_path(self.directory, self.map_end_offset)
        temporary = path + ".tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        return path

    def load_snapshot(self, path: str, offset: int) -> None:
        """
        Replace the state with a snapshot's.

        @raise ValueError: if the file is corrupt.
        """
        with open(path, "rb") as f:
            data = f.read()
        if len(data) < _FILE_HEADER.size:
            raise ValueError(f"producer snapshot {path} is truncated")
        version, crc, count = _FILE_HEADER.unpack_from(data)
        body = memoryview(data)[_FILE_HEADER.size :]
        if version != _VERSION or crc32c(body, crc32c(struct.pack(">i", count))) != crc:
            raise ValueError(f"producer snapshot {path} is corrupt")
        producers: dict[int, ProducerStateEntry] = {}
        position = 0
        for _ in range(count):
            pid, epoch, coordinator, txn, last_ts, n = _ENTRY.unpack_from(
                body, position
            )
            position += _ENTRY.size
            entry = ProducerStateEntry(pid, epoch, coordinator, txn, last_ts)
            for _ in range(n):
                entry.batches.append(BatchMetadata(*_BATCH.unpack_from(body, position)))
                position += _BATCH.size
            producers[pid] = entry
        self.producers = producers
        self.map_end_offset = offset

    def load_latest_snapshot(self, log_end_offset: int) -> int | None:
        """
        Load the latest valid snapshot at or before C{log_end_offset}, deleting later
        and corrupt ones; with none, start empty.

        @return: the offset of the snapshot loaded, or C{None}.
        """
        self.producers = {}
        self.map_end_offset = 0
        offsets = list_snapshots(self.directory)
        for offset in reversed(offsets):
            path = snapshot_path(self.directory, offset)
            if offset > log_end_offset:
                os.unlink(path)
                continue
            try:
                self.load_snapshot(path, offset)
            except (ValueError, struct.error, OSError):
                with contextlib.suppress(OSError):
                    os.unlink(path)
                continue
            return offset
        return None

    def delete_snapshots_before(self, offset: int) -> None:
        """
        Delete the snapshots older than C{offset} (the oldest segment's base offset).
        """
        for snapshot in list_snapshots(self.directory):
            if snapshot < offset:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(snapshot_path(self.directory, snapshot))

    def delete_snapshots_after(self, offset: int) -> None:
        """
        Delete the snapshots later than C{offset} (after a truncation).
        """
        for snapshot in list_snapshots(self.directory):
            if snapshot > offset:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(snapshot_path(self.directory, snapshot))
