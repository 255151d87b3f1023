"""
Tests for L{odradek.client.serialization}.
"""

from __future__ import annotations

import math

from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from odradek.client.config import ConfigError
from odradek.client.serialization import (
    BytesDeserializer,
    BytesSerializer,
    CallableDeserializer,
    CallableSerializer,
    DoubleDeserializer,
    DoubleSerializer,
    IDeserializer,
    IntegerDeserializer,
    IntegerSerializer,
    ISerializer,
    JsonDeserializer,
    JsonSerializer,
    LongDeserializer,
    LongSerializer,
    SerializationError,
    StringDeserializer,
    StringSerializer,
    resolve_deserializer,
    resolve_serializer,
)

SERIALIZERS = (
    BytesSerializer,
    StringSerializer,
    IntegerSerializer,
    LongSerializer,
    DoubleSerializer,
    JsonSerializer,
)
DESERIALIZERS = (
    BytesDeserializer,
    StringDeserializer,
    IntegerDeserializer,
    LongDeserializer,
    DoubleDeserializer,
    JsonDeserializer,
)


@implementer(ISerializer)
class ReversingSerializer:
    """A serializer of strings that writes them backwards."""

    def serialize(self, topic: str, data: object) -> bytes | None:
        return None if data is None else str(data)[::-1].encode()


@implementer(IDeserializer)
class UpperDeserializer:
    """A deserializer that upper-cases text."""

    def deserialize(self, topic: str, data: bytes | None) -> object:
        return None if data is None else data.decode().upper()


def prefix(topic: str, data: object) -> bytes | None:
    """A serializing function: the topic, a colon and the data."""
    return f"{topic}:{data}".encode()


class InterfaceTests(SynchronousTestCase):
    """
    Every serializer and deserializer provides its interface.
    """

    def test_serializers(self) -> None:
        """Each serializer provides ISerializer."""
        for cls in SERIALIZERS:
            self.assertTrue(verifyObject(ISerializer, cls()))
        self.assertTrue(verifyObject(ISerializer, CallableSerializer(prefix)))

    def test_deserializers(self) -> None:
        """Each deserializer provides IDeserializer."""
        for cls in DESERIALIZERS:
            self.assertTrue(verifyObject(IDeserializer, cls()))
        self.assertTrue(
            verifyObject(IDeserializer, CallableDeserializer(lambda t, d: d))
        )

    def test_none_passes_through(self) -> None:
        """None serializes to None and deserializes to None everywhere."""
        for cls in SERIALIZERS:
            self.assertIsNone(cls().serialize("t", None), cls)
        for dcls in DESERIALIZERS:
            self.assertIsNone(dcls().deserialize("t", None), dcls)


class BytesTests(SynchronousTestCase):
    """
    Tests for L{BytesSerializer} and L{BytesDeserializer}.
    """

    def test_bytes_as_is(self) -> None:
        """Bytes are returned as the same object."""
        data = b"payload"
        self.assertIs(BytesSerializer().serialize("t", data), data)

    def test_buffers(self) -> None:
        """A bytearray and a memoryview become bytes."""
        serializer = BytesSerializer()
        self.assertEqual(serializer.serialize("t", bytearray(b"ab")), b"ab")
        self.assertEqual(serializer.serialize("t", memoryview(b"cd")), b"cd")
        self.assertIs(type(serializer.serialize("t", bytearray(b"ab"))), bytes)

    def test_wrong_type(self) -> None:
        """A str is refused with an error naming the topic and the type."""
        error = self.assertRaises(
            SerializationError, BytesSerializer().serialize, "orders", "text"
        )
        self.assertIn("'orders'", str(error))
        self.assertIn("str", str(error))
        self.assertEqual(error.topic, "orders")
        self.assertIsInstance(error, ValueError)

    def test_deserialize(self) -> None:
        """Bytes come back as they are."""
        self.assertEqual(BytesDeserializer().deserialize("t", b"x"), b"x")


class StringTests(SynchronousTestCase):
    """
    Tests for L{StringSerializer} and L{StringDeserializer}.
    """

    def test_utf8(self) -> None:
        """Strings are UTF-8 by default."""
        self.assertEqual(StringSerializer().serialize("t", "h\xe9"), b"h\xc3\xa9")
        self.assertEqual(StringDeserializer().deserialize("t", b"h\xc3\xa9"), "h\xe9")

    def test_encoding(self) -> None:
        """Another encoding can be chosen."""
        self.assertEqual(StringSerializer("latin-1").serialize("t", "\xe9"), b"\xe9")
        self.assertEqual(
            StringDeserializer("latin-1").deserialize("t", b"\xe9"), "\xe9"
        )

    def test_wrong_type(self) -> None:
        """Bytes are not a string."""
        error = self.assertRaises(
            SerializationError, StringSerializer().serialize, "t", b"x"
        )
        self.assertIn("bytes", str(error))

    def test_malformed(self) -> None:
        """Bytes that are not UTF-8 are a SerializationError naming the topic."""
        error = self.assertRaises(
            SerializationError, StringDeserializer().deserialize, "logs", b"\xff"
        )
        self.assertIn("'logs'", str(error))


