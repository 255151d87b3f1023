"""
Access control lists for the admin client: Kafka's ACL enums, resource patterns,
access control entries, bindings and the filters that select them, and the sans-IO
builders and parsers of CreateAcls, DescribeAcls and DeleteAcls (versions 1 to 3).

How the admin core uses this module: the three ACL APIs go to any broker (the least
loaded node), with the version negotiated on that connection.

  - C{create_acls(bindings)}: L{create_acls_request}C{(version, bindings)}, then
    L{parse_create_acls}C{(response, bindings)} gives C{None} or the exception for
    each binding.
  - C{describe_acls(acl_filter)}: L{describe_acls_request}C{(version, acl_filter)},
    then L{parse_describe_acls}C{(response)} gives the list of L{AclBinding}s or
    raises the response's error.
  - C{delete_acls(filters)}: L{delete_acls_request}C{(version, filters)}, then
    L{parse_delete_acls}C{(response, filters)} gives, for each filter, its
    L{FilterResults} or its exception.

The builders raise C{ValueError} naming the field for a binding or filter Kafka
refuses to send (an C{UNKNOWN} value), before anything goes on the wire; the
constructors of L{ResourcePattern} and L{AccessControlEntry} already refuse C{ANY}
and C{MATCH}. Errors carry the broker's message. The core retries an item whose
exception is retriable (C{exc.retriable}) and reports the others.
"""

from odradek.client.admin._aclrequests import (
    create_acls_request,
    delete_acls_request,
    describe_acls_request,
    parse_create_acls,
    parse_delete_acls,
    parse_describe_acls,
)
from odradek.client.admin._acltypes import (
    WILDCARD_RESOURCE,
    AccessControlEntry,
    AccessControlEntryFilter,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    FilterResult,
    FilterResults,
    PatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    operations_from_bits,
)

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
    "create_acls_request",
    "delete_acls_request",
    "describe_acls_request",
    "operations_from_bits",
    "parse_create_acls",
    "parse_delete_acls",
    "parse_describe_acls",
]
