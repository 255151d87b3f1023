"""
The field encodings of C{__consumer_offsets} keys and values (Kafka's message
encoding, non-flexible and flexible), for L{odradek.broker.coordinator.group.records}.
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = ["CorruptGroupRecordError", "FieldReader", "FieldWriter"]

MAX_VALUE_VERSION: Final = 4
"""The highest version of both value formats."""

FIRST_FLEXIBLE_VERSION: Final = 4
"""The first flexible version of both value formats."""

_MAX_STRING_LENGTH: Final = 0x7FFF

_INT16: Final = struct.Struct(">h")
_INT32: Final = struct.Struct(">i")
_INT64: Final = struct.Struct(">q")


class CorruptGroupRecordError(ValueError):
    """
    A key or value of C{__consumer_offsets} does not follow Kafka's format: it is
    truncated, has bytes left over, a version this format does not have, a null or
    invalid string where the format has none, or a bad length.
    """


class FieldWriter:
    """
    Builds one key or value, field by field, in a flexible version or not. Each
    method's C{what} names the field in error messages.
    """

    def __init__(self, version: int, flexible: bool) -> None:
        """
        @param version: the version, written first as an int16.
        @param flexible: whether lengths are compact and structures end with
            tagged fields.
        """
        self._out = bytearray(_INT16.pack(version))
        self._flexible = flexible

    def _pack(self, layout: struct.Struct, value: int, what: str) -> None:
        try:
            self._out += layout.pack(value)
        except struct.error:
            raise ValueError(f"{what} {value} does not fit its field") from None

    def int32(self, value: int, what: str) -> None:
        """
        Write an int32.

        @raise ValueError: if the value does not fit.
        """
        self._pack(_INT32, value, what)

    def int64(self, value: int, what: str) -> None:
        """
        Write an int64.

        @raise ValueError: if the value does not fit.
        """
        self._pack(_INT64, value, what)

    def _uvarint(self, value: int) -> None:
        while value > 0x7F:
            self._out.append((value & 0x7F) | 0x80)
            value >>= 7
        self._out.append(value)

    def _length(self, length: int | None, layout: struct.Struct) -> None:
        if self._flexible:
            self._uvarint(0 if length is None else length + 1)
        else:
            self._out += layout.pack(-1 if length is None else length)

    def string(self, value: str | None, what: str) -> None:
        """
        Write a string as UTF-8, or a null one.

        @raise ValueError: if it is longer than 32767 bytes or cannot be encoded.
        """
        if value is None:
            self._length(None, _INT16)
            return
        data = value.encode("utf-8")
        if len(data) > _MAX_STRING_LENGTH:
            raise ValueError(f"{what} is {len(data)} bytes long, more than 32767")
        self._length(len(data), _INT16)
        self._out += data

    def blob(self, value: bytes, what: str) -> None:
        """
        Write a C{bytes} field.

        @raise ValueError: if it is too long for its length field.
        """
        if len(value) > 0x7FFFFFFE:
            raise ValueError(f"{what} is {len(value)} bytes long, too long")
        self._length(len(value), _INT32)
        self._out += value

    def array_length(self, count: int) -> None:
        """
        Write the element count that starts an array.
        """
        self._length(count, _INT32)

    def tagged_fields(self) -> None:
        """
        End a structure: in a flexible version, an empty set of tagged fields.
        """
        if self._flexible:
            self._uvarint(0)

    def getvalue(self) -> bytes:
        """
        @return: everything written.
        """
        return bytes(self._out)


class FieldReader:
    """
    Reads one key or value, field by field, raising L{CorruptGroupRecordError}
    that names the record and field on any malformed input. Each method's C{what}
    names the field in error messages.

    @ivar flexible: whether the version being read is flexible, as
        L{value_version} found; keys never are.
    """

    def __init__(self, data: bytes, record: str) -> None:
        """
        @param data: the key or value.
        @param record: the format's name, for error messages.
        """
        self._data = bytes(data)  # the same object for bytes; copies a memoryview
        self._position = 0
        self._record = record
        self.flexible = False

    def fail(self, problem: str) -> CorruptGroupRecordError:
        """
        @param problem: what is wrong.
        @return: the error to raise, naming the record.
        """
        return CorruptGroupRecordError(f"{self._record}: {problem}")

    def _take(self, size: int, what: str) -> bytes:
        start = self._position
        end = start + size
        if end > len(self._data):
            raise self.fail(
                f"{what} needs {size} bytes at position {start},"
                f" only {len(self._data) - start} left"
            )
        self._position = end
        return self._data[start:end]

    def _unpack(self, layout: struct.Struct, what: str) -> int:
        value: int = layout.unpack(self._take(layout.size, what))[0]
        return value

    def int16(self, what: str) -> int:
        """
        Read an int16.
        """
        return self._unpack(_INT16, what)

    def int32(self, what: str) -> int:
        """
        Read an int32.
        """
        return self._unpack(_INT32, what)

    def int64(self, what: str) -> int:
        """
        Read an int64.
        """
        return self._unpack(_INT64, what)

    def uvarint(self, what: str) -> int:
        """
        Read an unsigned varint of at most 5 bytes and 32 bits.
        """
        value = 0
        for shift in range(0, 35, 7):
            byte = self._take(1, what)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if value > 0xFFFFFFFF:
                    break
                return value
        raise self.fail(f"{what} is not a valid unsigned varint")

    def _length(self, layout: struct.Struct, what: str) -> int | None:
        """
        Read a length or count: C{None} for null, else a non-negative size.
        """
        if self.flexible:
            encoded = self.uvarint(what)
            return None if encoded == 0 else encoded - 1
        length = self._unpack(layout, what)
        if length == -1:
            return None
        if length < 0:
            raise self.fail(f"{what} has a negative length {length}")
        return length

    def nullable_string(self, what: str) -> str | None:
        """
        Read a string that may be null.
        """
        length = self._length(_INT16, what)
        if length is None:
            return None
        if length > _MAX_STRING_LENGTH:
            raise self.fail(f"{what} has length {length}, more than 32767")
        raw = self._take(length, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not valid UTF-8") from None

    def string(self, what: str) -> str:
        """
        Read a string that must not be null.
        """
        value = self.nullable_string(what)
        if value is None:
            raise self.fail(f"{what} is null, which this version does not allow")
        return value

    def blob(self, what: str) -> bytes:
        """
        Read a C{bytes} field that must not be null.
        """
        length = self._length(_INT32, what)
        if length is None:
            raise self.fail(f"{what} is null, which this version does not allow")
        return self._take(length, what)

    def array_length(self, what: str) -> int:
        """
        Read the element count of an array that must not be null.
        """
        count = self._length(_INT32, what)
        if count is None:
            raise self.fail(f"{what} is null, which this version does not allow")
        return count

    def tagged_fields(self, what: str) -> None:
        """
        End a structure: in a flexible version, skip its tagged fields.
        """
        if not self.flexible:
            return
        for _ in range(self.uvarint(f"{what} tagged field count")):
            self.uvarint(f"{what} tag")
            self._take(
                self.uvarint(f"{what} tagged field size"), f"{what} tagged field"
            )

    def value_version(self) -> int:
        """
        Read a value's version and set L{flexible} from it.

        @return: the version, 0 to L{MAX_VALUE_VERSION}.
        """
        version = self.int16("version")
        if not 0 <= version <= MAX_VALUE_VERSION:
            raise self.fail(f"unknown version {version}")
        self._record = f"{self._record} v{version}"
        self.flexible = version >= FIRST_FLEXIBLE_VERSION
        return version

    def finish(self) -> None:
        """
        Check that nothing follows the last field.
        """
        left = len(self._data) - self._position
        if left:
            raise self.fail(f"{left} bytes left over after the last field")
