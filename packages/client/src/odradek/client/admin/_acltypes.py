"""
The value types of L{odradek.client.admin.acls} (re-exported there): Kafka's ACL
enums, resource patterns, access control entries, bindings and their filters, as
Apache Kafka's C{org.apache.kafka.common.acl} and C{org.apache.kafka.common.resource}
packages define them.

A L{ResourcePattern} may not use C{ANY} or C{MATCH} and an L{AccessControlEntry} may
not use C{ANY} (C{ValueError} naming the field). C{UNKNOWN}, what a code newer than
this client decodes to, is accepted in a binding read from a broker; the request
builders refuse it in a binding to create.
"""

from __future__ import annotations

import enum
from typing import ClassVar, Self

import attrs

from odradek.client import errors

__all__ = [
    "WILDCARD_RESOURCE",
    "AccessControlEntry",
    "AccessControlEntryFilter",
    "AclBinding",
    "AclBindingFilter",
    "AclOperation",
    "AclPermissionType",
    "FilterResult",
    "FilterResults",
    "PatternType",
    "ResourcePattern",
    "ResourcePatternFilter",
    "ResourceType",
    "operations_from_bits",
]

#: The resource name that stands for every resource of a type in a C{LITERAL}
#: pattern.
WILDCARD_RESOURCE = "*"

#: What a broker sends for authorized operations it was not asked for.
_AUTHORIZED_OPERATIONS_OMITTED = -(2**31)


class _Coded(enum.IntEnum):
    """
    An enum whose values are Kafka's wire codes, with C{UNKNOWN} for codes this
    client does not know.
    """

    @classmethod
    def from_code(cls, code: int) -> Self:
        """
        @param code: a code read from the wire.
        @return: the member with that code, or C{UNKNOWN} for any other code.
        """
        try:
            return cls(code)
        except ValueError:
            return cls["UNKNOWN"]


class ResourceType(_Coded):
    """
    The kind of resource an ACL protects.
    """

    UNKNOWN = 0
    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5
    DELEGATION_TOKEN = 6
    USER = 7


class PatternType(_Coded):
    """
    How a resource pattern's name matches resource names. C{ANY} and C{MATCH} are
    for filters only: C{ANY} selects patterns of any type with exactly the name,
    C{MATCH} selects every pattern that would match the name.
    """

    UNKNOWN = 0
    ANY = 1
    MATCH = 2
    LITERAL = 3
    PREFIXED = 4


class AclOperation(_Coded):
    """
    An operation an ACL allows or denies. C{ANY} is for filters only.
    """

    UNKNOWN = 0
    ANY = 1
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12
    CREATE_TOKENS = 13
    DESCRIBE_TOKENS = 14


class AclPermissionType(_Coded):
    """
    Whether an ACL allows or denies. C{ANY} is for filters only.
    """

    UNKNOWN = 0
    ANY = 1
    DENY = 2
    ALLOW = 3


def operations_from_bits(bits: int) -> frozenset[AclOperation] | None:
    """
    Read the authorized operations a broker reports as a bit field (bit I{n} set
    for the operation with code I{n}), as DescribeGroups, Metadata and
    DescribeCluster do.

    @param bits: the field as read from the wire.
    @return: the operations, without C{UNKNOWN}, C{ANY} and C{ALL}; or C{None} when
        the broker omitted them (C{-2147483648}).
    """
    if bits == _AUTHORIZED_OPERATIONS_OMITTED:
        return None
    found = set()
    for position in range(32):
        if bits & (1 << position):
            operation = AclOperation.from_code(position)
            if operation not in _NOT_REPORTED:
                found.add(operation)
    return frozenset(found)


_NOT_REPORTED = frozenset({AclOperation.UNKNOWN, AclOperation.ANY, AclOperation.ALL})


def _refuse(field: str, value: enum.Enum, refused: tuple[enum.Enum, ...]) -> None:
    if value in refused:
        raise ValueError(f"{field} must not be {value.name}")


