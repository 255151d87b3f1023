"""
A pure-Python reader for kio's schema dataclasses, for the bytes kio's native reader
refuses although Kafka's rules say they must be read:

  - a tagged field (KIP-482) whose tag the schema does not know. Kafka says to skip
    it, which its length prefix makes possible; kio raises C{KeyError}.
  - an error code kio's C{ErrorCode} enum does not know, as a newer peer may send.
    Kio raises C{ValueError}; here it is read as a plain C{int}, which
    L{odradek.client.errors.error_for_code} turns into an exception class.

The reader of each entity is built once from the same dataclass metadata kio's writer
uses (C{kafka_type}, C{tag}, optionality, C{__flexible__}) and reuses kio's native
readers for the primitives, so on bytes both accept it returns what the native reader
returns. It is several times slower, so the codec only calls it after the native
reader failed in one of those two ways (see L{is_kio_limitation}).

Readers follow kio's convention: C{reader(buffer, offset) -> (value, size)}. Failures
are kio's own exceptions (C{BufferUnderflow}, C{DecodeError} and the like), which
L{odradek.client.protocol._reading.read_with} turns into L{ProtocolError
<odradek.client.protocol.errors.ProtocolError>}s naming the API and version.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import Field, fields
from functools import cache
from types import MappingProxyType
from typing import Any, Final, TypeAlias, TypeVar, cast

from kio.schema.errors import ErrorCode
from kio.serial._implicit_defaults import get_tagged_field_default
from kio.serial._introspect import (
    EntityField,
    EntityTupleField,
    PrimitiveTupleField,
    classify_field,
    get_field_tag,
    get_schema_field_type,
    is_optional,
)
from kio.serial.errors import BufferUnderflow, DecodeError, SchemaError
from kio.serial.readers import (
    read_boolean,
    read_compact_array_length,
    read_compact_string,
    read_compact_string_as_bytes,
    read_compact_string_as_bytes_nullable,
    read_compact_string_nullable,
    read_datetime_i64,
    read_float64,
    read_int8,
    read_int16,
    read_int32,
    read_int64,
    read_legacy_array_length,
    read_legacy_bytes,
    read_legacy_string,
    read_nullable_datetime_i64,
    read_nullable_legacy_bytes,
    read_nullable_legacy_string,
    read_timedelta_i32,
    read_timedelta_i64,
    read_uint8,
    read_uint16,
    read_uint32,
    read_uint64,
    read_unsigned_varint,
    read_uuid,
)
from kio.static.protocol import Entity

__all__ = ["TaggedFieldOverrun", "fallback_reader", "is_kio_limitation"]

T = TypeVar("T")
E = TypeVar("E", bound=Entity)

#: A reader in kio's convention: C{reader(buffer, offset) -> (value, size)}.
Reader: TypeAlias = Callable[[bytes | memoryview, int], tuple[T, int]]

_ERROR_CODES: Final[Mapping[int, ErrorCode]] = MappingProxyType(
    {int(code): code for code in ErrorCode}
)

# The messages of the two failures of kio's native reader that this module exists
# for: KeyError("Unknown tagged field tag: 99") and, from the enum itself,
# ValueError("9999 is not a valid ErrorCode").
_UNKNOWN_TAG = re.compile(r"Unknown tagged field tag: \d+")
_UNKNOWN_ERROR_CODE = re.compile(r"-?\d+ is not a valid ErrorCode")


class TaggedFieldOverrun(BufferUnderflow):
    """
    A tagged field's length prefix runs past the end of the message.
    """


def is_kio_limitation(error: BaseException | None) -> bool:
    """
    Tell whether kio's native reader failed on bytes that Kafka's rules accept, so
    that L{fallback_reader} can read them.

    @param error: what the native reader raised.
    @return: C{True} for an unknown tag or an unknown error code, C{False} for
        anything else (truncation, invalid UTF-8, a bad varint ...).
    """
    if isinstance(error, KeyError):
        pattern = _UNKNOWN_TAG
    elif isinstance(error, ValueError):
        pattern = _UNKNOWN_ERROR_CODE
    else:
        return False
    return (
        len(error.args) == 1
        and isinstance(error.args[0], str)
        and pattern.fullmatch(error.args[0]) is not None
    )


def _read_error_code(data: bytes | memoryview, offset: int) -> tuple[int, int]:
    # The ErrorCode member when kio knows the code, else the plain int.
    code, size = read_int16(data, offset)
    return _ERROR_CODES.get(code, code), size


#: Readers of the kafka types whose encoding does not depend on flexibility.
_FIXED: Final[Mapping[str, Reader[Any]]] = MappingProxyType(
    {
        "int8": read_int8,
        "int16": read_int16,
        "int32": read_int32,
        "int64": read_int64,
        "uint8": read_uint8,
        "uint16": read_uint16,
        "uint32": read_uint32,
        "uint64": read_uint64,
        "float64": read_float64,
        "bool": read_boolean,
        "uuid": read_uuid,
        "error_code": _read_error_code,
        "timedelta_i32": read_timedelta_i32,
        "timedelta_i64": read_timedelta_i64,
        "datetime_i64": read_datetime_i64,
    }
)

#: Readers of the nullable kafka types whose encoding does not depend on flexibility.
#: A null UUID is sixteen zero bytes, which kio reads as C{None} either way.
_NULLABLE_FIXED: Final[Mapping[str, Reader[Any]]] = MappingProxyType(
    {"uuid": read_uuid, "datetime_i64": read_nullable_datetime_i64}
)

#: Readers of strings and byte strings, by (kafka type, flexible, nullable).
_VARIABLE: Final[Mapping[tuple[str, bool, bool], Reader[Any]]] = MappingProxyType(
    {
        ("string", True, False): read_compact_string,
        ("string", True, True): read_compact_string_nullable,
        ("string", False, False): read_legacy_string,
        ("string", False, True): read_nullable_legacy_string,
        ("bytes", True, False): read_compact_string_as_bytes,
        ("bytes", True, True): read_compact_string_as_bytes_nullable,
        ("bytes", False, False): read_legacy_bytes,
        ("bytes", False, True): read_nullable_legacy_bytes,
    }
)


def _primitive_reader(kafka_type: str, flexible: bool, optional: bool) -> Reader[Any]:
    # Kio types record batches ("records") like bytes.
    family = "bytes" if kafka_type == "records" else kafka_type
    reader = (_NULLABLE_FIXED if optional else _FIXED).get(family)
    if reader is None:
        reader = _VARIABLE.get((family, flexible, optional))
    if reader is None:
        raise SchemaError(
            f"no reader for {kafka_type!r} field {flexible=} nullable={optional}"
        )
    return reader


def _array_reader(read_item: Reader[T], flexible: bool) -> Reader[tuple[T, ...] | None]:
    read_length: Reader[int | None] = (
        read_compact_array_length if flexible else read_legacy_array_length
    )

    def read_array(
        data: bytes | memoryview, offset: int
    ) -> tuple[tuple[T, ...] | None, int]:
        length, position = read_length(data, offset)
        # Like kio's native reader, a null array is None whether or not the schema
        # allows it.
        if length is None or length == -1:
            return None, position
        if length < 0:
            raise DecodeError(f"negative array length {length}")
        position += offset
        items = []
        for _ in range(length):
            item, size = read_item(data, position)
            items.append(item)
            position += size
        return tuple(items), position - offset

    return read_array


def _nullable_entity_reader(read_entity: Reader[T]) -> Reader[T | None]:
    # KIP-893: a nullable struct is preceded by an int8, -1 for null and 1 otherwise.
    # Like Apache Kafka, any negative marker means null.
    def read_nullable(data: bytes | memoryview, offset: int) -> tuple[T | None, int]:
        marker, size = read_int8(data, offset)
        if marker < 0:
            return None, size
        entity, entity_size = read_entity(data, offset + size)
        return entity, size + entity_size

    return read_nullable


def _field_reader(
    field: Field[Any], flexible: bool, is_request_header: bool, is_tag: bool
) -> Reader[Any]:
    # Apache Kafka keeps the request header's client_id a legacy string in every
    # header version.
    if is_request_header and field.name == "client_id":
        return read_nullable_legacy_string
    # Tagged fields are optional through the presence of their tag, not a null on
    # the wire: kio reads (and writes) them with the non-nullable reader.
    optional = False if is_tag else is_optional(field)
    kind = classify_field(field)
    reader: Reader[Any]
    if isinstance(kind, EntityField):
        reader = _entity_reader(kind.type_)
        if optional:
            reader = _nullable_entity_reader(reader)
    elif isinstance(kind, EntityTupleField):
        reader = _entity_reader(kind.type_)
    else:
        # For an array of primitives nullability belongs to the array, not its items.
        reader = _primitive_reader(
            get_schema_field_type(field),
            flexible,
            optional and not isinstance(kind, PrimitiveTupleField),
        )
    return _array_reader(reader, flexible) if kind.is_array else reader


def _read_tagged_fields(
    data: bytes | memoryview,
    offset: int,
    known: Mapping[int, tuple[str, Reader[Any]]],
    values: dict[str, object],
    entity_name: str,
) -> int:
    """
    Read a tagged-field section: a count, then per field its tag, its size and its
    value. Known tags are decoded into C{values}; unknown ones are skipped.

    @return: the offset just after the section.
    @raise TaggedFieldOverrun: if a field's size runs past the end of C{data}.
    @raise DecodeError: if a known field's value does not take up its size.
    """
    count, size = read_unsigned_varint(data, offset)
    offset += size
    for _ in range(count):
        tag, size = read_unsigned_varint(data, offset)
        offset += size
        field_size, size = read_unsigned_varint(data, offset)
        offset += size
        end = offset + field_size
        if end > len(data):
            raise TaggedFieldOverrun(
                f"tagged field {tag} of {entity_name} ({field_size} bytes) runs past "
                f"the end of the {len(data)}-byte message"
            )
        field = known.get(tag)
        if field is not None:
            name, reader = field
            value, size = reader(data, offset)
            if size != field_size:
                raise DecodeError(
                    f"tagged field {tag} ({name}) of {entity_name} declares "
                    f"{field_size} bytes but its value takes {size}"
                )
            values[name] = value
        offset = end
    return offset


@cache
def _entity_reader(entity_type: type[Entity]) -> Reader[Any]:
    flexible: bool = entity_type.__flexible__
    is_request_header = entity_type.__name__ == "RequestHeader"
    entity_name = entity_type.__qualname__
    regular: list[tuple[str, Reader[Any]]] = []
    tagged: dict[int, tuple[str, Reader[Any]]] = {}
    defaults: dict[str, object] = {}
    for field in fields(entity_type):
        tag = get_field_tag(field)
        reader = _field_reader(field, flexible, is_request_header, tag is not None)
        if tag is None:
            regular.append((field.name, reader))
        else:
            tagged[tag] = (field.name, reader)
            defaults[field.name] = get_tagged_field_default(field)
    if tagged and not flexible:
        raise SchemaError(f"{entity_name} has tagged fields but is not flexible")

    def read_entity(data: bytes | memoryview, offset: int) -> tuple[Any, int]:
        values = dict(defaults)
        position = offset
        for name, read_field in regular:
            values[name], size = read_field(data, position)
            position += size
        if flexible:
            position = _read_tagged_fields(data, position, tagged, values, entity_name)
        return entity_type(**values), position - offset

    return read_entity


def fallback_reader(entity_type: type[E]) -> Reader[E]:
    """
    Get the pure-Python reader of a kio entity; it is built on first use and cached.

    Unlike kio's native reader it skips tagged fields the schema does not know and
    reads error codes kio does not know as plain C{int}s (in fields typed
    C{ErrorCode}). A known tagged field whose value does not take up exactly the size
    it declares is an error.

    @param entity_type: a kio dataclass: a request, response, header or nested entity.
    @return: C{reader(buffer, offset) -> (entity, size)}; it raises kio's
        C{BufferUnderflow} (or L{TaggedFieldOverrun}) when the buffer ends too early
        and other kio or C{ValueError} exceptions when the bytes cannot be decoded.
    @raise SchemaError: if kio's metadata for C{entity_type} cannot be read.
    """
    return cast(Reader[E], _entity_reader(entity_type))
