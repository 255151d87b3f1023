"""
The ACL APIs without an authorizer, and ElectLeaders, against one broker: driven by
confluent-kafka's AdminClient (librdkafka) and kafka-python's KafkaAdminClient.

Without an authorizer every ACL request is refused with C{SECURITY_DISABLED} (54), as
Apache Kafka refuses it without C{authorizer.class.name}; on one broker the only
replica of each partition leads, so every election is C{ELECTION_NOT_NEEDED} (84).
"""

from __future__ import annotations

from typing import Any

import pytest
import rdkafka
from confluent_kafka import ElectionType, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)
from conftest import BROKER_KIND, Broker
from harness import api_versions
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePattern,
    ResourcePatternFilter,
)
from kafka.admin import ResourceType as KafkaPythonResourceType
from kafka.errors import SecurityDisabledError, UnknownTopicOrPartitionError

pytestmark = pytest.mark.skipif(
    BROKER_KIND != "odradek", reason="Odradek's answers without an authorizer"
)

SECURITY_DISABLED = 54
ELECTION_NOT_NEEDED = 84
UNKNOWN_TOPIC_OR_PARTITION = 3
TIMEOUT_SECONDS = 30


def error_code(future: Any) -> int:
    """
    @return: the Kafka error code a confluent-kafka future failed with.
    """
    with pytest.raises(KafkaException) as raised:
        future.result(timeout=TIMEOUT_SECONDS)
    error = raised.value.args[0]
    assert isinstance(error, KafkaError), error
    return int(error.code())


def binding(topic: str) -> AclBinding:
    """@return: an ACL allowing User:alice to read C{topic}."""
    return AclBinding(
        ResourceType.TOPIC,
        topic,
        ResourcePatternType.LITERAL,
        "User:alice",
        "*",
        AclOperation.READ,
        AclPermissionType.ALLOW,
    )


def any_filter() -> AclBindingFilter:
    """@return: a filter matching every ACL."""
    return AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )


def test_advertised(broker: Broker) -> None:
    """ApiVersions lists the ACL APIs with versions 1 to 3, ElectLeaders 0 to 2."""
    versions = api_versions(broker.host, broker.port)
    assert {key: versions[key] for key in (29, 30, 31, 43)} == {
        29: (1, 3),
        30: (1, 3),
        31: (1, 3),
        43: (0, 2),
    }


def test_acls_confluent(broker: Broker, topic: str) -> None:
    """
    create_acls and delete_acls fail with SECURITY_DISABLED for each ACL and filter.
    describe_acls finds nothing: librdkafka reads the top-level error code of a
    DescribeAcls response but never reports it (C{rd_kafka_DescribeAclsResponse_parse}
    in C{rdkafka_admin.c}), against Apache Kafka too; kafka-python sees it (below).
    """
    client = rdkafka.admin(broker.bootstrap)
    created = client.create_acls(
        [binding(topic), binding(topic + "-other")], request_timeout=TIMEOUT_SECONDS
    )
    assert [error_code(future) for future in created.values()] == [
        SECURITY_DISABLED
    ] * 2
    described = client.describe_acls(any_filter(), request_timeout=TIMEOUT_SECONDS)
    assert described.result(timeout=TIMEOUT_SECONDS) == []
    deleted = client.delete_acls([any_filter()], request_timeout=TIMEOUT_SECONDS)
    assert [error_code(future) for future in deleted.values()] == [SECURITY_DISABLED]


def test_elect_leaders_confluent(broker: Broker, topic: str) -> None:
    """
    Preferred and unclean elections of existing partitions are not needed; a
    missing partition or topic is UNKNOWN_TOPIC_OR_PARTITION. An election of every
    partition answers none, leaving out those whose election was not needed.
    """
    rdkafka.create_topic(broker.bootstrap, topic, partitions=2)
    client = rdkafka.admin(broker.bootstrap)
    asked = [
        TopicPartition(topic, 0),
        TopicPartition(topic, 1),
        TopicPartition(topic, 7),
        TopicPartition(topic + "-missing", 0),
    ]
    for election in (ElectionType.PREFERRED, ElectionType.UNCLEAN):
        # No timeouts as keywords: confluent-kafka 2.16 fails elect_leaders with
        # SystemError when given any.
        results = client.elect_leaders(election, asked).result(timeout=TIMEOUT_SECONDS)
        codes = {
            (tp.topic, tp.partition): None if error is None else error.code()
            for tp, error in results.items()
        }
        assert codes == {
            (topic, 0): ELECTION_NOT_NEEDED,
            (topic, 1): ELECTION_NOT_NEEDED,
            (topic, 7): UNKNOWN_TOPIC_OR_PARTITION,
            (topic + "-missing", 0): UNKNOWN_TOPIC_OR_PARTITION,
        }, election
    everything = client.elect_leaders(ElectionType.PREFERRED, None)
    assert everything.result(timeout=TIMEOUT_SECONDS) == {}


def kafka_python_admin(broker: Broker) -> KafkaAdminClient:
    """@return: a kafka-python admin client of the broker."""
    return KafkaAdminClient(
        bootstrap_servers=broker.bootstrap, request_timeout_ms=TIMEOUT_SECONDS * 1000
    )


def test_acls_kafka_python(broker: Broker, topic: str) -> None:
    """
    kafka-python's describe_acls raises SecurityDisabledError; create_acls and
    delete_acls report it for each ACL and filter.
    """
    client = kafka_python_admin(broker)
    try:
        acl_filter = ACLFilter(
            principal=None,
            host=None,
            operation=ACLOperation.ANY,
            permission_type=ACLPermissionType.ANY,
            resource_pattern=ResourcePatternFilter(
                KafkaPythonResourceType.ANY, None, ACLResourcePatternType.ANY
            ),
        )
        with pytest.raises(SecurityDisabledError) as raised:
            client.describe_acls(acl_filter)
        assert "No Authorizer is configured on the broker" in str(raised.value)
        acl = ACL(
            principal="User:alice",
            host="*",
            operation=ACLOperation.READ,
            permission_type=ACLPermissionType.ALLOW,
            resource_pattern=ResourcePattern(
                KafkaPythonResourceType.TOPIC, topic, ACLResourcePatternType.LITERAL
            ),
        )
        created = client.create_acls([acl, acl])
        assert created["succeeded"] == []
        assert created["failed"] == [SecurityDisabledError] * 2
        [(_, matching, error)] = client.delete_acls([acl_filter])
        assert (matching, error) == ([], SecurityDisabledError)
    finally:
        client.close()


def test_elect_leaders_kafka_python(broker: Broker, topic: str) -> None:
    """
    kafka-python's elect_leaders: existing partitions need no election; a missing
    topic raises UnknownTopicOrPartitionError.
    """
    rdkafka.create_topic(broker.bootstrap, topic, partitions=2)
    client = kafka_python_admin(broker)
    try:
        response = client.elect_leaders(0, {topic: [0, 1]})
        assert response.error_code == 0
        assert [
            (result.topic, p.partition_id, p.error_code)
            for result in response.replica_election_results
            for p in result.partition_result
        ] == [(topic, 0, ELECTION_NOT_NEEDED), (topic, 1, ELECTION_NOT_NEEDED)]
        with pytest.raises(UnknownTopicOrPartitionError):
            client.elect_leaders(0, {topic + "-missing": [0]})
    finally:
        client.close()