@attrs.frozen
class ResourcePatternFilter:
    """
    Selects resource patterns.

    @ivar resource_type: the type to select, or C{ANY}.
    @ivar name: the name to select, or C{None} for any name.
    @ivar pattern_type: the pattern type to select; C{ANY} selects any type with
        exactly C{name}, C{MATCH} every pattern that matches C{name}.
    @cvar ANY: the filter that selects every pattern.
    """

    ANY: ClassVar[ResourcePatternFilter]

    resource_type: ResourceType
    name: str | None
    pattern_type: PatternType

    def is_unknown(self) -> bool:
        """
        @return: whether the filter holds an C{UNKNOWN} value.
        """
        return (
            self.resource_type is ResourceType.UNKNOWN
            or self.pattern_type is PatternType.UNKNOWN
        )

    def matches(self, pattern: ResourcePattern) -> bool:
        """
        @param pattern: a resource pattern.
        @return: whether this filter selects it.
        """
        if self.resource_type not in (ResourceType.ANY, pattern.resource_type):
            return False
        if self.pattern_type not in (
            PatternType.ANY,
            PatternType.MATCH,
            pattern.pattern_type,
        ):
            return False
        if self.name is None:
            return True
        if self.pattern_type in (PatternType.ANY, pattern.pattern_type):
            return self.name == pattern.name
        # MATCH: does the pattern match the filter's name?
        if pattern.pattern_type is PatternType.LITERAL:
            return pattern.name in (self.name, WILDCARD_RESOURCE)
        if pattern.pattern_type is PatternType.PREFIXED:
            return self.name.startswith(pattern.name)
        return False

    def find_indefinite_field(self) -> str | None:
        """
        @return: a sentence naming a field that keeps this filter from describing
            exactly one pattern, or C{None} if there is none.
        """
        if self.resource_type in (ResourceType.ANY, ResourceType.UNKNOWN):
            return f"resource_type is {self.resource_type.name}"
        if self.name is None:
            return "name is None"
        if self.pattern_type in (
            PatternType.ANY,
            PatternType.MATCH,
            PatternType.UNKNOWN,
        ):
            return f"pattern_type is {self.pattern_type.name}"
        return None


ResourcePatternFilter.ANY = ResourcePatternFilter(
    ResourceType.ANY, None, PatternType.ANY
)


@attrs.frozen
class ResourcePattern:
    """
    The resources an ACL applies to.

    @ivar resource_type: the type of the resources; not C{ANY}.
    @ivar name: a name, a prefix of names (C{PREFIXED}), or L{WILDCARD_RESOURCE}.
    @ivar pattern_type: how C{name} matches: C{LITERAL} (the default) or
        C{PREFIXED}; not C{ANY} or C{MATCH}.
    """

    resource_type: ResourceType
    name: str
    pattern_type: PatternType = PatternType.LITERAL

    def __attrs_post_init__(self) -> None:
        _refuse("resource_type", self.resource_type, (ResourceType.ANY,))
        _refuse("pattern_type", self.pattern_type, (PatternType.ANY, PatternType.MATCH))

    def is_unknown(self) -> bool:
        """
        @return: whether the pattern holds an C{UNKNOWN} value.
        """
        return self.to_filter().is_unknown()

    def to_filter(self) -> ResourcePatternFilter:
        """
        @return: the filter that selects exactly this pattern.
        """
        return ResourcePatternFilter(self.resource_type, self.name, self.pattern_type)


@attrs.frozen
class AccessControlEntryFilter:
    """
    Selects access control entries.

    @ivar principal: the principal to select (C{"User:alice"}), or C{None} for any.
    @ivar host: the host to select, or C{None} for any.
    @ivar operation: the operation to select, or C{ANY}.
    @ivar permission_type: the permission type to select, or C{ANY}.
    @cvar ANY: the filter that selects every entry.
    """

    ANY: ClassVar[AccessControlEntryFilter]

    principal: str | None
    host: str | None
    operation: AclOperation
    permission_type: AclPermissionType

    def is_unknown(self) -> bool:
        """
        @return: whether the filter holds an C{UNKNOWN} value.
        """
        return (
            self.operation is AclOperation.UNKNOWN
            or self.permission_type is AclPermissionType.UNKNOWN
        )

    def matches(self, entry: AccessControlEntry) -> bool:
        """
        @param entry: an access control entry.
        @return: whether this filter selects it.
        """
        if self.principal is not None and self.principal != entry.principal:
            return False
        if self.host is not None and self.host != entry.host:
            return False
        if self.operation not in (AclOperation.ANY, entry.operation):
            return False
        return self.permission_type in (AclPermissionType.ANY, entry.permission_type)

    def find_indefinite_field(self) -> str | None:
        """
        @return: a sentence naming a field that keeps this filter from describing
            exactly one entry, or C{None} if there is none.
        """
        if self.principal is None:
            return "principal is None"
        if self.host is None:
            return "host is None"
        if self.operation in (AclOperation.ANY, AclOperation.UNKNOWN):
            return f"operation is {self.operation.name}"
        if self.permission_type in (AclPermissionType.ANY, AclPermissionType.UNKNOWN):
            return f"permission_type is {self.permission_type.name}"
        return None


