"""
The admin client's Twisted face: for code that runs on the reactor, every call
returns a Deferred and nothing blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from odradek.client.admin.core import AdminCore
from odradek.client.config import AdminClientConfig

__all__ = ["TwistedAdminClient"]


class TwistedAdminClient(AdminCore):
    """
    An admin client for code running on the Twisted reactor: each call returns
    a Deferred.

    Example::

        admin = TwistedAdminClient({"bootstrap.servers": "localhost:9092"})
        results = await admin.create_topics([NewTopic("orders", 3, 1)])
        results.all()                   # raises the first topic's error, if any
        await admin.close()
    """

    def __init__(
        self,
        config: Mapping[str, object] | AdminClientConfig | None = None,
        *,
        reactor: Any = None,
        **settings: object,
    ) -> None:
        """
        @param config: settings by Kafka's names (C{"bootstrap.servers"}), or an
            L{AdminClientConfig}.
        @param reactor: the reactor to run on; the global one by default.
        @param settings: more settings as keyword arguments
            (C{request_timeout_ms=5000}).
        @raise odradek.client.config.ConfigError: for an unknown key or a bad
            value.
        """
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        super().__init__(AdminClientConfig.of(config, settings), reactor)

    def __repr__(self) -> str:
        return f"<TwistedAdminClient {self.client_id} {id(self):#x}>"
