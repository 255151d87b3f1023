"""
What a consumer consumes: the topics it subscribed to (or the pattern, or the
partitions it assigned itself), the partitions assigned to it, and for each of them
where it is (its fetch position), whether it is paused and what the broker last said
of its offsets.

Sans-IO, as Kafka's C{SubscriptionState}: the coordinator, the fetcher and the
offset lookups read and change it on the reactor thread; nothing here does I/O or
reads a clock (times are passed in).

A partition is in one of three fetch states: I{initializing} (just assigned, no
position yet: the coordinator looks up its committed offset), I{awaiting reset} (no
committed offset, or the position fell out of range: an offset lookup resets it by
C{auto.offset.reset}) and I{fetching} (it has a position).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

import attrs

from odradek.client import errors
from odradek.client.structs import OffsetAndMetadata, TopicPartition

__all__ = [
    "FetchPosition",
    "FetchState",
    "SubscriptionState",
    "SubscriptionType",
]

_RESET_STRATEGIES = ("latest", "earliest", "none")

_MIXED = (
    "Subscription to topics, partitions and pattern are mutually exclusive; "
    "call unsubscribe() first"
)


@attrs.frozen
class FetchPosition:
    """
    Where a partition is fetched from next.

    @ivar offset: the offset of the next record to fetch.
    @ivar leader_epoch: the leader epoch of the last record consumed, if known.
    """

    offset: int
    leader_epoch: int | None = None


class SubscriptionType(enum.Enum):
    """How the consumer chose what to consume."""

    NONE = "none"
    """Neither subscribed nor assigned."""

    AUTO_TOPICS = "topics"
    """C{subscribe} with a list of topics: the group assigns partitions."""

    AUTO_PATTERN = "pattern"
    """C{subscribe} with a pattern: the group assigns partitions of matching topics."""

    USER_ASSIGNED = "assigned"
    """C{assign}: the application chose the partitions; no group rebalancing."""


class FetchState(enum.Enum):
    """Where an assigned partition stands."""

    INITIALIZING = "initializing"
    """No position yet: its committed offset is looked up first."""

    AWAIT_RESET = "await-reset"
    """No usable offset: reset by a reset strategy."""

    FETCHING = "fetching"
    """It has a position: records are fetched from it."""


@attrs.define
class _PartitionState:
    """The state of one assigned partition."""

    state: FetchState = FetchState.INITIALIZING
    position: FetchPosition | None = None
    reset_strategy: str | None = None
    reset_backoff_until_ms: float = 0.0
    paused: bool = False
    pending_revocation: bool = False
    high_watermark: int | None = None
    log_start_offset: int | None = None
    last_stable_offset: int | None = None
    preferred_read_replica: int | None = None
    preferred_read_replica_until_ms: float = 0.0


class SubscriptionState:
    """
    The subscription, assignment and positions of one consumer.

    @ivar default_reset: the C{auto.offset.reset} strategy: C{"latest"},
        C{"earliest"} or C{"none"}.
    @ivar subscription_type: how the consumer chose what to consume.
    @ivar listener: the rebalance listener given to C{subscribe}, or C{None}.
    @ivar pattern: the pattern subscribed to, or C{None}.
    """

    def __init__(self, default_reset: str = "latest") -> None:
        """
        @param default_reset: the C{auto.offset.reset} strategy.
        @raise ValueError: for another strategy.
        """
        if default_reset not in _RESET_STRATEGIES:
            raise ValueError(
                f"Invalid auto.offset.reset {default_reset!r}: latest, earliest or none"
            )
        self.default_reset = default_reset
        self.subscription_type = SubscriptionType.NONE
        self.listener: object | None = None
        self.pattern: re.Pattern[str] | None = None
        self._subscription: frozenset[str] = frozenset()
        self._group_subscription: frozenset[str] = frozenset()
        self._assignment: dict[TopicPartition, _PartitionState] = {}

    # -- subscribing

    def _set_type(self, kind: SubscriptionType) -> None:
        if self.subscription_type is SubscriptionType.NONE:
            self.subscription_type = kind
        elif self.subscription_type is not kind:
            raise errors.IllegalStateError(_MIXED)

    def subscribe(self, topics: Iterable[str], listener: object | None = None) -> bool:
        """
        Subscribe to a list of topics, replacing the topics subscribed before.

        @param topics: the topics.
        @param listener: the rebalance listener, or C{None}.
        @return: whether the set of topics changed.
        @raise errors.IllegalStateError: if partitions were assigned with C{assign}
            or a pattern was subscribed to.
        """
        self._set_type(SubscriptionType.AUTO_TOPICS)
        self.listener = listener
        return self._change_subscription(frozenset(topics))

    def subscribe_pattern(
        self, pattern: re.Pattern[str], listener: object | None = None
    ) -> None:
        """
        Subscribe to every topic whose whole name matches C{pattern}; the topics are
        found in the cluster's metadata by L{match_pattern}.

        @raise errors.IllegalStateError: if partitions were assigned with C{assign}
            or a list of topics was subscribed to.
        """
        self._set_type(SubscriptionType.AUTO_PATTERN)
        self.listener = listener
        self.pattern = pattern

    def match_pattern(self, all_topics: Iterable[str]) -> bool:
        """
        Subscribe to the topics among C{all_topics} the pattern matches.

        @return: whether the set of topics changed.
        """
        if self.pattern is None:
            return False
        fullmatch = self.pattern.fullmatch
        return self._change_subscription(
            frozenset(topic for topic in all_topics if fullmatch(topic))
        )

    def _change_subscription(self, topics: frozenset[str]) -> bool:
        if topics == self._subscription:
            return False
        self._subscription = topics
        self._group_subscription = topics
        return True

    @property
    def subscription(self) -> frozenset[str]:
        """The topics subscribed to (or matched by the pattern)."""
        return self._subscription

    @property
    def group_subscription(self) -> frozenset[str]:
        """
        The topics whose metadata the consumer needs: as the group's leader, every
        member's topics; otherwise its own.
        """
        return self._group_subscription | self._subscription

    def set_group_subscription(self, topics: Iterable[str]) -> None:
        """As the group's leader, remember every member's topics."""
        self._group_subscription = frozenset(topics) | self._subscription

    def reset_group_subscription(self) -> None:
        """Forget the other members' topics (no longer the leader)."""
        self._group_subscription = self._subscription

    def has_auto_assigned_partitions(self) -> bool:
        """@return: whether the group assigns the partitions (C{subscribe})."""
        return self.subscription_type in (
            SubscriptionType.AUTO_TOPICS,
            SubscriptionType.AUTO_PATTERN,
        )

    def assign_from_user(self, partitions: Iterable[TopicPartition]) -> bool:
        """
        Assign partitions chosen by the application, replacing those assigned
        before; partitions kept keep their position.

        @return: whether the assignment changed.
        @raise errors.IllegalStateError: if the consumer subscribed to topics.
        """
        self._set_type(SubscriptionType.USER_ASSIGNED)
        wanted = list(dict.fromkeys(partitions))
        changed = set(wanted) != set(self._assignment)
        self._reassign(wanted)
        self._subscription = frozenset(tp.topic for tp in wanted)
        self._group_subscription = self._subscription
        return changed

    def assign_from_subscribed(self, partitions: Iterable[TopicPartition]) -> None:
        """
        Take the group's assignment: partitions kept keep their state, new ones
        start initializing, the others are dropped.

        @raise errors.IllegalStateError: if the consumer did not subscribe.
        """
        if not self.has_auto_assigned_partitions():
            raise errors.IllegalStateError(
                "an assignment from the group came to a consumer that did not subscribe"
            )
        self._reassign(list(dict.fromkeys(partitions)))

    def _reassign(self, partitions: list[TopicPartition]) -> None:
        old = self._assignment
        self._assignment = {tp: old.get(tp) or _PartitionState() for tp in partitions}
        for state in self._assignment.values():
            state.pending_revocation = False

    def unsubscribe(self) -> None:
        """Forget the subscription, the pattern and every assigned partition."""
        self.subscription_type = SubscriptionType.NONE
        self.listener = None
        self.pattern = None
        self._subscription = frozenset()
        self._group_subscription = frozenset()
        self._assignment = {}

    # -- the assignment

    def assigned_partitions(self) -> list[TopicPartition]:
        """@return: the assigned partitions, in assignment order."""
        return list(self._assignment)

    def is_assigned(self, tp: TopicPartition) -> bool:
        """@return: whether C{tp} is assigned."""
        return tp in self._assignment

    def _state(self, tp: TopicPartition) -> _PartitionState:
        state = self._assignment.get(tp)
        if state is None:
            raise errors.IllegalStateError(f"No current assignment for partition {tp}")
        return state

    def fetch_state(self, tp: TopicPartition) -> FetchState:
        """
        @return: the fetch state of an assigned partition.
        @raise errors.IllegalStateError: if C{tp} is not assigned.
        """
        return self._state(tp).state

    def is_fetchable(self, tp: TopicPartition) -> bool:
        """
        @return: whether records may be fetched for C{tp}: assigned, with a
            position, neither paused nor about to be revoked.
        """
        state = self._assignment.get(tp)
        return (
            state is not None
            and state.state is FetchState.FETCHING
            and not state.paused
            and not state.pending_revocation
        )

    def fetchable_partitions(self) -> list[TopicPartition]:
        """@return: the partitions records may be fetched for, in order."""
        return [
            tp
            for tp, state in self._assignment.items()
            if state.state is FetchState.FETCHING
            and not state.paused
            and not state.pending_revocation
        ]

    def initializing_partitions(self) -> list[TopicPartition]:
        """@return: the partitions whose committed offset is to be looked up."""
        return [
            tp
            for tp, state in self._assignment.items()
            if state.state is FetchState.INITIALIZING
        ]

    def has_all_positions(self) -> bool:
        """@return: whether every assigned partition has a position."""
        return all(
            state.state is FetchState.FETCHING for state in self._assignment.values()
        )

    def mark_pending_revocation(self, partitions: Iterable[TopicPartition]) -> None:
        """Stop fetching partitions about to be revoked (cooperative rebalancing)."""
        for tp in partitions:
            state = self._assignment.get(tp)
            if state is not None:
                state.pending_revocation = True

    # -- positions and resets

    def request_reset(self, tp: TopicPartition, strategy: str | None = None) -> None:
        """
        Reset C{tp}'s position by a strategy: the next offset lookup moves it to
        the earliest or latest offset.

        @param strategy: C{"earliest"}, C{"latest"} or C{"none"} (no reset
            possible: the lookup raises L{errors.NoOffsetForPartitionError});
            C{None} means C{auto.offset.reset}.
        @raise errors.IllegalStateError: if C{tp} is not assigned.
        @raise ValueError: for another strategy.
        """
        strategy = strategy or self.default_reset
        if strategy not in _RESET_STRATEGIES:
            raise ValueError(f"Invalid offset reset strategy {strategy!r}")
        state = self._state(tp)
        state.state = FetchState.AWAIT_RESET
        state.position = None
        state.reset_strategy = strategy
        state.reset_backoff_until_ms = 0.0
        state.preferred_read_replica = None

    def reset_strategy(self, tp: TopicPartition) -> str | None:
        """
        @return: the strategy C{tp} awaits a reset by, or C{None} if it awaits
            none.
        """
        state = self._assignment.get(tp)
        if state is None or state.state is not FetchState.AWAIT_RESET:
            return None
        return state.reset_strategy

    def partitions_needing_reset(self, now_ms: float) -> list[TopicPartition]:
        """
        @param now_ms: the time now, in milliseconds.
        @return: the partitions awaiting a reset and not backing off.
        """
        return [
            tp
            for tp, state in self._assignment.items()
            if state.state is FetchState.AWAIT_RESET
            and state.reset_backoff_until_ms <= now_ms
        ]

    def set_reset_backoff(
        self, partitions: Iterable[TopicPartition], until_ms: float
    ) -> None:
        """Do not retry the reset of C{partitions} before C{until_ms}."""
        for tp in partitions:
            state = self._assignment.get(tp)
            if state is not None:
                state.reset_backoff_until_ms = until_ms

    def seek(
        self, tp: TopicPartition, offset: int, leader_epoch: int | None = None
    ) -> None:
        """
        Fetch C{tp} from C{offset} next.

        @raise errors.IllegalStateError: if C{tp} is not assigned.
        @raise ValueError: for a negative offset.
        """
        if offset < 0:
            raise ValueError(f"seek offset must not be a negative number: {offset}")
        self.set_position(tp, FetchPosition(offset, leader_epoch))

    def set_position(self, tp: TopicPartition, position: FetchPosition) -> None:
        """
        Set C{tp}'s position (the fetcher advances it as records are handed out).

        @raise errors.IllegalStateError: if C{tp} is not assigned.
        """
        state = self._state(tp)
        state.state = FetchState.FETCHING
        state.position = position
        state.reset_strategy = None

    def position(self, tp: TopicPartition) -> FetchPosition | None:
        """
        @return: C{tp}'s position, or C{None} if it has none yet.
        @raise errors.IllegalStateError: if C{tp} is not assigned.
        """
        return self._state(tp).position

    def has_valid_position(self, tp: TopicPartition) -> bool:
        """@return: whether C{tp} is assigned and has a position."""
        state = self._assignment.get(tp)
        return state is not None and state.state is FetchState.FETCHING

    def all_consumed(self) -> dict[TopicPartition, OffsetAndMetadata]:
        """
        @return: the offsets to commit for what was consumed: each assigned
            partition's position, with its leader epoch.
        """
        return {
            tp: OffsetAndMetadata(
                state.position.offset, "", state.position.leader_epoch
            )
            for tp, state in self._assignment.items()
            if state.state is FetchState.FETCHING and state.position is not None
        }

    # -- pausing

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        """
        Stop fetching C{partitions} until they are resumed.

        @raise errors.IllegalStateError: if one of them is not assigned.
        """
        for tp in partitions:
            self._state(tp).paused = True

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        """
        Fetch C{partitions} again.

        @raise errors.IllegalStateError: if one of them is not assigned.
        """
        for tp in partitions:
            self._state(tp).paused = False

    def is_paused(self, tp: TopicPartition) -> bool:
        """@return: whether C{tp} is assigned and paused."""
        state = self._assignment.get(tp)
        return state is not None and state.paused

    def paused_partitions(self) -> frozenset[TopicPartition]:
        """@return: the paused partitions."""
        return frozenset(tp for tp, state in self._assignment.items() if state.paused)

    # -- what the broker says

    def update_high_watermark(self, tp: TopicPartition, offset: int) -> None:
        """Remember C{tp}'s high watermark, if it is still assigned."""
        state = self._assignment.get(tp)
        if state is not None:
            state.high_watermark = offset

    def high_watermark(self, tp: TopicPartition) -> int | None:
        """@return: C{tp}'s last known high watermark."""
        state = self._assignment.get(tp)
        return None if state is None else state.high_watermark

    def update_log_start_offset(self, tp: TopicPartition, offset: int) -> None:
        """Remember C{tp}'s log start offset, if it is still assigned."""
        state = self._assignment.get(tp)
        if state is not None:
            state.log_start_offset = offset

    def log_start_offset(self, tp: TopicPartition) -> int | None:
        """@return: C{tp}'s last known log start offset."""
        state = self._assignment.get(tp)
        return None if state is None else state.log_start_offset

    def update_last_stable_offset(self, tp: TopicPartition, offset: int) -> None:
        """Remember C{tp}'s last stable offset, if it is still assigned."""
        state = self._assignment.get(tp)
        if state is not None:
            state.last_stable_offset = offset

    def last_stable_offset(self, tp: TopicPartition) -> int | None:
        """@return: C{tp}'s last known last stable offset."""
        state = self._assignment.get(tp)
        return None if state is None else state.last_stable_offset

    def lag(self, tp: TopicPartition, isolation_level: str) -> int | None:
        """
        @param isolation_level: C{"read_committed"} measures the lag to the last
            stable offset, C{"read_uncommitted"} to the high watermark.
        @return: how many records C{tp}'s position is behind, or C{None} if
            unknown.
        """
        state = self._assignment.get(tp)
        if state is None or state.position is None:
            return None
        end = (
            state.last_stable_offset
            if isolation_level == "read_committed"
            else state.high_watermark
        )
        return None if end is None else end - state.position.offset

    def update_preferred_read_replica(
        self, tp: TopicPartition, node_id: int, until_ms: float
    ) -> None:
        """Fetch C{tp} from replica C{node_id} until C{until_ms} (KIP-392)."""
        state = self._assignment.get(tp)
        if state is not None:
            state.preferred_read_replica = node_id
            state.preferred_read_replica_until_ms = until_ms

    def preferred_read_replica(
        self, tp: TopicPartition, now_ms: float | None = None
    ) -> int | None:
        """
        @param now_ms: the time now; when given, a replica whose time ran out is
            forgotten.
        @return: the replica to fetch C{tp} from instead of its leader, or C{None}.
        """
        state = self._assignment.get(tp)
        if state is None or state.preferred_read_replica is None:
            return None
        if now_ms is not None and now_ms >= state.preferred_read_replica_until_ms:
            state.preferred_read_replica = None
            return None
        return state.preferred_read_replica

    def clear_preferred_read_replica(self, tp: TopicPartition) -> None:
        """Fetch C{tp} from its leader again."""
        state = self._assignment.get(tp)
        if state is not None:
            state.preferred_read_replica = None