AccessControlEntryFilter.ANY = AccessControlEntryFilter(
    None, None, AclOperation.ANY, AclPermissionType.ANY
)


@attrs.frozen
class AccessControlEntry:
    """
    Who may or may not do what, from where.

    @ivar principal: the principal, such as C{"User:alice"} (C{"User:*"} for all).
    @ivar host: the client host, or C{"*"} for any.
    @ivar operation: the operation; not C{ANY}.
    @ivar permission_type: C{ALLOW} or C{DENY}; not C{ANY}.
    """

    principal: str
    host: str
    operation: AclOperation
    permission_type: AclPermissionType

    def __attrs_post_init__(self) -> None:
        _refuse("operation", self.operation, (AclOperation.ANY,))
        _refuse("permission_type", self.permission_type, (AclPermissionType.ANY,))

    def is_unknown(self) -> bool:
        """
        @return: whether the entry holds an C{UNKNOWN} value.
        """
        return self.to_filter().is_unknown()

    def to_filter(self) -> AccessControlEntryFilter:
        """
        @return: the filter that selects exactly this entry.
        """
        return AccessControlEntryFilter(
            self.principal, self.host, self.operation, self.permission_type
        )


@attrs.frozen
class AclBinding:
    """
    One ACL: an entry bound to a resource pattern.

    @ivar pattern: the resources.
    @ivar entry: the principal, host, operation and permission.
    """

    pattern: ResourcePattern
    entry: AccessControlEntry

    def is_unknown(self) -> bool:
        """
        @return: whether the binding holds an C{UNKNOWN} value.
        """
        return self.pattern.is_unknown() or self.entry.is_unknown()

    def to_filter(self) -> AclBindingFilter:
        """
        @return: the filter that selects exactly this binding.
        """
        return AclBindingFilter(self.pattern.to_filter(), self.entry.to_filter())


@attrs.frozen
class AclBindingFilter:
    """
    Selects ACL bindings: those whose pattern and entry both match.

    @ivar pattern_filter: selects the patterns.
    @ivar entry_filter: selects the entries.
    @cvar ANY: the filter that selects every binding.
    """

    ANY: ClassVar[AclBindingFilter]

    pattern_filter: ResourcePatternFilter
    entry_filter: AccessControlEntryFilter

    def is_unknown(self) -> bool:
        """
        @return: whether the filter holds an C{UNKNOWN} value.
        """
        return self.pattern_filter.is_unknown() or self.entry_filter.is_unknown()

    def matches(self, binding: AclBinding) -> bool:
        """
        @param binding: an ACL binding.
        @return: whether this filter selects it.
        """
        return self.pattern_filter.matches(
            binding.pattern
        ) and self.entry_filter.matches(binding.entry)

    def matches_at_most_one(self) -> bool:
        """
        @return: whether this filter can select one binding at most.
        """
        return self.find_indefinite_field() is None

    def find_indefinite_field(self) -> str | None:
        """
        @return: a sentence naming a field that keeps this filter from describing
            exactly one binding, or C{None} if there is none.
        """
        return (
            self.pattern_filter.find_indefinite_field()
            or self.entry_filter.find_indefinite_field()
        )


AclBindingFilter.ANY = AclBindingFilter(
    ResourcePatternFilter.ANY, AccessControlEntryFilter.ANY
)


@attrs.frozen
class FilterResult:
    """
    One binding a DeleteAcls filter matched.

    @ivar binding: the binding.
    @ivar error: C{None} if it was deleted, else why it was not.
    """

    binding: AclBinding
    error: errors.KafkaError | None = None


@attrs.frozen
class FilterResults:
    """
    What one DeleteAcls filter matched.

    @ivar values: each binding matched, deleted or not.
    """

    values: tuple[FilterResult, ...] = ()

    def deleted(self) -> tuple[AclBinding, ...]:
        """
        @return: the bindings that were deleted.
        """
        return tuple(result.binding for result in self.values if result.error is None)
