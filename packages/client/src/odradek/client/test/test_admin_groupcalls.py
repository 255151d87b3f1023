"""
Tests for the admin core's consumer-group and ACL calls
(L{odradek.client.admin._groupcalls}): coordinator routing, retries and the
wiring of L{odradek.client.admin.groups} and L{odradek.client.admin.acls}.
"""

from __future__ import annotations

from typing import Any

from odradek.client import errors
from odradek.client.admin.acls import (
    AccessControlEntry,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePattern,
    ResourceType,
)
from odradek.client.admin.groups import ConsumerGroupState
from odradek.client.protocol import ApiKey
from odradek.client.structs import OffsetAndMetadata, TopicPartition
from odradek.client.test._admintools import (
    NODES,
    AdminHandler,
    AdminTestCase,
    entity,
    reply,
)

O0 = TopicPartition("orders", 0)
O1 = TopicPartition("orders", 1)


def finding(
    coordinators: dict[str, int], codes: list[int] | None = None
) -> AdminHandler:
    """
    @return: a FindCoordinator handler naming node C{coordinators[key]}, after
        answering the scripted error C{codes} in turn.
    """
    scripted = codes if codes is not None else []

    def handle(node_id: int, header: Any, request: Any) -> object:
        version = header.api_version
        assert version >= 4, version
        answers = []
        for key in request.coordinator_keys:
            code = scripted.pop(0) if scripted else 0
            node = NODES[coordinators[key] - 1]
            answers.append(
                entity(
                    ApiKey.FIND_COORDINATOR,
                    version,
                    "Coordinator",
                    key=key,
                    node_id=-1 if code else node.node_id,
                    host="" if code else node.host,
                    port=-1 if code else node.port,
                    error_code=code,
                )
            )
        return reply(ApiKey.FIND_COORDINATOR, version, coordinators=tuple(answers))

    return handle


def describing_groups(codes: list[int] | None = None) -> AdminHandler:
    """
    @return: a DescribeGroups handler describing each group as Stable with no
        members, after answering the scripted error C{codes} in turn.
    """
    scripted = codes if codes is not None else []

    def handle(node_id: int, header: Any, request: Any) -> object:
        version = header.api_version
        groups = []
        for group_id in request.groups:
            code = scripted.pop(0) if scripted else 0
            groups.append(
                entity(
                    ApiKey.DESCRIBE_GROUPS,
                    version,
                    "DescribedGroup",
                    group_id=group_id,
                    error_code=code,
                    group_state="Stable",
                    protocol_type="consumer",
                    protocol_data=f"range-{node_id}",
                )
            )
        return reply(ApiKey.DESCRIBE_GROUPS, version, groups=tuple(groups))

    return handle


