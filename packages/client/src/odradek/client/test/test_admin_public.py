"""
Tests that pin the public surface of L{odradek.client.admin}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

import odradek.client.admin as admin
from odradek.client.admin import types

TYPES = {
    "AlterConfigOp",
    "AlterConfigOpType",
    "ClusterDescription",
    "Config",
    "ConfigEntry",
    "ConfigResource",
    "ConfigResourceType",
    "ConfigSource",
    "ConfigSynonym",
    "ConfigType",
    "CreatedTopic",
    "DeletedRecords",
    "ElectionType",
    "ListOffsetsResultInfo",
    "LogDirDescription",
    "NewPartitions",
    "NewTopic",
    "OffsetSpec",
    "ReplicaInfo",
    "TopicDescription",
    "TopicListing",
    "TopicPartitionInfo",
}

ADMIN = TYPES | {
    "AccessControlEntry",
    "AccessControlEntryFilter",
    "AclBinding",
    "AclBindingFilter",
    "AclOperation",
    "AclPermissionType",
    "AdminClient",
    "ConsumerGroupDescription",
    "ConsumerGroupListing",
    "ConsumerGroupState",
    "FilterResult",
    "FilterResults",
    "ItemResults",
    "ListConsumerGroupsResult",
    "MemberDescription",
    "PatternType",
    "ResourcePattern",
    "ResourcePatternFilter",
    "ResourceType",
    "TwistedAdminClient",
}


class PublicNamesTests(SynchronousTestCase):
    """
    The admin package exports exactly its public names.
    """

    def test_admin(self) -> None:
        """C{odradek.client.admin} exports the clients, results and values."""
        self.assertEqual(set(admin.__all__), ADMIN)
        for name in admin.__all__:
            self.assertTrue(hasattr(admin, name), name)

    def test_types(self) -> None:
        """C{odradek.client.admin.types} exports the value types, the same objects."""
        self.assertEqual(set(types.__all__), TYPES)
        for name in types.__all__:
            self.assertIs(getattr(types, name), getattr(admin, name))
