"""
Tests for L{odradek.broker.coordinator.group.records}.

The exact-byte tests spell records out field by field from Kafka's message
definitions (C{OffsetCommitKey.json}, C{OffsetCommitValue.json},
C{GroupMetadataKey.json}, C{GroupMetadataValue.json}).
"""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.coordinator.group.records import (
    GROUP_KEY_VERSION,
    GROUP_VALUE_VERSION,
    OFFSET_KEY_VERSION,
    OFFSET_VALUE_VERSION,
    OFFSET_VALUE_VERSION_WITH_EXPIRY,
    CorruptGroupRecordError,
    GroupKey,
    OffsetKey,
    UnknownKey,
    decode_group_value,
    decode_key,
    decode_offset_value,
    group_key,
    group_value,
    offset_key,
    offset_value,
)
from odradek.broker.coordinator.group.values import (
    CommittedOffset,
    GroupSnapshot,
    MemberSnapshot,
)
from odradek.client.structs import TopicPartition

VERSIONS = range(5)


def i16(value: int) -> bytes:
    """A big-endian int16."""
    return struct.pack(">h", value)


def i32(value: int) -> bytes:
    """A big-endian int32."""
    return struct.pack(">i", value)


def i64(value: int) -> bytes:
    """A big-endian int64."""
    return struct.pack(">q", value)


def s16(text: str) -> bytes:
    """A non-flexible string: int16 length, UTF-8."""
    data = text.encode()
    return i16(len(data)) + data


def compact(text: str) -> bytes:
    """A compact string shorter than 127 bytes: its length plus one, UTF-8."""
    data = text.encode()
    return bytes([len(data) + 1]) + data


MEMBER = MemberSnapshot(
    member_id="m1",
    group_instance_id="i",
    client_id="c",
    client_host="/h",
    rebalance_timeout_ms=300000,
    session_timeout_ms=10000,
    subscription=b"\x01",
    assignment=b"",
)

GROUP = GroupSnapshot(
    group_id="g",
    protocol_type="consumer",
    generation_id=7,
    protocol_name="range",
    leader_id="m1",
    current_state_timestamp_ms=1234,
    members=(MEMBER,),
)

GROUP_V3_BYTES = (
    i16(3)
    + s16("consumer")
    + i32(7)
    + s16("range")
    + s16("m1")
    + i64(1234)
    + i32(1)
    + s16("m1")
    + s16("i")
    + s16("c")
    + s16("/h")
    + i32(300000)
    + i32(10000)
    + i32(1)
    + b"\x01"
    + i32(0)
)

OFFSET = CommittedOffset(
    offset=100, leader_epoch=5, metadata="m", commit_timestamp_ms=1000
)

OFFSET_V3_BYTES = i16(3) + i64(100) + i32(5) + s16("m") + i64(1000)

# Strategies: strings as Kafka can hold them (UTF-8, so no lone surrogates).
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
int32s = st.integers(-(2**31), 2**31 - 1)
int64s = st.integers(-(2**63), 2**63 - 1)
timestamps = st.none() | int64s.filter(lambda t: t != -1)


@st.composite
def offsets_for(draw: st.DrawFn, version: int) -> CommittedOffset:
    """A committed offset holding only what the value version can."""
    return CommittedOffset(
        offset=draw(int64s),
        leader_epoch=draw(int32s) if version >= 3 else -1,
        metadata=draw(texts),
        commit_timestamp_ms=draw(int64s),
        expire_timestamp_ms=draw(timestamps) if version == 1 else None,
    )


@st.composite
def members_for(draw: st.DrawFn, version: int) -> MemberSnapshot:
    """A member holding only what the value version can."""
    session = draw(int32s)
    return MemberSnapshot(
        member_id=draw(texts),
        group_instance_id=draw(st.none() | texts) if version >= 3 else None,
        client_id=draw(texts),
        client_host=draw(texts),
        rebalance_timeout_ms=draw(int32s) if version >= 1 else session,
        session_timeout_ms=session,
        subscription=draw(st.binary(max_size=20)),
        assignment=draw(st.binary(max_size=20)),
    )


