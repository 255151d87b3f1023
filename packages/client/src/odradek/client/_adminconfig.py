"""
L{AdminClientConfig}: the Java admin client's keys, defaults and rules (Kafka
4.x). Import it from L{odradek.client.config}.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from odradek.client._commonconfig import (
    AT_LEAST_0,
    INT_MAX,
    CommonClientConfig,
)
from odradek.client._configdef import define
from odradek.client._configtypes import INT, LONG, ConfigError, Range

__all__ = ["AdminClientConfig"]


@attrs.frozen(init=False)
class AdminClientConfig(CommonClientConfig):
    """
    The configuration of an admin client.

    As in the Java admin client, C{default.api.timeout.ms} may not be below
    C{request.timeout.ms}: a given one is an error, and the default is raised to
    C{request.timeout.ms}.
    """

    default_api_timeout_ms = define(
        "default.api.timeout.ms",
        INT,
        60000,
        "The timeout of a call given none, retries included.",
        AT_LEAST_0,
    )
    retries = define(
        "retries",
        INT,
        INT_MAX,
        "How often to retry a call after a retriable error, within its timeout.",
        Range(0, INT_MAX),
    )
    receive_buffer_bytes = define(
        "receive.buffer.bytes",
        INT,
        65536,
        "The TCP receive buffer (SO_RCVBUF); -1 uses the OS default.",
        Range(-1),
    )
    connections_max_idle_ms = define(
        "connections.max.idle.ms",
        LONG,
        300000,
        "Close connections idle for this long.",
    )

    def _post_process(
        self, values: dict[str, Any], originals: Mapping[str, object]
    ) -> dict[str, Any]:
        values = super()._post_process(values, originals)
        request_timeout = values["request.timeout.ms"]
        if values["default.api.timeout.ms"] < request_timeout:
            if "default.api.timeout.ms" in originals:
                raise ConfigError(
                    "default.api.timeout.ms must be no smaller than "
                    f"request.timeout.ms ({request_timeout})",
                    "default.api.timeout.ms",
                    originals["default.api.timeout.ms"],
                )
            values["default.api.timeout.ms"] = request_timeout
        return values
