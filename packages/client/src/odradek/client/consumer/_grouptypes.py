"""
The values and seams of group membership: the member's state and generation, its
settings, the hooks a group protocol provides (L{MembershipHooks}), and a helper
that lets several callers wait for one operation.
"""

from __future__ import annotations

import enum
from typing import Generic, Protocol, TypeVar

import attrs
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from odradek.client import errors
from odradek.client.network.group_requests import JoinedMember

__all__ = [
    "NO_GENERATION",
    "Generation",
    "MemberState",
    "MembershipConfig",
    "MembershipHooks",
    "MembershipSettings",
    "SharedOperation",
    "as_deferred",
]

_T = TypeVar("_T")


class MemberState(enum.Enum):
    """Where a member stands in its group."""

    #: Not in the group.
    UNJOINED = "unjoined"
    #: A JoinGroup request is under way.
    PREPARING_REBALANCE = "preparing-rebalance"
    #: Joined; waiting for the assignment (SyncGroup). Heartbeats run.
    COMPLETING_REBALANCE = "completing-rebalance"
    #: Joined and assigned. Heartbeats run.
    STABLE = "stable"


@attrs.frozen
class Generation:
    """
    A generation of the group as this member knows it.

    @ivar generation_id: the generation, or -1 when not joined.
    @ivar member_id: this member's id, or C{""} before the coordinator gave one.
    @ivar protocol_name: the protocol (assignor) the group chose, or C{None}.
    """

    generation_id: int
    member_id: str
    protocol_name: str | None


#: The generation of a member that never joined, or whose generation was reset.
NO_GENERATION = Generation(-1, "", None)


class MembershipHooks(Protocol):
    """
    What a group's protocol does at each step of the membership (the consumer's
    coordinator implements it). A hook may return a Deferred, which is waited for.
    """

    #: The protocol type sent in JoinGroup, C{"consumer"} for a consumer.
    protocol_type: str

    def join_protocols(self) -> list[tuple[str, bytes]]:
        """
        @return: C{(protocol name, metadata)} of each protocol (assignor) this
            member supports, by preference.
        """

    def on_join_prepare(self, generation: Generation) -> Deferred[None] | None:
        """
        Called before each JoinGroup that follows a completed join (or a reset
        generation).

        @param generation: the generation being left.
        """

    def perform_assignment(
        self, leader_id: str, protocol: str, members: list[JoinedMember]
    ) -> Deferred[dict[str, bytes]]:
        """
        Called on the leader only, to assign.

        @param leader_id: this member's id.
        @param protocol: the protocol the group chose.
        @param members: every member with its metadata.
        @return: a Deferred firing with the assignment of each member id.
        """

    def on_join_complete(
        self, generation: Generation, protocol: str, assignment: bytes
    ) -> Deferred[None] | None:
        """
        Called once the member has its assignment; retried by the next
        C{ensure_active_group} if it fails.

        @param generation: the generation joined.
        @param protocol: the protocol the group chose.
        @param assignment: this member's assignment.
        """

    def on_generation_lost(self, reason: str) -> None:
        """
        Called when the generation is reset: the member no longer owns what it
        was assigned.

        @param reason: why.
        """


def as_deferred(result: Deferred[_T] | _T) -> Deferred[_T]:
    """
    @param result: a hook's result, a Deferred or a plain value.
    @return: a Deferred of it.
    """
    if isinstance(result, Deferred):
        return result
    waiting: Deferred[_T] = Deferred()
    waiting.callback(result)
    return waiting


class MembershipConfig(Protocol):
    """The settings L{MembershipSettings.from_config} reads (a C{ConsumerConfig})."""

    @property
    def group_id(self) -> str | None: ...
    @property
    def group_instance_id(self) -> str | None: ...
    @property
    def session_timeout_ms(self) -> int: ...
    @property
    def max_poll_interval_ms(self) -> int: ...
    @property
    def heartbeat_interval_ms(self) -> int: ...
    @property
    def retry_backoff_ms(self) -> int: ...
    @property
    def retry_backoff_max_ms(self) -> int: ...
    @property
    def request_timeout_ms(self) -> int: ...


@attrs.frozen
class MembershipSettings:
    """
    How a member takes part in its group.

    @ivar group_id: C{group.id}.
    @ivar group_instance_id: C{group.instance.id} (static membership), or C{None}.
    @ivar session_timeout_ms: C{session.timeout.ms}.
    @ivar rebalance_timeout_ms: how long the coordinator waits for members to
        rejoin; a consumer's C{max.poll.interval.ms}, which is also how long the
        application may go without polling.
    @ivar heartbeat_interval_ms: C{heartbeat.interval.ms}.
    @ivar retry_backoff_ms: C{retry.backoff.ms}.
    @ivar retry_backoff_max_ms: C{retry.backoff.max.ms}: the longest wait between
        coordinator lookups.
    @ivar request_timeout_ms: C{request.timeout.ms}.
    @ivar leave_group_on_close: whether L{GroupMembership.close} sends LeaveGroup
        (Kafka's C{internal.leave.group.on.close}).
    @ivar client_rack: C{client.rack}, or C{None}.
    """

    group_id: str
    group_instance_id: str | None = None
    session_timeout_ms: int = 45000
    rebalance_timeout_ms: int = 300000
    heartbeat_interval_ms: int = 3000
    retry_backoff_ms: int = 100
    retry_backoff_max_ms: int = 1000
    request_timeout_ms: int = 30000
    leave_group_on_close: bool = True
    client_rack: str | None = None

    @classmethod
    def from_config(cls, config: MembershipConfig) -> MembershipSettings:
        """
        @param config: a consumer's configuration, with a C{group.id}.
        @return: the settings it gives.
        @raise InvalidGroupIdError: if it has no C{group.id}.
        """
        if config.group_id is None:
            raise errors.InvalidGroupIdError(
                "group membership needs a group.id in the consumer configuration"
            )
        return cls(
            group_id=config.group_id,
            group_instance_id=config.group_instance_id,
            session_timeout_ms=config.session_timeout_ms,
            rebalance_timeout_ms=config.max_poll_interval_ms,
            heartbeat_interval_ms=config.heartbeat_interval_ms,
            retry_backoff_ms=config.retry_backoff_ms,
            retry_backoff_max_ms=config.retry_backoff_max_ms,
            request_timeout_ms=config.request_timeout_ms,
            leave_group_on_close=bool(
                getattr(config, "internal_leave_group_on_close", True)
            ),
            client_rack=getattr(config, "client_rack", None) or None,
        )


class SharedOperation(Generic[_T]):
    """
    One operation under way and the callers waiting for it, each with its own
    Deferred: a caller cancelling its Deferred stops waiting, not the operation.

    @ivar waiters: the callers' Deferreds.
    @ivar operation: the operation's Deferred, once started.
    """

    def __init__(self) -> None:
        self.waiters: list[Deferred[_T]] = []
        self.operation: Deferred[_T] | None = None

    def wait(self) -> Deferred[_T]:
        """@return: a new Deferred for the outcome."""
        waiter: Deferred[_T] = Deferred(self._forget)
        self.waiters.append(waiter)
        return waiter

    def _forget(self, waiter: Deferred[_T]) -> None:
        if waiter in self.waiters:
            self.waiters.remove(waiter)

    def fire(self, result: _T | Failure | BaseException) -> None:
        """
        @param result: the outcome, given to every waiter.
        """
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if isinstance(result, Failure | BaseException):
                waiter.errback(result)
            else:
                waiter.callback(result)
