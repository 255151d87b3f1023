"""
Tests of C{odradek-acls}: its command line, the sans-IO helpers of
L{odradek.admin.cli._aclsfmt}, and its actions against a fake admin client.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable
from typing import cast

from twisted.trial.unittest import SynchronousTestCase

from odradek.admin.cli import _aclsfmt as fmt
from odradek.admin.cli import acls
from odradek.admin.cli._common import ToolError, run_tool
from odradek.client.admin import (
    AccessControlEntry,
    AccessControlEntryFilter,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    FilterResult,
    FilterResults,
    ItemResults,
    PatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)
from odradek.client.errors import SecurityDisabledError, UnsupportedVersionError

BOOTSTRAP = ["--bootstrap-server", "localhost:9092"]
ALICE_READ = AccessControlEntry(
    "User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW
)
ORDERS = ResourcePattern(ResourceType.TOPIC, "orders")


class FakeAdmin:
    """
    The ACL calls of C{odradek-acls}, answered from memory.

    @ivar bindings: the ACLs the cluster has.
    @ivar error: the error every call fails with, if any.
    @ivar created: the bindings created.
    @ivar deleted: the filters of each delete.
    """

    def __init__(self) -> None:
        self.bindings: list[AclBinding] = []
        self.error: BaseException | None = None
        self.created: list[AclBinding] = []
        self.deleted: list[list[AclBindingFilter]] = []

    def create_acls(
        self, bindings: Iterable[AclBinding], timeout: float | None = None
    ) -> ItemResults[AclBinding, None]:
        bindings = list(bindings)
        self.created += bindings
        return ItemResults.of(bindings, dict.fromkeys(bindings, self.error))

    def describe_acls(
        self, acl_filter: AclBindingFilter, timeout: float | None = None
    ) -> list[AclBinding]:
        if self.error is not None:
            raise self.error
        return [b for b in self.bindings if acl_filter.matches(b)]

    def delete_acls(
        self, filters: Iterable[AclBindingFilter], timeout: float | None = None
    ) -> ItemResults[AclBindingFilter, FilterResults]:
        filters = list(filters)
        self.deleted.append(filters)
        outcomes: dict[AclBindingFilter, FilterResults | BaseException] = {}
        for f in filters:
            matched = [b for b in self.bindings if f.matches(b)]
            outcomes[f] = self.error or FilterResults(
                tuple(FilterResult(b) for b in matched)
            )
        return ItemResults.of(filters, outcomes)


class ToolTestCase(SynchronousTestCase):
    """Captures standard output and error around each test."""

    def setUp(self) -> None:
        self.out = io.StringIO()
        self.err = io.StringIO()
        self.patch(sys, "stdout", self.out)
        self.patch(sys, "stderr", self.err)
        self.admin = FakeAdmin()

    def run_acls(self, *argv: str, confirm: bool | None = None) -> int:
        """Run the tool's actions with the fake admin; errors as run_tool says."""

        def main(args: list[str]) -> int:
            options = acls.parse_args(args)
            return acls.execute(options, cast(AdminClient, self.admin), confirm)

        return run_tool(main, [*BOOTSTRAP, *argv], stderr=sys.stderr)

    def assert_bad_flags(self, *argv: str) -> str:
        """Assert that a command line exits 1 with one line; return it."""
        with self.assertRaises(SystemExit) as caught:
            acls.parse_args([*BOOTSTRAP, *argv])
        self.assertEqual(caught.exception.code, 1)
        lines = self.err.getvalue().splitlines()
        self.assertEqual(len(lines), 1, lines)
        return lines[0]


