"""
Topic-level log settings: L{LogConfig}, and L{TOPIC_CONFIGS}, the table describing each
setting under the key Apache Kafka gives it.

The table is the single source for everything that lists or parses these keys:
topic overrides (CreateTopics, AlterConfigs), the broker's C{server.properties} (each
topic key has broker-level synonyms such as C{log.retention.ms},
C{log.retention.minutes} and C{log.retention.hours}) and DescribeConfigs.
Defaults are Kafka 4's.

Building a L{LogConfig} directly (C{LogConfig(segment_bytes=4096)}) skips the table's
validation, which is how tests get segments smaller than the 1 MiB minimum that
L{LogConfig.from_properties} enforces.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeAlias

import attrs

from odradek.client.errors import InvalidConfigurationError

__all__ = [
    "TOPIC_CONFIGS",
    "BrokerSynonym",
    "ConfigType",
    "ConfigValue",
    "LogConfig",
    "TopicConfigKey",
]

ConfigValue: TypeAlias = int | float | bool | str | tuple[str, ...]
"""A parsed setting: the Python value of one key."""

_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_MINUTE_MS: Final = 60 * 1000
_HOUR_MS: Final = 60 * _MINUTE_MS


class ConfigType(enum.Enum):
    """
    The value types of Kafka's configuration definitions, named as Kafka names them
    (DescribeConfigs reports them).
    """

    BOOLEAN = "BOOLEAN"
    INT = "INT"
    LONG = "LONG"
    DOUBLE = "DOUBLE"
    STRING = "STRING"
    LIST = "LIST"


@attrs.frozen
class BrokerSynonym:
    """
    A broker-level key that sets a topic-level default, such as C{log.retention.hours}
    for C{retention.ms}.

    @ivar name: the key in C{server.properties}.
    @ivar multiplier: what a value under this key is multiplied by to give the topic
        key's unit (3600000 for an C{.hours} key of a milliseconds setting).
    """

    name: str
    multiplier: int = 1


def _invalid(key: str, raw: str, reason: str) -> InvalidConfigurationError:
    return InvalidConfigurationError(
        f"Invalid value {raw} for configuration {key}: {reason}"
    )


_INTEGER: Final = re.compile(r"[+-]?[0-9]+")
_DECIMAL: Final = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def parse_config_value(
    config_type: ConfigType,
    raw: str,
    choices: tuple[str, ...] | None,
    invalid: Callable[[str], Exception],
) -> ConfigValue:
    """
    Parse a configuration value by its type, as Kafka's C{ConfigDef} does: C{true}
    or C{false}, decimal integers within the type's range, decimal numbers, comma
    lists and strings, the last two checked against C{choices}. Ranges are checked
    by the caller (see L{check_config_range}), after any unit conversion.

    This one parser serves the topic-level keys and the broker's keys alike.

    @param config_type: the value's type.
    @param raw: the value as text; surrounding white space is ignored.
    @param choices: the valid strings (of a string, or of each item of a list).
    @param invalid: makes the exception to raise from the reason a value is invalid.
    @return: the parsed value.
    @raise Exception: what C{invalid} makes, if C{raw} does not parse.
    """
    text = raw.strip()
    if config_type is ConfigType.BOOLEAN:
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise invalid("Expected value to be either true or false")
        return lowered == "true"
    if config_type in (ConfigType.INT, ConfigType.LONG):
        if config_type is ConfigType.INT:
            low, high = _INT32_MIN, _INT32_MAX
        else:
            low, high = _INT64_MIN, _INT64_MAX
        if not _INTEGER.fullmatch(text) or not low <= int(text) <= high:
            raise invalid(f"Not a number of type {config_type.value}")
        return int(text)
    if config_type is ConfigType.DOUBLE:
        if not _DECIMAL.fullmatch(text):
            raise invalid("Not a number of type DOUBLE")
        return float(text)
    if config_type is ConfigType.LIST:
        items = tuple(item.strip() for item in text.split(",") if item.strip())
        if choices is not None and not items:
            raise invalid("Empty list")
        for item in items:
            _check_choice(item, choices, invalid)
        return items
    _check_choice(text, choices, invalid)
    return text


def _check_choice(
    text: str, choices: tuple[str, ...] | None, invalid: Callable[[str], Exception]
) -> None:
    if choices is not None and text not in choices:
        raise invalid(f"String must be one of: {', '.join(choices)}")


def check_config_range(
    value: float,
    minimum: float | None,
    maximum: float | None,
    invalid: Callable[[str], Exception],
) -> None:
    """
    Check a parsed number against a key's bounds.

    @param value: the number.
    @param minimum: the smallest valid value, or C{None}.
    @param maximum: the largest valid value, or C{None}.
    @param invalid: makes the exception to raise from the reason.
    @raise Exception: what C{invalid} makes, if C{value} is out of bounds.
    """
    if minimum is not None and value < minimum:
        raise invalid(f"Value must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise invalid(f"Value must be no more than {maximum}")


def render_config_value(value: object) -> str:
    """
    Write a parsed value as Kafka shows it (DescribeConfigs, log lines).

    @param value: a parsed value.
    @return: its text: C{"true"}, C{"604800000"}, C{"0.5"}, C{"compact,delete"}.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


