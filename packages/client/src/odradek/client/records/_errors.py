"""
The more precise errors of the record format, each a subclass of the Kafka error that
a broker answers with for it.
"""

from __future__ import annotations

from odradek.client.errors import CorruptRecordError

__all__ = ["ChecksumMismatchError"]


class ChecksumMismatchError(CorruptRecordError):
    """
    A record batch's stored CRC-32C differs from the one computed over its bytes: the
    batch was damaged on the way or on disk. Kafka answers C{CORRUPT_MESSAGE}.

    @ivar base_offset: the batch's base offset.
    @ivar position: where the batch starts in the buffer it was read from.
    @ivar stored_crc: the CRC the batch header holds.
    @ivar computed_crc: the CRC of the batch's bytes.
    """

    def __init__(
        self, base_offset: int, position: int, stored_crc: int, computed_crc: int
    ) -> None:
        """
        @param base_offset: the batch's base offset.
        @param position: where the batch starts in its buffer.
        @param stored_crc: the CRC the batch header holds.
        @param computed_crc: the CRC of the batch's bytes.
        """
        super().__init__(
            f"record batch at position {position} (base offset {base_offset}) is"
            f" corrupt: stored crc = {stored_crc:#010x}, computed crc ="
            f" {computed_crc:#010x}"
        )
        self.base_offset = base_offset
        self.position = position
        self.stored_crc = stored_crc
        self.computed_crc = computed_crc