class ParseArgsTests(ToolTestCase):
    """C{odradek-acls}' command line."""

    def test_one_action(self) -> None:
        """No action is one line and exit 1."""
        self.assertIn("exactly one action", self.assert_bad_flags("--topic", "a"))

    def test_add_needs_principal(self) -> None:
        """--add needs --allow-principal or --deny-principal."""
        line = self.assert_bad_flags("--add", "--topic", "a")
        self.assertIn("--allow-principal, --deny-principal", line)

    def test_add_needs_resource(self) -> None:
        """--add needs a resource."""
        line = self.assert_bad_flags("--add", "--allow-principal", "User:a")
        self.assertIn("at least one resource", line)

    def test_add_pattern_type(self) -> None:
        """--add takes only literal or prefixed patterns."""
        line = self.assert_bad_flags(
            "--add",
            "--allow-principal",
            "User:a",
            "--topic",
            "t",
            "--resource-pattern-type",
            "match",
        )
        self.assertIn("'MATCH' is not valid when adding acls", line)

    def test_bad_pattern_type(self) -> None:
        """An unknown pattern type is one line."""
        line = self.assert_bad_flags("--list", "--resource-pattern-type", "fuzzy")
        self.assertIn("Unknown resource-pattern-type: fuzzy", line)

    def test_bad_principal(self) -> None:
        """A principal without a type is refused."""
        line = self.assert_bad_flags(
            "--add", "--allow-principal", "alice", "--topic", "t"
        )
        self.assertIn("principalType:principalName", line)

    def test_bad_operation(self) -> None:
        """An unknown operation is refused, listing the valid ones."""
        line = self.assert_bad_flags(
            "--add", "--allow-principal", "User:a", "--topic", "t", "--operation", "Fly"
        )
        self.assertIn("unknown operation 'Fly'", line)

    def test_operation_for_resource(self) -> None:
        """An operation a resource type does not have is refused."""
        line = self.assert_bad_flags(
            "--add",
            "--allow-principal",
            "User:a",
            "--group",
            "g",
            "--operation",
            "Write",
        )
        self.assertIn("ResourceType GROUP only supports operations", line)

    def test_producer_needs_topic(self) -> None:
        """--producer needs --topic."""
        line = self.assert_bad_flags(
            "--add", "--producer", "--allow-principal", "User:a"
        )
        self.assertIn("With --producer you must specify a --topic", line)

    def test_consumer_needs_group(self) -> None:
        """--consumer needs --topic and --group."""
        line = self.assert_bad_flags(
            "--add", "--consumer", "--allow-principal", "User:a", "--topic", "t"
        )
        self.assertIn("With --consumer you must specify", line)

    def test_list_with_principal_flags(self) -> None:
        """--list does not take --allow-principal."""
        line = self.assert_bad_flags("--list", "--allow-principal", "User:a")
        self.assertIn("--allow-principal can't be used with --list", line)


class HelpersTests(SynchronousTestCase):
    """The sans-IO helpers of odradek-acls."""

    def test_operation_names(self) -> None:
        """Operations read in any case, with or without underscores."""
        for text in ("ClusterAction", "CLUSTER_ACTION", "clusteraction"):
            self.assertEqual(fmt.parse_operation(text), AclOperation.CLUSTER_ACTION)
        self.assertEqual(
            fmt.operation_name(AclOperation.DESCRIBE_CONFIGS), "DescribeConfigs"
        )
        with self.assertRaises(ToolError):
            fmt.parse_operation("Any")

    def test_texts(self) -> None:
        """Patterns and entries are written as Kafka's toString writes them."""
        self.assertEqual(
            fmt.pattern_text(ORDERS),
            "ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)",
        )
        self.assertEqual(
            fmt.entry_text(ALICE_READ),
            "(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)",
        )
        self.assertEqual(
            fmt.filter_text(
                ResourcePatternFilter(ResourceType.ANY, None, PatternType.ANY)
            ),
            "ResourcePattern(resourceType=ANY, name=<any>, patternType=ANY)",
        )

    def test_current_text(self) -> None:
        """--list's block: heading, tab-indented entries, blank line."""
        other = AccessControlEntry(
            "User:bob", "h", AclOperation.WRITE, AclPermissionType.DENY
        )
        self.assertEqual(
            fmt.current_text(ORDERS, [ALICE_READ, other]),
            "Current ACLs for resource `ResourcePattern(resourceType=TOPIC,"
            " name=orders, patternType=LITERAL)`: \n \t(principal=User:alice,"
            " host=*, operation=READ, permissionType=ALLOW)\n\t(principal=User:bob,"
            " host=h, operation=WRITE, permissionType=DENY) \n",
        )

    def test_group_by_pattern(self) -> None:
        """Bindings group by pattern, each entry once."""
        binding = AclBinding(ORDERS, ALICE_READ)
        self.assertEqual(
            fmt.group_by_pattern([binding, binding]), {ORDERS: [ALICE_READ]}
        )

    def test_entries(self) -> None:
        """Each principal, operation and host gives an entry; hosts default to '*'."""
        options = acls.parse_args(
            [
                *BOOTSTRAP,
                "--add",
                "--topic",
                "t",
                "--allow-principal",
                "User:a",
                "--operation",
                "Read",
                "--operation",
                "Write",
                "--deny-principal",
                "User:b",
                "--deny-host",
                "10.0.0.1",
            ]
        )
        [(pattern_filter, entries)] = options.chosen.items()
        self.assertEqual(
            pattern_filter,
            ResourcePatternFilter(ResourceType.TOPIC, "t", PatternType.LITERAL),
        )
        self.assertEqual(
            [
                (e.principal, e.host, e.operation.name, e.permission_type.name)
                for e in entries
            ],
            [
                ("User:a", "*", "READ", "ALLOW"),
                ("User:a", "*", "WRITE", "ALLOW"),
                ("User:b", "10.0.0.1", "READ", "DENY"),
                ("User:b", "10.0.0.1", "WRITE", "DENY"),
            ],
        )

    def test_producer_consumer(self) -> None:
        """--producer and --consumer give their roles' operations."""
        options = acls.parse_args(
            [
                *BOOTSTRAP,
                "--add",
                "--producer",
                "--consumer",
                "--idempotent",
                "--allow-principal",
                "User:a",
                "--topic",
                "t",
                "--group",
                "g",
            ]
        )
        operations = {
            (f.resource_type.name, tuple(e.operation.name for e in entries))
            for f, entries in options.chosen.items()
        }
        self.assertEqual(
            operations,
            {
                ("TOPIC", ("WRITE", "DESCRIBE", "CREATE", "READ")),
                ("GROUP", ("READ",)),
                ("CLUSTER", ("IDEMPOTENT_WRITE",)),
            },
        )


