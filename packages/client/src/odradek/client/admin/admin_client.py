"""
The admin client's blocking face, for ordinary (threaded) applications: each call
runs on the SDK's reactor thread and blocks the caller until it completes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TypeVar, cast

from twisted.internet.defer import Deferred

from odradek.client.admin import acls, groups
from odradek.client.admin._configtypes import AlterConfigOp, Config, ConfigResource
from odradek.client.admin._recordtypes import (
    DeletedRecords,
    ListOffsetsResultInfo,
    LogDirDescription,
    OffsetSpec,
)
from odradek.client.admin._topictypes import (
    ClusterDescription,
    CreatedTopic,
    ElectionType,
    NewPartitions,
    NewTopic,
    TopicDescription,
    TopicListing,
)
from odradek.client.admin.core import AdminCore
from odradek.client.admin.results import ItemResults, ListConsumerGroupsResult
from odradek.client.blocking import ReactorThread
from odradek.client.config import AdminClientConfig
from odradek.client.structs import OffsetAndMetadata, TopicPartition

__all__ = ["AdminClient"]

T = TypeVar("T")

#: How much longer than a call's own timeout the caller waits for the reactor
#: thread: the call fails by itself at its deadline.
_SLACK = 5.0


class AdminClient:
    """
    An admin client for ordinary Python code; every method is thread-safe and
    blocks until the call completes or its timeout (seconds; by default
    C{default.api.timeout.ms}) passes.

    Calls that act on several items return L{ItemResults}: C{results[item]} is
    the item's value or raises its error, and C{results.all()} raises the first
    error. Each method is the blocking form of the L{TwistedAdminClient
    <odradek.client.admin.twisted_admin.TwistedAdminClient>} method of the same
    name, documented in full in L{AdminCore <odradek.client.admin.core.AdminCore>}
    and its bases.

    Example::

        with AdminClient({"bootstrap.servers": "localhost:9092"}) as admin:
            admin.create_topics([NewTopic("orders", 3, 1)]).all()
            for node in admin.describe_cluster().nodes:
                print(node)

    @ivar config: the configuration.
    """

    def __init__(
        self,
        config: Mapping[str, object] | AdminClientConfig | None = None,
        *,
        reactor_thread: ReactorThread | None = None,
        **settings: object,
    ) -> None:
        """
        @param config: settings by Kafka's names (C{"bootstrap.servers"}), or an
            L{AdminClientConfig}.
        @param reactor_thread: the reactor thread to run I/O on; the SDK's shared
            one by default.
        @param settings: more settings as keyword arguments
            (C{request_timeout_ms=5000}).
        @raise odradek.client.config.ConfigError: for an unknown key or a bad
            value.
        """
        self.config = AdminClientConfig.of(config, settings)
        self._thread = reactor_thread or ReactorThread.shared()
        self._core: AdminCore = self._thread.call(self._make_core)
        self._closed = False

    def _make_core(self) -> AdminCore:
        return AdminCore(self.config, self._thread.reactor)

    @property
    def core(self) -> AdminCore:
        """The core this face drives, on the reactor thread."""
        return self._core

    def _run(
        self, method: Callable[..., Deferred[T]], *args: object, timeout: float | None
    ) -> T:
        """
        Run a core method on the reactor thread and wait for its result.

        @param method: the core's method.
        @param args: its arguments before C{timeout}.
        @param timeout: the call's timeout in seconds, or C{None}.
        @return: the result.
        """
        seconds = (
            self.config.default_api_timeout_ms / 1000 if timeout is None else timeout
        )
        return cast(
            T,
            self._thread.call(
                functools.partial(method, *args, timeout=timeout),
                timeout=seconds + _SLACK,
            ),
        )

    def describe_cluster(self, timeout: float | None = None) -> ClusterDescription:
        """@return: the cluster's id, controller and brokers."""
        return self._run(self._core.describe_cluster, timeout=timeout)

    def list_topics(
        self, list_internal: bool = False, timeout: float | None = None
    ) -> dict[str, TopicListing]:
        """@return: the topics by name (internal ones if C{list_internal})."""
        return self._run(self._core.list_topics, list_internal, timeout=timeout)

    def describe_topics(
        self, topics: Iterable[str], timeout: float | None = None
    ) -> ItemResults[str, TopicDescription]:
        """@return: each topic's description or error."""
        return self._run(self._core.describe_topics, list(topics), timeout=timeout)

    def create_topics(
        self,
        new_topics: Iterable[NewTopic],
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> ItemResults[str, CreatedTopic]:
        """@return: each topic's L{CreatedTopic} or error."""
        return self._run(
            self._core.create_topics, list(new_topics), validate_only, timeout=timeout
        )

    def delete_topics(
        self, topics: Iterable[str], timeout: float | None = None
    ) -> ItemResults[str, None]:
        """@return: each topic's outcome: C{None} or its error."""
        return self._run(self._core.delete_topics, list(topics), timeout=timeout)

    def create_partitions(
        self,
        new_partitions: Mapping[str, NewPartitions],
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> ItemResults[str, None]:
        """@return: each topic's outcome: C{None} or its error."""
        return self._run(
            self._core.create_partitions,
            dict(new_partitions),
            validate_only,
            timeout=timeout,
        )

    def describe_configs(
        self,
        resources: Iterable[ConfigResource],
        include_synonyms: bool = False,
        include_documentation: bool = False,
        timeout: float | None = None,
    ) -> ItemResults[ConfigResource, Config]:
        """@return: each resource's L{Config} or error."""
        return self._run(
            self._core.describe_configs,
            list(resources),
            include_synonyms,
            include_documentation,
            timeout=timeout,
        )

    def alter_configs(
        self,
        configs: Mapping[ConfigResource, Mapping[str, str | None]],
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> ItemResults[ConfigResource, None]:
        """@return: each resource's outcome: C{None} or its error."""
        return self._run(
            self._core.alter_configs, dict(configs), validate_only, timeout=timeout
        )

    def incremental_alter_configs(
        self,
        configs: Mapping[ConfigResource, Sequence[AlterConfigOp]],
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> ItemResults[ConfigResource, None]:
        """@return: each resource's outcome: C{None} or its error."""
        return self._run(
            self._core.incremental_alter_configs,
            dict(configs),
            validate_only,
            timeout=timeout,
        )

    def delete_records(
        self,
        records_to_delete: Mapping[TopicPartition, int],
        timeout: float | None = None,
    ) -> ItemResults[TopicPartition, DeletedRecords]:
        """@return: each partition's new low watermark or error."""
        return self._run(
            self._core.delete_records, dict(records_to_delete), timeout=timeout
        )

    def list_offsets(
        self,
        topic_partition_offsets: Mapping[TopicPartition, OffsetSpec],
        isolation_level: str = "read_uncommitted",
        timeout: float | None = None,
    ) -> ItemResults[TopicPartition, ListOffsetsResultInfo]:
        """@return: each partition's offset or error."""
        return self._run(
            self._core.list_offsets,
            dict(topic_partition_offsets),
            isolation_level,
            timeout=timeout,
        )

    def describe_log_dirs(
        self, broker_ids: Iterable[int], timeout: float | None = None
    ) -> ItemResults[int, dict[str, LogDirDescription]]:
        """@return: each broker's log directories by path, or its error."""
        return self._run(
            self._core.describe_log_dirs, list(broker_ids), timeout=timeout
        )

    def elect_leaders(
        self,
        election_type: ElectionType,
        partitions: Iterable[TopicPartition] | None = None,
        timeout: float | None = None,
    ) -> ItemResults[TopicPartition, None]:
        """@return: each partition's outcome: C{None} or its error."""
        return self._run(
            self._core.elect_leaders,
            election_type,
            None if partitions is None else list(partitions),
            timeout=timeout,
        )

    def list_consumer_groups(
        self,
        states: Iterable[groups.ConsumerGroupState | str] = (),
        types: Iterable[str] = (),
        timeout: float | None = None,
    ) -> ListConsumerGroupsResult[groups.ConsumerGroupListing]:
        """@return: the groups every broker listed, and the brokers' errors."""
        return self._run(
            self._core.list_consumer_groups,
            tuple(states),
            tuple(types),
            timeout=timeout,
        )

    def describe_consumer_groups(
        self,
        group_ids: Iterable[str],
        include_authorized_operations: bool = False,
        timeout: float | None = None,
    ) -> ItemResults[str, groups.ConsumerGroupDescription]:
        """@return: each group's description or error."""
        return self._run(
            self._core.describe_consumer_groups,
            list(group_ids),
            include_authorized_operations,
            timeout=timeout,
        )

    def list_consumer_group_offsets(
        self,
        group_id: str,
        partitions: Iterable[TopicPartition] | None = None,
        timeout: float | None = None,
    ) -> dict[TopicPartition, OffsetAndMetadata | None]:
        """@return: the group's committed offset of each partition."""
        return self._run(
            self._core.list_consumer_group_offsets,
            group_id,
            None if partitions is None else list(partitions),
            timeout=timeout,
        )

    def alter_consumer_group_offsets(
        self,
        group_id: str,
        offsets: Mapping[TopicPartition, OffsetAndMetadata],
        timeout: float | None = None,
    ) -> ItemResults[TopicPartition, None]:
        """@return: each partition's outcome: C{None} or its error."""
        return self._run(
            self._core.alter_consumer_group_offsets,
            group_id,
            dict(offsets),
            timeout=timeout,
        )

    def delete_consumer_group_offsets(
        self,
        group_id: str,
        partitions: Iterable[TopicPartition],
        timeout: float | None = None,
    ) -> ItemResults[TopicPartition, None]:
        """@return: each partition's outcome: C{None} or its error."""
        return self._run(
            self._core.delete_consumer_group_offsets,
            group_id,
            list(partitions),
            timeout=timeout,
        )

    def delete_consumer_groups(
        self, group_ids: Iterable[str], timeout: float | None = None
    ) -> ItemResults[str, None]:
        """@return: each group's outcome: C{None} or its error."""
        return self._run(
            self._core.delete_consumer_groups, list(group_ids), timeout=timeout
        )

    def create_acls(
        self, bindings: Iterable[acls.AclBinding], timeout: float | None = None
    ) -> ItemResults[acls.AclBinding, None]:
        """@return: each binding's outcome: C{None} or its error."""
        return self._run(self._core.create_acls, list(bindings), timeout=timeout)

    def describe_acls(
        self, acl_filter: acls.AclBindingFilter, timeout: float | None = None
    ) -> list[acls.AclBinding]:
        """@return: the ACLs the filter matches."""
        return self._run(self._core.describe_acls, acl_filter, timeout=timeout)

    def delete_acls(
        self, filters: Iterable[acls.AclBindingFilter], timeout: float | None = None
    ) -> ItemResults[acls.AclBindingFilter, acls.FilterResults]:
        """@return: each filter's matches (deleted or not), or its error."""
        return self._run(self._core.delete_acls, list(filters), timeout=timeout)

    def close(self, timeout: float | None = None) -> None:
        """
        Let the calls in flight finish (for at most C{timeout} seconds; C{None}
        waits until each ends) and release the connections. Closing twice is
        harmless.

        @param timeout: seconds to wait for the calls in flight.
        """
        if self._closed:
            return
        wait = None if timeout is None else timeout + _SLACK
        self._thread.call(self._core.close, timeout, timeout=wait)
        self._closed = True

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<AdminClient {self._core.client_id} {id(self):#x}>"
