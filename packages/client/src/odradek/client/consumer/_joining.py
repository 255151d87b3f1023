"""
Joining a group: the JoinGroup and SyncGroup round of L{GroupMembership
<odradek.client.consumer._membership.GroupMembership>} and what it does with each
answer, as Apache Kafka's C{AbstractCoordinator.joinGroupIfNeeded}.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs
from twisted.internet.defer import CancelledError
from twisted.logger import Logger

from odradek.client import errors
from odradek.client.consumer._grouptypes import Generation, MemberState, as_deferred
from odradek.client.network.group_requests import (
    JoinGroupResponseData,
    join_group_request,
    parse_join_group,
    parse_sync_group,
    sync_group_request,
)
from odradek.client.protocol import ApiKey

if TYPE_CHECKING:
    from odradek.client.consumer._membership import GroupMembership

__all__ = ["JOIN_GROUP_TIMEOUT_LAPSE_MS", "GroupJoin"]

#: Added to the rebalance timeout to get the JoinGroup request's timeout, as in
#: Kafka's client: the coordinator may hold the request that long.
JOIN_GROUP_TIMEOUT_LAPSE_MS = 5000


class _UnjoinedGroupError(errors.RetriableError):
    """The member left the group while its JoinGroup was under way."""


#: Errors after which the member rejoins at once, without a backoff.
_REJOIN_AT_ONCE = (
    errors.UnknownMemberIdError,
    errors.IllegalGenerationError,
    errors.RebalanceInProgressError,
    errors.MemberIdRequiredError,
)


@attrs.define(eq=False)
class GroupJoin:
    """
    The joining state of one L{GroupMembership
    <odradek.client.consumer._membership.GroupMembership>} and its join loop.

    @ivar membership: the membership joining.
    @ivar rejoin_needed: whether the member must (re)join.
    @ivar rejoin_reason: why, sent with the next JoinGroup (version 8 and up).
    @ivar needs_join_prepare: whether C{hooks.on_join_prepare} is due before the
        next JoinGroup.
    """

    membership: GroupMembership
    rejoin_needed: bool = True
    rejoin_reason: str = ""
    needs_join_prepare: bool = True
    _completing: tuple[Generation, bytes] | None = None

    _log = Logger()

    def request_rejoin(self, reason: str) -> None:
        """
        @param reason: why a rejoin is needed.
        """
        self.rejoin_needed = True
        self.rejoin_reason = reason

    async def join_group_if_needed(self) -> None:
        """
        Join until the member is stable and C{on_join_complete} has run: retries
        at once after errors that call for a rejoin, after C{retry.backoff.ms}
        after other retriable errors.

        @raise KafkaError: a fatal error of the group protocol.
        """
        membership = self.membership
        while True:
            if self._completing is not None:
                generation, assignment = self._completing
                if (
                    membership.generation == generation
                    and membership.state is MemberState.STABLE
                ):
                    await as_deferred(
                        membership.hooks.on_join_complete(
                            generation, generation.protocol_name or "", assignment
                        )
                    )
                    self.needs_join_prepare = True
                self._completing = None
            if not self.rejoin_needed:
                return
            if membership.coordinator is None:
                await membership.ensure_coordinator_ready()
            if self.needs_join_prepare:
                # Cleared first: a hook that fails is not called again for the
                # same rebalance, as in Kafka's client.
                self.needs_join_prepare = False
                await as_deferred(
                    membership.hooks.on_join_prepare(membership.generation)
                )
            try:
                assignment = await self._join_and_sync()
            except CancelledError:
                raise
            except errors.KafkaError as error:
                if not isinstance(error, errors.MemberIdRequiredError):
                    membership.request_rejoin(
                        f"rebalance failed due to {type(error).__name__}"
                    )
                if isinstance(error, _REJOIN_AT_ONCE):
                    continue
                if not error.retriable:
                    membership.state = MemberState.UNJOINED
                    membership.stop_heartbeats()
                    raise
                self._log.info(
                    "Joining group {group} failed ({error}); retrying",
                    group=membership.group_id,
                    error=str(error),
                )
                await membership.sleep(membership.settings.retry_backoff_ms)
                continue
            except Exception as error:
                membership.request_rejoin(
                    f"rebalance failed due to {type(error).__name__}"
                )
                raise
            generation = membership.generation
            if membership.state is MemberState.STABLE and generation.generation_id >= 0:
                self._completing = (generation, assignment)
            else:
                membership.reset_generation(
                    "rebalance failed since the generation/state was modified to "
                    f"{generation}/{membership.state.name} before the rebalance "
                    "callback",
                    reset_member_id=True,
                )

    async def _join_and_sync(self) -> bytes:
        membership = self.membership
        settings = membership.settings
        node = membership.coordinator
        if node is None:
            raise errors.CoordinatorNotAvailableError(
                f"the coordinator of group {membership.group_id} is not known"
            )
        membership.state = MemberState.PREPARING_REBALANCE
        membership.stop_heartbeats()
        sent = membership.generation
        connection = await membership.coordinator_connection(node)
        request = join_group_request(
            connection.version_for(ApiKey.JOIN_GROUP),
            group_id=membership.group_id,
            session_timeout_ms=settings.session_timeout_ms,
            rebalance_timeout_ms=settings.rebalance_timeout_ms,
            member_id=sent.member_id,
            group_instance_id=settings.group_instance_id,
            protocol_type=membership.hooks.protocol_type,
            protocols=membership.hooks.join_protocols(),
            reason=self.rejoin_reason,
        )
        self._log.info(
            "(Re-)joining group {group} ({reason})",
            group=membership.group_id,
            reason=self.rejoin_reason or "first join",
        )
        timeout_ms = max(
            settings.request_timeout_ms,
            settings.rebalance_timeout_ms + JOIN_GROUP_TIMEOUT_LAPSE_MS,
        )
        response = await membership.send_to_coordinator_node(node, request, timeout_ms)
        joined = parse_join_group(response)
        if joined.error is not None:
            self._join_failed(joined, sent)
        protocol_type = membership.hooks.protocol_type
        if joined.protocol_type is not None and joined.protocol_type != protocol_type:
            raise errors.InconsistentGroupProtocolError(
                f"JoinGroup answered protocol type {joined.protocol_type!r}, not "
                f"{protocol_type!r}"
            )
        if membership.state is not MemberState.PREPARING_REBALANCE:
            raise _UnjoinedGroupError("the member left the group while joining")
        membership.generation = Generation(
            joined.generation_id, joined.member_id, joined.protocol_name
        )
        membership.state = MemberState.COMPLETING_REBALANCE
        membership.start_heartbeats()
        self._log.info(
            "Joined group {group} in generation {generation}",
            group=membership.group_id,
            generation=str(membership.generation),
        )
        assignments: dict[str, bytes] = {}
        if joined.is_leader and not joined.skip_assignment:
            assignments = await as_deferred(
                membership.hooks.perform_assignment(
                    joined.leader, joined.protocol_name or "", list(joined.members)
                )
            )
        return await self._sync(assignments)

    def _join_failed(self, joined: JoinGroupResponseData, sent: Generation) -> None:
        membership = self.membership
        error = joined.error
        assert error is not None
        group = membership.group_id
        if isinstance(error, errors.UnknownMemberIdError):
            if membership.generation == sent:
                membership.reset_generation(
                    "encountered UNKNOWN_MEMBER_ID from JOIN_GROUP response"
                )
        elif isinstance(
            error, errors.CoordinatorNotAvailableError | errors.NotCoordinatorError
        ):
            membership.mark_coordinator_unknown(f"JoinGroup failed: {error.name}")
        elif isinstance(error, errors.MemberIdRequiredError):
            membership.generation = Generation(-1, joined.member_id, None)
            membership.request_rejoin(
                f"need to re-join with the given member-id: {joined.member_id}"
            )
        elif isinstance(error, errors.GroupMaxSizeReachedError):
            raise errors.GroupMaxSizeReachedError(
                f"Consumer group {group} already has the configured maximum "
                "number of members."
            )
        elif isinstance(error, errors.GroupAuthorizationError):
            raise errors.GroupAuthorizationError(
                f"Not authorized to access group: {group}"
            )
        elif isinstance(error, errors.FencedInstanceIdError):
            raise errors.FencedInstanceIdError(
                f"group instance id {membership.settings.group_instance_id} of group "
                f"{group} was fenced by another instance"
            )
        raise error

    async def _sync(self, assignments: Mapping[str, bytes]) -> bytes:
        membership = self.membership
        generation = membership.generation
        node = membership.coordinator
        if node is None:
            raise errors.CoordinatorNotAvailableError(
                f"the coordinator of group {membership.group_id} is not known"
            )
        connection = await membership.coordinator_connection(node)
        protocol_type = membership.hooks.protocol_type
        request = sync_group_request(
            connection.version_for(ApiKey.SYNC_GROUP),
            group_id=membership.group_id,
            generation_id=generation.generation_id,
            member_id=generation.member_id,
            group_instance_id=membership.settings.group_instance_id,
            protocol_type=protocol_type,
            protocol_name=generation.protocol_name,
            assignments=assignments,
        )
        response = await membership.send_to_coordinator_node(node, request)
        try:
            assignment = parse_sync_group(
                response, protocol_type, generation.protocol_name
            )
        except errors.KafkaError as error:
            self._sync_failed(error, generation)
            raise
        if (
            membership.generation != generation
            or membership.state is not MemberState.COMPLETING_REBALANCE
        ):
            raise errors.IllegalGenerationError(
                f"the generation changed to {membership.generation} while syncing"
            )
        membership.state = MemberState.STABLE
        self.rejoin_needed = False
        self.rejoin_reason = ""
        self._log.info(
            "Synced group {group} in generation {generation}",
            group=membership.group_id,
            generation=str(generation),
        )
        return assignment

    def _sync_failed(self, error: errors.KafkaError, sent: Generation) -> None:
        membership = self.membership
        if isinstance(
            error, errors.UnknownMemberIdError | errors.IllegalGenerationError
        ):
            if membership.generation == sent:
                membership.reset_generation(
                    f"encountered {error.name} from SYNC_GROUP response",
                    reset_member_id=isinstance(error, errors.UnknownMemberIdError),
                )
        elif isinstance(
            error, errors.CoordinatorNotAvailableError | errors.NotCoordinatorError
        ):
            membership.mark_coordinator_unknown(f"SyncGroup failed: {error.name}")