class GroupsTests(AdminTestCase):
    """
    The group calls go to each group's coordinator.
    """

    def test_describe(self) -> None:
        """Each group is described by its own coordinator."""
        self.cluster.handlers[ApiKey.FIND_COORDINATOR] = finding({"g1": 2, "g2": 3})
        self.cluster.handlers[ApiKey.DESCRIBE_GROUPS] = describing_groups()
        results = self.result(self.admin().describe_consumer_groups(["g1", "g2"]))
        self.assertEqual(list(results), ["g1", "g2"])
        self.assertEqual(results["g1"].partition_assignor, "range-2")
        self.assertEqual(results["g1"].coordinator, NODES[1])
        self.assertEqual(results["g2"].state, ConsumerGroupState.STABLE)
        self.assertEqual(sorted(self.cluster.nodes_of(ApiKey.DESCRIBE_GROUPS)), [2, 3])
        self.assertRaises(ValueError, self.admin().describe_consumer_groups, [""])

    def test_not_coordinator(self) -> None:
        """NOT_COORDINATOR finds the coordinator again and retries the group."""
        coordinators = {"g1": 2}
        self.cluster.handlers[ApiKey.FIND_COORDINATOR] = finding(coordinators)
        self.cluster.handlers[ApiKey.DESCRIBE_GROUPS] = describing_groups([16])
        d = self.admin().describe_consumer_groups(["g1"])
        self.reactor.settle()
        coordinators["g1"] = 3
        self.reactor.advance(0.1)
        self.assertEqual(self.successResultOf(d)["g1"].coordinator, NODES[2])
        self.assertEqual(self.cluster.nodes_of(ApiKey.DESCRIBE_GROUPS), [2, 3])
        self.assertEqual(len(self.cluster.requests(ApiKey.FIND_COORDINATOR)), 2)

    def test_coordinator_not_available(self) -> None:
        """A FindCoordinator error that is retriable is retried after backoff."""
        self.cluster.handlers[ApiKey.FIND_COORDINATOR] = finding({"g1": 1}, [15])
        self.cluster.handlers[ApiKey.DESCRIBE_GROUPS] = describing_groups()
        d = self.admin().describe_consumer_groups(["g1"])
        self.reactor.advance(0.1)
        self.assertEqual(self.successResultOf(d)["g1"].group_id, "g1")

    def test_list(self) -> None:
        """Every broker is asked; a broker's error does not hide the others' groups."""

        def handle(node_id: int, header: Any, request: Any) -> object:
            version = header.api_version
            group = entity(
                ApiKey.LIST_GROUPS,
                version,
                "ListedGroup",
                group_id=f"g{node_id % 2}",
                protocol_type="consumer",
                group_state="Empty",
            )
            return reply(
                ApiKey.LIST_GROUPS,
                version,
                error_code=31 if node_id == 3 else 0,
                groups=() if node_id == 3 else (group,),
            )

        self.cluster.handlers[ApiKey.LIST_GROUPS] = handle
        result = self.result(self.admin().list_consumer_groups(states=["Empty"]))
        self.assertEqual(sorted(g.group_id for g in result.valid), ["g0", "g1"])
        (error,) = result.errors
        self.assertIsInstance(error, errors.ClusterAuthorizationError)
        self.assertEqual(sorted(self.cluster.nodes_of(ApiKey.LIST_GROUPS)), [1, 2, 3])
        for request in self.cluster.bodies(ApiKey.LIST_GROUPS):
            self.assertEqual(request.states_filter, ("Empty",))

    def test_list_offsets(self) -> None:
        """A group's committed offsets are read from its coordinator."""

        def handle(node_id: int, header: Any, request: Any) -> object:
            version = header.api_version
            partition = entity(
                ApiKey.OFFSET_FETCH,
                version,
                "OffsetFetchResponsePartitions",
                partition_index=0,
                committed_offset=42,
                committed_leader_epoch=-1,
                metadata="m",
            )
            topic = entity(
                ApiKey.OFFSET_FETCH,
                version,
                "OffsetFetchResponseTopics",
                name="orders",
                partitions=(partition,),
            )
            group = entity(
                ApiKey.OFFSET_FETCH,
                version,
                "OffsetFetchResponseGroup",
                group_id=request.groups[0].group_id,
                topics=(topic,),
                error_code=30 if request.groups[0].group_id == "denied" else 0,
            )
            return reply(ApiKey.OFFSET_FETCH, version, groups=(group,))

        self.cluster.handlers[ApiKey.FIND_COORDINATOR] = finding({"g1": 2, "denied": 1})
        self.cluster.handlers[ApiKey.OFFSET_FETCH] = handle
        admin = self.admin()
        offsets = self.result(admin.list_consumer_group_offsets("g1"))
        self.assertEqual(offsets, {O0: OffsetAndMetadata(42, "m")})
        self.assertEqual(self.cluster.nodes_of(ApiKey.OFFSET_FETCH), [2])
        failed = admin.list_consumer_group_offsets("denied", [O0])
        self.reactor.settle()
        self.failureResultOf(failed, errors.GroupAuthorizationError)

    def test_alter_offsets(self) -> None:
        """Offsets are committed as an admin would, each partition's outcome kept."""

        def handle(node_id: int, header: Any, request: Any) -> object:
            version = header.api_version
            topics = tuple(
                entity(
                    ApiKey.OFFSET_COMMIT,
                    version,
                    "OffsetCommitResponseTopic",
                    name=topic.name,
                    partitions=tuple(
                        entity(
                            ApiKey.OFFSET_COMMIT,
                            version,
                            "OffsetCommitResponsePartition",
                            partition_index=p.partition_index,
                            error_code=3 if p.partition_index == 1 else 0,
                        )
                        for p in topic.partitions
                    ),
                )
                for topic in request.topics
            )
            return reply(ApiKey.OFFSET_COMMIT, version, topics=topics)

        self.cluster.handlers[ApiKey.FIND_COORDINATOR] = finding({"g1": 3})
        self.cluster.handlers[ApiKey.OFFSET_COMMIT] = handle
        admin = self.admin()
        self.assertRaises(ValueError, admin.alter_consumer_group_offsets, "g1", {O0: 5})
        results = self.result(
            admin.alter_consumer_group_offsets(
                "g1", {O0: OffsetAndMetadata(5), O1: OffsetAndMetadata(6)}
            )
        )
        self.assertIsNone(results[O0])
        self.assertIsInstance(results.error(O1), errors.UnknownTopicOrPartitionError)
        (request,) = self.cluster.bodies(ApiKey.OFFSET_COMMIT)
        self.assertEqual(
            (
                request.group_id,
                request.generation_id_or_member_epoch,
                request.member_id,
            ),
            ("g1", -1, ""),
        )
        self.assertEqual(self.cluster.nodes_of(ApiKey.OFFSET_COMMIT), [3])

    def test_delete_offsets(self) -> None:
        """OffsetDelete goes to the coordinator; each partition's outcome kept."""

        def handle(node_id: int, header: Any, request: Any) -> object:
            topics = tuple(
                entity(
                    ApiKey.OFFSET_DELETE,
                    0,
                    "OffsetDeleteResponseTopic",
                    name=topic.name,
                    partitions=tuple(
                        entity(
                            ApiKey.OFFSET_DELETE,
                            0,
                            "OffsetDeleteResponsePartition",
                            partition_index=p.partition_index,
                            error_code=86 if p.partition_index == 0 else 0,
                        )
                        for p in topic.partitions
                    ),
                )
                for topic in request.topics
            )
            return reply(ApiKey.OFFSET_DELETE, 0, topics=topics)

        self.cluster.handlers[ApiKey.FIND_COORDINATOR] = finding({"g1": 1})
        self.cluster.handlers[ApiKey.OFFSET_DELETE] = handle
        results = self.result(
            self.admin().delete_consumer_group_offsets("g1", [O0, O1])
        )
        self.assertIsInstance(results.error(O0), errors.GroupSubscribedToTopicError)
        self.assertIsNone(results[O1])

    def test_delete_groups(self) -> None:
        """Each group is deleted by its coordinator."""

        def handle(node_id: int, header: Any, request: Any) -> object:
            version = header.api_version
            return reply(
                ApiKey.DELETE_GROUPS,
                version,
                results=tuple(
                    entity(
                        ApiKey.DELETE_GROUPS,
                        version,
                        "DeletableGroupResult",
                        group_id=group_id,
                        error_code=68 if group_id == "busy" else 0,
                    )
                    for group_id in request.groups_names
                ),
            )

        self.cluster.handlers[ApiKey.FIND_COORDINATOR] = finding({"g1": 1, "busy": 2})
        self.cluster.handlers[ApiKey.DELETE_GROUPS] = handle
        results = self.result(self.admin().delete_consumer_groups(["g1", "busy"]))
        self.assertIsNone(results["g1"])
        self.assertIsInstance(results.error("busy"), errors.GroupNotEmptyError)