class NumberTests(SynchronousTestCase):
    """
    Integers, longs and doubles use Java's big-endian layouts.
    """

    def test_integer(self) -> None:
        """Integers are 4 bytes, signed, big-endian."""
        serializer, deserializer = IntegerSerializer(), IntegerDeserializer()
        self.assertEqual(serializer.serialize("t", 1), b"\x00\x00\x00\x01")
        self.assertEqual(serializer.serialize("t", -2), b"\xff\xff\xff\xfe")
        self.assertEqual(serializer.serialize("t", 2**31 - 1), b"\x7f\xff\xff\xff")
        for value in (0, 1, -1, 2**31 - 1, -(2**31)):
            encoded = serializer.serialize("t", value)
            self.assertEqual(deserializer.deserialize("t", encoded), value)

    def test_long(self) -> None:
        """Longs are 8 bytes, signed, big-endian."""
        serializer, deserializer = LongSerializer(), LongDeserializer()
        self.assertEqual(serializer.serialize("t", 258), b"\x00" * 6 + b"\x01\x02")
        for value in (0, -1, 2**63 - 1, -(2**63)):
            encoded = serializer.serialize("t", value)
            self.assertEqual(deserializer.deserialize("t", encoded), value)

    def test_double(self) -> None:
        """Doubles are big-endian IEEE 754; ints are accepted."""
        serializer, deserializer = DoubleSerializer(), DoubleDeserializer()
        self.assertEqual(serializer.serialize("t", 1.0), b"\x3f\xf0" + b"\x00" * 6)
        self.assertEqual(serializer.serialize("t", 2), serializer.serialize("t", 2.0))
        encoded = serializer.serialize("t", math.inf)
        self.assertEqual(deserializer.deserialize("t", encoded), math.inf)
        self.assertEqual(
            deserializer.deserialize("t", serializer.serialize("t", -0.5)), -0.5
        )

    def test_out_of_range(self) -> None:
        """An int that does not fit is a SerializationError."""
        self.assertRaises(SerializationError, IntegerSerializer().serialize, "t", 2**31)
        self.assertRaises(SerializationError, LongSerializer().serialize, "t", 2**63)

    def test_wrong_types(self) -> None:
        """Floats, strings and booleans are no integers."""
        for value in (1.5, "1", True):
            error = self.assertRaises(
                SerializationError, IntegerSerializer().serialize, "nums", value
            )
            self.assertIn(type(value).__name__, str(error))
            self.assertIn("'nums'", str(error))
        self.assertRaises(SerializationError, DoubleSerializer().serialize, "t", "1.0")

    def test_wrong_size(self) -> None:
        """Data of the wrong size is a SerializationError."""
        self.assertRaises(
            SerializationError, IntegerDeserializer().deserialize, "t", b"\x00" * 3
        )
        self.assertRaises(
            SerializationError, LongDeserializer().deserialize, "t", b"\x00" * 4
        )
        self.assertRaises(
            SerializationError, DoubleDeserializer().deserialize, "t", b""
        )


class JsonTests(SynchronousTestCase):
    """
    Tests for L{JsonSerializer} and L{JsonDeserializer}.
    """

    def test_compact_utf8(self) -> None:
        """JSON is written without spaces and with UTF-8 characters as they are."""
        encoded = JsonSerializer().serialize("t", {"a": [1, 2], "b": "\xe9"})
        self.assertEqual(encoded, b'{"a":[1,2],"b":"\xc3\xa9"}')

    def test_round_trip(self) -> None:
        """What is written reads back equal."""
        value = {"id": 7, "tags": ["x", "y"], "ok": True, "none": None}
        encoded = JsonSerializer().serialize("t", value)
        self.assertEqual(JsonDeserializer().deserialize("t", encoded), value)

    def test_not_serializable(self) -> None:
        """Objects JSON cannot hold, and NaN, are a SerializationError."""
        self.assertRaises(SerializationError, JsonSerializer().serialize, "t", {1, 2})
        self.assertRaises(SerializationError, JsonSerializer().serialize, "t", math.nan)

    def test_malformed(self) -> None:
        """Bytes that are not JSON are a SerializationError."""
        self.assertRaises(
            SerializationError, JsonDeserializer().deserialize, "t", b"{nope"
        )


