"""
The broker's storage: each partition is a L{Log} of segment files in Kafka's on-disk
format, and L{LogManager} keeps every partition log of the broker's log dirs.

Nothing here knows of requests, connections or reactors: time comes from an injected
C{now_ms} callable and everything is synchronous. Nothing is thread-safe either: call
it from one thread (the reactor's), or hand a whole operation to another thread.
"""

from odradek.broker.log.checkpoint import (
    LOG_START_OFFSET_CHECKPOINT,
    RECOVERY_POINT_CHECKPOINT,
    OffsetCheckpointFile,
)
from odradek.broker.log.config import (
    TOPIC_CONFIGS,
    BrokerSynonym,
    ConfigType,
    LogConfig,
    TopicConfigKey,
)
from odradek.broker.log.index import CorruptIndexError, OffsetIndex, TimeIndex
from odradek.broker.log.loader import LogLoader
from odradek.broker.log.local_log import LocalLog
from odradek.broker.log.log import (
    EARLIEST_LOCAL_TIMESTAMP,
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    MAX_TIMESTAMP,
    Log,
)
from odradek.broker.log.manager import CLEAN_SHUTDOWN_FILE, LogManager
from odradek.broker.log.producer_state import (
    BatchMetadata,
    ProducerStateEntry,
    ProducerStateManager,
)
from odradek.broker.log.records import (
    FetchDataInfo,
    FileRecords,
    LogOffsetMetadata,
    TimestampAndOffset,
)
from odradek.broker.log.segment import LogSegment
from odradek.broker.log.topic_partition import TopicPartition
from odradek.broker.log.validator import BatchInfo, LogAppendInfo, LogValidator

__all__ = [
    "CLEAN_SHUTDOWN_FILE",
    "EARLIEST_LOCAL_TIMESTAMP",
    "EARLIEST_TIMESTAMP",
    "LATEST_TIMESTAMP",
    "LOG_START_OFFSET_CHECKPOINT",
    "MAX_TIMESTAMP",
    "RECOVERY_POINT_CHECKPOINT",
    "TOPIC_CONFIGS",
    "BatchInfo",
    "BatchMetadata",
    "BrokerSynonym",
    "ConfigType",
    "CorruptIndexError",
    "FetchDataInfo",
    "FileRecords",
    "LocalLog",
    "Log",
    "LogAppendInfo",
    "LogConfig",
    "LogLoader",
    "LogManager",
    "LogOffsetMetadata",
    "LogSegment",
    "LogValidator",
    "OffsetCheckpointFile",
    "OffsetIndex",
    "ProducerStateEntry",
    "ProducerStateManager",
    "TimeIndex",
    "TimestampAndOffset",
    "TopicConfigKey",
    "TopicPartition",
]
