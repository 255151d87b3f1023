"""
The keys every client shares, in L{CommonClientConfig}, and the helpers the
producer's, consumer's and admin client's configurations build on. Import the
configuration classes from L{odradek.client.config}.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from odradek.client._configdef import NO_DEFAULT, AbstractConfig, define
from odradek.client._configtypes import (
    INT,
    LIST,
    LONG,
    STRING,
    ConfigError,
    ConfigType,
    NonEmptyList,
    OneOf,
    Range,
)

__all__ = [
    "AT_LEAST_0",
    "INT_MAX",
    "CommonClientConfig",
    "for_key",
]

INT_MAX: Final = 2**31 - 1
"""The largest signed 32-bit integer, Java's C{Integer.MAX_VALUE}."""
AT_LEAST_0: Final = Range(0)
"""The validator of counts, sizes and times that cannot be negative."""
_SECURITY_PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


def for_key(name: str, value: object, error: ConfigError) -> ConfigError:
    """
    Restate an error raised without a key's name (by a resolver of serializers,
    for instance) as an error about that key.

    @param name: the key's dotted name.
    @param value: the value given for it.
    @param error: the error to restate.
    @return: a L{ConfigError} naming C{name} and C{value}.
    """
    return ConfigError(
        f"Invalid value {value!r} for configuration {name}: {error}", name, value
    )


def _parse_security_protocol(name: str, value: object) -> str:
    protocol = STRING.parse(name, value).upper()
    if protocol == "PLAINTEXT":
        return protocol
    if protocol in _SECURITY_PROTOCOLS:
        raise ConfigError(
            f"Invalid value {value!r} for configuration {name}: {protocol} is not "
            "supported yet; only PLAINTEXT is",
            name,
            value,
        )
    raise ConfigError(
        f"Invalid value {value!r} for configuration {name}: value must be one of "
        + ", ".join(_SECURITY_PROTOCOLS),
        name,
        value,
    )


_SECURITY_PROTOCOL: Final = ConfigType("string", _parse_security_protocol)


@attrs.frozen(init=False)
class CommonClientConfig(AbstractConfig):
    """
    The keys every client shares: where the cluster is, how to connect, how long
    to wait and how to back off.
    """

    bootstrap_servers = define(
        "bootstrap.servers",
        LIST,
        NO_DEFAULT,
        "host:port pairs to make the first connection to the cluster.",
        NonEmptyList(unique=True),
    )
    client_id = define(
        "client.id", STRING, "", "A name for this client, sent with each request."
    )
    client_dns_lookup = define(
        "client.dns.lookup",
        STRING,
        "use_all_dns_ips",
        "How the client uses the addresses a host name resolves to.",
        OneOf(("use_all_dns_ips", "resolve_canonical_bootstrap_servers_only")),
    )
    metadata_max_age_ms = define(
        "metadata.max.age.ms",
        LONG,
        300000,
        "Refresh metadata at least this often, even without leader changes.",
        AT_LEAST_0,
    )
    send_buffer_bytes = define(
        "send.buffer.bytes",
        INT,
        131072,
        "The TCP send buffer (SO_SNDBUF); -1 uses the OS default.",
        Range(-1),
    )
    receive_buffer_bytes = define(
        "receive.buffer.bytes",
        INT,
        32768,
        "The TCP receive buffer (SO_RCVBUF); -1 uses the OS default.",
        Range(-1),
    )
    reconnect_backoff_ms = define(
        "reconnect.backoff.ms",
        LONG,
        50,
        "The first wait before reconnecting to a broker; it grows on failures.",
        AT_LEAST_0,
    )
    reconnect_backoff_max_ms = define(
        "reconnect.backoff.max.ms",
        LONG,
        1000,
        "The longest wait before reconnecting to a broker that keeps failing.",
        AT_LEAST_0,
    )
    retry_backoff_ms = define(
        "retry.backoff.ms",
        LONG,
        100,
        "The first wait before retrying a failed request; it grows on failures.",
        AT_LEAST_0,
    )
    retry_backoff_max_ms = define(
        "retry.backoff.max.ms",
        LONG,
        1000,
        "The longest wait before retrying a request that keeps failing.",
        AT_LEAST_0,
    )
    request_timeout_ms = define(
        "request.timeout.ms",
        INT,
        30000,
        "How long to wait for a response before retrying or failing a request.",
        AT_LEAST_0,
    )
    socket_connection_setup_timeout_ms = define(
        "socket.connection.setup.timeout.ms",
        LONG,
        10000,
        "How long to wait for a connection to be established; grows on failures.",
        AT_LEAST_0,
    )
    socket_connection_setup_timeout_max_ms = define(
        "socket.connection.setup.timeout.max.ms",
        LONG,
        30000,
        "The longest wait for a connection to be established.",
        AT_LEAST_0,
    )
    connections_max_idle_ms = define(
        "connections.max.idle.ms",
        LONG,
        540000,
        "Close connections idle for this long.",
    )
    security_protocol = define(
        "security.protocol",
        _SECURITY_PROTOCOL,
        "PLAINTEXT",
        "The protocol to talk to brokers with; only PLAINTEXT is supported yet.",
    )

    def _post_process(
        self, values: dict[str, Any], originals: Mapping[str, object]
    ) -> dict[str, Any]:
        if (
            "reconnect.backoff.ms" in originals
            and "reconnect.backoff.max.ms" not in originals
        ):
            # As Kafka: a fixed backoff when only its base was given.
            values["reconnect.backoff.max.ms"] = values["reconnect.backoff.ms"]
        return values
