"""
The broker's configuration: C{server.properties} with Apache Kafka's key names,
defaults and validation.

L{load_properties} reads the Java properties format; L{KafkaConfig.from_properties}
validates the keys against L{BROKER_CONFIGS} and builds an immutable L{KafkaConfig}.
A bad value raises L{ConfigError} naming the key and the value; an unknown key is
logged as a warning and otherwise ignored, as Kafka does.

The defaults are Kafka 4's, with one difference that follows from running without
KRaft: C{node.id} may be left unset (-1, Kafka's default for C{broker.id}); the broker
then takes the id stored in its log directories' C{meta.properties}, or 1 for new log
directories (see L{odradek.broker.metadata.ensure_meta_properties}).
"""

from __future__ import annotations

import os
import re
import types
from collections.abc import Mapping
from typing import Final

import attrs
from twisted.logger import Logger

from odradek.broker._configkeys import (
    BROKER_CONFIGS,
    ConfigError,
    ConfigKey,
    Importance,
)
from odradek.broker._listeners import (
    Endpoint,
    SecurityProtocol,
    parse_listeners,
    parse_protocol_map,
)
from odradek.broker.log.config import ConfigValue, LogConfig
from odradek.client.errors import InvalidConfigurationError

__all__ = [
    "BROKER_CONFIGS",
    "ConfigError",
    "ConfigKey",
    "Endpoint",
    "Importance",
    "KafkaConfig",
    "SecurityProtocol",
    "load_properties",
]

_log = Logger()

_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")
_BLANK: Final = " \t\f"
_ESCAPES: Final = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_UNROUTABLE: Final = frozenset({"0.0.0.0", "::"})


def _continues(line: str) -> bool:
    """
    Whether a line ends with an odd number of backslashes, joining the next line.
    """
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


def _unescape(text: str, line_number: int) -> str:
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        index += 1
        if char != "\\" or index == len(text):
            out.append(char if char != "\\" else "")
            continue
        char = text[index]
        index += 1
        if char == "u":
            digits = text[index : index + 4]
            if not re.fullmatch(r"[0-9A-Fa-f]{4}", digits):
                raise ConfigError(
                    f"line {line_number}: malformed \\uXXXX escape \\u{digits}"
                )
            out.append(chr(int(digits, 16)))
            index += 4
        else:
            out.append(_ESCAPES.get(char, char))
    return "".join(out)


def _split_key(line: str) -> tuple[str, str]:
    """
    Split a logical line at the first unescaped C{=}, C{:} or white space (after
    which one C{=} or C{:} and the white space around it are skipped).
    """
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\":
            index += 2
            continue
        if char in "=:" or char in _BLANK:
            key = line[:index]
            rest = line[index + 1 :] if char in "=:" else line[index:]
            rest = rest.lstrip(_BLANK)
            if char not in "=:" and rest[:1] in ("=", ":"):
                rest = rest[1:].lstrip(_BLANK)
            return key, rest
        index += 1
    return line, ""


def load_properties(text: str) -> dict[str, str]:
    """
    Parse text in the Java properties format, as Kafka reads C{server.properties}.

    Each logical line is C{key=value}, C{key: value} or C{key value}; white space
    around the separator is ignored, but trailing white space belongs to the value.
    Lines whose first non-blank character is C{#} or C{!} are comments. A line
    ending in an odd number of backslashes continues on the next line, whose leading
    white space is dropped. Escapes: C{\\t}, C{\\n}, C{\\r}, C{\\f}, C{\\uXXXX}, and a
    backslash before any other character stands for that character (C{\\=},
    C{\\:}, C{\\#}, C{\\ }, C{\\\\}).

    @param text: the file's text.
    @return: key to value, in file order; a later line for the same key wins.
    @raise ConfigError: for a malformed C{\\uXXXX} escape, naming the line.
    """
    lines = _LINE_BREAK.split(text)
    result: dict[str, str] = {}
    number = 0
    while number < len(lines):
        line = lines[number].lstrip(_BLANK)
        number += 1
        first = number
        if not line or line[0] in "#!":
            continue
        while _continues(line):
            line = line[:-1]
            if number == len(lines):
                break
            line += lines[number].lstrip(_BLANK)
            number += 1
        key, value = _split_key(line)
        result[_unescape(key, first)] = _unescape(value, first)
    return result


