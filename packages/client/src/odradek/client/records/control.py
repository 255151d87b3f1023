"""
Control records: records of a control batch (attribute bit 5) that a consumer never
sees, such as the markers ending a transaction.

A control record's key is a big-endian int16 version (0) and int16 type. The value of
an end-transaction marker (types ABORT and COMMIT) is an int16 version (0) and the
int32 epoch of the transaction coordinator that wrote it. As in Kafka, a key or marker
value with a version above 0 is read as version 0, and a negative version is an error.
"""

from __future__ import annotations

import struct
from enum import IntEnum

import attrs

from odradek.client.errors import InvalidRecordError
from odradek.client.records.builder import RecordBatchBuilder
from odradek.client.records.layout import NO_PARTITION_LEADER_EPOCH, Record

__all__ = [
    "ControlRecordType",
    "EndTransactionMarker",
    "build_end_transaction_marker_batch",
]

_KEY = struct.Struct(">hh")
_MARKER_VALUE = struct.Struct(">hi")
_CONTROL_KEY_VERSION = 0
_END_TXN_MARKER_VERSION = 0


class ControlRecordType(IntEnum):
    """
    The type in a control record's key.
    """

    ABORT = 0
    COMMIT = 1
    LEADER_CHANGE = 2
    SNAPSHOT_HEADER = 3
    SNAPSHOT_FOOTER = 4
    KRAFT_VERSION = 5
    KRAFT_VOTERS = 6
    UNKNOWN = -1
    """A type this release does not know; readers skip such records."""

    @classmethod
    def parse(cls, key: bytes | None) -> ControlRecordType:
        """
        Read the type out of a control record's key.

        @param key: the record's key.
        @return: the type, L{UNKNOWN} for a type this release does not know.
        @raise InvalidRecordError: if the key is null, shorter than 4 bytes, or has a
            negative version.
        """
        if key is None or len(key) < _KEY.size:
            size = "null" if key is None else f"{len(key)} bytes"
            raise InvalidRecordError(
                f"control record key must have at least {_KEY.size} bytes, found {size}"
            )
        version, type_id = _KEY.unpack_from(key)
        if version < 0:
            raise InvalidRecordError(
                f"control record key has invalid version {version}"
            )
        try:
            return cls(type_id)
        except ValueError:
            return cls.UNKNOWN

    def encode_key(self) -> bytes:
        """
        @return: the key of a control record of this type.
        @raise ValueError: for L{UNKNOWN}, which has no encoding.
        """
        if self is ControlRecordType.UNKNOWN:
            raise ValueError("the UNKNOWN control record type cannot be written")
        return _KEY.pack(_CONTROL_KEY_VERSION, self)


@attrs.frozen
class EndTransactionMarker:
    """
    The control record a transaction coordinator has each partition leader write when
    a transaction commits or aborts.

    @ivar control_type: L{ControlRecordType.COMMIT} or L{ControlRecordType.ABORT}.
    @ivar coordinator_epoch: the epoch of the coordinator that wrote the marker.
    """

    control_type: ControlRecordType = attrs.field(converter=ControlRecordType)
    coordinator_epoch: int

    @control_type.validator
    def _check_control_type(self, attribute: object, value: ControlRecordType) -> None:
        """
        @raise ValueError: for a type other than COMMIT and ABORT.
        """
        if value not in (ControlRecordType.COMMIT, ControlRecordType.ABORT):
            raise ValueError(f"{value!r} is not an end transaction marker type")

    def encode_key(self) -> bytes:
        """
        @return: the control record key for the marker.
        """
        return self.control_type.encode_key()

    def encode_value(self) -> bytes:
        """
        @return: the control record value for the marker.
        """
        return _MARKER_VALUE.pack(_END_TXN_MARKER_VERSION, self.coordinator_epoch)

    @classmethod
    def from_record(cls, record: Record) -> EndTransactionMarker:
        """
        Decode a marker from a record of a control batch.

        @param record: the control record.
        @return: the marker.
        @raise InvalidRecordError: if the key or value does not decode, or the record
            is a control record of another type.
        """
        control_type = ControlRecordType.parse(record.key)
        if control_type not in (ControlRecordType.COMMIT, ControlRecordType.ABORT):
            raise InvalidRecordError(
                f"control record at offset {record.offset} is {control_type.name}, not"
                " an end transaction marker"
            )
        value = record.value
        if value is None or len(value) < _MARKER_VALUE.size:
            size = "null" if value is None else f"{len(value)} bytes"
            raise InvalidRecordError(
                f"end transaction marker at offset {record.offset} must have a value of"
                f" at least {_MARKER_VALUE.size} bytes, found {size}"
            )
        version, coordinator_epoch = _MARKER_VALUE.unpack_from(value)
        if version < 0:
            raise InvalidRecordError(
                f"end transaction marker at offset {record.offset} has invalid version"
                f" {version}"
            )
        return cls(control_type, coordinator_epoch)


def build_end_transaction_marker_batch(
    marker: EndTransactionMarker,
    *,
    producer_id: int,
    producer_epoch: int,
    timestamp: int,
    base_offset: int = 0,
    partition_leader_epoch: int = NO_PARTITION_LEADER_EPOCH,
) -> bytes:
    """
    Encode the control batch holding one end-transaction marker, as a partition leader
    appends it for C{WriteTxnMarkers}: transactional, control, uncompressed, without a
    sequence number.

    @param marker: the marker.
    @param producer_id: the transactional producer's id.
    @param producer_epoch: its epoch.
    @param timestamp: the marker's timestamp, milliseconds since the epoch.
    @param base_offset: the offset the marker takes.
    @param partition_leader_epoch: the leader's epoch.
    @return: the batch.
    """
    builder = RecordBatchBuilder(
        base_offset=base_offset,
        partition_leader_epoch=partition_leader_epoch,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        is_transactional=True,
        is_control_batch=True,
    )
    builder.append(timestamp, marker.encode_key(), marker.encode_value())
    return builder.build()
