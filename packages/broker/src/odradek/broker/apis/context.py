"""
What a request handler knows about the request in front of it: the request's header,
the connection it arrived on, and the reactor to read the time from.

The server creates one L{ConnectionInfo} per connection and one L{RequestContext} per
request; handlers read both and write nothing to them except the client software name
and version an ApiVersions request announces (KIP-511), which the connection keeps
for its log lines.
"""

from __future__ import annotations

from attrs import define, field, frozen
from twisted.internet.interfaces import IAddress, IReactorTime

from odradek.client.protocol import RequestHeader

__all__ = ["ANONYMOUS", "ConnectionInfo", "RequestContext"]

#: The principal of every connection until authentication exists: Apache Kafka's
#: C{KafkaPrincipal.ANONYMOUS}.
ANONYMOUS = "User:ANONYMOUS"


@define
class ConnectionInfo:
    """
    One client connection, as handlers and log lines see it.

    @ivar connection_id: Apache Kafka's connection id,
        C{"<local host>:<port>-<peer host>:<port>-<sequence number>"}, unique within
        one broker process.
    @ivar client_address: the peer's address.
    @ivar server_address: the local address the connection was accepted on.
    @ivar listener_name: the name of the listener, such as C{"PLAINTEXT"}.
    @ivar security_protocol: the listener's security protocol, such as
        C{"PLAINTEXT"}.
    @ivar principal: who the client is, as C{"<type>:<name>"}; always
        L{ANONYMOUS} until authentication exists.
    @ivar client_software_name: the name the client gave in an ApiVersions request
        of version 3 or later, or C{None} when it gave none (yet).
    @ivar client_software_version: the version given with it, or C{None}.
    """

    connection_id: str
    client_address: IAddress
    server_address: IAddress
    listener_name: str
    security_protocol: str
    principal: str = ANONYMOUS
    client_software_name: str | None = field(default=None, kw_only=True)
    client_software_version: str | None = field(default=None, kw_only=True)

    def describe_client_software(self) -> str:
        """
        @return: C{"<name>/<version>"} for log lines, or C{"unknown"}, as Kafka
            writes it.
        """
        if self.client_software_name is None:
            return "unknown"
        return f"{self.client_software_name}/{self.client_software_version}"


@frozen
class RequestContext:
    """
    Everything about one request other than its body.

    @ivar header: the decoded request header.
    @ivar connection: the connection the request arrived on.
    @ivar reactor: the reactor, for the current time and for delayed calls.
    """

    header: RequestHeader
    connection: ConnectionInfo
    reactor: IReactorTime

    @property
    def api_key(self) -> int:
        """
        The request's API key.
        """
        return self.header.api_key

    @property
    def api_version(self) -> int:
        """
        The version of the API the request is written in.
        """
        return self.header.api_version

    @property
    def correlation_id(self) -> int:
        """
        The number the response carries back.
        """
        return self.header.correlation_id

    @property
    def client_id(self) -> str | None:
        """
        The client's self-chosen name from the request header, if it sent one.
        """
        return self.header.client_id

    @property
    def client_address(self) -> IAddress:
        """
        The peer's address.
        """
        return self.connection.client_address

    @property
    def listener_name(self) -> str:
        """
        The name of the listener the request arrived on.
        """
        return self.connection.listener_name

    @property
    def principal(self) -> str:
        """
        Who sent the request, as C{"<type>:<name>"}.
        """
        return self.connection.principal
