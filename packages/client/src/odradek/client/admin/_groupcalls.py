"""
The admin core's calls about consumer groups, built on the sans-IO module
L{odradek.client.admin.groups}.

C{list_consumer_groups} asks every broker (each coordinates some groups). The
other group calls go to the group's coordinator, found with FindCoordinator
before each try; C{NOT_COORDINATOR}, C{COORDINATOR_NOT_AVAILABLE},
C{COORDINATOR_LOAD_IN_PROGRESS} and C{REBALANCE_IN_PROGRESS} (of the group or of
an item) are retried, as Kafka's admin client does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from kio.static.protocol import RequestPayload, ResponsePayload
from twisted.internet.defer import Deferred

from odradek.client import errors
from odradek.client.admin import groups
from odradek.client.admin._base import AdminCoreBase
from odradek.client.admin._calls import (
    CallContext,
    Outcomes,
    gather,
    run_batch,
    run_once,
)
from odradek.client.admin._topiccalls import check_partition
from odradek.client.admin.results import ItemResults, ListConsumerGroupsResult
from odradek.client.network.connection import KafkaConnection
from odradek.client.network.group_requests import (
    find_coordinator_request,
    group_request_version,
    parse_find_coordinator,
)
from odradek.client.protocol import ApiKey
from odradek.client.structs import OffsetAndMetadata, TopicPartition

__all__ = ["GroupCalls"]

K = TypeVar("K")
V = TypeVar("V")


def _check_group(group_id: object) -> str:
    if not isinstance(group_id, str) or not group_id:
        raise ValueError(f"a group id must be a non-empty string: {group_id!r}")
    return group_id


#: The errors of a group or its items after which they are sent again (to the
#: coordinator found anew), as Kafka's admin client does.
_COORDINATOR_RETRIABLE = (
    errors.NotCoordinatorError,
    errors.CoordinatorNotAvailableError,
    errors.CoordinatorLoadInProgressError,
    errors.RebalanceInProgressError,
)


def _coordinator_retry(error: BaseException) -> bool:
    return isinstance(error, _COORDINATOR_RETRIABLE)


class GroupCalls(AdminCoreBase):
    """The calls about consumer groups."""

    async def _coordinator(
        self, context: CallContext, group_id: str
    ) -> KafkaConnection:
        """
        @return: a connection to the coordinator of C{group_id}, found anew.
        @raise errors.KafkaError: the FindCoordinator answer's error.
        """
        connection = await self._least_loaded(context)
        request = find_coordinator_request(
            connection.version_for(ApiKey.FIND_COORDINATOR), group_id
        )
        response: Any = await context.wait(
            connection.send(request, timeout_ms=context.response_timeout_ms())
        )
        node = parse_find_coordinator(response, group_id)
        return await context.wait(self.pool.get(node))

    async def _to_coordinator(
        self,
        context: CallContext,
        group_id: str,
        keys: Sequence[K],
        build: Callable[[KafkaConnection, Sequence[K]], RequestPayload],
        parse: Callable[
            [KafkaConnection, ResponsePayload], Mapping[K, V | BaseException]
        ],
    ) -> dict[K, V | BaseException]:
        """
        Send items of one group to its coordinator until each has a final
        outcome; items answered with a coordinator error (C{NOT_COORDINATOR},
        C{COORDINATOR_NOT_AVAILABLE}, C{COORDINATOR_LOAD_IN_PROGRESS}) or
        C{REBALANCE_IN_PROGRESS} are retried.

        @return: each item's outcome.
        """
        outcomes: Outcomes[K, V] = Outcomes(keys)
        sent_to: list[KafkaConnection] = []

        async def connect() -> KafkaConnection:
            connection = await self._coordinator(context, group_id)
            sent_to[:] = [connection]
            return connection

        await run_batch(
            context,
            outcomes,
            connect,
            build,
            lambda response: parse(sent_to[0], response),
            _coordinator_retry,
        )
        return outcomes.done

    # -- consumer groups

    def list_consumer_groups(
        self,
        states: Iterable[groups.ConsumerGroupState | str] = (),
        types: Iterable[str] = (),
        timeout: float | None = None,
    ) -> Deferred[ListConsumerGroupsResult[groups.ConsumerGroupListing]]:
        """
        List the consumer groups of the cluster, asking every broker.

        @param states: list only groups in these states (brokers with ListGroups
            version 4); empty for all.
        @param types: list only groups of these types (C{"classic"},
            C{"consumer"}; ListGroups version 5); empty for all.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of the groups found and the brokers' errors.
        """
        state_filter = tuple(states)
        type_filter = tuple(types)

        async def body(
            context: CallContext,
        ) -> ListConsumerGroupsResult[groups.ConsumerGroupListing]:
            metadata = await run_once(
                context, lambda: self._topic_metadata(context, [])
            )
            brokers = list(metadata.nodes)
            parts = await gather(
                Deferred.fromCoroutine(
                    self._list_on(context.fork(), broker, state_filter, type_filter)
                )
                for broker in brokers
            )
            found: dict[str, groups.ConsumerGroupListing] = {}
            failures: list[BaseException] = []
            for part in parts:
                if isinstance(part, BaseException):
                    failures.append(part)
                    continue
                for listing in part:
                    found.setdefault(listing.group_id, listing)
            return ListConsumerGroupsResult(tuple(found.values()), tuple(failures))

        return self._call("listConsumerGroups", timeout, body)

    async def _list_on(
        self,
        context: CallContext,
        broker: int,
        state_filter: tuple[groups.ConsumerGroupState | str, ...],
        type_filter: tuple[str, ...],
    ) -> list[groups.ConsumerGroupListing] | BaseException:
        outcomes: Outcomes[int, list[groups.ConsumerGroupListing]] = Outcomes([broker])
        await run_batch(
            context,
            outcomes,
            self._connect_broker(context, broker),
            lambda connection, _: groups.list_groups_request(
                connection.version_for(ApiKey.LIST_GROUPS), state_filter, type_filter
            ),
            lambda response: {broker: groups.parse_list_groups(response)},
        )
        return outcomes.done[broker]

    def describe_consumer_groups(
        self,
        group_ids: Iterable[str],
        include_authorized_operations: bool = False,
        timeout: float | None = None,
    ) -> Deferred[ItemResults[str, groups.ConsumerGroupDescription]]:
        """
        Describe consumer groups: state, members and their assignments.

        @param group_ids: the groups.
        @param include_authorized_operations: whether to tell what this client
            may do with each group.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each group's description or error.
        @raise ValueError: for an empty group id.
        """
        ids = list(dict.fromkeys(_check_group(group) for group in group_ids))
        if not ids:
            return self._empty(ItemResults.of((), {}))

        async def one(context: CallContext, group_id: str) -> dict[str, Any]:
            return await self._to_coordinator(
                context,
                group_id,
                [group_id],
                lambda connection, pending: groups.describe_groups_request(
                    connection.version_for(ApiKey.DESCRIBE_GROUPS),
                    pending,
                    include_authorized_operations,
                ),
                lambda connection, response: groups.parse_describe_groups(
                    response, connection.node
                ),
            )

        return self._each_group("describeConsumerGroups", timeout, ids, one)

    def delete_consumer_groups(
        self, group_ids: Iterable[str], timeout: float | None = None
    ) -> Deferred[ItemResults[str, None]]:
        """
        Delete consumer groups, with their committed offsets; a group must have
        no members.

        @param group_ids: the groups.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each group's outcome: C{None} or its error (such
            as L{GroupNotEmptyError<errors.GroupNotEmptyError>}).
        @raise ValueError: for an empty group id.
        """
        ids = list(dict.fromkeys(_check_group(group) for group in group_ids))
        if not ids:
            return self._empty(ItemResults.of((), {}))

        async def one(context: CallContext, group_id: str) -> dict[str, Any]:
            return await self._to_coordinator(
                context,
                group_id,
                [group_id],
                lambda connection, pending: groups.delete_groups_request(
                    connection.version_for(ApiKey.DELETE_GROUPS), pending
                ),
                lambda connection, response: groups.parse_delete_groups(
                    response, [group_id]
                ),
            )

        return self._each_group("deleteConsumerGroups", timeout, ids, one)

    def _each_group(
        self,
        name: str,
        timeout: float | None,
        ids: list[str],
        one: Callable[[CallContext, str], Any],
    ) -> Deferred[Any]:
        async def body(context: CallContext) -> ItemResults[str, Any]:
            parts = await gather(
                Deferred.fromCoroutine(one(context.fork(), group_id))
                for group_id in ids
            )
            merged: dict[str, Any] = {}
            for part in parts:
                merged.update(part)
            return ItemResults.of(ids, merged)

        return self._call(name, timeout, body)

    def list_consumer_group_offsets(
        self,
        group_id: str,
        partitions: Iterable[TopicPartition] | None = None,
        timeout: float | None = None,
    ) -> Deferred[dict[TopicPartition, OffsetAndMetadata | None]]:
        """
        Read a group's committed offsets.

        @param group_id: the group.
        @param partitions: the partitions; C{None} for every partition with an
            offset.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each partition's committed offset (C{None} for a
            partition asked for that has none), or failing with the group's error.
        @raise ValueError: for an empty group id or a bad partition.
        """
        group = _check_group(group_id)
        asked = (
            None
            if partitions is None
            else list(dict.fromkeys(check_partition(tp) for tp in partitions))
        )

        async def body(
            context: CallContext,
        ) -> dict[TopicPartition, OffsetAndMetadata | None]:
            outcome = (
                await self._to_coordinator(
                    context,
                    group,
                    [group],
                    lambda connection, _: groups.offset_fetch_request(
                        group_request_version(connection, ApiKey.OFFSET_FETCH),
                        group_id=group,
                        partitions=asked,
                    ),
                    lambda connection, response: {
                        group: groups.parse_offset_fetch(response, group)
                    },
                )
            )[group]
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome

        return self._call("listConsumerGroupOffsets", timeout, body)

    def alter_consumer_group_offsets(
        self,
        group_id: str,
        offsets: Mapping[TopicPartition, OffsetAndMetadata],
        timeout: float | None = None,
    ) -> Deferred[ItemResults[TopicPartition, None]]:
        """
        Set a group's committed offsets; the group must have no active members.

        @param group_id: the group.
        @param offsets: each partition's new committed offset.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each partition's outcome: C{None} or its error.
        @raise ValueError: for an empty group id, a bad partition or a value that
            is not an L{OffsetAndMetadata} with a non-negative offset.
        """
        group = _check_group(group_id)
        wanted: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, offset in offsets.items():
            if not isinstance(offset, OffsetAndMetadata) or offset.offset < 0:
                raise ValueError(f"partition {tp}: not an offset to commit: {offset!r}")
            wanted[check_partition(tp)] = offset
        if not wanted:
            return self._empty(ItemResults.of((), {}))

        async def body(context: CallContext) -> ItemResults[TopicPartition, None]:
            done = await self._to_coordinator(
                context,
                group,
                list(wanted),
                lambda connection, pending: groups.offset_commit_request(
                    group_request_version(connection, ApiKey.OFFSET_COMMIT),
                    group_id=group,
                    offsets={tp: wanted[tp] for tp in pending},
                ),
                lambda connection, response: groups.parse_offset_commit(
                    response, list(wanted)
                ),
            )
            return ItemResults.of(wanted, done)

        return self._call("alterConsumerGroupOffsets", timeout, body)

    def delete_consumer_group_offsets(
        self,
        group_id: str,
        partitions: Iterable[TopicPartition],
        timeout: float | None = None,
    ) -> Deferred[ItemResults[TopicPartition, None]]:
        """
        Delete a group's committed offsets of partitions its members do not
        consume.

        @param group_id: the group.
        @param partitions: the partitions.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each partition's outcome: C{None} or its error
            (such as L{GroupSubscribedToTopicError
            <errors.GroupSubscribedToTopicError>}).
        @raise ValueError: for an empty group id or a bad partition.
        """
        group = _check_group(group_id)
        asked = list(dict.fromkeys(check_partition(tp) for tp in partitions))
        if not asked:
            return self._empty(ItemResults.of((), {}))

        async def body(context: CallContext) -> ItemResults[TopicPartition, None]:
            done = await self._to_coordinator(
                context,
                group,
                asked,
                lambda connection, pending: groups.offset_delete_request(
                    connection.version_for(ApiKey.OFFSET_DELETE),
                    group_id=group,
                    partitions=pending,
                ),
                lambda connection, response: groups.parse_offset_delete(
                    response, asked
                ),
            )
            return ItemResults.of(asked, done)

        return self._call("deleteConsumerGroupOffsets", timeout, body)
