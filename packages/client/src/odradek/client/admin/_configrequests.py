"""
The admin client's configuration requests and the answers to them:
DescribeConfigs, AlterConfigs and IncrementalAlterConfigs. Sans-IO.

Each builder takes the version negotiated with the broker; each parser returns,
per L{ConfigResource}, the value or the L{KafkaError
<odradek.client.errors.KafkaError>} of its error code with the broker's message.
Resources the response names that are not valid here (an unknown resource type)
are left out: the caller reports the resources asked for and not answered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kio.static.protocol import RequestPayload, ResponsePayload

from odradek.client import errors
from odradek.client.admin._configtypes import (
    AlterConfigOp,
    Config,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    ConfigSynonym,
    ConfigType,
)
from odradek.client.admin._kiohelpers import (
    check_response,
    error_or_none,
    nested,
    request_class,
)
from odradek.client.protocol import ApiKey

__all__ = [
    "alter_configs_request",
    "describe_configs_request",
    "incremental_alter_configs_request",
    "parse_alter_configs",
    "parse_describe_configs",
    "parse_incremental_alter_configs",
]


def _resource(resource_type: int, name: str) -> ConfigResource | None:
    try:
        return ConfigResource(resource_type, name)
    except ValueError:
        return None


def describe_configs_request(
    version: int,
    resources: Iterable[ConfigResource],
    *,
    include_synonyms: bool,
    include_documentation: bool,
) -> RequestPayload:
    """
    Build a DescribeConfigs request for every key of each resource. Versions 1
    and 2 cannot ask for documentation: it is then not asked for.

    @param version: the version to build.
    @param resources: the resources to describe.
    @param include_synonyms: whether to ask for each key's synonyms.
    @param include_documentation: whether to ask for each key's documentation
        (version 3 and up).
    @return: the kio request.
    """
    resource_class = nested(ApiKey.DESCRIBE_CONFIGS, version, "DescribeConfigsResource")
    fields: dict[str, object] = {
        "resources": tuple(
            resource_class(
                resource_type=int(resource.type),
                resource_name=resource.name,
                configuration_keys=None,
            )
            for resource in resources
        ),
        "include_synonyms": include_synonyms,
    }
    if version >= 3:
        fields["include_documentation"] = include_documentation
    return request_class(ApiKey.DESCRIBE_CONFIGS, version)(**fields)


def _entry(config: Any, version: int) -> ConfigEntry:
    source = ConfigSource.from_wire(int(config.config_source))
    return ConfigEntry(
        name=config.name,
        value=config.value,
        source=source,
        is_read_only=bool(config.read_only),
        is_sensitive=bool(config.is_sensitive),
        is_default=source == ConfigSource.DEFAULT_CONFIG,
        synonyms=tuple(
            ConfigSynonym(
                synonym.name, synonym.value, ConfigSource.from_wire(int(synonym.source))
            )
            for synonym in config.synonyms or ()
        ),
        type=ConfigType.from_wire(int(config.config_type)) if version >= 3 else None,
        documentation=config.documentation if version >= 3 else None,
    )


def parse_describe_configs(
    response: ResponsePayload,
) -> dict[ConfigResource, Config | errors.KafkaError]:
    """
    Read a DescribeConfigs response (versions 1 to 4); the types and
    documentation of keys come with version 3.

    @param response: a decoded kio DescribeConfigs response.
    @return: for each resource answered, its configuration or its error.
    @raise TypeError: if it is not a DescribeConfigs response.
    """
    data, version = check_response(response, ApiKey.DESCRIBE_CONFIGS)
    results: dict[ConfigResource, Config | errors.KafkaError] = {}
    for result in data.results:
        resource = _resource(int(result.resource_type), result.resource_name)
        if resource is None:
            continue
        error = error_or_none(int(result.error_code), result.error_message)
        if error is not None:
            results[resource] = error
            continue
        results[resource] = Config(
            {config.name: _entry(config, version) for config in result.configs or ()}
        )
    return results


def alter_configs_request(
    version: int,
    configs: Mapping[ConfigResource, Mapping[str, str | None]],
    *,
    validate_only: bool,
) -> RequestPayload:
    """
    Build an AlterConfigs request, which replaces the whole dynamic
    configuration of each resource (versions 0 to 2 share one layout).

    @param version: the version to build.
    @param configs: for each resource, its new keys and values.
    @param validate_only: whether to only check the changes.
    @return: the kio request.
    """
    resource_class = nested(ApiKey.ALTER_CONFIGS, version, "AlterConfigsResource")
    config_class = nested(ApiKey.ALTER_CONFIGS, version, "AlterableConfig")
    return request_class(ApiKey.ALTER_CONFIGS, version)(
        resources=tuple(
            resource_class(
                resource_type=int(resource.type),
                resource_name=resource.name,
                configs=tuple(
                    config_class(name=name, value=value)
                    for name, value in entries.items()
                ),
            )
            for resource, entries in configs.items()
        ),
        validate_only=validate_only,
    )


def incremental_alter_configs_request(
    version: int,
    configs: Mapping[ConfigResource, Sequence[AlterConfigOp]],
    *,
    validate_only: bool,
) -> RequestPayload:
    """
    Build an IncrementalAlterConfigs request (versions 0 and 1 share one
    layout).

    @param version: the version to build.
    @param configs: for each resource, the changes to make.
    @param validate_only: whether to only check the changes.
    @return: the kio request.
    """
    resource_class = nested(
        ApiKey.INCREMENTAL_ALTER_CONFIGS, version, "AlterConfigsResource"
    )
    config_class = nested(ApiKey.INCREMENTAL_ALTER_CONFIGS, version, "AlterableConfig")
    return request_class(ApiKey.INCREMENTAL_ALTER_CONFIGS, version)(
        resources=tuple(
            resource_class(
                resource_type=int(resource.type),
                resource_name=resource.name,
                configs=tuple(
                    config_class(
                        name=op.name,
                        config_operation=int(op.op_type),
                        value=op.value,
                    )
                    for op in ops
                ),
            )
            for resource, ops in configs.items()
        ),
        validate_only=validate_only,
    )


def _parse_alter(
    response: ResponsePayload, api_key: ApiKey
) -> dict[ConfigResource, errors.KafkaError | None]:
    data, _ = check_response(response, api_key)
    results: dict[ConfigResource, errors.KafkaError | None] = {}
    for result in data.responses:
        resource = _resource(int(result.resource_type), result.resource_name)
        if resource is not None:
            results[resource] = error_or_none(
                int(result.error_code), result.error_message
            )
    return results


def parse_alter_configs(
    response: ResponsePayload,
) -> dict[ConfigResource, errors.KafkaError | None]:
    """
    @param response: a decoded kio AlterConfigs response.
    @return: for each resource answered, C{None} or its error.
    @raise TypeError: if it is not an AlterConfigs response.
    """
    return _parse_alter(response, ApiKey.ALTER_CONFIGS)


def parse_incremental_alter_configs(
    response: ResponsePayload,
) -> dict[ConfigResource, errors.KafkaError | None]:
    """
    @param response: a decoded kio IncrementalAlterConfigs response.
    @return: for each resource answered, C{None} or its error.
    @raise TypeError: if it is not an IncrementalAlterConfigs response.
    """
    return _parse_alter(response, ApiKey.INCREMENTAL_ALTER_CONFIGS)
