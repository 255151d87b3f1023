"""
Tests for the admin client's faces: L{odradek.client.admin.twisted_admin}
(Deferreds on the reactor) and L{odradek.client.admin.admin_client} (blocking).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.admin import (
    AclBindingFilter,
    AdminClient,
    ConfigResource,
    ConfigResourceType,
    ElectionType,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    TwistedAdminClient,
)
from odradek.client.admin.core import AdminCore
from odradek.client.config import AdminClientConfig, ConfigError
from odradek.client.protocol import ApiKey
from odradek.client.structs import OffsetAndMetadata, TopicPartition
from odradek.client.test._admintools import (
    AdminCluster,
    ImmediateReactorThread,
    entity,
    reply,
    use_admin_network,
)
from odradek.client.test._producertools import FakeReactor, ImmediateReactor

BOOTSTRAP = {"bootstrap.servers": "boot:9000"}


def create_all(node_id: int, header: Any, request: Any) -> object:
    """A CreateTopics handler creating every topic."""
    version = header.api_version
    return reply(
        ApiKey.CREATE_TOPICS,
        version,
        topics=tuple(
            entity(
                ApiKey.CREATE_TOPICS,
                version,
                "CreatableTopicResult",
                name=topic.name,
                num_partitions=topic.num_partitions,
                replication_factor=topic.replication_factor,
            )
            for topic in request.topics
        ),
    )


class TwistedAdminClientTests(SynchronousTestCase):
    """
    L{TwistedAdminClient} is the core with a configuration by name.
    """

    def setUp(self) -> None:
        self.reactor = FakeReactor()
        self.cluster = AdminCluster(self.reactor)
        self.cluster.handlers[ApiKey.CREATE_TOPICS] = create_all
        use_admin_network(self, self.cluster)

    def client(self, config: Any = BOOTSTRAP, **settings: object) -> TwistedAdminClient:
        """@return: a client closed after the test."""
        admin = TwistedAdminClient(config, reactor=self.reactor, **settings)

        def close() -> None:
            admin.close(0)
            self.reactor.settle()

        self.addCleanup(close)
        return admin

    def test_call(self) -> None:
        """Calls return Deferreds of their results."""
        admin = self.client()
        d = admin.create_topics([NewTopic("a", 2, 1)])
        self.assertIsInstance(d, Deferred)
        self.reactor.settle()
        self.assertEqual(self.successResultOf(d)["a"].num_partitions, 2)
        self.assertIn("TwistedAdminClient adminclient-", repr(admin))

    def test_config(self) -> None:
        """Settings come by Kafka's names, keywords, or a config with overrides."""
        self.assertEqual(
            self.client(request_timeout_ms=2000).config.request_timeout_ms, 2000
        )
        given = AdminClientConfig(BOOTSTRAP, client_id="tool")
        self.assertIs(self.client(given).config, given)
        overridden = self.client(given, retries=3).config
        self.assertEqual((overridden.client_id, overridden.retries), ("tool", 3))
        self.assertEqual(self.client(given).client_id, "tool")

    def test_bad_config(self) -> None:
        """An unknown key is a ConfigError naming it."""
        error = self.assertRaises(
            ConfigError, TwistedAdminClient, BOOTSTRAP, reactor=self.reactor, lingr=1
        )
        self.assertIn("lingr", str(error))
        self.assertRaises(
            ConfigError,
            TwistedAdminClient,
            AdminClientConfig(BOOTSTRAP),
            reactor=self.reactor,
            nope=1,
        )