@attrs.frozen
class TopicConfigKey:
    """
    The definition of one topic-level key.

    @ivar name: Kafka's key, such as C{retention.ms}.
    @ivar attribute: the matching attribute of L{LogConfig}.
    @ivar type: the value type.
    @ivar default: Kafka's default, as a parsed value.
    @ivar doc: what the setting does.
    @ivar synonyms: broker-level keys setting the default for every topic, most
        specific first (the first one present wins).
    @ivar minimum: the smallest valid value of a number, or C{None}.
    @ivar maximum: the largest valid value of a number, or C{None}.
    @ivar choices: the valid values of a string, or of each element of a list.
    @ivar negative_is_unlimited: whether any negative value under a broker synonym
        means -1, "no limit" (as C{log.retention.hours=-1} does).
    """

    name: str
    attribute: str
    type: ConfigType
    default: ConfigValue
    doc: str
    synonyms: tuple[BrokerSynonym, ...]
    minimum: int | float | None = None
    maximum: int | float | None = None
    choices: tuple[str, ...] | None = None
    negative_is_unlimited: bool = False

    @property
    def valid_values(self) -> str:
        """
        The valid values in words, for documentation: C{"[0,...]"},
        C{"[0,...,1]"}, C{"[delete, compact]"} or C{""} when any value goes.
        """
        if self.choices is not None:
            return "[" + ", ".join(self.choices) + "]"
        if self.minimum is None and self.maximum is None:
            return ""
        low = "..." if self.minimum is None else str(self.minimum)
        high = "..." if self.maximum is None else str(self.maximum)
        if self.minimum is not None and self.maximum is None:
            return f"[{low},...]"
        return f"[{low},...,{high}]"

    def parse(
        self, raw: str, *, key: str | None = None, multiplier: int = 1
    ) -> ConfigValue:
        """
        Parse and validate a value as written in a properties file or a request.

        @param raw: the value as text.
        @param key: the key to name in an error, if not C{self.name} (a broker synonym).
        @param multiplier: a unit conversion applied to an integer before the range
            check (see L{BrokerSynonym.multiplier}).
        @return: the parsed value, of the type L{LogConfig} holds.
        @raise InvalidConfigurationError: naming the key and the value, if C{raw}
            does not parse or is out of range.
        """
        name = self.name if key is None else key

        def invalid(reason: str) -> InvalidConfigurationError:
            return _invalid(name, raw, reason)

        value = parse_config_value(self.type, raw, self.choices, invalid)
        if isinstance(value, int) and not isinstance(value, bool):
            value *= multiplier
            if key is not None and self.negative_is_unlimited and value < 0:
                value = -1
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            check_config_range(value, self.minimum, self.maximum, invalid)
        return value

    def render(self, value: object) -> str:
        """
        Write a parsed value as Kafka shows it (DescribeConfigs).

        @param value: a value of this key's type.
        @return: its text, see L{render_config_value}.
        """
        return render_config_value(value)


