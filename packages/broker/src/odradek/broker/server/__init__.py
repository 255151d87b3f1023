"""
The broker's network front: listeners, the protocol of each client connection
(frames in, handlers called, responses out in order) and the writing of responses,
file regions included, with C{os.sendfile} where the transport allows.
"""

from odradek.broker.server.listener import (
    KafkaServerFactory,
    check_supported,
    endpoint_description,
    listen,
)
from odradek.broker.server.output import ConnectionStats, ResponseWriter, can_sendfile
from odradek.broker.server.protocol import KafkaServerProtocol
from odradek.broker.server.response import (
    FileRegion,
    IFileRegion,
    Region,
    ResponseParts,
    encode_response_parts,
    records_region,
)
from odradek.broker.server.settings import DEFAULT_IDLE_TIMEOUT_MS, ServerSettings

__all__ = [
    "DEFAULT_IDLE_TIMEOUT_MS",
    "ConnectionStats",
    "FileRegion",
    "IFileRegion",
    "KafkaServerFactory",
    "KafkaServerProtocol",
    "Region",
    "ResponseParts",
    "ResponseWriter",
    "ServerSettings",
    "can_sendfile",
    "check_supported",
    "encode_response_parts",
    "endpoint_description",
    "listen",
    "records_region",
]