class ActionsTests(ToolTestCase):
    """The actions of odradek-acls against a fake admin client."""

    add = (
        "--add",
        "--allow-principal",
        "User:alice",
        "--operation",
        "Read",
        "--topic",
        "orders",
    )

    def test_add(self) -> None:
        """--add prints Kafka's block and creates the bindings."""
        self.assertEqual(self.run_acls(*self.add), 0)
        self.assertEqual(self.admin.created, [AclBinding(ORDERS, ALICE_READ)])
        self.assertTrue(
            self.out.getvalue().startswith("Adding ACLs for resource `ResourcePattern(")
        )

    def test_security_disabled(self) -> None:
        """A broker without an authorizer is one line on stderr and exit 1."""
        self.admin.error = SecurityDisabledError("No Authorizer is configured.")
        for argv in (
            self.add,
            ("--list",),
            ("--remove", "--topic", "orders", "--force"),
        ):
            self.err.truncate(0)
            self.err.seek(0)
            self.assertEqual(self.run_acls(*argv), 1)
            self.assertEqual(
                self.err.getvalue(),
                "Error: the broker has no authorizer configured, so it keeps no ACLs"
                " (SECURITY_DISABLED: No Authorizer is configured.)\n",
            )

    def test_unsupported(self) -> None:
        """A broker without the API is named in one line."""
        self.admin.error = UnsupportedVersionError("no DeleteAcls")
        self.assertEqual(self.run_acls("--remove", "--topic", "orders", "--force"), 1)
        self.assertIn("does not support DeleteAcls", self.err.getvalue())

    def test_list(self) -> None:
        """--list prints each resource's ACLs."""
        self.admin.bindings = [AclBinding(ORDERS, ALICE_READ)]
        self.assertEqual(self.run_acls("--list", "--topic", "orders"), 0)
        self.assertEqual(
            self.out.getvalue(), fmt.current_text(ORDERS, [ALICE_READ]) + "\n"
        )

    def test_list_principal(self) -> None:
        """--list --principal prints only that principal's ACLs."""
        bob = AccessControlEntry(
            "User:bob", "*", AclOperation.READ, AclPermissionType.ALLOW
        )
        self.admin.bindings = [AclBinding(ORDERS, ALICE_READ), AclBinding(ORDERS, bob)]
        self.run_acls("--list", "--principal", "User:bob")
        self.assertEqual(
            self.out.getvalue(),
            "ACLs for principal `User:bob`\n" + fmt.current_text(ORDERS, [bob]) + "\n",
        )

    def test_remove_all(self) -> None:
        """--remove without entries deletes every ACL of the resource."""
        self.assertEqual(self.run_acls("--remove", "--topic", "orders", "--force"), 0)
        self.assertEqual(
            self.admin.deleted,
            [[AclBindingFilter(ORDERS.to_filter(), AccessControlEntryFilter.ANY)]],
        )

    def test_remove_declined(self) -> None:
        """Without --force a 'no' deletes nothing."""
        self.assertEqual(
            self.run_acls("--remove", "--topic", "orders", confirm=False), 0
        )
        self.assertEqual(self.admin.deleted, [])
