"""
How C{odradek-console-consumer} prints a record: the fields of Kafka's
C{DefaultMessageFormatter}, in its order (timestamp, partition, offset, headers,
key, value), chosen and separated by its C{--property} settings.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from odradek.admin.cli._common import ToolError
from odradek.client.records.layout import TimestampType
from odradek.client.structs import ConsumerRecord

__all__ = ["MessageFormatter", "parse_flag", "property_settings"]

_TIMESTAMP_NAMES = {
    TimestampType.CREATE_TIME: "CreateTime",
    TimestampType.LOG_APPEND_TIME: "LogAppendTime",
}

_FLAGS = {
    "print.timestamp": "print_timestamp",
    "print.key": "print_key",
    "print.value": "print_value",
    "print.partition": "print_partition",
    "print.offset": "print_offset",
    "print.headers": "print_headers",
}

_TEXTS = {
    "key.separator": "key_separator",
    "line.separator": "line_separator",
    "headers.separator": "headers_separator",
    "null.literal": "null_literal",
}


def parse_flag(text: str) -> bool:
    """
    Read a boolean property as Kafka's tools do: C{true} in any case, spaces
    around ignored, is true; anything else is false.

    @param text: the property's value.
    @return: whether it is true.
    """
    return text.strip().lower() == "true"


def property_settings(
    properties: Mapping[str, str],
    flags: Mapping[str, str],
    texts: Mapping[str, str],
    what: str,
) -> dict[str, object]:
    """
    Turn C{--property} settings into keyword arguments.

    @param properties: the settings, by Kafka's names.
    @param flags: the attribute of each boolean property (read by L{parse_flag}).
    @param texts: the attribute of each text property.
    @param what: what the properties configure, for the error (C{"formatter"}).
    @return: the keyword arguments.
    @raise ToolError: for a property that is in neither mapping, naming it.
    """
    settings: dict[str, object] = {}
    for name, value in properties.items():
        if name in flags:
            settings[flags[name]] = parse_flag(value)
        elif name in texts:
            settings[texts[name]] = value
        else:
            known = ", ".join(sorted([*flags, *texts]))
            raise ToolError(f"unknown {what} property {name!r} (known: {known})")
    return settings


def _text(value: object, null_literal: str) -> str:
    """
    @return: C{value} as printed: bytes decoded as UTF-8 (undecodable bytes
        replaced), C{None} as C{null_literal}.
    """
    if value is None:
        return null_literal
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


@attrs.frozen
class MessageFormatter:
    """
    The settings of Kafka's C{DefaultMessageFormatter}: which fields of a record
    to print and what separates them.

    @ivar print_timestamp: print C{CreateTime:<ms>} (or C{LogAppendTime:<ms>}).
    @ivar print_key: print the key.
    @ivar print_value: print the value (on by default).
    @ivar print_partition: print C{Partition:<n>}.
    @ivar print_offset: print C{Offset:<n>}.
    @ivar print_headers: print C{key:value} pairs, or C{NO_HEADERS}.
    @ivar key_separator: what follows each field but the last.
    @ivar line_separator: what follows the last field.
    @ivar headers_separator: what separates two headers.
    @ivar null_literal: what a null key, value or header value prints as.
    """

    print_timestamp: bool = False
    print_key: bool = False
    print_value: bool = True
    print_partition: bool = False
    print_offset: bool = False
    print_headers: bool = False
    key_separator: str = "\t"
    line_separator: str = "\n"
    headers_separator: str = ","
    null_literal: str = "null"

    @classmethod
    def from_properties(cls, properties: Mapping[str, str]) -> MessageFormatter:
        """
        Build the formatter the C{--property} settings describe.

        @param properties: the settings, by Kafka's names (C{print.key},
            C{key.separator} ...).
        @return: the formatter.
        @raise ToolError: for a property the formatter does not know.
        """
        settings = property_settings(properties, _FLAGS, _TEXTS, "formatter")
        return cls(**settings)  # type: ignore[arg-type]

    def format(self, record: ConsumerRecord) -> str:
        """
        Lay out one record: the chosen fields joined by L{key_separator} and
        ended by L{line_separator}; nothing at all when no field is chosen.

        @param record: the record, with bytes (or C{None}) as key and value.
        @return: the text to write.
        """
        null = self.null_literal
        fields: list[str] = []
        if self.print_timestamp:
            kind = _TIMESTAMP_NAMES.get(record.timestamp_type, "CreateTime")
            fields.append(f"{kind}:{record.timestamp}")
        if self.print_partition:
            fields.append(f"Partition:{record.partition}")
        if self.print_offset:
            fields.append(f"Offset:{record.offset}")
        if self.print_headers:
            if record.headers:
                fields.append(
                    self.headers_separator.join(
                        f"{key}:{_text(value, null)}" for key, value in record.headers
                    )
                )
            else:
                fields.append("NO_HEADERS")
        if self.print_key:
            fields.append(_text(record.key, null))
        if self.print_value:
            fields.append(_text(record.value, null))
        if not fields:
            return ""
        return self.key_separator.join(fields) + self.line_separator
