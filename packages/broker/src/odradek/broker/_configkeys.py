"""
The broker's configuration keys: L{BROKER_CONFIGS}, one table of L{ConfigKey}
definitions under Apache Kafka's names, with Kafka 4's defaults.

The table is the single source for parsing C{server.properties} (L{KafkaConfig
<odradek.broker.config.KafkaConfig>}), for dynamic broker overrides and for
DescribeConfigs. The C{log.*} keys and the other broker-level synonyms of topic-level
settings (C{message.max.bytes}, C{min.insync.replicas} ...) are not written out here:
they are derived from L{TOPIC_CONFIGS <odradek.broker.log.config.TOPIC_CONFIGS>}, so
each topic setting is defined once, with its validation and documentation.

Errors use the wording Kafka's own configuration errors use, which names the key and
the value: C{Invalid value abc for configuration log.segment.bytes: Not a number of
type INT}.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator, Mapping
from typing import Final

import attrs

from odradek.broker.log.config import (
    TOPIC_CONFIGS,
    ConfigType,
    ConfigValue,
    TopicConfigKey,
    check_config_range,
    parse_config_value,
    render_config_value,
)
from odradek.client.errors import InvalidConfigurationError

__all__ = ["BROKER_CONFIGS", "ConfigError", "ConfigKey", "Importance"]

_INT_MAX: Final = 2**31 - 1
_UNITS: Final = {60 * 1000: "minutes", 60 * 60 * 1000: "hours"}


class ConfigError(InvalidConfigurationError):
    """
    A configuration value, or a combination of values, that the broker cannot run
    with. It is Kafka's C{INVALID_CONFIG} error, so a request handler can send it as
    it is.

    @ivar key: the key at fault, or C{None} for an error that is not about one key.
    @ivar value: the value at fault as written, or C{None}.
    """

    def __init__(
        self, message: str, *, key: str | None = None, value: str | None = None
    ) -> None:
        """
        @param message: the whole message, naming the key and the value.
        @param key: see L{ConfigError.key}.
        @param value: see L{ConfigError.value}.
        """
        super().__init__(message)
        self.key = key
        self.value = value

    @classmethod
    def invalid(cls, key: str, value: str, reason: str) -> ConfigError:
        """
        @param key: the key at fault.
        @param value: its value as written.
        @param reason: what is wrong with the value.
        @return: an error worded as Kafka words them.
        """
        return cls(
            f"Invalid value {value} for configuration {key}: {reason}",
            key=key,
            value=value,
        )


class Importance(enum.Enum):
    """
    How much a key matters to an operator, as Kafka's documentation ranks keys.
    """

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@attrs.frozen
class ConfigKey:
    """
    The definition of one broker configuration key.

    @ivar name: Kafka's key, such as C{num.partitions}.
    @ivar type: the type of its value.
    @ivar default: Kafka's default as a parsed value; C{None} when Kafka's default is
        null, that is, unset (another key or a computed value applies).
    @ivar doc: what the key does.
    @ivar importance: how much it matters.
    @ivar minimum: the smallest valid number, or C{None}.
    @ivar maximum: the largest valid number, or C{None}.
    @ivar choices: the valid strings (of a string, or of each item of a list).
    @ivar topic_config: the topic-level key whose broker-wide default this key sets,
        such as C{retention.ms} for C{log.retention.hours}; C{None} for a
        broker-only key.
    @ivar dynamic: whether the key may be changed at run time with AlterConfigs or
        IncrementalAlterConfigs (per broker or as the cluster-wide default).
    @ivar ignored: if the broker accepts the key only so that Kafka's files work
        unchanged, why it has no effect here (logged when the key is set).
    """

    name: str
    type: ConfigType
    default: ConfigValue | None
    doc: str
    importance: Importance
    minimum: int | float | None = None
    maximum: int | float | None = None
    choices: tuple[str, ...] | None = None
    topic_config: str | None = None
    dynamic: bool = False
    ignored: str | None = None

    @property
    def valid_values(self) -> str:
        """
        The valid values in Kafka's notation, for documentation and DescribeConfigs:
        C{"[1,...]"}, C{"[0,...,1]"}, C{"[CreateTime, LogAppendTime]"}, or C{""}.
        """
        if self.choices is not None:
            return "[" + ", ".join(self.choices) + "]"
        if self.minimum is None and self.maximum is None:
            return ""
        low = "..." if self.minimum is None else str(self.minimum)
        if self.maximum is None:
            return f"[{low},...]"
        return f"[{low},...,{self.maximum}]"

    def parse(self, raw: str) -> ConfigValue | None:
        """
        Parse and validate a value as written in C{server.properties} or in a
        request. Surrounding white space is ignored, and a blank value of a key whose
        default is unset (C{None}) means unset.

        @param raw: the value as text.
        @return: the parsed value, or C{None} for unset.
        @raise ConfigError: naming the key and the value, if C{raw} does not parse,
            is out of range or is not one of the choices.
        """
        if not raw.strip() and self.default is None:
            return None

        def invalid(reason: str) -> ConfigError:
            return self._invalid(raw, reason)

        value = parse_config_value(self.type, raw, self.choices, invalid)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            check_config_range(value, self.minimum, self.maximum, invalid)
        return value

    def render(self, value: ConfigValue | None) -> str | None:
        """
        Write a parsed value as Kafka shows it (DescribeConfigs, log lines).

        @param value: a value of this key's type, or C{None}.
        @return: C{"true"}, C{"168"}, C{"compact,delete"} ..., or C{None} for unset.
        """
        return None if value is None else render_config_value(value)

    def _invalid(self, raw: str, reason: str) -> ConfigError:
        return ConfigError.invalid(self.name, raw.strip(), reason)


_H, _M, _L = Importance.HIGH, Importance.MEDIUM, Importance.LOW
_B, _I, _LG = ConfigType.BOOLEAN, ConfigType.INT, ConfigType.LONG
_S, _LS = ConfigType.STRING, ConfigType.LIST
_PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_REACTOR: Final = (
    "the broker runs on one reactor thread, so Kafka's thread pool sizes do not apply"
)
_KRAFT: Final = (
    "Odradek does not run KRaft; metadata lives in the embedded store "
    "(or in ZooKeeper, with zookeeper.connect)"
)


def _k(
    name: str,
    type: ConfigType,
    default: ConfigValue | None,
    importance: Importance,
    doc: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    choices: tuple[str, ...] | None = None,
    dynamic: bool = False,
    ignored: str | None = None,
) -> ConfigKey:
    return ConfigKey(
        name=name,
        type=type,
        default=default,
        doc=doc,
        importance=importance,
        minimum=minimum,
        maximum=maximum,
        choices=choices,
        dynamic=dynamic,
        ignored=ignored,
    )


_BROKER_ONLY: Final = (
    # Identity and cluster membership.
    _k("node.id", _I, -1, _H,
       "The id of this broker in the cluster. -1 (unset) takes the id stored in "
       "meta.properties in the log directories, or 1 for new log directories.",
       minimum=-1),
    _k("broker.id", _I, -1, _H,
       "The older name of node.id; if both are set they must be equal.", minimum=-1),
    _k("broker.rack", _S, None, _M,
       "The rack of this broker, used to spread replicas across racks."),
    _k("zookeeper.connect", _S, None, _H,
       "The ZooKeeper ensemble (host:port,... with an optional /chroot) that holds "
       "the cluster's metadata. Unset: the broker runs alone with the embedded "
       "metadata store in its first log directory."),
    _k("zookeeper.session.timeout.ms", _I, 18000, _H,
       "The ZooKeeper session timeout.", minimum=1),
    _k("zookeeper.connection.timeout.ms", _I, None, _H,
       "How long to wait for a ZooKeeper connection; unset uses the session "
       "timeout.", minimum=1),
    _k("zookeeper.max.in.flight.requests", _I, 10, _H,
       "The most ZooKeeper requests the broker keeps outstanding.", minimum=1),
    # Listeners and sockets.
    _k("listeners", _S, "PLAINTEXT://:9092", _H,
       "The comma-separated NAME://host:port addresses the broker listens on. An "
       "empty host listens on every interface; IPv6 addresses go in brackets."),
    _k("advertised.listeners", _S, None, _H,
       "The addresses given to clients for each listener, if not those of "
       "listeners. An empty host is advertised as the machine's fully qualified "
       "host name; 0.0.0.0 cannot be advertised."),
    _k("listener.security.protocol.map", _S,
       "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT",
       _L, "The security protocol of each listener name, as NAME:PROTOCOL pairs."),
    _k("inter.broker.listener.name", _S, None, _M,
       "The listener other brokers connect to; set this or "
       "security.inter.broker.protocol, not both."),
    _k("security.inter.broker.protocol", _S, "PLAINTEXT", _M,
       "The security protocol between brokers, naming the listener of that name.",
       choices=_PROTOCOLS),
    _k("socket.request.max.bytes", _I, 104857600, _H,
       "The largest request the broker reads; a bigger size prefix closes the "
       "connection.", minimum=1),
    _k("socket.send.buffer.bytes", _I, 102400, _H,
       "SO_SNDBUF of the broker's sockets; -1 keeps the system's default."),
    _k("socket.receive.buffer.bytes", _I, 102400, _H,
       "SO_RCVBUF of the broker's sockets; -1 keeps the system's default."),
    _k("socket.listen.backlog.size", _I, 50, _M,
       "The listen backlog of each listening socket.", minimum=1),
    _k("queued.max.requests", _I, 500, _H,
       "The most requests read from the network and not yet answered.", minimum=1),
    _k("connections.max.idle.ms", _LG, 600000, _M,
       "Idle connections are closed after this long."),
    _k("request.timeout.ms", _I, 30000, _H,
       "How long the broker waits for the answer to a request it sends."),
    _k("max.connections", _I, _INT_MAX, _M,
       "The most connections the broker accepts at once.", minimum=0, dynamic=True),
    _k("max.connections.per.ip", _I, _INT_MAX, _M,
       "The most connections accepted from one IP address.", minimum=0,
       dynamic=True),
    _k("num.network.threads", _I, 3, _H, "Kafka's network thread count.",
       minimum=1, ignored=_REACTOR),
    _k("num.io.threads", _I, 8, _H, "Kafka's request handler thread count.",
       minimum=1, ignored=_REACTOR),
    _k("background.threads", _I, 10, _H, "Kafka's background thread count.",
       minimum=1, ignored=_REACTOR),
    _k("num.replica.fetchers", _I, 1, _H, "Kafka's replica fetcher thread count.",
       minimum=1, ignored=_REACTOR),
    _k("num.recovery.threads.per.data.dir", _I, 2, _H,
       "Kafka's log recovery thread count per log directory.", minimum=1,
       ignored=_REACTOR),
    # Topics and log directories.
    _k("log.dirs", _S, None, _H,
       "The comma-separated directories partitions are stored in; unset uses "
       "log.dir. A relative path is relative to the broker's working directory."),
    _k("log.dir", _S, "/tmp/kafka-logs", _H,
       "The log directory used when log.dirs is unset."),
    _k("num.partitions", _I, 1, _M,
       "The number of partitions of a topic created without a partition count.",
       minimum=1),
    _k("default.replication.factor", _I, 1, _M,
       "The replication factor of a topic created without one.", minimum=1),
    _k("auto.create.topics.enable", _B, True, _H,
       "Whether a Metadata request for an unknown topic creates it."),
    _k("delete.topic.enable", _B, True, _H,
       "Whether DeleteTopics may delete topics."),
    _k("log.retention.check.interval.ms", _LG, 300000, _M,
       "How often logs are checked for segments past their retention.", minimum=1),
    _k("log.flush.offset.checkpoint.interval.ms", _I, 60000, _H,
       "How often the recovery point of each log is checkpointed.", minimum=0),
    _k("log.flush.start.offset.checkpoint.interval.ms", _I, 60000, _H,
       "How often the log start offset of each log is checkpointed.", minimum=0),
    _k("log.cleaner.enable", _B, True, _M,
       "Whether the log cleaner runs for compacted topics."),
    _k("fetch.max.bytes", _I, 57671680, _M,
       "The most bytes one Fetch response carries.", minimum=1024),
    _k("max.incremental.fetch.session.cache.slots", _I, 1000, _M,
       "The most incremental fetch sessions kept.", minimum=0),
    # Replication.
    _k("replica.lag.time.max.ms", _LG, 30000, _H,
       "A follower that has not caught up for this long leaves the ISR."),
    _k("replica.fetch.max.bytes", _I, 1048576, _M,
       "The bytes a follower asks for per partition.", minimum=0),
    _k("replica.fetch.response.max.bytes", _I, 10485760, _M,
       "The bytes a follower asks for per fetch.", minimum=0),
    _k("replica.fetch.wait.max.ms", _I, 500, _M,
       "How long a follower's fetch may wait for data."),
    _k("replica.fetch.min.bytes", _I, 1, _M,
       "The bytes a follower's fetch waits for."),
    _k("replica.fetch.backoff.ms", _I, 1000, _M,
       "How long a follower waits after a failed fetch.", minimum=0),
    _k("replica.high.watermark.checkpoint.interval.ms", _LG, 5000, _H,
       "How often high watermarks are checkpointed."),
    _k("replica.socket.timeout.ms", _I, 30000, _H,
       "The socket timeout of follower fetches."),
    _k("replica.socket.receive.buffer.bytes", _I, 65536, _H,
       "SO_RCVBUF of follower connections."),
    _k("auto.leader.rebalance.enable", _B, True, _H,
       "Whether leadership is moved back to preferred replicas."),
    _k("leader.imbalance.check.interval.seconds", _LG, 300, _H,
       "How often leadership balance is checked.", minimum=1),
    _k("leader.imbalance.per.broker.percentage", _I, 10, _H,
       "The leadership imbalance per broker that triggers a rebalance."),
    _k("controlled.shutdown.enable", _B, True, _M,
       "Whether the broker hands its leaderships over before it stops."),
    # Consumer groups and offsets.
    _k("offsets.topic.replication.factor", _I, 3, _H,
       "The replication factor of __consumer_offsets (Kafka's type: short).",
       minimum=1, maximum=32767),
    _k("offsets.topic.num.partitions", _I, 50, _H,
       "The number of partitions of __consumer_offsets.", minimum=1),
    _k("offsets.topic.segment.bytes", _I, 104857600, _H,
       "The segment size of __consumer_offsets.", minimum=1),
    _k("offsets.load.buffer.size", _I, 5242880, _H,
       "The read size when loading offsets into the cache.", minimum=1),
    _k("offsets.retention.minutes", _I, 10080, _H,
       "How long committed offsets of an empty group are kept.", minimum=1),
    _k("offsets.retention.check.interval.ms", _LG, 600000, _H,
       "How often stale offsets are looked for.", minimum=1),
    _k("offsets.commit.timeout.ms", _I, 5000, _H,
       "How long an offset commit waits for its write.", minimum=1),
    _k("offset.metadata.max.bytes", _I, 4096, _H,
       "The largest metadata string of a committed offset."),
    _k("group.initial.rebalance.delay.ms", _I, 3000, _M,
       "How long a new group waits for more members before its first rebalance."),
    _k("group.min.session.timeout.ms", _I, 6000, _M,
       "The shortest session timeout a member may ask for."),
    _k("group.max.session.timeout.ms", _I, 1800000, _M,
       "The longest session timeout a member may ask for."),
    _k("group.max.size", _I, _INT_MAX, _M,
       "The most members a group may have.", minimum=1),
    # Transactions and idempotence.
    _k("transaction.state.log.replication.factor", _I, 3, _H,
       "The replication factor of __transaction_state (Kafka's type: short).",
       minimum=1, maximum=32767),
    _k("transaction.state.log.num.partitions", _I, 50, _H,
       "The number of partitions of __transaction_state.", minimum=1),
    _k("transaction.state.log.min.isr", _I, 2, _H,
       "min.insync.replicas of __transaction_state.", minimum=1),
    _k("transaction.state.log.segment.bytes", _I, 104857600, _H,
       "The segment size of __transaction_state.", minimum=1),
    _k("transaction.state.log.load.buffer.size", _I, 5242880, _H,
       "The read size when loading transaction state.", minimum=1),
    _k("transaction.max.timeout.ms", _I, 900000, _H,
       "The longest transaction timeout a producer may ask for.", minimum=1),
    _k("transactional.id.expiration.ms", _I, 604800000, _H,
       "How long an idle transactional id is kept.", minimum=1),
    _k("transaction.abort.timed.out.transaction.cleanup.interval.ms", _I, 10000,
       _L, "How often timed-out transactions are aborted.", minimum=1),
    _k("transaction.remove.expired.transaction.cleanup.interval.ms", _I, 3600000,
       _L, "How often expired transactional ids are removed.", minimum=1),
    _k("producer.id.expiration.ms", _I, 86400000, _L,
       "How long the state of an idle producer id is kept.", minimum=1),
    # KRaft, which Odradek replaces with its own metadata stores.
    _k("process.roles", _LS, (), _H, "Kafka's KRaft roles.", ignored=_KRAFT),
    _k("controller.listener.names", _S, None, _H,
       "Kafka's KRaft controller listeners.", ignored=_KRAFT),
    _k("controller.quorum.voters", _LS, (), _H, "Kafka's KRaft voters.",
       ignored=_KRAFT),
    _k("controller.quorum.bootstrap.servers", _LS, (), _H,
       "Kafka's KRaft controller addresses.", ignored=_KRAFT),
)  # fmt: skip

# How much each topic setting's broker synonyms matter, as Kafka ranks them.
_SYNONYM_IMPORTANCE: Final = {
    "segment.bytes": _H,
    "segment.ms": _H,
    "segment.jitter.ms": _H,
    "retention.ms": _H,
    "retention.bytes": _H,
    "flush.messages": _H,
    "flush.ms": _H,
    "file.delete.delay.ms": _H,
    "max.message.bytes": _H,
    "min.insync.replicas": _H,
    "compression.type": _H,
    "unclean.leader.election.enable": _H,
}


def _synonym_keys(topic: TopicConfigKey) -> Iterator[ConfigKey]:
    """
    Derive the broker keys that set the default of one topic key.

    The last synonym carries the default (in its own unit); the ones before it
    default to unset, since they take precedence only when set. A synonym in
    minutes or hours is an INT, as in Kafka. A setting where negative means "no
    limit" takes any negative value at the broker level.
    """
    for index, synonym in enumerate(topic.synonyms):
        last = index == len(topic.synonyms) - 1
        multiplier = synonym.multiplier
        doc = f"{topic.doc} Sets the default of the topic-level {topic.name}"
        if multiplier != 1:
            doc += f", in {_UNITS.get(multiplier, f'units of {multiplier} ms')}"
        if index:
            earlier = ", ".join(s.name for s in topic.synonyms[:index])
            doc += f"; {earlier} take{'s' if index == 1 else ''} precedence"
        low = None if topic.negative_is_unlimited else topic.minimum
        if multiplier == 1:
            kind, default, high = topic.type, topic.default, topic.maximum
        else:
            assert isinstance(topic.default, int) and topic.default % multiplier == 0
            kind, default, high = ConfigType.INT, topic.default // multiplier, None
            low = None if low is None else math.ceil(low / multiplier)
        yield ConfigKey(
            name=synonym.name,
            type=kind,
            default=default if last else None,
            doc=doc + ".",
            importance=_SYNONYM_IMPORTANCE.get(topic.name, _M),
            minimum=low,
            maximum=high,
            choices=topic.choices,
            topic_config=topic.name,
            dynamic=True,
        )


def _table() -> dict[str, ConfigKey]:
    keys = list(_BROKER_ONLY)
    for topic in TOPIC_CONFIGS.values():
        keys.extend(_synonym_keys(topic))
    table: dict[str, ConfigKey] = {}
    for key in sorted(keys, key=lambda k: k.name):
        assert key.name not in table, key.name
        table[key.name] = key
    return table


BROKER_CONFIGS: Final[Mapping[str, ConfigKey]] = _table()
"""Every broker configuration key, by Kafka's name, in alphabetical order."""
