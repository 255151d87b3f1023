"""
The admin client's core, shared by its two faces (L{TwistedAdminClient
<odradek.client.admin.twisted_admin.TwistedAdminClient>} and L{AdminClient
<odradek.client.admin.admin_client.AdminClient>}): every call, as a Deferred, on
the reactor thread.

Each call runs within a deadline: its C{timeout} in seconds, or
C{default.api.timeout.ms}. Each try waits at most C{request.timeout.ms} for its
response; a retriable error (no connection, no answer in time, C{NOT_CONTROLLER},
C{NOT_LEADER_OR_FOLLOWER}, C{NOT_COORDINATOR} ...) is retried after
C{retry.backoff.ms} (doubling up to C{retry.backoff.max.ms}), at most C{retries}
times. Items still pending at the deadline fail with L{RequestTimedOutError
<odradek.client.errors.RequestTimedOutError>}, whose C{__cause__} is the last
error seen.

Where requests go, as in Kafka's C{KafkaAdminClient}: CreateTopics, DeleteTopics,
CreatePartitions and ElectLeaders to the controller; DescribeConfigs,
AlterConfigs and IncrementalAlterConfigs of a broker's own resources to that
broker, the others to the least loaded broker; DeleteRecords and ListOffsets to
each partition's leader; DescribeLogDirs to each broker asked; the group APIs to
the group's coordinator; the rest to the least loaded broker.
"""

from __future__ import annotations

from odradek.client.admin._aclcalls import AclCalls
from odradek.client.admin._base import CLOSED_MESSAGE, BrokerNotKnownError
from odradek.client.admin._configcalls import ConfigCalls
from odradek.client.admin._groupcalls import GroupCalls
from odradek.client.admin._recordcalls import RecordCalls
from odradek.client.admin._topiccalls import TopicCalls

__all__ = ["CLOSED_MESSAGE", "AdminCore", "BrokerNotKnownError"]


class AdminCore(TopicCalls, ConfigCalls, RecordCalls, GroupCalls, AclCalls):
    """
    Every admin call, each returning a Deferred; runs on the reactor thread.
    Build it with the configuration and the reactor, call, then C{close()}.
    """
