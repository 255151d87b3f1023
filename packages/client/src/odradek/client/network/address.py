"""
Addresses of brokers: reading C{bootstrap.servers}, and the C{client.dns.lookup}
choices. Resolving names is left to the reactor, except for canonical names
(L{canonical_host_names}).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from typing import Any, cast

from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorThreads

__all__ = [
    "DNS_LOOKUPS",
    "RESOLVE_CANONICAL_BOOTSTRAP_SERVERS_ONLY",
    "USE_ALL_DNS_IPS",
    "canonical_host_names",
    "format_address",
    "parse_bootstrap_servers",
]

#: C{client.dns.lookup}: connect to every address a name resolves to in turn
#: (Twisted's C{HostnameEndpoint} does this).
USE_ALL_DNS_IPS = "use_all_dns_ips"
#: C{client.dns.lookup}: replace each bootstrap server by the canonical names of its
#: addresses before connecting.
RESOLVE_CANONICAL_BOOTSTRAP_SERVERS_ONLY = "resolve_canonical_bootstrap_servers_only"
#: Every value C{client.dns.lookup} accepts.
DNS_LOOKUPS = (USE_ALL_DNS_IPS, RESOLVE_CANONICAL_BOOTSTRAP_SERVERS_ONLY)


def parse_bootstrap_servers(servers: str | Iterable[str]) -> list[tuple[str, int]]:
    """
    Read C{bootstrap.servers}: comma-separated C{host:port} entries, IPv6 addresses
    in brackets (C{[::1]:9092}). Blanks around entries and empty entries are
    ignored.

    @param servers: the setting, as one string or as a list of entries.
    @return: the host and port of each entry, in order (brackets removed).
    @raise ValueError: naming the first entry that is not C{host:port} with a port
        from 0 to 65535, or if there is no entry at all.
    """
    entries = servers.split(",") if isinstance(servers, str) else list(servers)
    addresses: list[tuple[str, int]] = []
    for raw in entries:
        entry = raw.strip()
        if entry:
            addresses.append(_parse_address(entry))
    if not addresses:
        raise ValueError(f"no bootstrap server given in {servers!r}")
    return addresses


def _parse_address(entry: str) -> tuple[str, int]:
    if entry.startswith("["):
        host, bracket, rest = entry[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise ValueError(
                f"invalid bootstrap server {entry!r}: expected [host]:port"
            )
        port_text = rest[1:]
    else:
        host, colon, port_text = entry.rpartition(":")
        if not colon:
            raise ValueError(f"invalid bootstrap server {entry!r}: no port given")
        if ":" in host:
            raise ValueError(
                f"invalid bootstrap server {entry!r}: write IPv6 addresses in "
                "brackets, as [::1]:9092"
            )
    if not host:
        raise ValueError(f"invalid bootstrap server {entry!r}: no host given")
    if not port_text.isascii() or not port_text.isdigit():
        raise ValueError(f"invalid bootstrap server {entry!r}: bad port {port_text!r}")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"invalid bootstrap server {entry!r}: port {port} too large")
    return host, port


def canonical_host_names(
    reactor: IReactorThreads,
) -> Callable[[str, int], Deferred[list[str]]]:
    """
    The default resolver for C{resolve_canonical_bootstrap_servers_only}: look up a
    host's addresses and the canonical name of each, in the reactor's thread pool
    (as Java's C{InetAddress.getCanonicalHostName}, an address without a name stays
    an address).

    @param reactor: a reactor with a thread pool.
    @return: C{resolve(host, port)} returning a Deferred list of names.
    """

    def resolve(host: str, port: int) -> Deferred[list[str]]:
        return threads.deferToThreadPool(
            cast(Any, reactor), reactor.getThreadPool(), _canonical_names, host, port
        )

    return resolve


def _canonical_names(host: str, port: int) -> list[str]:
    names: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        try:
            name = socket.gethostbyaddr(address)[0]
        except OSError:
            name = address
        if name not in names:
            names.append(name)
    return names


def format_address(host: str, port: int) -> str:
    """@return: C{host:port}, with an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
