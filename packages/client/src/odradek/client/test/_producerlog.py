"""
What the producer tests' fake brokers answer: Produce responses of any version
(L{produce_response}) and a broker's check of idempotent batches' sequence numbers
(L{SequenceChecker}).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import Any

import attrs
from kio.schema.errors import ErrorCode
from kio.schema.types import TopicName
from kio.static.primitive import i32, i64

from odradek.client.errors import (
    DuplicateSequenceError,
    InvalidProducerEpochError,
    OutOfOrderSequenceError,
)
from odradek.client.protocol import ApiKey, response_type
from odradek.client.records import DefaultRecordBatch
from odradek.client.structs import TopicPartition
from odradek.client.test._networktools import NO_THROTTLE

__all__ = ["SequenceChecker", "produce_response"]


def produce_response(
    version: int, results: Mapping[TopicPartition, tuple[int, int]]
) -> object:
    """
    @param results: for each partition, its error code and base offset.
    @return: a Produce response of C{version}.
    """
    response_class: Any = response_type(ApiKey.PRODUCE, version)
    module: Any = sys.modules[response_class.__module__]
    names = {
        field.name for field in dataclasses.fields(module.PartitionProduceResponse)
    }
    by_topic: dict[str, list[object]] = {}
    for tp, (code, base_offset) in results.items():
        fields: dict[str, object] = {
            "index": i32(tp.partition),
            "error_code": ErrorCode(code),
            "base_offset": i64(base_offset),
            "log_append_time": None,
        }
        if "log_start_offset" in names:
            fields["log_start_offset"] = i64(0)
        if "record_errors" in names:
            fields["record_errors"] = ()
        by_topic.setdefault(tp.topic, []).append(
            module.PartitionProduceResponse(**fields)
        )
    return response_class(
        responses=tuple(
            module.TopicProduceResponse(
                name=TopicName(topic), partition_responses=tuple(answers)
            )
            for topic, answers in by_topic.items()
        ),
        throttle_time=NO_THROTTLE,
    )


@attrs.define
class SequenceChecker:
    """
    A partition leader's check of the producer id, epoch and sequence of
    idempotent batches: a batch that does not follow the last one stored of its
    producer is refused with C{OUT_OF_ORDER_SEQUENCE_NUMBER} (a new producer id or
    a higher epoch must start at sequence 0), one of a lower epoch with
    C{INVALID_PRODUCER_EPOCH}, and one stored already is answered
    C{DUPLICATE_SEQUENCE_NUMBER}.

    @ivar enabled: whether batches are checked at all.
    @ivar state: per partition, the producer id, epoch and next sequence of the
        last idempotent batch stored.
    """

    enabled: bool = False
    state: dict[TopicPartition, tuple[int, int, int]] = attrs.field(factory=dict)

    def check(self, tp: TopicPartition, batch: DefaultRecordBatch) -> int:
        """
        @param tp: the batch's partition.
        @param batch: a batch about to be stored.
        @return: the error code a broker answers for C{batch}'s producer state, or
            0 if it may be stored (the state then follows it).
        """
        if not self.enabled or not batch.has_producer_id:
            return 0
        pid, epoch, sequence = batch.producer_id, batch.producer_epoch, 0
        state = self.state.get(tp)
        if state is not None and state[0] == pid:
            if epoch < state[1]:
                return InvalidProducerEpochError.code
            if epoch == state[1]:
                sequence = state[2]
        if batch.base_sequence < sequence:
            return DuplicateSequenceError.code
        if batch.base_sequence != sequence:
            return OutOfOrderSequenceError.code
        self.state[tp] = (pid, epoch, batch.last_sequence + 1)
        return 0