BINDING = AclBinding(
    ResourcePattern(ResourceType.TOPIC, "orders"),
    AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW),
)


class AclsTests(AdminTestCase):
    """
    The ACL calls go to any broker.
    """

    def test_create(self) -> None:
        """Each binding's outcome is reported."""

        def handle(node_id: int, header: Any, request: Any) -> object:
            version = header.api_version
            return reply(
                ApiKey.CREATE_ACLS,
                version,
                results=tuple(
                    entity(
                        ApiKey.CREATE_ACLS, version, "AclCreationResult", error_code=54
                    )
                    for _ in request.creations
                ),
            )

        self.cluster.handlers[ApiKey.CREATE_ACLS] = handle
        admin = self.admin()
        self.assertRaises(ValueError, admin.create_acls, ["acl"])
        results = self.result(admin.create_acls([BINDING]))
        self.assertIsInstance(results.error(BINDING), errors.SecurityDisabledError)

    def test_describe(self) -> None:
        """The bindings the filter matches are returned."""

        def handle(node_id: int, header: Any, request: Any) -> object:
            version = header.api_version
            acl = entity(
                ApiKey.DESCRIBE_ACLS,
                version,
                "AclDescription",
                principal="User:alice",
                host="*",
                operation=3,
                permission_type=3,
            )
            resource = entity(
                ApiKey.DESCRIBE_ACLS,
                version,
                "DescribeAclsResource",
                resource_type=2,
                resource_name="orders",
                pattern_type=3,
                acls=(acl,),
            )
            return reply(ApiKey.DESCRIBE_ACLS, version, resources=(resource,))

        self.cluster.handlers[ApiKey.DESCRIBE_ACLS] = handle
        admin = self.admin()
        self.assertEqual(
            self.result(admin.describe_acls(AclBindingFilter.ANY)), [BINDING]
        )
        self.assertRaises(ValueError, admin.describe_acls, BINDING)

    def test_delete(self) -> None:
        """Each filter's matches are reported."""

        def handle(node_id: int, header: Any, request: Any) -> object:
            version = header.api_version
            return reply(
                ApiKey.DELETE_ACLS,
                version,
                filter_results=tuple(
                    entity(ApiKey.DELETE_ACLS, version, "DeleteAclsFilterResult")
                    for _ in request.filters
                ),
            )

        self.cluster.handlers[ApiKey.DELETE_ACLS] = handle
        results = self.result(self.admin().delete_acls([AclBindingFilter.ANY]))
        self.assertEqual(results[AclBindingFilter.ANY].values, ())