class _RecordingCore:
    """Stands for an L{AdminCore}: records each call and answers its name."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...], dict[str, object]]] = []
        self.client_id = "recording"

    def __getattr__(self, name: str) -> Any:
        def method(*args: object, **kwargs: object) -> Deferred[str]:
            self.calls.append((name, args, kwargs))
            return succeed(name)

        return method


class AdminClientTests(SynchronousTestCase):
    """
    L{AdminClient} runs each call on the reactor thread and blocks for it.
    """

    def setUp(self) -> None:
        self.reactor = ImmediateReactor()
        self.thread = ImmediateReactorThread(self.reactor)
        self.cluster = AdminCluster(self.reactor)
        self.cluster.handlers[ApiKey.CREATE_TOPICS] = create_all
        use_admin_network(self, self.cluster)

    def client(self, **settings: object) -> AdminClient:
        """@return: a blocking client on the immediate reactor thread."""
        admin = AdminClient(BOOTSTRAP, reactor_thread=self.thread, **settings)
        self.addCleanup(admin.close, 0)
        return admin

    def test_call(self) -> None:
        """A call blocks until its result, which it returns."""
        admin = self.client()
        results = admin.create_topics([NewTopic("a", 3, 1)])
        self.assertEqual(results["a"].num_partitions, 3)
        self.assertIsInstance(admin.core, AdminCore)
        self.assertIn("AdminClient adminclient-", repr(admin))

    def test_context_manager(self) -> None:
        """Leaving the C{with} block closes the client; later calls fail."""
        with self.client() as admin:
            admin.create_topics([NewTopic("a", 1, 1)])
        self.assertTrue(admin.core.closed)
        self.assertRaises(errors.IllegalStateError, admin.list_topics)
        admin.close()

    def test_bad_argument(self) -> None:
        """Bad arguments raise in the caller's thread."""
        self.assertRaises(ValueError, self.client().delete_topics, [""])

    def test_no_answer(self) -> None:
        """The caller waits the call's timeout and some slack, then gives up."""
        admin = self.client()
        waited: list[object] = []

        def call(function: Any, *args: object, timeout: float | None = None) -> Any:
            waited.append(timeout)
            return "done"

        self.patch(self.thread, "call", call)
        admin.list_topics(timeout=2)
        admin.list_topics()
        self.assertEqual(waited, [7.0, 65.0])

    def test_delegation(self) -> None:
        """Each method passes its arguments and timeout to the core's method."""
        admin = self.client()
        real = admin.core
        core = _RecordingCore()
        admin._core = core  # type: ignore[assignment]
        tp = TopicPartition("t", 0)
        resource = ConfigResource(ConfigResourceType.TOPIC, "t")
        calls: list[tuple[str, tuple[object, ...]]] = [
            ("describe_cluster", ()),
            ("list_topics", (True,)),
            ("describe_topics", (["t"],)),
            ("create_topics", ([NewTopic("t")], True)),
            ("delete_topics", (["t"],)),
            ("create_partitions", ({"t": NewPartitions(2)}, True)),
            ("describe_configs", ([resource], True, True)),
            ("alter_configs", ({resource: {"a": "1"}}, True)),
            ("incremental_alter_configs", ({resource: []}, True)),
            ("delete_records", ({tp: 5},)),
            ("list_offsets", ({tp: OffsetSpec.latest()}, "read_committed")),
            ("describe_log_dirs", ([1],)),
            ("elect_leaders", (ElectionType.PREFERRED, [tp])),
            ("list_consumer_groups", (("Stable",), ("classic",))),
            ("describe_consumer_groups", (["g"], True)),
            ("list_consumer_group_offsets", ("g", [tp])),
            ("alter_consumer_group_offsets", ("g", {tp: OffsetAndMetadata(1)})),
            ("delete_consumer_group_offsets", ("g", [tp])),
            ("delete_consumer_groups", (["g"],)),
            ("create_acls", ([],)),
            ("describe_acls", (AclBindingFilter.ANY,)),
            ("delete_acls", ([AclBindingFilter.ANY],)),
        ]
        for name, args in calls:
            self.assertEqual(getattr(admin, name)(*args, timeout=3), name)
        self.assertEqual(
            core.calls, [(name, args, {"timeout": 3}) for name, args in calls]
        )
        admin._core = real
