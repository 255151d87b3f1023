"""
Tests for the ACL values of L{odradek.client.admin.acls}: the enums, patterns,
entries, bindings and filters.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from odradek.client.admin import acls
from odradek.client.admin.acls import (
    AccessControlEntry,
    AccessControlEntryFilter,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    create_acls_request,
    delete_acls_request,
    describe_acls_request,
    operations_from_bits,
)

READ_ORDERS = AclBinding(
    ResourcePattern(ResourceType.TOPIC, "orders"),
    AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW),
)
WRITE_PREFIX = AclBinding(
    ResourcePattern(ResourceType.TOPIC, "log-", PatternType.PREFIXED),
    AccessControlEntry(
        "User:bob", "10.0.0.1", AclOperation.WRITE, AclPermissionType.DENY
    ),
)
TOPIC_FILTER = AclBindingFilter(
    ResourcePatternFilter(ResourceType.TOPIC, None, PatternType.ANY),
    AccessControlEntryFilter.ANY,
)


class EnumTests(SynchronousTestCase):
    """
    The ACL enums carry Kafka's codes.
    """

    def test_codes(self) -> None:
        """
        The codes are Kafka's.
        """
        self.assertEqual(
            [(member.name, int(member)) for member in ResourceType],
            [
                ("UNKNOWN", 0),
                ("ANY", 1),
                ("TOPIC", 2),
                ("GROUP", 3),
                ("CLUSTER", 4),
                ("TRANSACTIONAL_ID", 5),
                ("DELEGATION_TOKEN", 6),
                ("USER", 7),
            ],
        )
        self.assertEqual([int(member) for member in PatternType], [0, 1, 2, 3, 4])
        self.assertEqual(int(AclOperation.DESCRIBE_TOKENS), 14)
        self.assertEqual(int(AclOperation.IDEMPOTENT_WRITE), 12)
        self.assertEqual(
            [(member.name, int(member)) for member in AclPermissionType],
            [("UNKNOWN", 0), ("ANY", 1), ("DENY", 2), ("ALLOW", 3)],
        )

    def test_from_code(self) -> None:
        """
        A known code gives its member, an unknown one C{UNKNOWN}.
        """
        self.assertIs(ResourceType.from_code(3), ResourceType.GROUP)
        self.assertIs(ResourceType.from_code(99), ResourceType.UNKNOWN)
        self.assertIs(AclOperation.from_code(-4), AclOperation.UNKNOWN)

    def test_operations_from_bits(self) -> None:
        """
        The bit field gives operations without UNKNOWN, ANY and ALL, or None.
        """
        bits = sum(
            1 << code
            for code in (
                AclOperation.UNKNOWN,
                AclOperation.ANY,
                AclOperation.ALL,
                AclOperation.READ,
                AclOperation.ALTER,
            )
        )
        self.assertEqual(
            operations_from_bits(bits),
            frozenset({AclOperation.READ, AclOperation.ALTER}),
        )
        self.assertEqual(operations_from_bits(1 << 20), frozenset())
        self.assertIsNone(operations_from_bits(-(2**31)))


class ValidationTests(SynchronousTestCase):
    """
    Patterns and entries refuse the filter-only values, as Java's do.
    """

    def test_pattern_any_type(self) -> None:
        """
        A pattern's resource type may not be ANY.
        """
        error = self.assertRaises(
            ValueError, ResourcePattern, ResourceType.ANY, "orders"
        )
        self.assertIn("resource_type", str(error))

    def test_pattern_filter_only_pattern_types(self) -> None:
        """
        A pattern's pattern type may not be ANY or MATCH.
        """
        for pattern_type in (PatternType.ANY, PatternType.MATCH):
            error = self.assertRaises(
                ValueError, ResourcePattern, ResourceType.TOPIC, "t", pattern_type
            )
            self.assertIn("pattern_type", str(error))

    def test_entry_any(self) -> None:
        """
        An entry's operation and permission type may not be ANY.
        """
        error = self.assertRaises(
            ValueError,
            AccessControlEntry,
            "User:a",
            "*",
            AclOperation.ANY,
            AclPermissionType.ALLOW,
        )
        self.assertIn("operation", str(error))
        error = self.assertRaises(
            ValueError,
            AccessControlEntry,
            "User:a",
            "*",
            AclOperation.READ,
            AclPermissionType.ANY,
        )
        self.assertIn("permission_type", str(error))

    def test_unknown_allowed_in_values(self) -> None:
        """
        UNKNOWN is accepted in a binding and reported by C{is_unknown}.
        """
        binding = AclBinding(
            ResourcePattern(ResourceType.UNKNOWN, "x"), READ_ORDERS.entry
        )
        self.assertTrue(binding.is_unknown())
        self.assertFalse(READ_ORDERS.is_unknown())

    def test_create_refuses_unknown(self) -> None:
        """
        A binding with an UNKNOWN value is refused with a ValueError naming it.
        """
        for binding, field in [
            (
                AclBinding(
                    ResourcePattern(ResourceType.UNKNOWN, "x"), READ_ORDERS.entry
                ),
                "resource_type",
            ),
            (
                AclBinding(
                    ResourcePattern(ResourceType.TOPIC, "x", PatternType.UNKNOWN),
                    READ_ORDERS.entry,
                ),
                "pattern_type",
            ),
            (
                AclBinding(
                    READ_ORDERS.pattern,
                    AccessControlEntry(
                        "User:a", "*", AclOperation.UNKNOWN, AclPermissionType.ALLOW
                    ),
                ),
                "operation",
            ),
            (
                AclBinding(
                    READ_ORDERS.pattern,
                    AccessControlEntry(
                        "User:a", "*", AclOperation.READ, AclPermissionType.UNKNOWN
                    ),
                ),
                "permission_type",
            ),
        ]:
            with self.subTest(field=field):
                error = self.assertRaises(
                    ValueError, create_acls_request, 3, [READ_ORDERS, binding]
                )
                self.assertIn(field, str(error))

    def test_filters_refuse_unknown(self) -> None:
        """
        DescribeAcls and DeleteAcls refuse a filter with an UNKNOWN value.
        """
        unknown = AclBindingFilter(
            ResourcePatternFilter.ANY,
            AccessControlEntryFilter(
                None, None, AclOperation.UNKNOWN, AclPermissionType.ANY
            ),
        )
        error = self.assertRaises(ValueError, describe_acls_request, 2, unknown)
        self.assertIn("operation", str(error))
        error = self.assertRaises(
            ValueError, delete_acls_request, 2, [TOPIC_FILTER, unknown]
        )
        self.assertIn("operation", str(error))


class FilterTests(SynchronousTestCase):
    """
    Filters select bindings as Java's C{matches} does.
    """

    def test_any(self) -> None:
        """
        L{AclBindingFilter.ANY} matches every binding and can match several.
        """
        self.assertTrue(AclBindingFilter.ANY.matches(READ_ORDERS))
        self.assertTrue(AclBindingFilter.ANY.matches(WRITE_PREFIX))
        self.assertFalse(AclBindingFilter.ANY.matches_at_most_one())
        self.assertEqual(
            AclBindingFilter.ANY.find_indefinite_field(), "resource_type is ANY"
        )

    def test_to_filter(self) -> None:
        """
        A binding's own filter matches it alone and at most one binding.
        """
        exact = READ_ORDERS.to_filter()
        self.assertTrue(exact.matches(READ_ORDERS))
        self.assertFalse(exact.matches(WRITE_PREFIX))
        self.assertTrue(exact.matches_at_most_one())

    def test_match_pattern_type(self) -> None:
        """
        MATCH selects the literal name, the wildcard and prefixes of the name.
        """
        match = ResourcePatternFilter(ResourceType.TOPIC, "log-2024", PatternType.MATCH)
        self.assertTrue(match.matches(WRITE_PREFIX.pattern))
        self.assertTrue(match.matches(ResourcePattern(ResourceType.TOPIC, "*")))
        self.assertTrue(match.matches(ResourcePattern(ResourceType.TOPIC, "log-2024")))
        self.assertFalse(match.matches(READ_ORDERS.pattern))
        self.assertFalse(match.matches(ResourcePattern(ResourceType.GROUP, "*")))

    def test_any_pattern_type_exact_name(self) -> None:
        """
        An ANY-pattern-type filter with a name selects patterns of that exact name.
        """
        any_type = ResourcePatternFilter(ResourceType.ANY, "log-", PatternType.ANY)
        self.assertTrue(any_type.matches(WRITE_PREFIX.pattern))
        self.assertFalse(
            any_type.matches(ResourcePattern(ResourceType.TOPIC, "log-2024"))
        )

    def test_entry_filter(self) -> None:
        """
        Each set field of an entry filter must equal the entry's.
        """
        alice = AccessControlEntryFilter(
            "User:alice", None, AclOperation.ANY, AclPermissionType.ALLOW
        )
        self.assertTrue(alice.matches(READ_ORDERS.entry))
        self.assertFalse(alice.matches(WRITE_PREFIX.entry))
        self.assertEqual(alice.find_indefinite_field(), "host is None")


class PublicNamesTests(SynchronousTestCase):
    """
    The public surface of L{odradek.client.admin.acls}.
    """

    def test_all(self) -> None:
        """
        C{__all__} names the public names, each importable from the module.
        """
        self.assertEqual(
            set(acls.__all__),
            {
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
            },
        )
        for name in acls.__all__:
            self.assertTrue(hasattr(acls, name), name)
