"""
A Sphinx directive that writes the configuration reference from the broker's and
the client's own tables of keys, so that the documentation cannot drift from the
code.

    .. odradek-config:: broker
    .. odradek-config:: topic
    .. odradek-config:: producer
    .. odradek-config:: consumer
    .. odradek-config:: admin
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList


def _literal(text: str | None) -> str:
    if text is None or text == "":
        return "(none)"
    return f"``{text}``"


def _broker_lines() -> list[str]:
    from odradek.broker.config import BROKER_CONFIGS

    lines: list[str] = []
    for key in sorted(BROKER_CONFIGS.values(), key=lambda k: k.name):
        lines += [f"``{key.name}``", f"   {key.doc}", ""]
        fields = [
            ("Type", key.type.value.lower()),
            ("Default", _literal(key.render(key.default))),
            ("Valid values", _literal(key.valid_values or None)),
            ("Importance", key.importance.value),
            ("Dynamic", "yes" if key.dynamic else "no"),
        ]
        if key.topic_config is not None:
            fields.append(("Topic-level key", f"``{key.topic_config}``"))
        if key.ignored is not None:
            fields.append(("Effect", f"none: {key.ignored}"))
        lines += [f"   :{name}: {value}" for name, value in fields]
        lines.append("")
    return lines


def _topic_lines() -> list[str]:
    from odradek.broker.log.config import TOPIC_CONFIGS

    lines: list[str] = []
    for key in sorted(TOPIC_CONFIGS.values(), key=lambda k: k.name):
        synonyms = ", ".join(f"``{s.name}``" for s in key.synonyms) or "(none)"
        lines += [f"``{key.name}``", f"   {key.doc}", ""]
        fields = [
            ("Type", key.type.value.lower()),
            ("Default", _literal(key.render(key.default))),
            ("Valid values", _literal(key.valid_values or None)),
            ("Broker-wide default set by", synonyms),
        ]
        lines += [f"   :{name}: {value}" for name, value in fields]
        lines.append("")
    return lines


def _client_default(default: object) -> str:
    """
    Show a client key's default as a user would write it: C{(required)} for a key
    without one, booleans as C{true}/C{false}, lists comma-separated, classes and
    functions by import path.
    """
    from odradek.client._configdef import NO_DEFAULT

    if default is NO_DEFAULT:
        return "(required)"
    if default is None:
        return _literal(None)
    if isinstance(default, bool):
        return _literal(str(default).lower())
    if isinstance(default, (list, tuple)):
        return _literal(", ".join(str(item) for item in default))
    if isinstance(default, (str, int, float)):
        return _literal(str(default))
    qualname = getattr(default, "__qualname__", None)
    if qualname is not None:
        return _literal(f"{default.__module__}:{qualname}")
    raise ValueError(f"cannot show the default {default!r} in the reference")


def _client_lines(which: str) -> list[str]:
    from odradek.client import config

    config_class = {
        "producer": config.ProducerConfig,
        "consumer": config.ConsumerConfig,
        "admin": config.AdminClientConfig,
    }[which]
    lines: list[str] = []
    for name, type_name, default, doc in config.config_reference(config_class):
        lines += [f"``{name}``", f"   {doc}", ""]
        lines += [
            f"   :Type: {type_name.lower()}",
            f"   :Default: {_client_default(default)}",
            "",
        ]
    return lines


class ConfigReference(Directive):
    """
    Render the broker's (C{broker}), the topic-level (C{topic}), the producer's
    (C{producer}), the consumer's (C{consumer}) or the admin client's (C{admin})
    configuration keys.
    """

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        which = self.arguments[0]
        if which == "broker":
            lines = _broker_lines()
        elif which == "topic":
            lines = _topic_lines()
        elif which in ("producer", "consumer", "admin"):
            lines = _client_lines(which)
        else:
            raise self.error(
                "odradek-config takes 'broker', 'topic', 'producer', 'consumer' or "
                f"'admin', not {which!r}"
            )
        container = nodes.container()
        self.state.nested_parse(
            StringList(lines, source="odradek-config"), 0, container
        )
        return list(container.children)


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("odradek-config", ConfigReference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