def _key(
    name: str,
    type: ConfigType,
    default: ConfigValue,
    doc: str,
    synonyms: tuple[str | BrokerSynonym, ...],
    *,
    minimum: int | float | None = None,
    maximum: int | float | None = None,
    choices: tuple[str, ...] | None = None,
    negative_is_unlimited: bool = False,
) -> TopicConfigKey:
    return TopicConfigKey(
        name=name,
        attribute=name.replace(".", "_"),
        type=type,
        default=default,
        doc=doc,
        synonyms=tuple(BrokerSynonym(s) if isinstance(s, str) else s for s in synonyms),
        minimum=minimum,
        maximum=maximum,
        choices=choices,
        negative_is_unlimited=negative_is_unlimited,
    )


_LONG_MAX_DEFAULT: Final = _INT64_MAX

_KEYS: Final = (
    _key(
        "cleanup.policy", ConfigType.LIST, ("delete",),
        "How old segments are disposed of: 'delete' removes them once retention.ms "
        "or retention.bytes is exceeded, 'compact' keeps the latest record of each key "
        "(compaction is not implemented yet); both may be given.",
        ("log.cleanup.policy",), choices=("compact", "delete"),
    ),
    _key(
        "compression.type", ConfigType.STRING, "producer",
        "The codec batches are stored with. 'producer' keeps whatever codec the "
        "producer used.",
        ("compression.type",),
        choices=("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"),
    ),
    _key(
        "delete.retention.ms", ConfigType.LONG, 86400000,
        "How long tombstones are kept in a compacted topic.",
        ("log.cleaner.delete.retention.ms",), minimum=0,
    ),
    _key(
        "file.delete.delay.ms", ConfigType.LONG, 60000,
        "How long a deleted segment's files stay on disk, renamed with a .deleted "
        "suffix, before they are removed.",
        ("log.segment.delete.delay.ms",), minimum=0,
    ),
    _key(
        "flush.messages", ConfigType.LONG, _LONG_MAX_DEFAULT,
        "Force an fsync of the log after this many records have been appended. "
        "Replication is the preferred way to make data durable.",
        ("log.flush.interval.messages",), minimum=1,
    ),
    _key(
        "flush.ms", ConfigType.LONG, _LONG_MAX_DEFAULT,
        "Force an fsync of the log when its oldest unflushed data is this old.",
        ("log.flush.interval.ms", "log.flush.scheduler.interval.ms"), minimum=0,
    ),
    _key(
        "index.interval.bytes", ConfigType.INT, 4096,
        "The number of log bytes between two offset index entries; smaller means "
        "bigger indexes and shorter scans on reads.",
        ("log.index.interval.bytes",), minimum=0,
    ),
    _key(
        "max.compaction.lag.ms", ConfigType.LONG, _LONG_MAX_DEFAULT,
        "The longest a record may stay uncompacted in a compacted topic.",
        ("log.cleaner.max.compaction.lag.ms",), minimum=1,
    ),
    _key(
        "max.message.bytes", ConfigType.INT, 1048588,
        "The largest record batch the partition accepts, after compression.",
        ("message.max.bytes",), minimum=0,
    ),
    _key(
        "message.timestamp.after.max.ms", ConfigType.LONG, 3600000,
        "How far in the future of the broker's clock a CreateTime timestamp may be "
        "before the batch is rejected.",
        ("log.message.timestamp.after.max.ms",), minimum=0,
    ),
    _key(
        "message.timestamp.before.max.ms", ConfigType.LONG, _LONG_MAX_DEFAULT,
        "How far in the past of the broker's clock a CreateTime timestamp may be "
        "before the batch is rejected.",
        ("log.message.timestamp.before.max.ms",), minimum=0,
    ),
    _key(
        "message.timestamp.type", ConfigType.STRING, "CreateTime",
        "Whether records keep the producer's timestamp (CreateTime) or get the "
        "broker's time of append (LogAppendTime).",
        ("log.message.timestamp.type",), choices=("CreateTime", "LogAppendTime"),
    ),
    _key(
        "min.cleanable.dirty.ratio", ConfigType.DOUBLE, 0.5,
        "The share of uncompacted log above which a compacted topic is cleaned.",
        ("log.cleaner.min.cleanable.ratio",), minimum=0, maximum=1,
    ),
    _key(
        "min.compaction.lag.ms", ConfigType.LONG, 0,
        "The shortest a record stays uncompacted in a compacted topic.",
        ("log.cleaner.min.compaction.lag.ms",), minimum=0,
    ),
    _key(
        "min.insync.replicas", ConfigType.INT, 1,
        "With acks=all, the number of in-sync replicas that must acknowledge a "
        "write for it to succeed.",
        ("min.insync.replicas",), minimum=1,
    ),
    _key(
        "preallocate", ConfigType.BOOLEAN, False,
        "Whether new segment files are preallocated on disk.",
        ("log.preallocate",),
    ),
    _key(
        "retention.bytes", ConfigType.LONG, -1,
        "The size a partition may grow to before its oldest segments are deleted; "
        "-1 means no limit.",
        ("log.retention.bytes",), negative_is_unlimited=True,
    ),
    _key(
        "retention.ms", ConfigType.LONG, 604800000,
        "How long a segment is kept after its newest record before it is deleted; "
        "-1 means no limit.",
        (
            "log.retention.ms",
            BrokerSynonym("log.retention.minutes", _MINUTE_MS),
            BrokerSynonym("log.retention.hours", _HOUR_MS),
        ),
        minimum=-1, negative_is_unlimited=True,
    ),
    _key(
        "segment.bytes", ConfigType.INT, 1073741824,
        "The size of one segment file; a new segment is rolled when it is full.",
        ("log.segment.bytes",), minimum=1024 * 1024,
    ),
    _key(
        "segment.index.bytes", ConfigType.INT, 10485760,
        "The size of a segment's offset index; a new segment is rolled when it is "
        "full.",
        ("log.index.size.max.bytes",), minimum=4,
    ),
    _key(
        "segment.jitter.ms", ConfigType.LONG, 0,
        "The most that is randomly subtracted from segment.ms, so that many "
        "partitions do not roll at once.",
        ("log.roll.jitter.ms", BrokerSynonym("log.roll.jitter.hours", _HOUR_MS)),
        minimum=0,
    ),
    _key(
        "segment.ms", ConfigType.LONG, 604800000,
        "How long after its first record a segment is rolled even if not full, so "
        "that retention can delete it.",
        ("log.roll.ms", BrokerSynonym("log.roll.hours", _HOUR_MS)), minimum=1,
    ),
    _key(
        "unclean.leader.election.enable", ConfigType.BOOLEAN, False,
        "Whether a replica outside the ISR may become leader as a last resort, at "
        "the cost of losing data.",
        ("unclean.leader.election.enable",),
    ),
)  # fmt: skip

