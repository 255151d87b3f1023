"""
The table of Kafka APIs: their keys, the versions Odradek speaks, and the kio schema
classes and header versions that go with each.

The request and response layouts themselves come from kio; this module only decides
which of them Odradek accepts.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from attrs import field, frozen
from kio.index import load_request_schema, load_response_schema
from kio.schema.index import api_key_map, schema_name_map
from kio.static.protocol import RequestPayload, ResponsePayload

from odradek.client.protocol.errors import UnknownApiKeyError, UnsupportedVersionError

__all__ = [
    "SUPPORTED_VERSIONS",
    "ApiKey",
    "VersionRange",
    "describe_api",
    "request_header_version",
    "request_type",
    "response_header_version",
    "response_type",
    "supported_range",
]


class ApiKey(enum.IntEnum):
    """
    The key of every API kio has schemas for, by Apache Kafka's name for it.
    """

    PRODUCE = 0
    FETCH = 1
    LIST_OFFSETS = 2
    METADATA = 3
    OFFSET_COMMIT = 8
    OFFSET_FETCH = 9
    FIND_COORDINATOR = 10
    JOIN_GROUP = 11
    HEARTBEAT = 12
    LEAVE_GROUP = 13
    SYNC_GROUP = 14
    DESCRIBE_GROUPS = 15
    LIST_GROUPS = 16
    SASL_HANDSHAKE = 17
    API_VERSIONS = 18
    CREATE_TOPICS = 19
    DELETE_TOPICS = 20
    DELETE_RECORDS = 21
    INIT_PRODUCER_ID = 22
    OFFSET_FOR_LEADER_EPOCH = 23
    ADD_PARTITIONS_TO_TXN = 24
    ADD_OFFSETS_TO_TXN = 25
    END_TXN = 26
    WRITE_TXN_MARKERS = 27
    TXN_OFFSET_COMMIT = 28
    DESCRIBE_ACLS = 29
    CREATE_ACLS = 30
    DELETE_ACLS = 31
    DESCRIBE_CONFIGS = 32
    ALTER_CONFIGS = 33
    ALTER_REPLICA_LOG_DIRS = 34
    DESCRIBE_LOG_DIRS = 35
    SASL_AUTHENTICATE = 36
    CREATE_PARTITIONS = 37
    CREATE_DELEGATION_TOKEN = 38
    RENEW_DELEGATION_TOKEN = 39
    EXPIRE_DELEGATION_TOKEN = 40
    DESCRIBE_DELEGATION_TOKEN = 41
    DELETE_GROUPS = 42
    ELECT_LEADERS = 43
    INCREMENTAL_ALTER_CONFIGS = 44
    ALTER_PARTITION_REASSIGNMENTS = 45
    LIST_PARTITION_REASSIGNMENTS = 46
    OFFSET_DELETE = 47
    DESCRIBE_CLIENT_QUOTAS = 48
    ALTER_CLIENT_QUOTAS = 49
    DESCRIBE_USER_SCRAM_CREDENTIALS = 50
    ALTER_USER_SCRAM_CREDENTIALS = 51
    VOTE = 52
    BEGIN_QUORUM_EPOCH = 53
    END_QUORUM_EPOCH = 54
    DESCRIBE_QUORUM = 55
    ALTER_PARTITION = 56
    UPDATE_FEATURES = 57
    ENVELOPE = 58
    FETCH_SNAPSHOT = 59
    DESCRIBE_CLUSTER = 60
    DESCRIBE_PRODUCERS = 61
    BROKER_REGISTRATION = 62
    BROKER_HEARTBEAT = 63
    UNREGISTER_BROKER = 64
    DESCRIBE_TRANSACTIONS = 65
    LIST_TRANSACTIONS = 66
    ALLOCATE_PRODUCER_IDS = 67
    CONSUMER_GROUP_HEARTBEAT = 68
    CONSUMER_GROUP_DESCRIBE = 69
    CONTROLLER_REGISTRATION = 70
    GET_TELEMETRY_SUBSCRIPTIONS = 71
    PUSH_TELEMETRY = 72
    ASSIGN_REPLICAS_TO_DIRS = 73
    LIST_CONFIG_RESOURCES = 74
    DESCRIBE_TOPIC_PARTITIONS = 75
    SHARE_GROUP_HEARTBEAT = 76
    SHARE_GROUP_DESCRIBE = 77
    SHARE_FETCH = 78
    SHARE_ACKNOWLEDGE = 79
    ADD_RAFT_VOTER = 80
    REMOVE_RAFT_VOTER = 81
    UPDATE_RAFT_VOTER = 82
    INITIALIZE_SHARE_GROUP_STATE = 83
    READ_SHARE_GROUP_STATE = 84
    WRITE_SHARE_GROUP_STATE = 85
    DELETE_SHARE_GROUP_STATE = 86
    READ_SHARE_GROUP_STATE_SUMMARY = 87
    STREAMS_GROUP_HEARTBEAT = 88
    STREAMS_GROUP_DESCRIBE = 89
    DESCRIBE_SHARE_GROUP_OFFSETS = 90
    ALTER_SHARE_GROUP_OFFSETS = 91
    DELETE_SHARE_GROUP_OFFSETS = 92


def _check_version(instance: object, attribute: object, value: int) -> None:
    if not 0 <= value <= 0x7FFF:
        raise ValueError(f"an API version must be between 0 and 32767, not {value}")


@frozen
class VersionRange:
    """
    The versions of one API a side supports: every version from C{min_version} to
    C{max_version}, both included.

    @ivar min_version: the oldest version supported.
    @ivar max_version: the newest version supported.
    """

    min_version: int = field(validator=_check_version)
    max_version: int = field(validator=_check_version)

    def __attrs_post_init__(self) -> None:
        if self.min_version > self.max_version:
            raise ValueError(
                f"min_version {self.min_version} is above "
                f"max_version {self.max_version}"
            )

    def __contains__(self, version: object) -> bool:
        """
        @return: whether C{version} is an integer within this range.
        """
        if not isinstance(version, int) or isinstance(version, bool):
            return False
        return self.min_version <= version <= self.max_version

    def intersection(self, other: VersionRange) -> VersionRange | None:
        """
        @param other: another range of the same API.
        @return: the versions in both ranges, or C{None} if they share none.
        """
        low = max(self.min_version, other.min_version)
        high = min(self.max_version, other.max_version)
        return VersionRange(low, high) if low <= high else None

    def __str__(self) -> str:
        return f"{self.min_version} to {self.max_version}"


#: The APIs Odradek speaks and, for each, the versions it accepts: every version kio
#: has a schema for (Apache Kafka 4's supported versions).
SUPPORTED_VERSIONS: Mapping[ApiKey, VersionRange] = MappingProxyType(
    {
        ApiKey.PRODUCE: VersionRange(3, 13),
        ApiKey.FETCH: VersionRange(4, 18),
        ApiKey.LIST_OFFSETS: VersionRange(1, 11),
        ApiKey.METADATA: VersionRange(0, 13),
        ApiKey.OFFSET_COMMIT: VersionRange(2, 10),
        ApiKey.OFFSET_FETCH: VersionRange(1, 10),
        ApiKey.FIND_COORDINATOR: VersionRange(0, 6),
        ApiKey.JOIN_GROUP: VersionRange(0, 9),
        ApiKey.HEARTBEAT: VersionRange(0, 4),
        ApiKey.LEAVE_GROUP: VersionRange(0, 5),
        ApiKey.SYNC_GROUP: VersionRange(0, 5),
        ApiKey.DESCRIBE_GROUPS: VersionRange(0, 6),
        ApiKey.LIST_GROUPS: VersionRange(0, 5),
        ApiKey.SASL_HANDSHAKE: VersionRange(0, 1),
        ApiKey.API_VERSIONS: VersionRange(0, 4),
        ApiKey.CREATE_TOPICS: VersionRange(2, 7),
        ApiKey.DELETE_TOPICS: VersionRange(1, 6),
        ApiKey.DELETE_RECORDS: VersionRange(0, 2),
        ApiKey.INIT_PRODUCER_ID: VersionRange(0, 6),
        ApiKey.OFFSET_FOR_LEADER_EPOCH: VersionRange(2, 4),
        ApiKey.ADD_PARTITIONS_TO_TXN: VersionRange(0, 5),
        ApiKey.ADD_OFFSETS_TO_TXN: VersionRange(0, 4),
        ApiKey.END_TXN: VersionRange(0, 5),
        ApiKey.WRITE_TXN_MARKERS: VersionRange(1, 2),
        ApiKey.TXN_OFFSET_COMMIT: VersionRange(0, 5),
        ApiKey.DESCRIBE_ACLS: VersionRange(1, 3),
        ApiKey.CREATE_ACLS: VersionRange(1, 3),
        ApiKey.DELETE_ACLS: VersionRange(1, 3),
        ApiKey.DESCRIBE_CONFIGS: VersionRange(1, 4),
        ApiKey.ALTER_CONFIGS: VersionRange(0, 2),
        ApiKey.DESCRIBE_LOG_DIRS: VersionRange(1, 5),
        ApiKey.SASL_AUTHENTICATE: VersionRange(0, 2),
        ApiKey.CREATE_PARTITIONS: VersionRange(0, 3),
        ApiKey.DELETE_GROUPS: VersionRange(0, 2),
        ApiKey.ELECT_LEADERS: VersionRange(0, 2),
        ApiKey.INCREMENTAL_ALTER_CONFIGS: VersionRange(0, 1),
        ApiKey.ALTER_PARTITION_REASSIGNMENTS: VersionRange(0, 1),
        ApiKey.LIST_PARTITION_REASSIGNMENTS: VersionRange(0, 0),
        ApiKey.OFFSET_DELETE: VersionRange(0, 0),
        ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS: VersionRange(0, 0),
        ApiKey.ALTER_USER_SCRAM_CREDENTIALS: VersionRange(0, 0),
        ApiKey.DESCRIBE_CLUSTER: VersionRange(0, 2),
        ApiKey.DESCRIBE_PRODUCERS: VersionRange(0, 0),
        ApiKey.DESCRIBE_TRANSACTIONS: VersionRange(0, 0),
        ApiKey.LIST_TRANSACTIONS: VersionRange(0, 2),
        ApiKey.CONSUMER_GROUP_HEARTBEAT: VersionRange(0, 1),
        ApiKey.CONSUMER_GROUP_DESCRIBE: VersionRange(0, 1),
    }
)

_SUPPORTED_BY_KEY: dict[int, VersionRange] = {
    int(key): versions for key, versions in SUPPORTED_VERSIONS.items()
}

# ControlledShutdown (key 7) left Apache Kafka with ZooKeeper mode and kio has no
# schema for it, but its version 0 is the only user of request header version 0, so
# the header rules below still know it. Its versions 3 and up are flexible.
_CONTROLLED_SHUTDOWN = 7
_CONTROLLED_SHUTDOWN_FIRST_FLEXIBLE = 3


def describe_api(api_key: int) -> str:
    """
    @param api_key: any API key.
    @return: the key with Kafka's name for it when known, for error messages, such as
        C{"PRODUCE (API key 0)"}.
    """
    try:
        return f"{ApiKey(api_key).name} (API key {api_key})"
    except ValueError:
        return f"API key {api_key}"


def supported_range(api_key: int) -> VersionRange:
    """
    @param api_key: an API key, typically read from the wire.
    @return: the versions of that API Odradek supports.
    @raise UnknownApiKeyError: if Odradek does not serve that API.
    """
    supported = _SUPPORTED_BY_KEY.get(api_key)
    if supported is not None:
        return supported
    if api_key in api_key_map:
        reason = f"{describe_api(api_key)} is not an API Odradek serves"
    else:
        reason = f"unknown API key {api_key}"
    raise UnknownApiKeyError(api_key, reason)


def _check_supported(api_key: int, api_version: int) -> None:
    supported = supported_range(api_key)
    if api_version not in supported:
        raise UnsupportedVersionError(
            api_key,
            f"{describe_api(api_key)} version {api_version} is not supported; "
            f"supported versions are {supported}",
            api_version=api_version,
            supported=supported,
        )


def request_type(api_key: int, api_version: int) -> type[RequestPayload]:
    """
    Find the kio class of a request.

    @param api_key: the request's API key.
    @param api_version: the request's version.
    @return: the kio dataclass for that request.
    @raise UnknownApiKeyError: if Odradek does not serve that API.
    @raise UnsupportedVersionError: if the version is outside L{SUPPORTED_VERSIONS}.
    """
    _check_supported(api_key, api_version)
    return _load_request(api_key, api_version)


def response_type(api_key: int, api_version: int) -> type[ResponsePayload]:
    """
    Find the kio class of a response.

    @param api_key: the API key of the request answered.
    @param api_version: the version of the request answered.
    @return: the kio dataclass for that response.
    @raise UnknownApiKeyError: if Odradek does not serve that API.
    @raise UnsupportedVersionError: if the version is outside L{SUPPORTED_VERSIONS}.
    """
    _check_supported(api_key, api_version)
    return _load_response(api_key, api_version)


@cache
def _load_request(api_key: int, api_version: int) -> type[RequestPayload]:
    return load_request_schema(api_key, api_version)


@cache
def _load_response(api_key: int, api_version: int) -> type[ResponsePayload]:
    return load_response_schema(api_key, api_version)


@cache
def _first_flexible_version(api_key: int) -> int | None:
    """
    @return: the oldest version of an API that kio marks flexible, or C{None} if none
        is. Kafka's flexible versions are always "this one and every later one".
    @raise UnknownApiKeyError: if kio has no schemas for the API.
    """
    try:
        name = api_key_map[api_key]
    except KeyError:
        raise UnknownApiKeyError(api_key, f"unknown API key {api_key}") from None
    for version in sorted(schema_name_map[name]):
        if _load_request(api_key, version).__flexible__:
            return version
    return None


def _is_flexible(api_key: int, api_version: int) -> bool:
    if api_key == _CONTROLLED_SHUTDOWN:
        return api_version >= _CONTROLLED_SHUTDOWN_FIRST_FLEXIBLE
    first = _first_flexible_version(api_key)
    return first is not None and api_version >= first


def request_header_version(api_key: int, api_version: int) -> int:
    """
    Find which request header version goes with a request.

    Flexible versions use header version 2 and the others version 1; only
    ControlledShutdown version 0 uses header version 0. Versions outside
    L{SUPPORTED_VERSIONS} are answered too (by Kafka's rule that an API stays flexible
    from its first flexible version on), so that a broker can read the header of a
    request it will refuse.

    @param api_key: the request's API key.
    @param api_version: the request's version.
    @return: 0, 1 or 2.
    @raise UnknownApiKeyError: if kio knows no API with this key.
    """
    if api_key == _CONTROLLED_SHUTDOWN and api_version == 0:
        return 0
    return 2 if _is_flexible(api_key, api_version) else 1


def response_header_version(api_key: int, api_version: int) -> int:
    """
    Find which response header version goes with a response.

    Flexible versions use header version 1 and the others version 0, except that
    ApiVersions responses always use version 0: a client must be able to read the
    answer before it knows which versions the broker speaks.

    @param api_key: the API key of the request answered.
    @param api_version: the version of the request answered.
    @return: 0 or 1.
    @raise UnknownApiKeyError: if kio knows no API with this key.
    """
    if api_key == ApiKey.API_VERSIONS:
        return 0
    return 1 if _is_flexible(api_key, api_version) else 0
