"""
The committed offsets of a group and the topics its consumers subscribe to: a part
of L{GroupMetadata<odradek.broker.coordinator.group.group.GroupMetadata>}.
"""

from __future__ import annotations

from collections.abc import Iterable

from odradek.broker.coordinator.group._subscription import (
    CONSUMER_PROTOCOL_TYPE,
    subscribed_topics,
)
from odradek.broker.coordinator.group.member import MemberMetadata
from odradek.broker.coordinator.group.values import CommittedOffset
from odradek.client.structs import TopicPartition

__all__: list[str] = []


class GroupOffsets:
    """
    The offsets part of a group; L{GroupMetadata
    <odradek.broker.coordinator.group.group.GroupMetadata>} holds the attributes.
    """

    protocol_type: str | None
    protocol_name: str | None
    members: dict[str, MemberMetadata]
    subscribed_topics: frozenset[str] | None
    offsets: dict[TopicPartition, CommittedOffset]
    pending_offset_commits: dict[TopicPartition, CommittedOffset]
    state_timestamp_ms: int | None

    def _is_state(self, name: str) -> bool:
        raise NotImplementedError()

    def compute_subscribed_topics(self) -> frozenset[str] | None:
        """
        @return: the union of the consumers' subscribed topics, C{None} if the
            group is no consumer group or a subscription cannot be read.
        """
        if self.protocol_type != CONSUMER_PROTOCOL_TYPE:
            return None
        if not self.members:
            return frozenset()
        if self.protocol_name is None:
            return None
        topics: set[str] = set()
        for member in self.members.values():
            try:
                found = subscribed_topics(member.metadata(self.protocol_name))
            except KeyError:
                return None
            if found is None:
                return None
            topics |= found
        return frozenset(topics)

    def is_subscribed_to_topic(self, topic: str) -> bool:
        """
        @param topic: a topic.
        @return: whether a member may consume it (C{True} when unknown).
        """
        if self.subscribed_topics is None:
            return True
        return topic in self.subscribed_topics

    # Offsets.

    def has_offsets(self) -> bool:
        """
        @return: whether the group has committed offsets, or commits being written.
        """
        return bool(self.offsets) or bool(self.pending_offset_commits)

    def remove_offsets(
        self, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, CommittedOffset]:
        """
        Forget committed offsets (and commits being written for them).

        @param partitions: the partitions.
        @return: the offsets that were committed.
        """
        removed = {}
        for tp in partitions:
            self.pending_offset_commits.pop(tp, None)
            offset = self.offsets.pop(tp, None)
            if offset is not None:
                removed[tp] = offset
        return removed

    def remove_expired_offsets(
        self, now_ms: int, retention_ms: int
    ) -> dict[TopicPartition, CommittedOffset]:
        """
        Forget the offsets that expired (KIP-211): for an empty group, C{retention_ms}
        after the group became empty; for a stable consumer group, offsets of topics
        no member subscribes to, C{retention_ms} after their commit; for a group
        that only commits, C{retention_ms} after their commit. An offset with an
        explicit expiry expires then instead. Offsets being written are kept.

        @param now_ms: the time.
        @param retention_ms: C{offsets.retention.minutes} in milliseconds.
        @return: the offsets removed.
        """
        subscribed: frozenset[str] = frozenset()
        if self.protocol_type is not None and self._is_state("Empty"):
            state_ms = self.state_timestamp_ms

            def base(offset: CommittedOffset) -> int:
                return offset.commit_timestamp_ms if state_ms is None else state_ms

        elif (
            self.protocol_type == CONSUMER_PROTOCOL_TYPE
            and self.subscribed_topics is not None
            and self._is_state("Stable")
        ):
            subscribed = self.subscribed_topics

            def base(offset: CommittedOffset) -> int:
                return offset.commit_timestamp_ms

        elif self.protocol_type is None:

            def base(offset: CommittedOffset) -> int:
                return offset.commit_timestamp_ms

        else:
            return {}
        expired = {}
        for tp, offset in self.offsets.items():
            if tp.topic in subscribed or tp in self.pending_offset_commits:
                continue
            if offset.expire_timestamp_ms is None:
                if now_ms - base(offset) < retention_ms:
                    continue
            elif now_ms < offset.expire_timestamp_ms:
                continue
            expired[tp] = offset
        for tp in expired:
            del self.offsets[tp]
        return expired
