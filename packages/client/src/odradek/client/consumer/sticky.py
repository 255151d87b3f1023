"""
The sticky assignors: balanced assignments that move as few partitions as they can
from one rebalance to the next (Kafka's C{StickyAssignor}, KIP-54, and
C{CooperativeStickyAssignor}, KIP-429). The plan itself is
L{odradek.client.consumer._stickyplan}.

L{StickyAssignor} runs under the eager protocol: members give up everything before
rejoining, so each tells the leader what it owned in its subscription's user data,
in the layout Java's C{StickyAssignor} writes (C{StickyAssignorUserData} version 1:
the previous assignment as C{[topic, [partition]]} and the generation), which
Java's and librdkafka's "sticky" members read and write too.

L{CooperativeStickyAssignor} runs under the cooperative protocol (and the eager
one): members keep their partitions while rejoining and report them in the
subscription's own C{owned_partitions} and C{generation_id} fields. A partition that
changes owner is left out of its new owner's assignment in this round; its old
owner revokes it and rejoins, and the follow-up rebalance hands it over.
"""

# No "from __future__ import annotations": kio reads the types of the layout
# dataclasses below at run time.

import io
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Final

import attrs
from kio.serial import entity_reader, entity_writer
from kio.static.constants import EntityType
from kio.static.primitive import i16, i32
from zope.interface import implementer

from odradek.client.consumer._stickyplan import MemberData, plan_sticky_assignment
from odradek.client.consumer.assignors import IPartitionAssignor
from odradek.client.consumer.protocol import Assignment, RebalanceProtocol, Subscription
from odradek.client.structs import TopicPartition

__all__ = [
    "CooperativeStickyAssignor",
    "StickyAssignor",
    "decode_sticky_user_data",
    "encode_sticky_user_data",
]

#: The generation of a member that never got an assignment (Kafka's
#: C{DEFAULT_GENERATION}).
DEFAULT_GENERATION: Final = -1