@attrs.frozen
class KafkaConfig:
    """
    A validated broker configuration. Immutable: L{with_overrides} makes a new one.

    Every key of L{BROKER_CONFIGS} has a value in L{values} (its default when not
    set); the attributes below hold the values that need more than one key to work
    out, and properties give typed access to the ones the broker reads most.

    @ivar originals: the keys and values as given, unknown keys included.
    @ivar values: every key of L{BROKER_CONFIGS} to its parsed value (C{None} for
        unset).
    @ivar node_id: this broker's id (C{node.id}, or its older name C{broker.id});
        -1 when unset.
    @ivar protocol_map: C{listener.security.protocol.map}, listener name to protocol.
    @ivar listeners: the endpoints the broker listens on.
    @ivar advertised_listeners: the endpoints given to clients (C{listeners} when
        C{advertised.listeners} is unset); an empty host is filled in by
        L{advertised_endpoints}.
    @ivar inter_broker_listener_name: the listener other brokers use.
    @ivar log_dirs: the log directories as written (C{log.dirs}, else C{log.dir});
        relative paths are relative to the broker's working directory, as in Kafka.
    @ivar log_config: the default settings of every topic, from the C{log.*} keys and
        the other broker synonyms of topic settings, in Kafka's precedence
        (C{log.retention.ms}, then C{.minutes}, then C{.hours}).
    """

    originals: Mapping[str, str]
    values: Mapping[str, ConfigValue | None]
    node_id: int
    protocol_map: Mapping[str, SecurityProtocol]
    listeners: tuple[Endpoint, ...]
    advertised_listeners: tuple[Endpoint, ...]
    inter_broker_listener_name: str
    log_dirs: tuple[str, ...]
    log_config: LogConfig

    @classmethod
    def from_properties(
        cls, properties: Mapping[str, str], *, log: Logger | None = None
    ) -> KafkaConfig:
        """
        Validate a broker configuration.

        @param properties: key to value as text, as L{load_properties} returns them.
        @param log: where to report unknown keys (a warning each) and keys accepted
            without effect (an info event each); this module's logger by default.
        @return: the configuration.
        @raise ConfigError: naming the key and the value, for the first bad value in
            C{properties}, or for keys that contradict each other.
        """
        log = _log if log is None else log
        values: dict[str, ConfigValue | None] = {
            name: key.default for name, key in BROKER_CONFIGS.items()
        }
        for name, raw in properties.items():
            key = BROKER_CONFIGS.get(name)
            if key is None:
                log.warn(
                    "Unknown configuration key {key} is ignored", key=name, value=raw
                )
                continue
            values[name] = key.parse(raw)
            if key.ignored is not None:
                log.info(
                    "{key}={value} is accepted but has no effect: {reason}",
                    key=name,
                    value=raw,
                    reason=key.ignored,
                )
        node_id = _node_id(properties, values)
        protocols = parse_protocol_map(
            _str(values, "listener.security.protocol.map"),
            key="listener.security.protocol.map",
        )
        listeners, advertised = _listeners(values, protocols)
        return cls(
            originals=types.MappingProxyType(dict(properties)),
            values=types.MappingProxyType(values),
            node_id=node_id,
            protocol_map=types.MappingProxyType(protocols),
            listeners=listeners,
            advertised_listeners=advertised,
            inter_broker_listener_name=_inter_broker_listener(
                properties, values, protocols, advertised
            ),
            log_dirs=_log_dirs(values),
            log_config=_log_config(values, properties),
        )

    def with_overrides(
        self, overrides: Mapping[str, str], *, log: Logger | None = None
    ) -> KafkaConfig:
        """
        @param overrides: keys to set on top of L{originals}, such as dynamic broker
            configs or C{--override} arguments.
        @param log: as for L{from_properties}.
        @return: the configuration with C{overrides} applied and validated again.
        @raise ConfigError: as L{from_properties} does.
        """
        return self.from_properties({**self.originals, **overrides}, log=log)

    def get(self, name: str) -> ConfigValue | None:
        """
        @param name: a key of L{BROKER_CONFIGS}.
        @return: its value (C{None} for unset).
        @raise KeyError: if C{name} is not a broker key.
        """
        return self.values[name]

    def is_set(self, name: str) -> bool:
        """
        @param name: a configuration key.
        @return: whether the configuration gives it a value (rather than a default).
        """
        return name in self.originals

    def advertised_endpoints(self, default_host: str) -> tuple[Endpoint, ...]:
        """
        @param default_host: the host to advertise for an endpoint without one
            (Kafka advertises the machine's canonical host name).
        @return: L{advertised_listeners}, each with a host.
        """
        return tuple(e.with_host(default_host) for e in self.advertised_listeners)

    def _int(self, name: str) -> int:
        value = self.values[name]
        assert isinstance(value, int)
        return value

    def _bool(self, name: str) -> bool:
        value = self.values[name]
        assert isinstance(value, bool)
        return value

    @property
    def zookeeper_connect(self) -> str | None:
        """C{zookeeper.connect}: C{None} runs with the embedded metadata store."""
        value = self.values["zookeeper.connect"]
        return None if value is None else str(value)

    @property
    def broker_rack(self) -> str | None:
        """C{broker.rack}, or C{None}."""
        value = self.values["broker.rack"]
        return None if value is None else str(value)

    @property
    def num_partitions(self) -> int:
        """C{num.partitions}."""
        return self._int("num.partitions")

    @property
    def default_replication_factor(self) -> int:
        """C{default.replication.factor}."""
        return self._int("default.replication.factor")

    @property
    def auto_create_topics_enable(self) -> bool:
        """C{auto.create.topics.enable}."""
        return self._bool("auto.create.topics.enable")

    @property
    def delete_topic_enable(self) -> bool:
        """C{delete.topic.enable}."""
        return self._bool("delete.topic.enable")

    @property
    def message_max_bytes(self) -> int:
        """C{message.max.bytes}."""
        return self._int("message.max.bytes")

    @property
    def socket_request_max_bytes(self) -> int:
        """C{socket.request.max.bytes}."""
        return self._int("socket.request.max.bytes")

    @property
    def queued_max_requests(self) -> int:
        """C{queued.max.requests}."""
        return self._int("queued.max.requests")

    @property
    def connections_max_idle_ms(self) -> int:
        """C{connections.max.idle.ms}."""
        return self._int("connections.max.idle.ms")

    @property
    def log_retention_check_interval_ms(self) -> int:
        """C{log.retention.check.interval.ms}."""
        return self._int("log.retention.check.interval.ms")

    @property
    def log_flush_scheduler_interval_ms(self) -> int:
        """C{log.flush.scheduler.interval.ms}."""
        return self._int("log.flush.scheduler.interval.ms")

    @property
    def log_flush_offset_checkpoint_interval_ms(self) -> int:
        """C{log.flush.offset.checkpoint.interval.ms}."""
        return self._int("log.flush.offset.checkpoint.interval.ms")

    @property
    def log_flush_start_offset_checkpoint_interval_ms(self) -> int:
        """C{log.flush.start.offset.checkpoint.interval.ms}."""
        return self._int("log.flush.start.offset.checkpoint.interval.ms")

    @property
    def offsets_topic_num_partitions(self) -> int:
        """C{offsets.topic.num.partitions}."""
        return self._int("offsets.topic.num.partitions")

    @property
    def offsets_topic_replication_factor(self) -> int:
        """C{offsets.topic.replication.factor}."""
        return self._int("offsets.topic.replication.factor")

    @property
    def group_initial_rebalance_delay_ms(self) -> int:
        """C{group.initial.rebalance.delay.ms}."""
        return self._int("group.initial.rebalance.delay.ms")