class ResolveSerializerTests(SynchronousTestCase):
    """
    Tests for L{resolve_serializer}.
    """

    def test_none(self) -> None:
        """None means bytes."""
        self.assertEqual(resolve_serializer(None), BytesSerializer())

    def test_short_names(self) -> None:
        """The short names map to the built-in serializers, in any case."""
        for name, cls in [
            ("bytes", BytesSerializer),
            ("str", StringSerializer),
            ("string", StringSerializer),
            ("int", IntegerSerializer),
            ("integer", IntegerSerializer),
            ("long", LongSerializer),
            ("double", DoubleSerializer),
            ("json", JsonSerializer),
            ("JSON", JsonSerializer),
        ]:
            self.assertIsInstance(resolve_serializer(name), cls, name)

    def test_java_names(self) -> None:
        """Java's class names map to the serializers here."""
        java = "org.apache.kafka.common.serialization."
        for name, cls in [
            ("StringSerializer", StringSerializer),
            ("ByteArraySerializer", BytesSerializer),
            ("IntegerSerializer", IntegerSerializer),
            ("LongSerializer", LongSerializer),
            ("DoubleSerializer", DoubleSerializer),
        ]:
            self.assertIsInstance(resolve_serializer(java + name), cls, name)

    def test_import_paths(self) -> None:
        """Both forms of import path are imported and the class instantiated."""
        module = __name__
        for spec in (f"{module}:ReversingSerializer", f"{module}.ReversingSerializer"):
            self.assertIsInstance(resolve_serializer(spec), ReversingSerializer)

    def test_import_function(self) -> None:
        """An import path of a function wraps it."""
        serializer = resolve_serializer(f"{__name__}:prefix")
        self.assertEqual(serializer.serialize("t", 1), b"t:1")

    def test_class_and_instance(self) -> None:
        """A class is instantiated; an instance is used as it is."""
        self.assertIsInstance(
            resolve_serializer(ReversingSerializer), ReversingSerializer
        )
        instance = StringSerializer("latin-1")
        self.assertIs(resolve_serializer(instance), instance)

    def test_callable(self) -> None:
        """A plain function is wrapped."""
        serializer = resolve_serializer(prefix)
        self.assertTrue(verifyObject(ISerializer, serializer))
        self.assertEqual(serializer.serialize("orders", "x"), b"orders:x")

    def test_bad_specs(self) -> None:
        """Unknown names, foreign classes and non-callables are ConfigErrors."""
        for spec in ("nope", "no_such_module_xyz:Thing", UpperDeserializer, 42):
            error = self.assertRaises(ConfigError, resolve_serializer, spec)
            self.assertIsInstance(error, ValueError)
            self.assertIn(repr(spec), str(error))

    def test_deserializer_class_refused(self) -> None:
        """A deserializer class is not a serializer."""
        error = self.assertRaises(ConfigError, resolve_serializer, UpperDeserializer)
        self.assertIn("ISerializer", str(error))


class ResolveDeserializerTests(SynchronousTestCase):
    """
    Tests for L{resolve_deserializer}.
    """

    def test_names(self) -> None:
        """None, short names and Java names find the deserializers."""
        java = "org.apache.kafka.common.serialization."
        self.assertEqual(resolve_deserializer(None), BytesDeserializer())
        self.assertIsInstance(resolve_deserializer("str"), StringDeserializer)
        self.assertIsInstance(resolve_deserializer("json"), JsonDeserializer)
        self.assertIsInstance(
            resolve_deserializer(java + "LongDeserializer"), LongDeserializer
        )

    def test_objects(self) -> None:
        """Classes, instances, paths and functions resolve as for serializers."""
        self.assertIsInstance(
            resolve_deserializer(UpperDeserializer), UpperDeserializer
        )
        self.assertIsInstance(
            resolve_deserializer(f"{__name__}.UpperDeserializer"), UpperDeserializer
        )
        instance = JsonDeserializer()
        self.assertIs(resolve_deserializer(instance), instance)
        wrapped = resolve_deserializer(lambda topic, data: (topic, data))
        self.assertEqual(wrapped.deserialize("t", b"x"), ("t", b"x"))

    def test_bad_specs(self) -> None:
        """A serializer class or an unknown name is not a deserializer."""
        self.assertRaises(ConfigError, resolve_deserializer, ReversingSerializer)
        self.assertRaises(ConfigError, resolve_deserializer, "nope")