@st.composite
def groups_for(draw: st.DrawFn, version: int) -> GroupSnapshot:
    """A group holding only what the value version can."""
    return GroupSnapshot(
        group_id=draw(texts),
        protocol_type=draw(texts),
        generation_id=draw(int32s),
        protocol_name=draw(st.none() | texts),
        leader_id=draw(st.none() | texts),
        current_state_timestamp_ms=draw(timestamps) if version >= 2 else None,
        members=tuple(draw(st.lists(members_for(version), max_size=3))),
    )


@st.composite
def versioned_offsets(draw: st.DrawFn) -> tuple[int, CommittedOffset]:
    """A value version and an offset it can hold."""
    version = draw(st.sampled_from(VERSIONS))
    return version, draw(offsets_for(version))


@st.composite
def versioned_groups(draw: st.DrawFn) -> tuple[int, GroupSnapshot]:
    """A value version and a group it can hold."""
    version = draw(st.sampled_from(VERSIONS))
    return version, draw(groups_for(version))


class KeyTests(SynchronousTestCase):
    """
    L{offset_key}, L{group_key} and L{decode_key} handle Kafka's record keys.
    """

    def test_offset_key_bytes(self) -> None:
        """
        An offset key is version 1, then group, topic and partition.
        """
        self.assertEqual(
            offset_key("g", TopicPartition("t", 3)),
            i16(1) + s16("g") + s16("t") + i32(3),
        )
        self.assertEqual(OFFSET_KEY_VERSION, 1)

    def test_group_key_bytes(self) -> None:
        """
        A group key is version 2, then the group.
        """
        self.assertEqual(group_key("g"), i16(2) + s16("g"))
        self.assertEqual(GROUP_KEY_VERSION, 2)

    def test_decode_offset_key_v0(self) -> None:
        """
        Key version 0 is an offset commit key too.
        """
        data = i16(0) + s16("grp") + s16("orders") + i32(11)
        self.assertEqual(
            decode_key(data), OffsetKey("grp", TopicPartition("orders", 11))
        )

    def test_decode_unicode(self) -> None:
        """
        Names are UTF-8.
        """
        data = i16(2) + s16("gr\u00fcppe-\U0001f600")
        self.assertEqual(decode_key(data), GroupKey("gr\u00fcppe-\U0001f600"))
        self.assertEqual(group_key("gr\u00fcppe-\U0001f600"), data)

    def test_memoryview(self) -> None:
        """
        Keys and values may be given as memoryviews of a larger buffer.
        """
        key = memoryview(b"xx" + group_key("g"))[2:]
        self.assertEqual(decode_key(key), GroupKey("g"))  # type: ignore[arg-type]
        value = memoryview(OFFSET_V3_BYTES)
        self.assertEqual(decode_offset_value(value), OFFSET)  # type: ignore[arg-type]

    def test_unknown_versions(self) -> None:
        """
        Keys of other record types come back as L{UnknownKey} without being read.
        """
        for version in (3, 4, 8, 1000, -1):
            self.assertEqual(
                decode_key(i16(version) + b"\xff\xff\xff"), UnknownKey(version)
            )

    @given(texts, texts, st.integers(0, 2**31 - 1))
    def test_offset_key_round_trip(
        self, group: str, topic: str, partition: int
    ) -> None:
        """
        An offset key decodes to the group and partition it was written from.
        """
        tp = TopicPartition(topic, partition)
        self.assertEqual(decode_key(offset_key(group, tp)), OffsetKey(group, tp))

    @given(texts)
    def test_group_key_round_trip(self, group: str) -> None:
        """
        A group key decodes to the group it was written from.
        """
        self.assertEqual(decode_key(group_key(group)), GroupKey(group))

    def test_truncated(self) -> None:
        """
        Every truncation of a key is reported as corrupt.
        """
        for data in (offset_key("group", TopicPartition("t", 1)), group_key("grp")):
            for end in range(len(data)):
                self.assertRaises(CorruptGroupRecordError, decode_key, data[:end])

    def test_trailing_bytes(self) -> None:
        """
        Bytes after a known key's last field are reported as corrupt.
        """
        error = self.assertRaises(
            CorruptGroupRecordError, decode_key, group_key("g") + b"\x00"
        )
        self.assertIn("left over", str(error))

    def test_null_group(self) -> None:
        """
        A null group id is corrupt: the key's strings are not nullable.
        """
        error = self.assertRaises(CorruptGroupRecordError, decode_key, i16(2) + i16(-1))
        self.assertIn("group", str(error))
        self.assertIn("null", str(error))

    def test_encode_too_long(self) -> None:
        """
        A name longer than an int16 length can say is refused when writing.
        """
        self.assertRaises(ValueError, group_key, "x" * 32768)
        self.assertEqual(len(group_key("x" * 32767)), 2 + 2 + 32767)

    def test_encode_partition_out_of_range(self) -> None:
        """
        A partition that does not fit an int32 is refused when writing.
        """
        self.assertRaises(ValueError, offset_key, "g", TopicPartition("t", 2**31))

    @given(st.binary(max_size=40))
    def test_garbage_keys(self, data: bytes) -> None:
        """
        Arbitrary key bytes either decode or raise L{CorruptGroupRecordError}.
        """
        try:
            decoded = decode_key(data)
        except CorruptGroupRecordError:
            return
        self.assertIsInstance(decoded, (OffsetKey, GroupKey, UnknownKey))