def _str(values: Mapping[str, ConfigValue | None], name: str) -> str:
    value = values[name]
    return "" if value is None else str(value)


def _node_id(
    properties: Mapping[str, str], values: dict[str, ConfigValue | None]
) -> int:
    """
    Reconcile C{node.id} and its older name C{broker.id}: either may be set, and
    they must agree if both are. Both end up holding the id.
    """
    node_id, broker_id = values["node.id"], values["broker.id"]
    assert isinstance(node_id, int) and isinstance(broker_id, int)
    if "node.id" in properties and "broker.id" in properties and node_id != broker_id:
        raise ConfigError(
            f"node.id and broker.id must be equal when both are set, "
            f"but node.id is {node_id} and broker.id is {broker_id}",
            key="node.id",
            value=str(node_id),
        )
    resolved = node_id if "node.id" in properties else broker_id
    values["node.id"] = values["broker.id"] = resolved
    return resolved


def _listeners(
    values: Mapping[str, ConfigValue | None],
    protocols: Mapping[str, SecurityProtocol],
) -> tuple[tuple[Endpoint, ...], tuple[Endpoint, ...]]:
    listeners = parse_listeners(_str(values, "listeners"), protocols, key="listeners")
    raw = values["advertised.listeners"]
    if raw is None:
        return listeners, listeners
    key = "advertised.listeners"
    advertised = parse_listeners(str(raw), protocols, key=key, distinct_ports=False)
    names = {endpoint.listener_name for endpoint in listeners}
    for endpoint in advertised:
        if endpoint.listener_name not in names:
            raise ConfigError.invalid(
                key,
                str(raw),
                f"listener {endpoint.listener_name} is not one of listeners "
                f"({', '.join(sorted(names))})",
            )
        if endpoint.host in _UNROUTABLE:
            raise ConfigError.invalid(
                key, str(raw), f"{endpoint.host} cannot be advertised"
            )
    return listeners, advertised


