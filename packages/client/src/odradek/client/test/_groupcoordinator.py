"""
The fake group coordinator of L{odradek.client.test._grouptools} (which re-exports
it): L{FakeGroupCoordinator}, its groups (L{FakeGroup}) and their members
(L{FakeMember}), answering the group APIs as Kafka's classic group coordinator does,
enough for unit tests.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.task import Clock

from odradek.client.network.cluster import Node, PartitionInfo
from odradek.client.protocol import ApiKey, RequestHeader
from odradek.client.structs import OffsetAndMetadata, TopicPartition
from odradek.client.test._networktools import BROKER_RANGES

__all__ = [
    "GROUP_RANGES",
    "FakeGroup",
    "FakeGroupCoordinator",
    "FakeMember",
    "Reply",
]

#: The APIs and versions the fake brokers advertise: L{BROKER_RANGES} and every
#: version of the group APIs this client builds.
GROUP_RANGES: Mapping[int, tuple[int, int]] = {
    **BROKER_RANGES,
    ApiKey.FIND_COORDINATOR: (0, 6),
    ApiKey.JOIN_GROUP: (0, 9),
    ApiKey.SYNC_GROUP: (0, 5),
    ApiKey.HEARTBEAT: (0, 4),
    ApiKey.LEAVE_GROUP: (0, 5),
    ApiKey.OFFSET_COMMIT: (2, 9),
    ApiKey.OFFSET_FETCH: (1, 9),
}

#: Answers one request: called once with the fields of the response (the
#: version's fields are picked from them, see L{group_response
#: <odradek.client.test._grouptools.group_response>}).
Reply = Callable[[dict[str, Any]], None]


def _ms(value: datetime.timedelta) -> int:
    return int(value / datetime.timedelta(milliseconds=1))


@attrs.define(eq=False)
class FakeMember:
    """
    A member of a L{FakeGroup}.

    @ivar joining: the answer to its JoinGroup, while the coordinator holds it.
    @ivar syncing: the answer to its SyncGroup, while held.
    """

    member_id: str
    group_instance_id: str | None
    protocols: tuple[tuple[str, bytes], ...]
    rebalance_timeout_ms: int
    assignment: bytes = b""
    joining: Reply | None = None
    syncing: Reply | None = None


@attrs.define(eq=False)
class FakeGroup:
    """
    One group: C{state} is Kafka's (C{"Empty"}, C{"PreparingRebalance"},
    C{"CompletingRebalance"}, C{"Stable"}); C{static} maps instance ids to member
    ids; C{pending} holds member ids handed out with C{MEMBER_ID_REQUIRED}.
    """

    group_id: str
    state: str = "Empty"
    generation_id: int = 0
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str | None = None
    members: dict[str, FakeMember] = attrs.field(factory=dict)
    static: dict[str, str] = attrs.field(factory=dict)
    pending: set[str] = attrs.field(factory=set)
    offsets: dict[TopicPartition, OffsetAndMetadata] = attrs.field(factory=dict)
    timer: IDelayedCall | None = None


class FakeGroupCoordinator:
    """
    The group coordination of a fake cluster, shared by its L{GroupBroker}s.

    @ivar node: the coordinator of every group; set it to move the coordinator.
    @ivar brokers: the brokers Metadata answers name.
    @ivar topics: the topics Metadata answers describe.
    @ivar groups: the groups by id.
    @ivar requests: every group request received, as (broker, header, body).
    @ivar commit_errors: an error code to answer OffsetCommit with, per partition.
    @ivar fetch_errors: an error code to answer OffsetFetch with, per partition.
    @ivar ranges: the API versions the brokers advertise (L{GROUP_RANGES}); change
        it before clients connect to test older versions.
    """

    def __init__(
        self,
        clock: Clock,
        node: Node,
        brokers: Iterable[Node] = (),
        topics: Mapping[str, Iterable[PartitionInfo] | int] | None = None,
    ) -> None:
        self.clock = clock
        self.node = node
        self.brokers = list(brokers) or [node]
        self.topics: Mapping[str, Iterable[PartitionInfo] | int] = topics or {}
        self.groups: dict[str, FakeGroup] = {}
        self.requests: list[tuple[Node, RequestHeader, Any]] = []
        self.commit_errors: dict[TopicPartition, int] = {}
        self.fetch_errors: dict[TopicPartition, int] = {}
        self.ranges: dict[int, tuple[int, int]] = dict(GROUP_RANGES)
        self.min_session_timeout_ms = 6000
        self.max_session_timeout_ms = 1800000
        self._scripted: dict[int, list[int]] = {}
        self._held_apis: set[int] = set()
        self._held: list[tuple[int, Callable[[], None]]] = []
        self._ids = itertools.count(1)

    # -- scripting

    def fail_next(self, api_key: int, code: int, times: int = 1) -> None:
        """Answer the next C{times} requests of an API with an error code."""
        self._scripted.setdefault(api_key, []).extend([code] * times)

    def hold(self, api_key: int) -> None:
        """Leave requests of an API unanswered until L{release}."""
        self._held_apis.add(api_key)

    def release(self, api_key: int) -> None:
        """Stop holding an API and handle the requests held, in order."""
        self._held_apis.discard(api_key)
        held = [entry for entry in self._held if entry[0] == api_key]
        self._held = [entry for entry in self._held if entry[0] != api_key]
        for _, handle in held:
            handle()

    def group(self, group_id: str) -> FakeGroup:
        """@return: the group, created empty if new."""
        return self.groups.setdefault(group_id, FakeGroup(group_id))

    def bodies(self, api_key: int) -> list[Any]:
        """@return: the bodies of every request of an API received, in order."""
        return [body for _, header, body in self.requests if header.api_key == api_key]

    # -- dispatch

    def handle(
        self, node: Node, header: RequestHeader, body: Any, reply: Reply
    ) -> None:
        """Answer a group request received by C{node}, now or later."""
        api_key = header.api_key
        self.requests.append((node, header, body))
        if api_key in self._held_apis:
            self._held.append(
                (api_key, lambda: self._dispatch(node, header, body, reply))
            )
            return
        self._dispatch(node, header, body, reply)

    def _dispatch(
        self, node: Node, header: RequestHeader, body: Any, reply: Reply
    ) -> None:
        api_key, version = header.api_key, header.api_version
        scripted = self._scripted.get(api_key)
        if scripted:
            reply(self._error_fields(api_key, version, body, scripted.pop(0)))
            return
        if api_key == ApiKey.FIND_COORDINATOR:
            reply(self._find(version, body))
            return
        if (node.host, node.port) != (self.node.host, self.node.port):
            reply(self._error_fields(api_key, version, body, 16))  # NOT_COORDINATOR
            return
        handler = {
            ApiKey.JOIN_GROUP: self._join,
            ApiKey.SYNC_GROUP: self._sync,
            ApiKey.HEARTBEAT: self._heartbeat,
            ApiKey.LEAVE_GROUP: self._leave,
            ApiKey.OFFSET_COMMIT: self._commit,
            ApiKey.OFFSET_FETCH: self._fetch,
        }[ApiKey(api_key)]
        handler(header, body, reply)

    def _error_fields(
        self, api_key: int, version: int, body: Any, code: int
    ) -> dict[str, Any]:
        if api_key == ApiKey.FIND_COORDINATOR:
            keys = body.coordinator_keys if version >= 4 else (body.key,)
            return {
                "error_code": code,
                "node_id": -1,
                "port": -1,
                "coordinators": [
                    {"key": key, "node_id": -1, "port": -1, "error_code": code}
                    for key in keys
                ],
            }
        if api_key == ApiKey.JOIN_GROUP:
            return {
                "error_code": code,
                "generation_id": -1,
                "member_id": body.member_id,
            }
        if api_key == ApiKey.OFFSET_COMMIT:
            return {"topics": _topic_codes(body, code)}
        if api_key == ApiKey.OFFSET_FETCH:
            if version >= 8:
                groups = [
                    {"group_id": g.group_id, "error_code": code} for g in body.groups
                ]
                return {"groups": groups}
            if version >= 2:
                return {"error_code": code}
            return {"topics": _topic_codes(body, code, fetch=True)}
        return {"error_code": code}

    def _find(self, version: int, body: Any) -> dict[str, Any]:
        node = self.node
        found = {"node_id": node.node_id, "host": node.host, "port": node.port}
        keys = body.coordinator_keys if version >= 4 else (body.key,)
        return {
            "error_code": 0,
            **found,
            "coordinators": [{"key": key, "error_code": 0, **found} for key in keys],
        }

    # -- joining

    def _join(self, header: RequestHeader, body: Any, reply: Reply) -> None:
        version = header.api_version
        group = self.group(body.group_id)
        member_id = body.member_id
        instance = body.group_instance_id if version >= 5 else None

        def error(code: int, given_id: str = member_id) -> None:
            reply({"error_code": code, "generation_id": -1, "member_id": given_id})

        session_ms = _ms(body.session_timeout)
        protocols = tuple((p.name, bytes(p.metadata)) for p in body.protocols)
        names = {name for name, _ in protocols}
        others = [m for m in group.members.values() if m.member_id != member_id]
        if not body.group_id:
            return error(24)  # INVALID_GROUP_ID
        if not self.min_session_timeout_ms <= session_ms <= self.max_session_timeout_ms:
            return error(26)  # INVALID_SESSION_TIMEOUT
        if not protocols or (
            others
            and (
                body.protocol_type != group.protocol_type
                or not all(names & {n for n, _ in m.protocols} for m in others)
            )
        ):
            return error(23)  # INCONSISTENT_GROUP_PROTOCOL
        owner = group.static.get(instance) if instance is not None else None
        if member_id and owner is not None and owner != member_id:
            return error(82)  # FENCED_INSTANCE_ID
        if not member_id:
            member_id = f"{header.client_id or 'member'}-{next(self._ids)}"
            if instance is not None:
                old = group.static.get(instance)
                if old is not None:
                    self._remove(group, old)
                group.static[instance] = member_id
            elif version >= 4:
                group.pending.add(member_id)
                return error(79, member_id)  # MEMBER_ID_REQUIRED
        elif member_id in group.pending:
            group.pending.discard(member_id)
        elif member_id not in group.members:
            return error(25)  # UNKNOWN_MEMBER_ID
        rebalance_ms = _ms(body.rebalance_timeout) if version >= 1 else session_ms
        member = group.members.get(member_id)
        if member is None:
            member = FakeMember(member_id, instance, protocols, rebalance_ms)
            group.members[member_id] = member
        member.protocols, member.rebalance_timeout_ms = protocols, rebalance_ms
        group.protocol_type = body.protocol_type
        member.joining = reply
        if group.state != "PreparingRebalance":
            self._prepare_rebalance(group)
        self._maybe_complete_join(group)

    def _prepare_rebalance(self, group: FakeGroup) -> None:
        group.state = "PreparingRebalance"
        for member in group.members.values():
            if member.syncing is not None:
                syncing, member.syncing = member.syncing, None
                syncing({"error_code": 27})  # REBALANCE_IN_PROGRESS
        timeout_ms = max(m.rebalance_timeout_ms for m in group.members.values())
        group.timer = self.clock.callLater(
            timeout_ms / 1000, self._complete_join, group, True
        )

    def _maybe_complete_join(self, group: FakeGroup) -> None:
        if group.state == "PreparingRebalance" and all(
            m.joining is not None for m in group.members.values()
        ):
            self._complete_join(group, False)

    def _complete_join(self, group: FakeGroup, timed_out: bool) -> None:
        if group.timer is not None and group.timer.active():
            group.timer.cancel()
        group.timer = None
        for member in list(group.members.values()):
            if member.joining is None:
                self._remove(group, member.member_id)
        group.generation_id += 1
        if not group.members:
            group.state, group.leader_id, group.protocol_name = "Empty", None, None
            return
        members = list(group.members.values())
        if group.leader_id not in group.members:
            group.leader_id = members[0].member_id
        leader = group.members[group.leader_id]
        common = set.intersection(*({n for n, _ in m.protocols} for m in members))
        group.protocol_name = next(n for n, _ in leader.protocols if n in common)
        group.state = "CompletingRebalance"
        answers = []
        for member in members:
            listed = []
            if member is leader:
                listed = [
                    {
                        "member_id": m.member_id,
                        "group_instance_id": m.group_instance_id,
                        "metadata": dict(m.protocols)[group.protocol_name],
                    }
                    for m in members
                ]
            assert member.joining is not None
            answers.append((member.joining, member.member_id, listed))
            member.joining = None
        for joining, member_id, listed in answers:
            joining(
                {
                    "error_code": 0,
                    "generation_id": group.generation_id,
                    "protocol_type": group.protocol_type,
                    "protocol_name": group.protocol_name,
                    "leader": group.leader_id,
                    "member_id": member_id,
                    "members": listed,
                }
            )

    def _remove(self, group: FakeGroup, member_id: str) -> None:
        member = group.members.pop(member_id, None)
        if member is None:
            return
        instance = member.group_instance_id
        if instance is not None and group.static.get(instance) == member_id:
            del group.static[instance]
        for held in (member.joining, member.syncing):
            if held is not None:
                held({"error_code": 25, "generation_id": -1, "member_id": member_id})

    def _member_error(
        self,
        group: FakeGroup | None,
        member_id: str,
        instance: str | None,
        generation: int,
    ) -> int:
        if group is None or member_id not in group.members:
            if instance is not None and group is not None and instance in group.static:
                return 82  # FENCED_INSTANCE_ID
            return 25  # UNKNOWN_MEMBER_ID
        if generation != group.generation_id:
            return 22  # ILLEGAL_GENERATION
        return 0

    def _sync(self, header: RequestHeader, body: Any, reply: Reply) -> None:
        group = self.groups.get(body.group_id)
        instance = body.group_instance_id if header.api_version >= 3 else None
        code = self._member_error(group, body.member_id, instance, body.generation_id)
        if code or group is None:
            return reply({"error_code": code or 25})
        if group.state == "PreparingRebalance":
            return reply({"error_code": 27})  # REBALANCE_IN_PROGRESS
        member = group.members[body.member_id]
        member.syncing = reply
        if group.state == "CompletingRebalance" and body.member_id == group.leader_id:
            given = {
                entry.member_id: bytes(entry.assignment) for entry in body.assignments
            }
            for other in group.members.values():
                other.assignment = given.get(other.member_id, b"")
            group.state = "Stable"
        if group.state == "Stable":
            waiting = [m for m in group.members.values() if m.syncing is not None]
            for other in waiting:
                syncing, other.syncing = other.syncing, None
                assert syncing is not None
                syncing(
                    {
                        "error_code": 0,
                        "protocol_type": group.protocol_type,
                        "protocol_name": group.protocol_name,
                        "assignment": other.assignment,
                    }
                )

    def _heartbeat(self, header: RequestHeader, body: Any, reply: Reply) -> None:
        group = self.groups.get(body.group_id)
        instance = body.group_instance_id if header.api_version >= 3 else None
        code = self._member_error(group, body.member_id, instance, body.generation_id)
        if not code and group is not None and group.state == "PreparingRebalance":
            code = 27  # REBALANCE_IN_PROGRESS
        reply({"error_code": code})

    def _leave(self, header: RequestHeader, body: Any, reply: Reply) -> None:
        group = self.groups.get(body.group_id)
        leaving: list[tuple[str, str | None]]
        if header.api_version < 3:
            leaving = [(body.member_id, None)]
        else:
            leaving = [(m.member_id, m.group_instance_id) for m in body.members]
        answers = []
        for member_id, instance in leaving:
            if not member_id and group is not None and instance in group.static:
                member_id = group.static[instance]
            code = 25 if group is None or member_id not in group.members else 0
            answers.append(
                {
                    "member_id": member_id,
                    "group_instance_id": instance,
                    "error_code": code,
                }
            )
            if group is not None and not code:
                self._remove(group, member_id)
        if group is not None and group.state in ("Stable", "CompletingRebalance"):
            if group.members:
                self._prepare_rebalance(group)
            else:
                group.state = "Empty"
        if group is not None:
            self._maybe_complete_join(group)
        if header.api_version < 3:
            reply({"error_code": answers[0]["error_code"]})
        else:
            reply({"error_code": 0, "members": answers})

    # -- offsets

    def _commit(self, header: RequestHeader, body: Any, reply: Reply) -> None:
        version = header.api_version
        group = self.group(body.group_id)
        generation = body.generation_id_or_member_epoch
        code = 0
        if generation >= 0 or body.member_id or group.members:
            instance = body.group_instance_id if version >= 7 else None
            code = self._member_error(group, body.member_id, instance, generation)
            if not code and group.state == "CompletingRebalance":
                code = 27  # REBALANCE_IN_PROGRESS
        topics = []
        for topic in body.topics:
            partitions = []
            for partition in topic.partitions:
                tp = TopicPartition(topic.name, partition.partition_index)
                error = code or self.commit_errors.get(tp, 0)
                if not error:
                    epoch = partition.committed_leader_epoch if version >= 6 else -1
                    group.offsets[tp] = OffsetAndMetadata(
                        partition.committed_offset,
                        partition.committed_metadata or "",
                        epoch if epoch >= 0 else None,
                    )
                partitions.append(
                    {"partition_index": tp.partition, "error_code": error}
                )
            topics.append({"name": topic.name, "partitions": partitions})
        reply({"topics": topics})

    def _fetch(self, header: RequestHeader, body: Any, reply: Reply) -> None:
        if header.api_version >= 8:
            groups = [
                {"group_id": g.group_id, "topics": self._offsets(g.group_id, g.topics)}
                for g in body.groups
            ]
            return reply({"groups": groups})
        reply({"topics": self._offsets(body.group_id, body.topics)})

    def _offsets(self, group_id: str, topics: Any) -> list[dict[str, Any]]:
        offsets = self.group(group_id).offsets
        if topics is None:
            asked: dict[str, list[int]] = {}
            for tp in offsets:
                asked.setdefault(tp.topic, []).append(tp.partition)
        else:
            asked = {t.name: list(t.partition_indexes) for t in topics}
        answer = []
        for name, indexes in asked.items():
            partitions = []
            for index in indexes:
                tp = TopicPartition(name, index)
                committed = offsets.get(tp)
                epoch = committed.leader_epoch if committed is not None else None
                partitions.append(
                    {
                        "partition_index": index,
                        "committed_offset": committed.offset if committed else -1,
                        "committed_leader_epoch": -1 if epoch is None else epoch,
                        "metadata": committed.metadata if committed else "",
                        "error_code": self.fetch_errors.get(tp, 0),
                    }
                )
            answer.append({"name": name, "partitions": partitions})
        return answer


def _topic_codes(body: Any, code: int, fetch: bool = False) -> list[dict[str, Any]]:
    if fetch:
        return [
            {
                "name": t.name,
                "partitions": [
                    {"partition_index": i, "committed_offset": -1, "error_code": code}
                    for i in t.partition_indexes
                ],
            }
            for t in body.topics or ()
        ]
    return [
        {
            "name": t.name,
            "partitions": [
                {"partition_index": p.partition_index, "error_code": code}
                for p in t.partitions
            ],
        }
        for t in body.topics
    ]
