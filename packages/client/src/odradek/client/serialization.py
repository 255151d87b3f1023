"""
Turning keys and values into bytes and back: the L{ISerializer} and L{IDeserializer}
seams, the serializers Kafka's Java client ships (bytes, strings, big-endian
integers and doubles) plus JSON, and the resolution of the C{key.serializer},
C{value.serializer}, C{key.deserializer} and C{value.deserializer} settings.

C{None} always passes through: a C{None} key or value is a null on the wire (a
tombstone, for a value). Serializers run once per record, on the hot path of
C{send}, so each does one type check and one conversion.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any, Final

import attrs
from zope.interface import Interface, implementer
from zope.interface.interface import InterfaceClass

from odradek.client._configtypes import ConfigError, load_object

__all__ = [
    "BytesDeserializer",
    "BytesSerializer",
    "CallableDeserializer",
    "CallableSerializer",
    "DoubleDeserializer",
    "DoubleSerializer",
    "IDeserializer",
    "ISerializer",
    "IntegerDeserializer",
    "IntegerSerializer",
    "JsonDeserializer",
    "JsonSerializer",
    "LongDeserializer",
    "LongSerializer",
    "SerializationError",
    "StringDeserializer",
    "StringSerializer",
    "resolve_deserializer",
    "resolve_serializer",
]


class ISerializer(Interface):
    """
    Turns a key or a value into the bytes a record carries.
    """

    def serialize(topic: str, data: object) -> bytes | None:
        """
        @param topic: the topic the record goes to.
        @param data: the key or value; C{None} for a null.
        @return: the bytes, or C{None} for a null.
        @raise SerializationError: if C{data} has a type this serializer cannot
            handle.
        """


class IDeserializer(Interface):
    """
    Turns the bytes of a record's key or value back into an object.
    """

    def deserialize(topic: str, data: bytes | None) -> object:
        """
        @param topic: the topic the record came from.
        @param data: the bytes, or C{None} for a null.
        @return: the object (C{None} for a null).
        @raise SerializationError: if the bytes are malformed.
        """


class SerializationError(ValueError):
    """
    A key or value could not be serialized or deserialized.

    @ivar topic: the record's topic.
    """

    def __init__(self, message: str, topic: str) -> None:
        super().__init__(message)
        self.topic = topic


def _wrong_type(
    serializer: object, topic: str, data: object, expected: str
) -> SerializationError:
    return SerializationError(
        f"{type(serializer).__name__} cannot serialize a {type(data).__qualname__} "
        f"for topic {topic!r}: expected {expected}",
        topic,
    )


def _malformed(deserializer: object, topic: str, reason: str) -> SerializationError:
    return SerializationError(
        f"{type(deserializer).__name__} cannot deserialize data from topic "
        f"{topic!r}: {reason}",
        topic,
    )


@implementer(ISerializer)
@attrs.frozen
class BytesSerializer:
    """
    Passes bytes through; C{bytearray} and C{memoryview} are copied into C{bytes}
    (Java's C{ByteArraySerializer}).
    """

    def serialize(self, topic: str, data: object) -> bytes | None:
        if data is None or type(data) is bytes:
            return data
        if isinstance(data, (bytes, bytearray, memoryview)):
            return bytes(data)
        raise _wrong_type(self, topic, data, "bytes, bytearray or memoryview")


@implementer(IDeserializer)
@attrs.frozen
class BytesDeserializer:
    """Returns the bytes as they are (Java's C{ByteArrayDeserializer})."""

    def deserialize(self, topic: str, data: bytes | None) -> object:
        return data


@implementer(ISerializer)
@attrs.frozen
class StringSerializer:
    """
    Encodes strings (Java's C{StringSerializer}).

    @ivar encoding: the codec, UTF-8 unless told otherwise.
    """

    encoding: str = "utf-8"

    def serialize(self, topic: str, data: object) -> bytes | None:
        if isinstance(data, str):
            return data.encode(self.encoding)
        if data is not None:
            raise _wrong_type(self, topic, data, "str")
        return None


@implementer(IDeserializer)
@attrs.frozen
class StringDeserializer:
    """
    Decodes strings (Java's C{StringDeserializer}).

    @ivar encoding: the codec, UTF-8 unless told otherwise.
    """

    encoding: str = "utf-8"

    def deserialize(self, topic: str, data: bytes | None) -> object:
        if data is None:
            return None
        try:
            return str(data, self.encoding)
        except UnicodeDecodeError as e:
            raise _malformed(self, topic, str(e)) from None


_INT: Final = struct.Struct(">i")
_LONG: Final = struct.Struct(">q")
_DOUBLE: Final = struct.Struct(">d")


def _pack(
    serializer: object, codec: struct.Struct, topic: str, data: object, kind: str
) -> bytes | None:
    if data is None:
        return None
    if isinstance(data, bool) or not isinstance(
        data, (int, float) if codec is _DOUBLE else int
    ):
        raise _wrong_type(serializer, topic, data, kind)
    try:
        return codec.pack(data)
    except struct.error:
        raise _wrong_type(serializer, topic, data, f"{kind} in range") from None


def _unpack(
    deserializer: object, codec: struct.Struct, topic: str, data: bytes | None
) -> object:
    if data is None:
        return None
    if len(data) != codec.size:
        raise _malformed(
            deserializer, topic, f"expected {codec.size} bytes, got {len(data)}"
        )
    return codec.unpack(data)[0]


@implementer(ISerializer)
@attrs.frozen
class IntegerSerializer:
    """Writes an C{int} as 4 bytes, signed big-endian (Java's C{IntegerSerializer})."""

    def serialize(self, topic: str, data: object) -> bytes | None:
        return _pack(self, _INT, topic, data, "a 32-bit int")


@implementer(IDeserializer)
@attrs.frozen
class IntegerDeserializer:
    """Reads 4 bytes as a signed big-endian C{int} (Java's C{IntegerDeserializer})."""

    def deserialize(self, topic: str, data: bytes | None) -> object:
        return _unpack(self, _INT, topic, data)


@implementer(ISerializer)
@attrs.frozen
class LongSerializer:
    """Writes an C{int} as 8 bytes, signed big-endian (Java's C{LongSerializer})."""

    def serialize(self, topic: str, data: object) -> bytes | None:
        return _pack(self, _LONG, topic, data, "a 64-bit int")


@implementer(IDeserializer)
@attrs.frozen
class LongDeserializer:
    """Reads 8 bytes as a signed big-endian C{int} (Java's C{LongDeserializer})."""

    def deserialize(self, topic: str, data: bytes | None) -> object:
        return _unpack(self, _LONG, topic, data)


@implementer(ISerializer)
@attrs.frozen
class DoubleSerializer:
    """
    Writes a C{float} (or an C{int}) as an 8-byte big-endian IEEE 754 double
    (Java's C{DoubleSerializer}).
    """

    def serialize(self, topic: str, data: object) -> bytes | None:
        return _pack(self, _DOUBLE, topic, data, "a float")


@implementer(IDeserializer)
@attrs.frozen
class DoubleDeserializer:
    """
    Reads an 8-byte big-endian IEEE 754 double (Java's C{DoubleDeserializer}).
    """

    def deserialize(self, topic: str, data: bytes | None) -> object:
        return _unpack(self, _DOUBLE, topic, data)


_encode_json = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


@implementer(ISerializer)
@attrs.frozen
class JsonSerializer:
    """
    Writes any JSON-serializable object as compact UTF-8 JSON; C{None} stays a
    null record rather than the JSON C{null}.
    """

    def serialize(self, topic: str, data: object) -> bytes | None:
        if data is None:
            return None
        try:
            return _encode_json(data).encode("utf-8")
        except (TypeError, ValueError):
            raise _wrong_type(self, topic, data, "a JSON-serializable object") from None


@implementer(IDeserializer)
@attrs.frozen
class JsonDeserializer:
    """Reads UTF-8 JSON."""

    def deserialize(self, topic: str, data: bytes | None) -> object:
        if data is None:
            return None
        try:
            return json.loads(data)
        except ValueError as e:
            raise _malformed(self, topic, f"invalid JSON: {e}") from None


@implementer(ISerializer)
@attrs.frozen
class CallableSerializer:
    """
    A plain function C{f(topic, data) -> bytes | None} as a serializer.

    @ivar function: the function.
    """

    function: Callable[[str, object], bytes | None]

    def serialize(self, topic: str, data: object) -> bytes | None:
        return self.function(topic, data)


@implementer(IDeserializer)
@attrs.frozen
class CallableDeserializer:
    """
    A plain function C{f(topic, data) -> object} as a deserializer.

    @ivar function: the function.
    """

    function: Callable[[str, bytes | None], object]

    def deserialize(self, topic: str, data: bytes | None) -> object:
        return self.function(topic, data)


_JAVA = "org.apache.kafka.common.serialization."
_SERIALIZERS: Final[dict[str, Callable[[], object]]] = {
    "bytes": BytesSerializer,
    "str": StringSerializer,
    "string": StringSerializer,
    "int": IntegerSerializer,
    "integer": IntegerSerializer,
    "long": LongSerializer,
    "double": DoubleSerializer,
    "json": JsonSerializer,
    _JAVA + "ByteArraySerializer": BytesSerializer,
    _JAVA + "BytesSerializer": BytesSerializer,
    _JAVA + "ByteBufferSerializer": BytesSerializer,
    _JAVA + "StringSerializer": StringSerializer,
    _JAVA + "IntegerSerializer": IntegerSerializer,
    _JAVA + "LongSerializer": LongSerializer,
    _JAVA + "DoubleSerializer": DoubleSerializer,
    "org.apache.kafka.connect.json.JsonSerializer": JsonSerializer,
}
_DESERIALIZERS: Final[dict[str, Callable[[], object]]] = {
    "bytes": BytesDeserializer,
    "str": StringDeserializer,
    "string": StringDeserializer,
    "int": IntegerDeserializer,
    "integer": IntegerDeserializer,
    "long": LongDeserializer,
    "double": DoubleDeserializer,
    "json": JsonDeserializer,
    _JAVA + "ByteArrayDeserializer": BytesDeserializer,
    _JAVA + "BytesDeserializer": BytesDeserializer,
    _JAVA + "ByteBufferDeserializer": BytesDeserializer,
    _JAVA + "StringDeserializer": StringDeserializer,
    _JAVA + "IntegerDeserializer": IntegerDeserializer,
    _JAVA + "LongDeserializer": LongDeserializer,
    _JAVA + "DoubleDeserializer": DoubleDeserializer,
    "org.apache.kafka.connect.json.JsonDeserializer": JsonDeserializer,
}


def _resolve(
    spec: object,
    interface: InterfaceClass,
    names: dict[str, Callable[[], object]],
    wrapper: Callable[[Any], object],
) -> object:
    role = interface.__name__[1:]
    if spec is None:
        return names["bytes"]()
    obj = spec
    if isinstance(spec, str):
        factory = names.get(spec.strip()) or names.get(spec.strip().lower())
        if factory is not None:
            return factory()
        try:
            obj = load_object(spec.strip())
        except ValueError as e:
            known = ", ".join(sorted(name for name in names if "." not in name))
            raise ConfigError(
                f"Unknown {role.lower()} {spec!r}: not one of {known} and {e}",
                value=spec,
            ) from None
    provided: bool = interface.providedBy(obj)
    if provided:
        return obj
    if isinstance(obj, type):
        implemented: bool = interface.implementedBy(obj)
        if implemented:
            return obj()
        raise ConfigError(
            f"The class {obj.__qualname__} named by {spec!r} does not implement "
            f"{interface.__name__}",
            value=spec,
        )
    if callable(obj):
        return wrapper(obj)
    raise ConfigError(
        f"Cannot use {spec!r} as a {role.lower()}: give a name, an import path, "
        f"a class, an {interface.__name__} provider or a function",
        value=spec,
    )


def resolve_serializer(spec: object) -> ISerializer:
    """
    Find the serializer a C{key.serializer} or C{value.serializer} setting means.

    @param spec: C{None} (bytes); a short name: C{"bytes"}, C{"str"} or
        C{"string"}, C{"int"} or C{"integer"}, C{"long"}, C{"double"}, C{"json"};
        a Java class name such as
        C{"org.apache.kafka.common.serialization.StringSerializer"}; an import path
        (C{"pkg.mod:Name"} or C{"pkg.mod.Name"}) of a class, an instance or a
        function; a class implementing L{ISerializer} (instantiated without
        arguments); an object providing it (used as it is); or a function
        C{f(topic, data)} (wrapped in a L{CallableSerializer}).
    @return: the serializer.
    @raise ConfigError: if C{spec} names nothing usable.
    """
    serializer: ISerializer = _resolve(
        spec, ISerializer, _SERIALIZERS, CallableSerializer
    )  # type: ignore[assignment]
    return serializer


def resolve_deserializer(spec: object) -> IDeserializer:
    """
    Find the deserializer a C{key.deserializer} or C{value.deserializer} setting
    means.

    @param spec: as for L{resolve_serializer}, with the deserializers' names
        (C{"org.apache.kafka.common.serialization.StringDeserializer"} ...) and
        L{IDeserializer}; a function is wrapped in a L{CallableDeserializer}.
    @return: the deserializer.
    @raise ConfigError: if C{spec} names nothing usable.
    """
    deserializer: IDeserializer = _resolve(
        spec, IDeserializer, _DESERIALIZERS, CallableDeserializer
    )  # type: ignore[assignment]
    return deserializer