class OffsetValueTests(SynchronousTestCase):
    """
    L{offset_value} and L{decode_offset_value} handle offset commit values.
    """

    def test_default_v3_bytes(self) -> None:
        """
        An offset without expiry is written as version 3, field by field.
        """
        self.assertEqual(offset_value(OFFSET), OFFSET_V3_BYTES)
        self.assertEqual(OFFSET_VALUE_VERSION, 3)

    def test_expiry_v1_bytes(self) -> None:
        """
        An offset with an explicit expiry is written as version 1, which has no
        leader epoch.
        """
        value = CommittedOffset(
            offset=100,
            leader_epoch=5,
            metadata="",
            commit_timestamp_ms=1000,
            expire_timestamp_ms=2000,
        )
        expected = i16(1) + i64(100) + i16(0) + i64(1000) + i64(2000)
        self.assertEqual(offset_value(value), expected)
        self.assertEqual(OFFSET_VALUE_VERSION_WITH_EXPIRY, 1)
        self.assertEqual(
            decode_offset_value(expected),
            CommittedOffset(100, -1, "", 1000, 2000),
        )

    def test_decode_v3(self) -> None:
        """
        A hand-built version 3 value decodes to its fields.
        """
        self.assertEqual(decode_offset_value(OFFSET_V3_BYTES), OFFSET)

    def test_decode_v0_and_v2(self) -> None:
        """
        Versions 0 and 2 have no leader epoch (read as -1) and no expiry.
        """
        for version in (0, 2):
            data = i16(version) + i64(42) + s16("meta") + i64(7)
            self.assertEqual(
                decode_offset_value(data), CommittedOffset(42, -1, "meta", 7, None)
            )

    def test_decode_v1_no_expiry(self) -> None:
        """
        A version 1 expiry of -1 means none.
        """
        data = i16(1) + i64(42) + s16("") + i64(7) + i64(-1)
        self.assertEqual(decode_offset_value(data).expire_timestamp_ms, None)
        self.assertEqual(offset_value(CommittedOffset(42, -1, "", 7), version=1), data)

    def test_decode_v4_flexible(self) -> None:
        """
        Version 4 uses a compact metadata string and ends with tagged fields,
        which are skipped.
        """
        body = i16(4) + i64(100) + i32(5) + compact("m") + i64(1000)
        self.assertEqual(decode_offset_value(body + b"\x00"), OFFSET)
        self.assertEqual(offset_value(OFFSET, version=4), body + b"\x00")
        tagged = b"\x02" + b"\x05\x02\xaa\xbb" + b"\x90\x01\x00"
        self.assertEqual(decode_offset_value(body + tagged), OFFSET)

    @given(versioned_offsets())
    def test_round_trip(self, case: tuple[int, CommittedOffset]) -> None:
        """
        Every version decodes to what was written in it.
        """
        version, value = case
        data = offset_value(value, version=version)
        self.assertEqual(struct.unpack_from(">h", data)[0], version)
        self.assertEqual(decode_offset_value(data), value)

    @given(offsets_for(3), st.none() | st.integers(0, 2**62))
    def test_default_version_round_trip(
        self, value: CommittedOffset, expire: int | None
    ) -> None:
        """
        The default version keeps everything but, with an expiry, the leader epoch.
        """
        value = CommittedOffset(
            value.offset,
            value.leader_epoch,
            value.metadata,
            value.commit_timestamp_ms,
            expire,
        )
        decoded = decode_offset_value(offset_value(value))
        if expire is None:
            self.assertEqual(decoded, value)
        else:
            self.assertEqual(decoded.expire_timestamp_ms, expire)
            self.assertEqual(decoded.leader_epoch, -1)

    def test_truncated(self) -> None:
        """
        Every truncation of a value of every version is reported as corrupt.
        """
        for version in VERSIONS:
            data = offset_value(OFFSET, version=version)
            for end in range(len(data)):
                self.assertRaises(
                    CorruptGroupRecordError, decode_offset_value, data[:end]
                )

    def test_trailing_bytes(self) -> None:
        """
        Bytes after the last field are reported as corrupt.
        """
        error = self.assertRaises(
            CorruptGroupRecordError, decode_offset_value, OFFSET_V3_BYTES + b"\x00"
        )
        self.assertIn("OffsetCommitValue v3", str(error))
        self.assertIn("1 bytes left over", str(error))

    def test_unknown_version(self) -> None:
        """
        A version Kafka never defined is reported as corrupt.
        """
        for version in (5, -1):
            data = i16(version) + OFFSET_V3_BYTES[2:]
            error = self.assertRaises(
                CorruptGroupRecordError, decode_offset_value, data
            )
            self.assertIn(f"unknown version {version}", str(error))
        self.assertRaises(ValueError, offset_value, OFFSET, version=5)

    def test_null_metadata(self) -> None:
        """
        Null metadata is corrupt in every version: the field is not nullable.
        """
        data = i16(3) + i64(1) + i32(0) + i16(-1) + i64(0)
        error = self.assertRaises(CorruptGroupRecordError, decode_offset_value, data)
        self.assertIn("metadata is null", str(error))
        flexible = i16(4) + i64(1) + i32(0) + b"\x00" + i64(0) + b"\x00"
        self.assertRaises(CorruptGroupRecordError, decode_offset_value, flexible)

    def test_negative_length(self) -> None:
        """
        A string length below -1 is reported as corrupt.
        """
        data = i16(0) + i64(1) + i16(-2) + i64(0)
        error = self.assertRaises(CorruptGroupRecordError, decode_offset_value, data)
        self.assertIn("negative length", str(error))

    def test_invalid_utf8(self) -> None:
        """
        Metadata that is not UTF-8 is reported as corrupt.
        """
        data = i16(0) + i64(1) + i16(2) + b"\xc3\x28" + i64(0)
        error = self.assertRaises(CorruptGroupRecordError, decode_offset_value, data)
        self.assertIn("UTF-8", str(error))

    def test_bad_varint(self) -> None:
        """
        A compact length longer than 5 bytes or 32 bits is reported as corrupt.
        """
        head = i16(4) + i64(1) + i32(0)
        for varint in (b"\xff\xff\xff\xff\xff\x01", b"\xff\xff\xff\xff\x7f"):
            data = head + varint + i64(0) + b"\x00"
            error = self.assertRaises(
                CorruptGroupRecordError, decode_offset_value, data
            )
            self.assertIn("varint", str(error))

    def test_compact_string_too_long(self) -> None:
        """
        A compact string length beyond 32767 is reported as corrupt.
        """
        data = i16(4) + i64(1) + i32(0) + b"\x81\x80\x02" + b"x" * 32768
        error = self.assertRaises(CorruptGroupRecordError, decode_offset_value, data)
        self.assertIn("32767", str(error))

    def test_truncated_tagged_field(self) -> None:
        """
        A tagged field running past the end is reported as corrupt.
        """
        data = offset_value(OFFSET, version=4)[:-1] + b"\x01\x00\x05\xaa"
        self.assertRaises(CorruptGroupRecordError, decode_offset_value, data)

    def test_encode_metadata_too_long(self) -> None:
        """
        Metadata longer than an int16 length can say is refused when writing.
        """
        value = CommittedOffset(1, metadata="\u00e9" * 16384)
        self.assertRaises(ValueError, offset_value, value)

    @given(st.binary(max_size=60))
    def test_garbage(self, data: bytes) -> None:
        """
        Arbitrary bytes either decode or raise L{CorruptGroupRecordError}.
        """
        try:
            decoded = decode_offset_value(data)
        except CorruptGroupRecordError:
            return
        self.assertIsInstance(decoded, CommittedOffset)


