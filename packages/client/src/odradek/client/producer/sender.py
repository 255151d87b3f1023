"""
The producer's I/O loop: it takes the batches the accumulator says are ready,
groups them by the broker that leads their partitions, sends one Produce request per
broker and settles every batch from the answer: done, retried, or failed.

The L{Sender} runs on the reactor thread only. Application threads reach it through
L{Sender.wakeup}, which is safe to call from any thread and costs one reactor hop per
call: the producer calls it when a batch fills or a new one starts, never per record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from odradek.client import errors
from odradek.client.network.cluster import Node
from odradek.client.network.requests import parse_produce_response, produce_request
from odradek.client.producer._idempotence import EpochManager
from odradek.client.producer.transaction_manager import TransactionManager
from odradek.client.protocol.apis import ApiKey
from odradek.client.structs import TopicPartition

if TYPE_CHECKING:
    from odradek.client.network.metadata import MetadataManager
    from odradek.client.network.pool import ConnectionPool
    from odradek.client.producer.accumulator import RecordAccumulator
    from odradek.client.producer.batch import ProducerBatch

__all__ = ["Sender", "SenderSettings"]

_log = Logger()

#: Errors after which the producer should learn the partition's leader again.
_METADATA_ERRORS = (
    errors.NotLeaderOrFollowerError,
    errors.UnknownTopicOrPartitionError,
    errors.LeaderNotAvailableError,
    errors.NetworkError,
    errors.KafkaStorageError,
)


class _Reactor(Protocol):
    def seconds(self) -> float: ...
    def callLater(
        self, delay: float, callable: Callable[..., object], *args: object
    ) -> IDelayedCall: ...
    def callFromThread(
        self, callable: Callable[..., object], *args: object
    ) -> None: ...


@attrs.frozen
class SenderSettings:
    """The producer settings the sender acts on (Kafka's names, in their units)."""

    acks: int
    request_timeout_ms: int
    max_request_size: int
    retries: int
    max_in_flight: int
    delivery_timeout_ms: int
    transaction_timeout_ms: int = 60_000


@attrs.define(eq=False)
class Sender:
    """
    Drains the accumulator into Produce requests and settles the batches.

    @ivar reactor: the reactor the sender runs on.
    @ivar accumulator: where the batches wait.
    @ivar metadata: the cluster's metadata and its refreshes.
    @ivar pool: connections to the brokers.
    @ivar settings: the producer's settings.
    @ivar transaction_manager: the idempotent producer's state, or C{None} when
        idempotence is off; its producer id and epoch are kept by an
        L{EpochManager}.
    """

    reactor: _Reactor
    accumulator: RecordAccumulator
    metadata: MetadataManager
    pool: ConnectionPool
    settings: SenderSettings
    transaction_manager: TransactionManager | None = None
    _timer: IDelayedCall | None = attrs.field(default=None, init=False)
    _wakeup_pending: bool = attrs.field(default=False, init=False)
    _in_flight: dict[int, int] = attrs.field(factory=dict, init=False)
    _connecting: set[int] = attrs.field(factory=set, init=False)
    _epochs: EpochManager | None = attrs.field(default=None, init=False)
    _running: bool = attrs.field(default=True, init=False)
    _force_closed: bool = attrs.field(default=False, init=False)
    _idle_waiters: list[Deferred[None]] = attrs.field(factory=list, init=False)

    def __attrs_post_init__(self) -> None:
        if self.transaction_manager is not None:
            self._epochs = EpochManager(
                self.transaction_manager,
                self.accumulator,
                self.metadata,
                self.settings.transaction_timeout_ms,
                self.wakeup,
                self._schedule,
            )

    # Waking up.

    def wakeup(self) -> None:
        """
        Ask the sender to look at the accumulator again soon. Safe from any thread;
        several calls before the sender runs cost one run; none after L{stop} or
        L{force_close}.
        """
        if self._wakeup_pending or not self._running or self._force_closed:
            return
        self._wakeup_pending = True
        self.reactor.callFromThread(self._woken)

    def wakeup_if_idle(self) -> None:
        """
        Wake the sender only if no pass is scheduled: a new batch that is not full
        needs a linger timer, and a scheduled pass sets one. Safe from any thread:
        a timer that fires meanwhile runs a pass that sees the new batch.
        """
        timer = self._timer
        if timer is None or not timer.active():
            self.wakeup()

    def _woken(self) -> None:
        self._wakeup_pending = False
        self.run_once()

    def _schedule(self, delay_ms: int) -> None:
        """Run again after C{delay_ms} unless something wakes the sender earlier."""
        if self._force_closed or not self._running:
            return
        due = self.reactor.seconds() + delay_ms / 1000
        timer = self._timer
        if timer is not None and timer.active():
            if timer.getTime() <= due:
                return
            timer.cancel()
        self._timer = self.reactor.callLater(max(delay_ms, 0) / 1000, self._timed)

    def _timed(self) -> None:
        self._timer = None
        self.run_once()

    def _now_ms(self) -> int:
        return int(self.reactor.seconds() * 1000)

    # The loop.

    def run_once(self) -> None:
        """
        One pass: fail expired batches, make sure of a producer id, send what is
        ready, and schedule the next pass.
        """
        if self._force_closed or not self._running:
            return
        now = self._now_ms()
        for batch in self.accumulator.expired_batches(now):
            self._fail_batch(batch, self._expired_error(batch, now))
        manager, epochs = self.transaction_manager, self._epochs
        if manager is not None and epochs is not None and not manager.has_producer_id():
            epochs.ensure(self.in_flight_requests())
            if self.accumulator.has_undrained():
                self._schedule(self.settings.request_timeout_ms)
            self._notify_idle()
            return
        cluster = self.metadata.current
        ready = self.accumulator.ready(cluster, now)
        if ready.unknown_leader_topics:
            self.metadata.add_topics(ready.unknown_leader_topics)
            self.metadata.request_update()
            # Refresh now unless one was tried within retry.backoff.ms: a leader
            # still unknown must not make a busy loop of Metadata requests.
            wait_ms = self.metadata.time_to_next_update_ms(now)
            if wait_ms <= 0:
                # A failure is logged by the manager; its next answer wakes us.
                self.metadata.refresh().addCallbacks(
                    lambda _: self.wakeup(), lambda _: None
                )
            else:
                self._schedule(int(wait_ms) + 1)
        sendable = set()
        for node_id in ready.ready_nodes:
            node = cluster.node(node_id)
            if node is None:
                continue
            if not self.pool.is_ready(node_id):
                self._connect(node)
                continue
            if self._in_flight.get(node_id, 0) < self.settings.max_in_flight:
                sendable.add(node_id)
        while sendable:
            drained = self.accumulator.drain(
                cluster, sendable, self.settings.max_request_size, now
            )
            sent = [node_id for node_id, batches in drained.items() if batches]
            for node_id in sent:
                self._send_produce(node_id, drained[node_id])
            # One batch per partition per request: while more full batches wait
            # and requests may go in flight, send them now rather than one per
            # pass of the reactor loop.
            ready = self.accumulator.ready(cluster, now)
            sendable = {
                node_id
                for node_id in sent
                if node_id in ready.ready_nodes
                and self._in_flight.get(node_id, 0) < self.settings.max_in_flight
            }
        if self.accumulator.has_undrained():
            self._schedule(max(ready.next_ready_check_delay_ms, 1))
        self._notify_idle()

    def _connect(self, node: Node) -> None:
        if node.node_id in self._connecting:
            return
        self._connecting.add(node.node_id)

        def connected(_: object) -> None:
            self._connecting.discard(node.node_id)
            self.wakeup()

        def failed(failure: Failure) -> None:
            self._connecting.discard(node.node_id)
            _log.debug(
                "Cannot connect to {node}: {error}", node=node, error=failure.value
            )
            self.metadata.request_update()
            delay = self.pool.connection_delay_ms(node.node_id, self._now_ms())
            self._schedule(max(delay, 1))

        self.pool.get(node).addCallbacks(connected, failed)

    # Produce requests.

    def _send_produce(self, node_id: int, batches: list[ProducerBatch]) -> None:
        connection = self.pool.connection(node_id)
        by_partition = {batch.tp: batch for batch in batches}
        try:
            if connection is None:
                raise errors.NetworkError(f"no connection to node {node_id}")
            version = connection.version_for(ApiKey.PRODUCE)
        except errors.KafkaError as error:
            now = self._now_ms()
            for batch in batches:
                self._retry_or_fail(batch, error, now)
            return
        muted = self._partitions_to_mute(by_partition)
        for tp in muted:
            self.accumulator.mute(tp)
        acks = self.settings.acks
        request = produce_request(
            version,
            acks=acks,
            timeout_ms=self.settings.request_timeout_ms,
            transactional_id=None,
            batches={tp: batch.records for tp, batch in by_partition.items()},
        )
        self._in_flight[node_id] = self._in_flight.get(node_id, 0) + 1
        d = connection.send(
            request,
            expect_response=acks != 0,
            timeout_ms=self.settings.request_timeout_ms,
        )
        d.addCallbacks(
            self._produced,
            self._produce_failed,
            callbackArgs=(node_id, by_partition, muted),
            errbackArgs=(node_id, by_partition, muted),
        )

    def _partitions_to_mute(
        self, batches: dict[TopicPartition, ProducerBatch]
    ) -> list[TopicPartition]:
        """
        @return: the partitions of which nothing more may go out (to any node)
            until this request is settled: all of them with one request in flight
            per connection (Kafka's guaranteeMessageOrder), else those whose batch
            holds sequences of an older epoch, so that no batch of the new epoch
            overtakes it.
        """
        if self.settings.max_in_flight == 1:
            return list(batches)
        manager = self.transaction_manager
        if manager is None:
            return []
        return [tp for tp, batch in batches.items() if manager.is_stale(batch)]

    def _settled(self, node_id: int, muted: list[TopicPartition]) -> None:
        self._in_flight[node_id] -= 1
        for tp in muted:
            self.accumulator.unmute(tp)
        self.wakeup()

    def _produced(
        self,
        response: Any,
        node_id: int,
        batches: dict[TopicPartition, ProducerBatch],
        muted: list[TopicPartition],
    ) -> None:
        now = self._now_ms()
        if response is None:  # acks=0: nothing comes back
            for batch in batches.values():
                self._complete_batch(batch, -1, -1)
            self._settled(node_id, muted)
            return
        results = parse_produce_response(response)
        for tp, batch in batches.items():
            result = results.get(tp)
            if result is None:
                self._retry_or_fail(
                    batch,
                    errors.NetworkError(f"the broker's answer left out {tp}"),
                    now,
                )
                continue
            code = result.error_code
            error_class = errors.error_for_code(code) if code else None
            if error_class is None or error_class is errors.DuplicateSequenceError:
                # DUPLICATE_SEQUENCE_NUMBER: the broker has this batch already.
                self._complete_batch(
                    batch, result.base_offset, result.log_append_time_ms
                )
                continue
            self._handle_error(batch, error_class(result.error_message or None), now)
        self._settled(node_id, muted)

    def _produce_failed(
        self,
        failure: Failure,
        node_id: int,
        batches: dict[TopicPartition, ProducerBatch],
        muted: list[TopicPartition],
    ) -> None:
        now = self._now_ms()
        error = failure.value
        if not isinstance(error, errors.KafkaError):
            error = errors.NetworkError(str(error))
        self.metadata.request_update()
        for batch in batches.values():
            self._retry_or_fail(batch, error, now)
        self._settled(node_id, muted)

    def _handle_error(
        self, batch: ProducerBatch, error: errors.KafkaError, now: int
    ) -> None:
        if isinstance(error, _METADATA_ERRORS):
            self.metadata.request_update()
        manager = self.transaction_manager
        # OUT_OF_ORDER_SEQUENCE_NUMBER and UNKNOWN_PRODUCER_ID are retried, after a
        # new epoch where the manager asks for one.
        retriable = manager is not None and manager.retry_after_sequence_error(
            batch, error
        )
        self._retry_or_fail(batch, error, now, retriable=retriable)

    def _retry_or_fail(
        self,
        batch: ProducerBatch,
        error: BaseException,
        now: int,
        *,
        retriable: bool = False,
    ) -> None:
        """
        Put C{batch} back for a retry if C{error} (or C{retriable}) allows it and
        neither its retries nor its delivery timeout are spent; else fail it.
        """
        retriable = retriable or (
            isinstance(error, errors.KafkaError) and error.retriable
        )
        if (
            retriable
            and not self._force_closed
            and batch.attempts < self.settings.retries
            and not batch.has_reached_delivery_timeout(
                self.settings.delivery_timeout_ms, now
            )
        ):
            _log.debug("Retrying a batch of {tp}: {error}", tp=batch.tp, error=error)
            self.accumulator.reenqueue(batch, now)
            return
        self._fail_batch(batch, error)

    def _complete_batch(
        self, batch: ProducerBatch, base_offset: int, log_append_time: int
    ) -> None:
        if self.transaction_manager is not None:
            self.transaction_manager.acknowledged(batch)
        batch.done(base_offset, log_append_time, None)
        self.accumulator.deallocate(batch)

    def _fail_batch(self, batch: ProducerBatch, error: BaseException) -> None:
        if self.transaction_manager is not None:
            # A gap in the partition's sequences: the manager asks for a new epoch.
            self.transaction_manager.failed(batch)
        if batch.done(-1, -1, error):
            _log.debug(
                "Failed {count} record(s) of {tp}: {error}",
                count=batch.record_count,
                tp=batch.tp,
                error=error,
            )
        self.accumulator.deallocate(batch)

    def _expired_error(self, batch: ProducerBatch, now: int) -> errors.KafkaError:
        return errors.RequestTimedOutError(
            f"Expiring {batch.record_count} record(s) for {batch.tp}: "
            f"{now - batch.created_ms} ms has passed since batch creation "
            f"(delivery.timeout.ms is {self.settings.delivery_timeout_ms})"
        )

    # Closing.

    def in_flight_requests(self) -> int:
        """@return: Produce requests sent and not yet answered."""
        return sum(self._in_flight.values())

    def when_idle(self) -> Deferred[None]:
        """
        @return: a Deferred that fires once nothing is waiting in the accumulator
            and no request is in flight (at once if that is so now, or after
            L{force_close}); cancelling it only stops the wait.
        """
        if self._force_closed or not self._running:
            return succeed(None)
        d: Deferred[None] = Deferred(self._idle_waiters.remove)
        self._idle_waiters.append(d)
        self.wakeup()
        return d

    def _notify_idle(self) -> None:
        if not self._idle_waiters:
            return
        if self.accumulator.has_incomplete() or self.in_flight_requests():
            return
        self._release_idle_waiters()

    def _release_idle_waiters(self) -> None:
        waiters, self._idle_waiters = self._idle_waiters, []
        for d in waiters:
            d.callback(None)

    def _cancel_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def force_close(self, error: BaseException) -> None:
        """
        Fail everything not yet acknowledged with C{error} and stop running;
        answers that come later for batches in flight are ignored.

        @param error: the error the records fail with.
        """
        self._force_closed = True
        self._cancel_timer()
        self.accumulator.abort_incomplete_batches(error)
        self._release_idle_waiters()

    def stop(self) -> None:
        """
        Stop running: cancel the pending timer and ignore later wake-ups; used
        after a graceful close drained everything.
        """
        self._running = False
        self._cancel_timer()
        self._release_idle_waiters()
