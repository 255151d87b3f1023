"""
A group member's liveness: L{Heartbeat}, the sans-IO timers of Apache Kafka's
C{Heartbeat} (when to send the next heartbeat, when the session has gone without a
successful one for too long, when the application has not polled for too long), and
L{HeartbeatLoop}, which acts on them with the reactor's delayed calls in place of
Kafka's heartbeat thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from odradek.client import errors
from odradek.client.consumer._grouptypes import Generation, MemberState
from odradek.client.network.cluster import Node
from odradek.client.network.group_requests import heartbeat_request, parse_heartbeat
from odradek.client.protocol import ApiKey

if TYPE_CHECKING:
    from odradek.client.consumer._membership import GroupMembership

__all__ = ["Heartbeat", "HeartbeatLoop"]


@attrs.define
class Heartbeat:
    """
    Three deadlines and whether a heartbeat is in flight.

    @ivar session_timeout_ms: C{session.timeout.ms}: how long the member may go
        without a successful heartbeat before it suspects the coordinator.
    @ivar heartbeat_interval_ms: C{heartbeat.interval.ms}: the time between two
        heartbeats.
    @ivar max_poll_interval_ms: C{max.poll.interval.ms}: how long the application
        may go without polling before the member leaves the group.
    @ivar retry_backoff_ms: C{retry.backoff.ms}: the wait after a failed heartbeat.
    @ivar in_flight: whether a heartbeat was sent and not yet answered.
    @ivar last_sent_ms: when the last heartbeat was sent, or -1.
    """

    session_timeout_ms: int
    heartbeat_interval_ms: int
    max_poll_interval_ms: int
    retry_backoff_ms: int
    in_flight: bool = attrs.field(init=False, default=False)
    last_sent_ms: float = attrs.field(init=False, default=-1.0)
    _session_deadline_ms: float = attrs.field(init=False, default=0.0)
    _poll_deadline_ms: float = attrs.field(init=False, default=0.0)
    _next_heartbeat_ms: float = attrs.field(init=False, default=0.0)

    def reset_timeouts(self, now_ms: float) -> None:
        """
        Start over, as when the member has just joined: a full session and poll
        interval, and the first heartbeat one interval from now.

        @param now_ms: the current time.
        """
        self.in_flight = False
        self._session_deadline_ms = now_ms + self.session_timeout_ms
        self._poll_deadline_ms = now_ms + self.max_poll_interval_ms
        self._next_heartbeat_ms = now_ms + self.heartbeat_interval_ms

    def reset_session_timeout(self, now_ms: float) -> None:
        """
        Give the session a full timeout from now (a coordinator was found).

        @param now_ms: the current time.
        """
        self._session_deadline_ms = now_ms + self.session_timeout_ms

    def poll(self, now_ms: float) -> None:
        """
        The application polled: restart the poll interval.

        @param now_ms: the current time.
        """
        self._poll_deadline_ms = now_ms + self.max_poll_interval_ms

    def sent_heartbeat(self, now_ms: float) -> None:
        """
        A heartbeat was sent; the next is due one interval from now.

        @param now_ms: the current time.
        """
        self.in_flight = True
        self.last_sent_ms = now_ms
        self._next_heartbeat_ms = now_ms + self.heartbeat_interval_ms

    def received_heartbeat(self, now_ms: float) -> None:
        """
        A heartbeat was answered without a failure: the session is alive.

        @param now_ms: the current time.
        """
        self.in_flight = False
        self._session_deadline_ms = now_ms + self.session_timeout_ms

    def failed_heartbeat(self, now_ms: float) -> None:
        """
        A heartbeat failed: try again after the retry backoff.

        @param now_ms: the current time.
        """
        self.in_flight = False
        self._next_heartbeat_ms = now_ms + self.retry_backoff_ms

    def should_heartbeat(self, now_ms: float) -> bool:
        """
        @param now_ms: the current time.
        @return: whether a heartbeat is due and none is in flight.
        """
        return not self.in_flight and now_ms >= self._next_heartbeat_ms

    def session_timeout_expired(self, now_ms: float) -> bool:
        """
        @param now_ms: the current time.
        @return: whether no heartbeat succeeded for a whole session timeout.
        """
        return now_ms >= self._session_deadline_ms

    def poll_timeout_expired(self, now_ms: float) -> bool:
        """
        @param now_ms: the current time.
        @return: whether the application did not poll for C{max_poll_interval_ms}.
        """
        return now_ms >= self._poll_deadline_ms

    def time_to_next_check_ms(self, now_ms: float) -> float:
        """
        @param now_ms: the current time.
        @return: how long until one of the deadlines comes (the next heartbeat
            counts only when none is in flight), 0 if one has passed.
        """
        due = min(self._session_deadline_ms, self._poll_deadline_ms)
        if not self.in_flight:
            due = min(due, self._next_heartbeat_ms)
        return max(0.0, due - now_ms)


@attrs.define(eq=False)
class HeartbeatLoop:
    """
    Heartbeats of one L{GroupMembership
    <odradek.client.consumer._membership.GroupMembership>} while it is in a
    generation: every C{heartbeat.interval.ms}, with the checks of Kafka's
    heartbeat thread at each turn (coordinator unknown: look it up; session
    expired: mark the coordinator unknown; poll interval expired: leave).

    @ivar membership: the member.
    @ivar timers: its deadlines.
    @ivar running: whether heartbeats are on.
    """

    membership: GroupMembership
    timers: Heartbeat
    running: bool = attrs.field(init=False, default=False)
    _call: IDelayedCall | None = attrs.field(init=False, default=None)
    _sent: Deferred[None] | None = attrs.field(init=False, default=None)

    _log = Logger()

    def _now_ms(self) -> float:
        return self.membership.reactor.seconds() * 1000

    def start(self) -> None:
        """Heartbeat from now on, with fresh deadlines."""
        self.running = True
        self.timers.reset_timeouts(self._now_ms())
        self._schedule()

    def stop(self) -> None:
        """Stop; a heartbeat in flight still has its answer handled."""
        self.running = False
        self._cancel_call()

    def cancel_in_flight(self) -> None:
        """Abandon the heartbeat in flight, if any."""
        if self._sent is not None:
            self._sent.cancel()

    def _cancel_call(self) -> None:
        if self._call is not None:
            if self._call.active():
                self._call.cancel()
            self._call = None

    def _schedule(self, delay_ms: float | None = None) -> None:
        self._cancel_call()
        if not self.running or self.membership.closed:
            return
        if delay_ms is None:
            delay_ms = self.timers.time_to_next_check_ms(self._now_ms())
        self._call = self.membership.reactor.callLater(delay_ms / 1000, self._tick)

    def _tick(self) -> None:
        self._call = None
        membership = self.membership
        if not self.running or membership.closed:
            return
        now = self._now_ms()
        backoff_ms = membership.settings.retry_backoff_ms
        if membership.coordinator is None:
            membership.ensure_coordinator_ready().addErrback(self._lookup_failed)
            self._schedule(backoff_ms)
        elif self.timers.session_timeout_expired(now):
            membership.mark_coordinator_unknown(
                "session timed out without receiving a heartbeat response"
            )
            self._schedule(backoff_ms)
        elif self.timers.poll_timeout_expired(now):
            self._log.warn(
                "consumer poll timeout has expired: the time between calls to "
                "poll() was longer than max.poll.interval.ms ({interval} ms); "
                "leaving group {group}",
                interval=membership.settings.rebalance_timeout_ms,
                group=membership.group_id,
            )
            membership.maybe_leave_group("consumer poll timeout has expired")
        else:
            if self.timers.should_heartbeat(now):
                self._send(now)
            self._schedule()

    def _lookup_failed(self, failure: Failure) -> None:
        error = failure.value
        if error is None or isinstance(
            error, errors.RetriableError | errors.IllegalStateError
        ):
            return
        # Heartbeats cannot go on; the next ensure_active_group raises the error.
        self.stop()
        self.membership.fatal(error)
        self.membership.request_rejoin(f"the coordinator lookup failed: {error}")

    def _send(self, now: float) -> None:
        self.timers.sent_heartbeat(now)
        node, generation = self.membership.coordinator, self.membership.generation
        assert node is not None
        sent = Deferred.fromCoroutine(self._round(node, generation))
        if not sent.called:
            self._sent = sent

    async def _round(self, node: Node, generation: Generation) -> None:
        membership = self.membership
        try:
            connection = await membership.coordinator_connection(node)
            request = heartbeat_request(
                connection.version_for(ApiKey.HEARTBEAT),
                group_id=membership.group_id,
                generation_id=generation.generation_id,
                member_id=generation.member_id,
                group_instance_id=membership.settings.group_instance_id,
            )
            parse_heartbeat(await membership.send_to_coordinator_node(node, request))
        except CancelledError:
            return
        except errors.KafkaError as error:
            self._failed(node, generation, error)
        else:
            self.timers.received_heartbeat(self._now_ms())
        finally:
            self._sent = None
        self._schedule()

    def _failed(
        self, node: Node, generation: Generation, error: errors.KafkaError
    ) -> None:
        membership = self.membership
        now = self._now_ms()
        if isinstance(
            error, errors.NotCoordinatorError | errors.CoordinatorNotAvailableError
        ):
            membership.coordinator_failed(node, f"heartbeat failed: {error.name}")
        elif isinstance(error, errors.RebalanceInProgressError):
            # The member stays in the group for the rebalance; only a stable
            # member needs to rejoin (one completing a rebalance learns from its
            # SyncGroup answer).
            self.timers.received_heartbeat(now)
            if membership.state is MemberState.STABLE:
                membership.request_rejoin("group is already rebalancing")
            return
        elif isinstance(
            error,
            errors.IllegalGenerationError
            | errors.UnknownMemberIdError
            | errors.FencedInstanceIdError,
        ):
            if membership.generation != generation:
                # An answer about an older generation: nothing to do.
                self.timers.received_heartbeat(now)
                return
            if isinstance(error, errors.FencedInstanceIdError):
                self._log.error(
                    "Group instance id {instance} of group {group} was fenced by "
                    "another instance",
                    instance=membership.settings.group_instance_id,
                    group=membership.group_id,
                )
                membership.fatal(error)
            membership.reset_generation(
                f"encountered {error.name} from HEARTBEAT response",
                reset_member_id=not isinstance(error, errors.IllegalGenerationError),
            )
        self.timers.failed_heartbeat(now)