class GroupValueTests(SynchronousTestCase):
    """
    L{group_value} and L{decode_group_value} handle group metadata values.
    """

    def test_v3_bytes(self) -> None:
        """
        A group is written as version 3, field by field.
        """
        self.assertEqual(group_value(GROUP), GROUP_V3_BYTES)
        self.assertEqual(GROUP_VALUE_VERSION, 3)

    def test_decode_v3(self) -> None:
        """
        A hand-built version 3 value decodes to its fields; the group id comes
        from the caller.
        """
        self.assertEqual(decode_group_value("g", GROUP_V3_BYTES), GROUP)

    def test_empty_group_bytes(self) -> None:
        """
        An empty group (as Kafka writes when the last member leaves) has a null
        protocol and leader and no members.
        """
        empty = GroupSnapshot(
            group_id="g",
            protocol_type="",
            generation_id=3,
            protocol_name=None,
            leader_id=None,
            current_state_timestamp_ms=99,
        )
        expected = i16(3) + i16(0) + i32(3) + i16(-1) + i16(-1) + i64(99) + i32(0)
        self.assertEqual(group_value(empty), expected)
        self.assertEqual(decode_group_value("g", expected), empty)

    def test_decode_v0(self) -> None:
        """
        Version 0 has no state timestamp, instance ids or rebalance timeouts; the
        rebalance timeout is read as the session timeout, as Kafka does.
        """
        data = (
            i16(0)
            + s16("consumer")
            + i32(1)
            + s16("range")
            + s16("m")
            + i32(1)
            + s16("m")
            + s16("c")
            + s16("/h")
            + i32(6000)
            + i32(0)
            + i32(2)
            + b"ab"
        )
        decoded = decode_group_value("g", data)
        self.assertEqual(decoded.current_state_timestamp_ms, None)
        self.assertEqual(
            decoded.members,
            (MemberSnapshot("m", None, "c", "/h", 6000, 6000, b"", b"ab"),),
        )

    def test_decode_v4_flexible(self) -> None:
        """
        Version 4 uses compact strings, bytes and arrays and tagged fields at the
        end of each member and of the group.
        """
        data = (
            i16(4)
            + compact("consumer")
            + i32(7)
            + compact("range")
            + b"\x00"  # null leader
            + i64(1234)
            + b"\x02"  # one member
            + compact("m1")
            + b"\x00"  # null instance id
            + compact("c")
            + compact("/h")
            + i32(300000)
            + i32(10000)
            + b"\x02\x01"
            + b"\x01"
            + b"\x01\x07\x01\xee"  # one tagged field on the member
            + b"\x00"
        )
        expected = GroupSnapshot(
            group_id="g",
            protocol_type="consumer",
            generation_id=7,
            protocol_name="range",
            leader_id=None,
            current_state_timestamp_ms=1234,
            members=(
                MemberSnapshot(
                    "m1",
                    None,
                    "c",
                    "/h",
                    300000,
                    10000,
                    subscription=b"\x01",
                    assignment=b"",
                ),
            ),
        )
        self.assertEqual(decode_group_value("g", data), expected)
        without_tags = data[:-5] + b"\x00\x00"
        self.assertEqual(group_value(expected, version=4), without_tags)

    def test_timestamp_minus_one(self) -> None:
        """
        A state timestamp of -1 means none, both ways.
        """
        group = GroupSnapshot("g", "", 0, None, None, None)
        data = group_value(group)
        self.assertEqual(data[-12:-4], i64(-1))
        self.assertEqual(decode_group_value("g", data), group)

    @given(versioned_groups())
    def test_round_trip(self, case: tuple[int, GroupSnapshot]) -> None:
        """
        Every version decodes to what was written in it.
        """
        version, group = case
        data = group_value(group, version=version)
        self.assertEqual(struct.unpack_from(">h", data)[0], version)
        self.assertEqual(decode_group_value(group.group_id, data), group)

    def test_older_versions_drop_fields(self) -> None:
        """
        Writing an older version leaves out the fields it lacks.
        """
        decoded = decode_group_value("g", group_value(GROUP, version=0))
        self.assertEqual(decoded.current_state_timestamp_ms, None)
        self.assertEqual(decoded.members[0].group_instance_id, None)
        self.assertEqual(decoded.members[0].rebalance_timeout_ms, 10000)

    def test_truncated(self) -> None:
        """
        Every truncation of a value of every version is reported as corrupt.
        """
        for version in VERSIONS:
            data = group_value(GROUP, version=version)
            for end in range(len(data)):
                self.assertRaises(
                    CorruptGroupRecordError, decode_group_value, "g", data[:end]
                )

    def test_trailing_bytes(self) -> None:
        """
        Bytes after the last field are reported as corrupt.
        """
        error = self.assertRaises(
            CorruptGroupRecordError, decode_group_value, "g", GROUP_V3_BYTES + b"\x01"
        )
        self.assertIn("left over", str(error))

    def test_unknown_version(self) -> None:
        """
        A version Kafka never defined is reported as corrupt.
        """
        data = i16(5) + GROUP_V3_BYTES[2:]
        error = self.assertRaises(
            CorruptGroupRecordError, decode_group_value, "g", data
        )
        self.assertIn("GroupMetadataValue: unknown version 5", str(error))
        self.assertRaises(ValueError, group_value, GROUP, version=-1)

    def test_null_protocol_type(self) -> None:
        """
        A null protocol type is corrupt: only the protocol and leader are nullable.
        """
        data = i16(3) + i16(-1) + i32(0) + i16(-1) + i16(-1) + i64(-1) + i32(0)
        error = self.assertRaises(
            CorruptGroupRecordError, decode_group_value, "g", data
        )
        self.assertIn("protocolType is null", str(error))

    def test_null_members(self) -> None:
        """
        A null member array is corrupt.
        """
        data = i16(3) + i16(0) + i32(0) + i16(-1) + i16(-1) + i64(-1) + i32(-1)
        error = self.assertRaises(
            CorruptGroupRecordError, decode_group_value, "g", data
        )
        self.assertIn("members is null", str(error))

    def test_null_assignment(self) -> None:
        """
        A null member assignment is corrupt, and the error names the member.
        """
        data = GROUP_V3_BYTES[:-4] + i32(-1)
        error = self.assertRaises(
            CorruptGroupRecordError, decode_group_value, "g", data
        )
        self.assertIn("members[0].assignment is null", str(error))

    def test_member_count_beyond_data(self) -> None:
        """
        A member count larger than the data holds is reported as corrupt.
        """
        data = i16(3) + i16(0) + i32(0) + i16(-1) + i16(-1) + i64(-1) + i32(2**31 - 1)
        error = self.assertRaises(
            CorruptGroupRecordError, decode_group_value, "g", data
        )
        self.assertIn("members[0].memberId", str(error))

    @given(st.binary(max_size=80))
    def test_garbage(self, data: bytes) -> None:
        """
        Arbitrary bytes either decode or raise L{CorruptGroupRecordError}.
        """
        try:
            decoded = decode_group_value("g", data)
        except CorruptGroupRecordError:
            return
        self.assertIsInstance(decoded, GroupSnapshot)

    def test_error_is_value_error(self) -> None:
        """
        L{CorruptGroupRecordError} is a C{ValueError}.
        """
        self.assertTrue(issubclass(CorruptGroupRecordError, ValueError))