TOPIC_CONFIGS: Final[Mapping[str, TopicConfigKey]] = {k.name: k for k in _KEYS}
"""Every topic-level key, by Kafka's name, in alphabetical order."""


@attrs.frozen
class LogConfig:
    """
    The settings of one partition's log, one attribute per entry of L{TOPIC_CONFIGS}
    (the key with dots replaced by underscores). Defaults are Kafka's.
    """

    cleanup_policy: tuple[str, ...] = ("delete",)
    compression_type: str = "producer"
    delete_retention_ms: int = 86400000
    file_delete_delay_ms: int = 60000
    flush_messages: int = _INT64_MAX
    flush_ms: int = _INT64_MAX
    index_interval_bytes: int = 4096
    max_compaction_lag_ms: int = _INT64_MAX
    max_message_bytes: int = 1048588
    message_timestamp_after_max_ms: int = 3600000
    message_timestamp_before_max_ms: int = _INT64_MAX
    message_timestamp_type: str = "CreateTime"
    min_cleanable_dirty_ratio: float = 0.5
    min_compaction_lag_ms: int = 0
    min_insync_replicas: int = 1
    preallocate: bool = False
    retention_bytes: int = -1
    retention_ms: int = 604800000
    segment_bytes: int = 1073741824
    segment_index_bytes: int = 10485760
    segment_jitter_ms: int = 0
    segment_ms: int = 604800000
    unclean_leader_election_enable: bool = False

    @property
    def log_append_time(self) -> bool:
        """
        Whether the broker stamps batches with its own time (LogAppendTime).
        """
        return self.message_timestamp_type == "LogAppendTime"

    @property
    def delete_enabled(self) -> bool:
        """
        Whether retention deletes old segments (C{delete} in C{cleanup.policy}).
        """
        return "delete" in self.cleanup_policy

    @classmethod
    def from_properties(
        cls, overrides: Mapping[str, str], defaults: LogConfig | None = None
    ) -> LogConfig:
        """
        Apply topic-level overrides, keyed as Kafka keys them, to a base config.

        @param overrides: key to value as text, such as C{{"retention.ms": "1000"}}.
        @param defaults: the config the overrides apply to (the broker's defaults);
            Kafka's defaults if C{None}.
        @return: the resulting config.
        @raise InvalidConfigurationError: naming the key and the value, for an unknown
            key or a value that does not parse or is out of range.
        """
        changes: dict[str, Any] = {}
        for name, raw in overrides.items():
            key = TOPIC_CONFIGS.get(name)
            if key is None:
                raise InvalidConfigurationError(f"Unknown topic config name: {name}")
            changes[key.attribute] = key.parse(raw)
        return attrs.evolve(cls() if defaults is None else defaults, **changes)

    @classmethod
    def from_broker_properties(cls, properties: Mapping[str, str]) -> LogConfig:
        """
        Build the broker-wide default config from C{server.properties} keys, using
        each topic key's broker synonyms (C{log.retention.ms} before
        C{log.retention.minutes} before C{log.retention.hours}); keys that are no
        synonym are ignored.

        @param properties: the broker's settings, key to value as text.
        @return: the config every topic starts from.
        @raise InvalidConfigurationError: naming the key and the value, if a synonym's
            value does not parse or is out of range.
        """
        changes: dict[str, Any] = {}
        for key in _KEYS:
            for synonym in key.synonyms:
                raw = properties.get(synonym.name)
                if raw is None:
                    continue
                changes[key.attribute] = key.parse(
                    raw, key=synonym.name, multiplier=synonym.multiplier
                )
                break
        return attrs.evolve(cls(), **changes)

    def to_properties(self) -> dict[str, str]:
        """
        @return: every setting, keyed as Kafka keys it, as text (for DescribeConfigs).
        """
        return {key.name: key.render(getattr(self, key.attribute)) for key in _KEYS}

    def overridden(self, base: LogConfig) -> dict[str, str]:
        """
        @param base: the config this one was derived from (the broker's defaults).
        @return: the settings that differ from C{base}, keyed and written as in
            L{to_properties}.
        """
        return {
            key.name: key.render(getattr(self, key.attribute))
            for key in _KEYS
            if getattr(self, key.attribute) != getattr(base, key.attribute)
        }
