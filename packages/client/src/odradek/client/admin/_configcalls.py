"""
The admin core's configuration calls: C{describe_configs}, C{alter_configs} and
C{incremental_alter_configs}. As in Kafka's C{KafkaAdminClient}, a resource of
one broker (a broker other than the default, or a broker's loggers) goes to that
broker, and every other resource to the least loaded broker, together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from twisted.internet.defer import Deferred

from odradek.client.admin._base import AdminCoreBase
from odradek.client.admin._calls import CallContext
from odradek.client.admin._configrequests import (
    alter_configs_request,
    describe_configs_request,
    incremental_alter_configs_request,
    parse_alter_configs,
    parse_describe_configs,
    parse_incremental_alter_configs,
)
from odradek.client.admin._configtypes import AlterConfigOp, Config, ConfigResource
from odradek.client.admin.results import ItemResults
from odradek.client.protocol import ApiKey

__all__ = ["ConfigCalls"]


def _check_resource(resource: object) -> ConfigResource:
    if not isinstance(resource, ConfigResource):
        raise ValueError(f"not a ConfigResource: {resource!r}")
    return resource


def _broker_of(resource: ConfigResource) -> int | None:
    return resource.broker_id


class ConfigCalls(AdminCoreBase):
    """The configuration calls."""

    def describe_configs(
        self,
        resources: Iterable[ConfigResource],
        include_synonyms: bool = False,
        include_documentation: bool = False,
        timeout: float | None = None,
    ) -> Deferred[ItemResults[ConfigResource, Config]]:
        """
        Describe the configuration of resources (topics, brokers ...).

        @param resources: the resources.
        @param include_synonyms: whether to tell each key's synonyms.
        @param include_documentation: whether to tell each key's documentation
            (from brokers that support DescribeConfigs version 3).
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each resource's L{Config} or error.
        @raise ValueError: if an item is not a L{ConfigResource}.
        """
        keys = list(dict.fromkeys(_check_resource(resource) for resource in resources))
        if not keys:
            return self._empty(ItemResults.of((), {}))

        async def body(context: CallContext) -> ItemResults[ConfigResource, Config]:
            return await self._per_broker(
                context,
                keys,
                _broker_of,
                lambda connection, pending: describe_configs_request(
                    connection.version_for(ApiKey.DESCRIBE_CONFIGS),
                    pending,
                    include_synonyms=include_synonyms,
                    include_documentation=include_documentation,
                ),
                parse_describe_configs,
            )

        return self._call("describeConfigs", timeout, body)

    def alter_configs(
        self,
        configs: Mapping[ConfigResource, Mapping[str, str | None]],
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> Deferred[ItemResults[ConfigResource, None]]:
        """
        Replace the whole dynamic configuration of resources (Kafka's deprecated
        AlterConfigs: keys not given are reset to their defaults; prefer
        L{incremental_alter_configs}).

        @param configs: for each resource, every key and value it is to have.
        @param validate_only: only check the changes.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each resource's outcome: C{None} or its error.
        @raise ValueError: if a key is not a L{ConfigResource} or a
            configuration key is empty.
        """
        wanted: dict[ConfigResource, dict[str, str | None]] = {}
        for resource, entries in configs.items():
            values = dict(entries)
            for name in values:
                if not isinstance(name, str) or not name:
                    raise ValueError(
                        f"{_check_resource(resource)}: a configuration key must be "
                        f"non-empty: {name!r}"
                    )
            wanted[_check_resource(resource)] = values
        keys = list(wanted)
        if not keys:
            return self._empty(ItemResults.of((), {}))

        async def body(context: CallContext) -> ItemResults[ConfigResource, None]:
            return await self._per_broker(
                context,
                keys,
                _broker_of,
                lambda connection, pending: alter_configs_request(
                    connection.version_for(ApiKey.ALTER_CONFIGS),
                    {resource: wanted[resource] for resource in pending},
                    validate_only=validate_only,
                ),
                parse_alter_configs,
            )

        return self._call("alterConfigs", timeout, body)

    def incremental_alter_configs(
        self,
        configs: Mapping[ConfigResource, Sequence[AlterConfigOp]],
        validate_only: bool = False,
        timeout: float | None = None,
    ) -> Deferred[ItemResults[ConfigResource, None]]:
        """
        Change configuration keys of resources one by one: set, delete, append
        to or subtract from them.

        @param configs: for each resource, the changes to make.
        @param validate_only: only check the changes.
        @param timeout: seconds; C{None} for C{default.api.timeout.ms}.
        @return: a Deferred of each resource's outcome: C{None} or its error.
        @raise ValueError: if a key is not a L{ConfigResource} or a change is not
            an L{AlterConfigOp}.
        """
        wanted: dict[ConfigResource, tuple[AlterConfigOp, ...]] = {}
        for resource, ops in configs.items():
            changes = tuple(ops)
            for op in changes:
                if not isinstance(op, AlterConfigOp):
                    raise ValueError(
                        f"{_check_resource(resource)}: not an AlterConfigOp: {op!r}"
                    )
            wanted[_check_resource(resource)] = changes
        keys = list(wanted)
        if not keys:
            return self._empty(ItemResults.of((), {}))

        async def body(context: CallContext) -> ItemResults[ConfigResource, None]:
            return await self._per_broker(
                context,
                keys,
                _broker_of,
                lambda connection, pending: incremental_alter_configs_request(
                    connection.version_for(ApiKey.INCREMENTAL_ALTER_CONFIGS),
                    {resource: wanted[resource] for resource in pending},
                    validate_only=validate_only,
                ),
                parse_incremental_alter_configs,
            )

        return self._call("incrementalAlterConfigs", timeout, body)
