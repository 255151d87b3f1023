"""
Listeners as Kafka writes them: C{NAME://host:port} entries, and the map from
listener names to security protocols.

Listener names are case-insensitive and kept upper-case, as Kafka normalises them. An
empty host means every interface when listening (Kafka's convention); IPv6 addresses
are written in brackets (C{SSL://[::1]:9093}).
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Final

import attrs

from odradek.broker._configkeys import ConfigError

__all__ = [
    "Endpoint",
    "SecurityProtocol",
    "parse_listeners",
    "parse_protocol_map",
]

_NAME: Final = re.compile(r"[A-Za-z0-9_-]+")
_HOST: Final = re.compile(r"[0-9A-Za-z%._-]*")
_PORT: Final = re.compile(r"[0-9]{1,5}")


class SecurityProtocol(enum.Enum):
    """
    Kafka's security protocols; the value is the id Kafka gives each one.
    """

    PLAINTEXT = 0
    SSL = 1
    SASL_PLAINTEXT = 2
    SASL_SSL = 3


@attrs.frozen
class Endpoint:
    """
    One listener: where the broker listens, or the address it gives clients.

    @ivar listener_name: the listener's name, upper-case (C{"PLAINTEXT"},
        C{"INTERNAL"}).
    @ivar security_protocol: the protocol spoken on it.
    @ivar host: a host name or IP address (without brackets); C{""} means every
        interface (for listening) or the default host (for advertising).
    @ivar port: the TCP port; 0 asks the system for a free one (tests).
    """

    listener_name: str
    security_protocol: SecurityProtocol
    host: str
    port: int

    def with_host(self, host: str) -> Endpoint:
        """
        @param host: the host to use if this endpoint has none.
        @return: this endpoint, with C{host} in place of an empty host.
        """
        return self if self.host else attrs.evolve(self, host=host)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.listener_name}://{host}:{self.port}"


def _entries(raw: str) -> list[str]:
    return [entry.strip() for entry in raw.split(",") if entry.strip()]


def parse_protocol_map(raw: str, *, key: str) -> dict[str, SecurityProtocol]:
    """
    Parse C{listener.security.protocol.map}: comma-separated C{NAME:PROTOCOL} pairs.

    @param raw: the value as written.
    @param key: the key to name in errors.
    @return: listener name (upper-case) to protocol.
    @raise ConfigError: for a malformed pair, an unknown protocol or a name given
        twice.
    """
    result: dict[str, SecurityProtocol] = {}
    for entry in _entries(raw):
        name, colon, protocol = (part.strip() for part in entry.partition(":"))
        if not colon or not _NAME.fullmatch(name):
            raise ConfigError.invalid(
                key, raw, f"{entry!r} is not a NAME:PROTOCOL pair"
            )
        try:
            value = SecurityProtocol[protocol.upper()]
        except KeyError:
            known = ", ".join(p.name for p in SecurityProtocol)
            raise ConfigError.invalid(
                key, raw, f"{protocol!r} is not a security protocol ({known})"
            ) from None
        if name.upper() in result:
            raise ConfigError.invalid(key, raw, f"listener {name} appears twice")
        result[name.upper()] = value
    return result


def _parse_endpoint(
    entry: str, protocols: Mapping[str, SecurityProtocol], key: str, raw: str
) -> Endpoint:
    name, separator, address = entry.partition("://")
    if not separator or not _NAME.fullmatch(name):
        raise ConfigError.invalid(
            key, raw, f"{entry!r} is not of the form NAME://host:port"
        )
    if address.startswith("["):
        host, bracket, port = address[1:].partition("]:")
        if not bracket or _ip_version(host) != 6:
            raise ConfigError.invalid(
                key, raw, f"{entry!r} is not of the form NAME://[ipv6]:port"
            )
    else:
        host, colon, port = address.rpartition(":")
        if not colon:
            raise ConfigError.invalid(key, raw, f"{entry!r} has no port")
        if not _HOST.fullmatch(host):
            raise ConfigError.invalid(
                key,
                raw,
                f"{entry!r} has an invalid host (IPv6 addresses go in brackets)",
            )
    if not _PORT.fullmatch(port) or int(port) > 65535:
        raise ConfigError.invalid(key, raw, f"{entry!r} has an invalid port")
    protocol = protocols.get(name.upper())
    if protocol is None:
        raise ConfigError.invalid(
            key,
            raw,
            f"no security protocol for listener {name.upper()} "
            f"in listener.security.protocol.map",
        )
    return Endpoint(name.upper(), protocol, host, int(port))


def _ip_version(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host.partition("%")[0]).version
    except ValueError:
        return None


def _check_ports(endpoints: Sequence[Endpoint], key: str, raw: str) -> None:
    """
    Refuse two listeners on one port, unless (as Kafka allows) there are exactly
    two and one has an IPv4 address and the other an IPv6 address. Port 0 (any
    free port) may repeat.
    """
    by_port: dict[int, list[Endpoint]] = {}
    for endpoint in endpoints:
        if endpoint.port:
            by_port.setdefault(endpoint.port, []).append(endpoint)
    for port, sharing in by_port.items():
        if len(sharing) == 1:
            continue
        versions = sorted(_ip_version(e.host) or 0 for e in sharing)
        if versions != [4, 6]:
            raise ConfigError.invalid(
                key,
                raw,
                f"port {port} is used by more than one listener (only an IPv4 "
                f"and an IPv6 address may share a port)",
            )


def parse_listeners(
    raw: str,
    protocols: Mapping[str, SecurityProtocol],
    *,
    key: str,
    distinct_ports: bool = True,
) -> tuple[Endpoint, ...]:
    """
    Parse C{listeners} or C{advertised.listeners}.

    @param raw: the value as written: comma-separated C{NAME://host:port}.
    @param protocols: the parsed C{listener.security.protocol.map}.
    @param key: the key to name in errors.
    @param distinct_ports: whether two listeners may not share a port (true for
        C{listeners}; advertised addresses may repeat a port).
    @return: the endpoints, in the order written.
    @raise ConfigError: for a malformed entry, a name without a security protocol,
        a name given twice, a shared port, or no entry at all.
    """
    endpoints = tuple(_parse_endpoint(e, protocols, key, raw) for e in _entries(raw))
    if not endpoints:
        raise ConfigError.invalid(key, raw, "at least one listener is required")
    names = [endpoint.listener_name for endpoint in endpoints]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError.invalid(
                key, raw, f"listener {name} appears more than once"
            )
    if distinct_ports:
        _check_ports(endpoints, key, raw)
    return endpoints
