"""
Membership of a group over Kafka's classic group protocol: L{GroupMembership}, the
Twisted counterpart of Apache Kafka's C{AbstractCoordinator}.

A member finds its group's coordinator (FindCoordinator), joins the group
(JoinGroup, then SyncGroup, where the leader hands out the assignment) and stays in
it with heartbeats while the application keeps polling. What the group's protocol
means (subscriptions, assignors, partitions) is left to L{MembershipHooks}, which
the consumer's coordinator implements. Everything runs on the reactor thread; time
comes from the reactor and timers are its delayed calls.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
from kio.static.protocol import RequestPayload, ResponsePayload
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from odradek.client import errors
from odradek.client.consumer._grouptypes import (
    NO_GENERATION,
    Generation,
    MembershipConfig,
    MembershipHooks,
    MembershipSettings,
    MemberState,
    SharedOperation,
)
from odradek.client.consumer._heartbeat import Heartbeat, HeartbeatLoop
from odradek.client.consumer._joining import GroupJoin
from odradek.client.network.cluster import Node
from odradek.client.network.connection import KafkaConnection
from odradek.client.network.group_requests import (
    JoinedMember,
    find_coordinator_request,
    leave_group_request,
    parse_find_coordinator,
    parse_leave_group,
)
from odradek.client.network.metadata import MetadataManager
from odradek.client.network.pool import ConnectionPool
from odradek.client.protocol import ApiKey

__all__ = [
    "NO_GENERATION",
    "Generation",
    "GroupMembership",
    "JoinedMember",
    "MemberState",
    "MembershipConfig",
    "MembershipHooks",
    "MembershipSettings",
]

#: Coordinator connections get the node id C{2**31 - 1 - id}, as in Kafka's
#: client, so that group requests never queue behind fetches to the same broker.
_MAX_NODE_ID = 2**31 - 1


@attrs.define(eq=False)
class GroupMembership:
    """
    This client's membership of one group.

    @ivar reactor: the clock of the timers and backoffs.
    @ivar metadata: finds a broker to ask for the coordinator.
    @ivar pool: the connections, the coordinator's among them.
    @ivar settings: the member's settings.
    @ivar hooks: what the group's protocol does at each step.
    @ivar state: where the member stands.
    @ivar generation: the generation last joined (or being joined).
    @ivar coordinator: the coordinator, or C{None} while unknown. Its node id is
        C{2**31 - 1} minus the broker's, so that its connection is its own.
    @ivar rejoin_listeners: called (without arguments) when a rejoin becomes needed
        outside a join under way, so that the consumer can call
        L{ensure_active_group} without waiting for its next poll.
    """

    reactor: IReactorTime
    metadata: MetadataManager
    pool: ConnectionPool
    settings: MembershipSettings
    hooks: MembershipHooks
    state: MemberState = attrs.field(init=False, default=MemberState.UNJOINED)
    generation: Generation = attrs.field(init=False, default=NO_GENERATION)
    coordinator: Node | None = attrs.field(init=False, default=None)
    rejoin_listeners: list[Callable[[], None]] = attrs.field(init=False, factory=list)
    _join: GroupJoin = attrs.field(init=False)
    _heartbeat: HeartbeatLoop = attrs.field(init=False)
    _active: SharedOperation[None] | None = attrs.field(init=False, default=None)
    _finding: SharedOperation[Node] | None = attrs.field(init=False, default=None)
    _fatal: BaseException | None = attrs.field(init=False, default=None)
    _closed: bool = attrs.field(init=False, default=False)

    _log = Logger()

    def __attrs_post_init__(self) -> None:
        self._join = GroupJoin(self)
        timers = Heartbeat(
            session_timeout_ms=self.settings.session_timeout_ms,
            heartbeat_interval_ms=self.settings.heartbeat_interval_ms,
            max_poll_interval_ms=self.settings.rebalance_timeout_ms,
            retry_backoff_ms=self.settings.retry_backoff_ms,
        )
        self._heartbeat = HeartbeatLoop(self, timers)

    @property
    def group_id(self) -> str:
        """The group's id."""
        return self.settings.group_id

    @property
    def closed(self) -> bool:
        """Whether L{close} was called."""
        return self._closed

    def _now_ms(self) -> float:
        return self.reactor.seconds() * 1000

    # -- the coordinator

    def ensure_coordinator_ready(self) -> Deferred[Node]:
        """
        Find the coordinator unless it is known: FindCoordinator to the least
        loaded broker, then a connection to the coordinator, retrying retriable
        failures with an exponential backoff (C{retry.backoff.ms} up to
        C{retry.backoff.max.ms}). Concurrent calls share one lookup.

        @return: a Deferred firing with the coordinator, or failing with a
            non-retriable error (such as L{GroupAuthorizationError
            <odradek.client.errors.GroupAuthorizationError>}).
        """
        if self.coordinator is not None:
            return succeed(self.coordinator)
        if self._closed:
            return fail(self._closed_error())
        finding = self._finding
        if finding is None:
            finding = self._finding = SharedOperation()
            waiter = finding.wait()
            finding.operation = Deferred.fromCoroutine(self._find_coordinator())
            finding.operation.addBoth(self._found, finding)
            return waiter
        return finding.wait()

    def _found(self, result: Node | Failure, finding: SharedOperation[Node]) -> None:
        if self._finding is finding:
            self._finding = None
        if isinstance(result, Failure) and isinstance(result.value, CancelledError):
            finding.fire(self._closed_error())
            return
        finding.fire(result)

    async def _find_coordinator(self) -> Node:
        attempts = 0
        while True:
            try:
                node = await self._lookup_coordinator()
                await self.coordinator_connection(node)
            except errors.KafkaError as error:
                if not error.retriable:
                    raise
                self._log.debug(
                    "Finding the coordinator of group {group} failed: {error}",
                    group=self.group_id,
                    error=str(error),
                )
                self.metadata.request_update()
                await self.sleep(self._backoff_ms(attempts))
                attempts += 1
                continue
            return node

    async def _lookup_coordinator(self) -> Node:
        connection = await self.metadata.least_loaded_connection()
        version = connection.version_for(ApiKey.FIND_COORDINATOR)
        response = await connection.send(
            find_coordinator_request(version, self.group_id)
        )
        assert response is not None
        try:
            found = parse_find_coordinator(response, self.group_id)
        except errors.GroupAuthorizationError:
            raise errors.GroupAuthorizationError(
                f"Not authorized to access group: {self.group_id}"
            ) from None
        node = Node(_MAX_NODE_ID - found.node_id, found.host, found.port, found.rack)
        self.coordinator = node
        self._heartbeat.timers.reset_session_timeout(self._now_ms())
        self._log.info(
            "Discovered group coordinator {node} for group {group}",
            node=str(found),
            group=self.group_id,
        )
        return node

    def _backoff_ms(self, attempts: int) -> float:
        backoff = self.settings.retry_backoff_ms * 2**attempts
        return float(min(backoff, max(self.settings.retry_backoff_max_ms, 0)))

    def sleep(self, delay_ms: float) -> Deferred[None]:
        """
        @param delay_ms: how long to wait.
        @return: a Deferred firing after C{delay_ms}; cancelling it cancels the
            timer.
        """
        return deferLater(self.reactor, delay_ms / 1000)

    async def coordinator_connection(self, node: Node) -> KafkaConnection:
        """
        @param node: the coordinator.
        @return: the negotiated connection to it; failing to connect marks it
            unknown (if it still is the coordinator).
        """
        try:
            return await self.pool.get(node)
        except errors.KafkaError as error:
            self.coordinator_failed(node, f"coordinator unavailable: {error}")
            raise

    async def send_to_coordinator_node(
        self, node: Node, request: RequestPayload, timeout_ms: int | None = None
    ) -> ResponsePayload:
        """
        Send a request to a coordinator; a failed connection or request marks it
        unknown (if it still is the coordinator).

        @param node: the coordinator.
        @param request: the kio request.
        @param timeout_ms: the request's timeout, by default C{request.timeout.ms}.
        @return: the response.
        """
        connection = await self.coordinator_connection(node)
        try:
            response = await connection.send(request, timeout_ms=timeout_ms)
        except errors.KafkaError as error:
            self.coordinator_failed(node, f"request failed: {error}")
            raise
        assert response is not None
        return response

    def send_to_coordinator(
        self,
        request: RequestPayload | Callable[[KafkaConnection], RequestPayload],
        timeout_ms: int | None = None,
    ) -> Deferred[ResponsePayload]:
        """
        Send a request (OffsetCommit, OffsetFetch ...) to the coordinator. The
        caller handles the answer: when it sees a disconnect, C{NOT_COORDINATOR}
        or C{COORDINATOR_NOT_AVAILABLE}, it calls L{mark_coordinator_unknown}.

        @param request: the kio request, or a callable given the coordinator's
            negotiated connection that builds it (to pick the version with
            L{group_request_version
            <odradek.client.network.group_requests.group_request_version>}).
        @param timeout_ms: the request's timeout, by default C{request.timeout.ms}.
        @return: a Deferred firing with the kio response, or failing with
            L{CoordinatorNotAvailableError
            <odradek.client.errors.CoordinatorNotAvailableError>} when the
            coordinator is unknown, or with the connection's errors.
        """
        node = self.coordinator
        if node is None:
            return fail(
                errors.CoordinatorNotAvailableError(
                    f"the coordinator of group {self.group_id} is not known"
                )
            )
        return Deferred.fromCoroutine(self._send_built(node, request, timeout_ms))

    async def _send_built(
        self,
        node: Node,
        request: RequestPayload | Callable[[KafkaConnection], RequestPayload],
        timeout_ms: int | None,
    ) -> ResponsePayload:
        connection = await self.pool.get(node)
        if callable(request):
            request = request(connection)
        response = await connection.send(request, timeout_ms=timeout_ms)
        assert response is not None
        return response

    def mark_coordinator_unknown(self, reason: str) -> None:
        """
        Forget the coordinator and close its connection (failing the requests in
        flight on it); the next operation looks it up again.

        @param reason: why, for the log.
        """
        node = self.coordinator
        if node is None:
            return
        self.coordinator = None
        self._log.info(
            "Group coordinator {node} of group {group} is unavailable or invalid "
            "({reason}); it will be looked up again",
            node=str(node),
            group=self.group_id,
            reason=reason,
        )
        self.pool.close_connection(node.node_id)

    def coordinator_failed(self, node: Node, reason: str) -> None:
        """
        L{mark_coordinator_unknown} if C{node} still is the coordinator.

        @param node: the coordinator a request went to.
        @param reason: why, for the log.
        """
        if self.coordinator == node:
            self.mark_coordinator_unknown(reason)

    # -- joining

    def ensure_active_group(self) -> Deferred[None]:
        """
        Make sure the member is in the group: find the coordinator, and if a
        rejoin is needed, join (JoinGroup, SyncGroup) until the group is stable,
        waiting for the hooks' Deferreds. Concurrent calls share one attempt.

        @return: a Deferred firing once the member is L{MemberState.STABLE},
            or failing with a fatal error (such as L{FencedInstanceIdError
            <odradek.client.errors.FencedInstanceIdError>}, also when a heartbeat
            saw it, or L{InconsistentGroupProtocolError
            <odradek.client.errors.InconsistentGroupProtocolError>}) or with a
            hook's error.
        """
        if self._closed:
            return fail(self._closed_error())
        if self._fatal is not None:
            error, self._fatal = self._fatal, None
            return fail(error)
        active = self._active
        if active is None:
            active = self._active = SharedOperation()
            waiter = active.wait()
            active.operation = Deferred.fromCoroutine(self._active_group())
            active.operation.addBoth(self._activated, active)
            return waiter
        return active.wait()

    def _activated(self, result: Failure | None, active: SharedOperation[None]) -> None:
        if self._active is active:
            self._active = None
        if isinstance(result, Failure) and isinstance(result.value, CancelledError):
            active.fire(self._closed_error())
            return
        active.fire(result)

    async def _active_group(self) -> None:
        if self.coordinator is None:
            await self.ensure_coordinator_ready()
        await self._join.join_group_if_needed()

    def rejoin_needed(self) -> bool:
        """@return: whether the member must (re)join, or is joining."""
        return self._join.rejoin_needed or self._active is not None

    def request_rejoin(self, reason: str) -> None:
        """
        Ask for a rejoin at the next L{ensure_active_group}; tells the
        C{rejoin_listeners} if none was needed before.

        @param reason: why; sent in the JoinGroup request.
        """
        self._request_rejoin(reason, notify=True)

    def _request_rejoin(self, reason: str, notify: bool) -> None:
        was_needed = self._join.rejoin_needed
        self._join.request_rejoin(reason)
        if was_needed or not notify or self._closed:
            return
        for listener in list(self.rejoin_listeners):
            try:
                listener()
            except Exception:
                self._log.failure("A rejoin listener failed")

    def reset_generation(self, reason: str, *, reset_member_id: bool = True) -> None:
        """
        Forget the generation (the member is no longer in it): the state becomes
        L{MemberState.UNJOINED}, heartbeats stop, C{hooks.on_generation_lost} is
        called if a generation had been joined, and a rejoin is requested.

        @param reason: why, for the log and the next JoinGroup.
        @param reset_member_id: whether to forget the member id too (not after
            C{ILLEGAL_GENERATION}, where it is still valid).
        """
        self._reset(reason, reset_member_id=reset_member_id, notify=True)

    def _reset(self, reason: str, *, reset_member_id: bool, notify: bool) -> None:
        previous = self.generation
        self._log.info(
            "Resetting the generation of group {group}: {reason}",
            group=self.group_id,
            reason=reason,
        )
        self.state = MemberState.UNJOINED
        self.stop_heartbeats()
        if reset_member_id:
            self.generation = NO_GENERATION
        else:
            self.generation = Generation(-1, previous.member_id, None)
        self._join.needs_join_prepare = True
        if previous.generation_id >= 0:
            try:
                self.hooks.on_generation_lost(reason)
            except Exception:
                self._log.failure("on_generation_lost failed")
        self._request_rejoin(reason, notify)

    def fatal(self, error: BaseException) -> None:
        """
        Record a fatal error for the next L{ensure_active_group} to raise.

        @param error: the error.
        """
        self._fatal = error

    def _closed_error(self) -> errors.IllegalStateError:
        return errors.IllegalStateError(
            f"the membership of group {self.group_id} was closed"
        )

    # -- heartbeats

    def start_heartbeats(self) -> None:
        """Heartbeat from now on (the member joined a generation)."""
        self._heartbeat.start()

    def stop_heartbeats(self) -> None:
        """Stop heartbeating (the member is not in a generation)."""
        self._heartbeat.stop()

    def poll_heartbeat(self, now_ms: int) -> None:
        """
        The application polled: restart the C{max.poll.interval.ms} timer. When
        it expires the member leaves the group (LeaveGroup with the reason
        C{"consumer poll timeout has expired"}) and rejoins at the next poll.

        @param now_ms: the current time.
        """
        self._heartbeat.timers.poll(now_ms)

    # -- leaving

    def maybe_leave_group(self, reason: str) -> Deferred[None]:
        """
        Leave the group: send LeaveGroup unless this is a static member, the
        coordinator is unknown or the member has not joined; then reset the
        generation (C{hooks.on_generation_lost} is called). The rejoin happens at
        the next L{ensure_active_group}; the rejoin listeners are not told.

        @param reason: why, sent with LeaveGroup (version 5 and up).
        @return: a Deferred firing once LeaveGroup was answered (or failed, which
            is logged); it never fails.
        """
        node, generation = self.coordinator, self.generation
        leaving: Deferred[None] = succeed(None)
        if (
            self.settings.group_instance_id is None
            and node is not None
            and self.state is not MemberState.UNJOINED
            and generation.member_id
        ):
            self._log.info(
                "Member {member} leaving group {group}: {reason}",
                member=generation.member_id,
                group=self.group_id,
                reason=reason,
            )
            leaving = Deferred.fromCoroutine(self._leave(node, generation, reason))
        self._reset(
            "consumer pro-actively leaving the group",
            reset_member_id=True,
            notify=False,
        )
        return leaving

    async def _leave(self, node: Node, generation: Generation, reason: str) -> None:
        try:
            connection = await self.coordinator_connection(node)
            request = leave_group_request(
                connection.version_for(ApiKey.LEAVE_GROUP),
                group_id=self.group_id,
                member_id=generation.member_id,
                group_instance_id=self.settings.group_instance_id,
                reason=reason,
            )
            parse_leave_group(await self.send_to_coordinator_node(node, request))
        except CancelledError:
            self._log.info("LeaveGroup of group {group} cut short", group=self.group_id)
        except Exception as error:
            self._log.warn(
                "LeaveGroup of group {group} failed: {error}",
                group=self.group_id,
                error=str(error),
            )

    def close(self, timeout_ms: int) -> Deferred[None]:
        """
        Stop: heartbeats end, a join or lookup under way is abandoned (its callers
        get L{IllegalStateError <odradek.client.errors.IllegalStateError>}), and
        the member leaves the group unless it is static or C{leave_group_on_close}
        is off. No timer is left behind.

        @param timeout_ms: how long to wait for the LeaveGroup answer.
        @return: a Deferred firing when done; it never fails.
        """
        if self._closed:
            return succeed(None)
        self.stop_heartbeats()
        leaving: Deferred[None] = succeed(None)
        if self.settings.leave_group_on_close:
            leaving = self.maybe_leave_group("the consumer is being closed")
        self._closed = True
        for shared in (self._active, self._finding):
            if shared is not None and shared.operation is not None:
                shared.operation.cancel()
        self._heartbeat.cancel_in_flight()
        if leaving.called:
            return leaving
        done: Deferred[None] = Deferred()
        timer = self.reactor.callLater(timeout_ms / 1000, leaving.cancel)

        def left(result: object) -> None:
            if timer.active():
                timer.cancel()
            done.callback(None)

        leaving.addBoth(left)
        return done