def _inter_broker_listener(
    properties: Mapping[str, str],
    values: Mapping[str, ConfigValue | None],
    protocols: Mapping[str, SecurityProtocol],
    advertised: tuple[Endpoint, ...],
) -> str:
    by_name, by_protocol = (
        "inter.broker.listener.name",
        "security.inter.broker.protocol",
    )
    if by_name in properties and by_protocol in properties:
        raise ConfigError(
            f"only one of {by_name} and {by_protocol} may be set", key=by_name
        )
    named = values[by_name]
    key = by_protocol if named is None else by_name
    name = _str(values, key).upper()
    if name not in protocols:
        raise ConfigError.invalid(
            key, _str(values, key), "not in listener.security.protocol.map"
        )
    if name not in {endpoint.listener_name for endpoint in advertised}:
        raise ConfigError.invalid(
            key,
            _str(values, key),
            "the inter-broker listener must be one of the advertised listeners",
        )
    return name


def _log_dirs(values: Mapping[str, ConfigValue | None]) -> tuple[str, ...]:
    key = "log.dir" if values["log.dirs"] is None else "log.dirs"
    raw = _str(values, key)
    dirs = tuple(entry.strip() for entry in raw.split(",") if entry.strip())
    if not dirs:
        raise ConfigError.invalid(key, raw, "at least one directory is required")
    seen: set[str] = set()
    for directory in dirs:
        normal = os.path.normpath(directory)
        if normal in seen:
            raise ConfigError.invalid(key, raw, f"{directory} is listed twice")
        seen.add(normal)
    return dirs


def _log_config(
    values: Mapping[str, ConfigValue | None], properties: Mapping[str, str]
) -> LogConfig:
    """
    Derive the topic defaults from the broker synonyms that are set, each written
    back in its own unit, so that L{LogConfig.from_broker_properties} applies
    Kafka's precedence between them.
    """
    synonyms: dict[str, str] = {}
    for name, key in BROKER_CONFIGS.items():
        if key.topic_config is not None and name in properties:
            rendered = key.render(values[name])
            if rendered is not None:
                synonyms[name] = rendered
    try:
        return LogConfig.from_broker_properties(synonyms)
    except InvalidConfigurationError as error:
        raise ConfigError(error.message or str(error)) from error
