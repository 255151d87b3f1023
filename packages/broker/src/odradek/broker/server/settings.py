"""
The settings of the broker's network front, from its configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import Attribute, field, frozen

from odradek.client.protocol import DEFAULT_MAX_FRAME_SIZE

if TYPE_CHECKING:
    from odradek.broker.config import KafkaConfig

__all__ = ["DEFAULT_IDLE_TIMEOUT_MS", "ServerSettings"]

#: Apache Kafka's default for C{connections.max.idle.ms}: ten minutes.
DEFAULT_IDLE_TIMEOUT_MS = 600_000


def _frame_size(instance: object, attribute: Attribute[int], value: int) -> None:
    if not isinstance(value, int) or not 0 <= value <= 2**31 - 1:
        raise ValueError(
            f"{attribute.name} must be an int from 0 to {2**31 - 1}, not {value!r}"
        )


def _int(instance: object, attribute: Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be an int, not {value!r}")


@frozen
class ServerSettings:
    """
    The settings of the network front.

    @ivar max_request_size: C{socket.request.max.bytes}: the largest request frame
        accepted, size prefix excluded.
    @ivar idle_timeout_ms: C{connections.max.idle.ms}: how long a connection may sit
        idle before it is closed; negative to never close idle connections, as in
        Kafka.
    """

    max_request_size: int = field(default=DEFAULT_MAX_FRAME_SIZE, validator=_frame_size)
    idle_timeout_ms: int = field(default=DEFAULT_IDLE_TIMEOUT_MS, validator=_int)

    @classmethod
    def from_config(cls, config: KafkaConfig) -> ServerSettings:
        """
        @param config: the broker's configuration.
        @return: its C{socket.request.max.bytes} and C{connections.max.idle.ms}.
        """
        return cls(config.socket_request_max_bytes, config.connections_max_idle_ms)