@dataclass(frozen=True, slots=True, kw_only=True)
class _TopicAssignment:
    """
    One topic of C{StickyAssignorUserData}: C{topic: string, partitions: [int32]}.
    """

    __type__: ClassVar = EntityType.nested
    __version__: ClassVar[i16] = i16(1)
    __flexible__: ClassVar[bool] = False
    topic: str = field(metadata={"kafka_type": "string"})
    partitions: tuple[i32, ...] = field(metadata={"kafka_type": "int32"}, default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class _StickyUserDataV0:
    """
    Java's C{STICKY_ASSIGNOR_USER_DATA_V0}: C{previous_assignment: [topic]}.
    """

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[i16] = i16(0)
    __flexible__: ClassVar[bool] = False
    previous_assignment: tuple[_TopicAssignment, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class _StickyUserDataV1:
    """
    Java's C{STICKY_ASSIGNOR_USER_DATA_V1}: version 0 then C{generation: int32}.
    """

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[i16] = i16(1)
    __flexible__: ClassVar[bool] = False
    previous_assignment: tuple[_TopicAssignment, ...]
    generation: i32 = field(metadata={"kafka_type": "int32"})


_GENERATION = struct.Struct(">i")


def encode_sticky_user_data(
    partitions: tuple[TopicPartition, ...] | list[TopicPartition], generation: int
) -> bytes:
    """
    Write what a L{StickyAssignor} member owned, as Java's C{StickyAssignor} does
    (no version prefix; partitions grouped by topic).

    @param partitions: the partitions the member was assigned.
    @param generation: the generation of that assignment.
    @return: the user data.
    """
    by_topic: dict[str, list[i32]] = {}
    for tp in partitions:
        by_topic.setdefault(tp.topic, []).append(i32(tp.partition))
    data = _StickyUserDataV1(
        previous_assignment=tuple(
            _TopicAssignment(topic=topic, partitions=tuple(ids))
            for topic, ids in by_topic.items()
        ),
        generation=i32(generation),
    )
    buffer = io.BytesIO()
    entity_writer(_StickyUserDataV1)(buffer, data)
    return buffer.getvalue()


def _read_layout(
    entity_type: type[_StickyUserDataV0] | type[_StickyUserDataV1],
    data: bytes,
    offset: int,
) -> MemberData | None:
    try:
        entity, _size = entity_reader(entity_type)(data, offset)
        partitions = tuple(
            TopicPartition(topic.topic, int(partition))
            for topic in entity.previous_assignment
            for partition in topic.partitions
        )
    except Exception:
        # Whatever kio raises, or returns for arrays of negative length: unread.
        return None
    generation = getattr(entity, "generation", None)
    return MemberData(
        partitions, DEFAULT_GENERATION if generation is None else int(generation)
    )


def decode_sticky_user_data(data: bytes | None) -> MemberData:
    """
    Read what a sticky member owned from its user data, as Java's C{StickyAssignor}
    does: version 1 first, then version 0 (no generation); what neither reads counts
    as owning nothing. kafka-python 3.0 writes the same layout behind an int16
    version; that is read too.

    @param data: the subscription's user data.
    @return: the partitions and generation; generation -1 when unknown.
    """
    if not data:
        return MemberData()
    raw = bytes(data)
    attempts: list[tuple[type[_StickyUserDataV0] | type[_StickyUserDataV1], int]] = [
        (_StickyUserDataV1, 0),
        (_StickyUserDataV0, 0),
    ]
    if raw[:2] in (b"\x00\x00", b"\x00\x01"):
        layout = _StickyUserDataV1 if raw[1] == 1 else _StickyUserDataV0
        attempts.append((layout, 2))
    for layout, offset in attempts:
        read = _read_layout(layout, raw, offset)
        if read is not None:
            return read
    return MemberData()


def _group_topics(
    subscriptions: Mapping[str, Subscription],
) -> dict[str, frozenset[str]]:
    return {member: frozenset(s.topics) for member, s in subscriptions.items()}


@implementer(IPartitionAssignor)
@attrs.define
class StickyAssignor:
    """
    Kafka's C{StickyAssignor} (protocol name C{"sticky"}, eager only): balanced, and
    keeping each member's previous partitions where balance allows.

    @ivar _partitions: the partitions this member was last assigned, or C{None}
        before its first assignment.
    @ivar _generation: the generation of that assignment.
    """

    name: ClassVar[str] = "sticky"

    _partitions: tuple[TopicPartition, ...] | None = attrs.field(
        default=None, init=False
    )
    _generation: int = attrs.field(default=DEFAULT_GENERATION, init=False)

    def supported_protocols(self) -> tuple[RebalanceProtocol, ...]:
        return (RebalanceProtocol.EAGER,)

    def subscription_user_data(self, topics: frozenset[str]) -> bytes | None:
        if self._partitions is None:
            return None
        return encode_sticky_user_data(self._partitions, self._generation)

    def assign(
        self,
        partitions_per_topic: Mapping[str, int],
        subscriptions: Mapping[str, Subscription],
    ) -> dict[str, Assignment]:
        plan = plan_sticky_assignment(
            partitions_per_topic,
            _group_topics(subscriptions),
            {m: decode_sticky_user_data(s.user_data) for m, s in subscriptions.items()},
        )
        return {member: Assignment(tps) for member, tps in plan.assignment.items()}

    def on_assignment(self, assignment: Assignment, generation_id: int) -> None:
        self._partitions = assignment.partitions
        self._generation = generation_id


def _cooperative_member_data(subscription: Subscription) -> MemberData:
    """
    What a cooperative member owns: its subscription's own fields, with the
    generation from its user data when the subscription (version 0 or 1) has none,
    as Java's C{CooperativeStickyAssignor} reads it.
    """
    generation = subscription.generation_id
    if generation < 0 and subscription.user_data is not None:
        data = subscription.user_data
        generation = (
            _GENERATION.unpack_from(data, 0)[0]
            if len(data) >= _GENERATION.size
            else DEFAULT_GENERATION
        )
    return MemberData(subscription.owned_partitions, generation)


@implementer(IPartitionAssignor)
@attrs.define
class CooperativeStickyAssignor:
    """
    Kafka's C{CooperativeStickyAssignor} (protocol name C{"cooperative-sticky"};
    cooperative preferred, eager supported): the sticky plan, minus the partitions
    changing owner, which their new owners get in the follow-up rebalance once the
    old owners have revoked them.

    @ivar _generation: the generation of this member's last assignment, sent as
        user data (an int32) for leaders reading subscriptions older than version 2.
    """

    name: ClassVar[str] = "cooperative-sticky"

    _generation: int = attrs.field(default=DEFAULT_GENERATION, init=False)

    def supported_protocols(self) -> tuple[RebalanceProtocol, ...]:
        return (RebalanceProtocol.COOPERATIVE, RebalanceProtocol.EAGER)

    def subscription_user_data(self, topics: frozenset[str]) -> bytes | None:
        return _GENERATION.pack(self._generation)

    def assign(
        self,
        partitions_per_topic: Mapping[str, int],
        subscriptions: Mapping[str, Subscription],
    ) -> dict[str, Assignment]:
        plan = plan_sticky_assignment(
            partitions_per_topic,
            _group_topics(subscriptions),
            {m: _cooperative_member_data(s) for m, s in subscriptions.items()},
        )
        return {
            member: Assignment(
                tuple(tp for tp in tps if plan.transferring.get(tp) != member)
            )
            for member, tps in plan.assignment.items()
        }

    def on_assignment(self, assignment: Assignment, generation_id: int) -> None:
        self._generation = generation_id
