"""
The consumer's blocking face, for ordinary (threaded) applications.

The I/O runs on the SDK's reactor thread; each call here makes one hop to it (never
one per record). The rebalance listener and the C{commit_async} callbacks run on the
application's thread, inside C{poll} (and C{commit_sync}, C{close}), as in Java, so
a listener may call the consumer's own methods, C{commit_sync} included.

L{Consumer.wakeup} only sets a flag and drops a token in a queue whose C{put} is
safe in a signal handler, so a blocked C{poll} notices it at once.
"""

from __future__ import annotations

import collections
import contextlib
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.python.failure import Failure

from odradek.client import errors
from odradek.client.blocking import ReactorThread
from odradek.client.config import ConsumerConfig
from odradek.client.consumer.core import CommitCallback, ConsumerCore, call_listener
from odradek.client.network.cluster import PartitionInfo
from odradek.client.structs import (
    ConsumerRecord,
    OffsetAndMetadata,
    OffsetAndTimestamp,
    TopicPartition,
)

__all__ = ["Consumer"]

#: How much longer than the consumer's own timeout the thread hop may take.
_HOP_SLACK = 5.0


class _Outcome:
    """The result of a call on the reactor thread, set from that thread."""

    def __init__(self) -> None:
        self.done = False
        self.result: object = None

    def set(self, result: object) -> None:
        self.result = result
        self.done = True


class Consumer:
    """
    A Kafka consumer for ordinary Python code.

    Example::

        consumer = Consumer({"bootstrap.servers": "localhost:9092",
                             "group.id": "billing", "enable.auto.commit": False})
        consumer.subscribe(["orders"])
        try:
            while True:
                for record in consumer.poll(1.0):
                    handle(record)
                consumer.commit_sync()
        except WakeupError:
            pass
        finally:
            consumer.close()

    Use one consumer from one thread at a time (calls from several threads are
    serialized); L{wakeup} may be called from any thread or a signal handler.

    @ivar config: the consumer's configuration.
    """

    def __init__(
        self,
        config: Mapping[str, object] | ConsumerConfig | None = None,
        *,
        reactor_thread: ReactorThread | None = None,
        **settings: object,
    ) -> None:
        """
        @param config: settings by Kafka's names (C{"group.id"}), or a
            L{ConsumerConfig}.
        @param reactor_thread: the reactor thread to run I/O on; the SDK's shared
            one by default.
        @param settings: more settings as keyword arguments (C{group_id="g"}).
        @raise odradek.client.config.ConfigError: for an unknown key or a bad value.
        """
        self.config = ConsumerConfig.of(config, settings)
        self._thread = reactor_thread or ReactorThread.shared()
        self._signals: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._app_calls: collections.deque[Callable[[], object]] = collections.deque()
        self._woken = False
        self._lock = threading.RLock()
        self._closed = False
        self._listener: object | None = None
        self._core: ConsumerCore = self._thread.call(self._make_core)

    def _make_core(self) -> ConsumerCore:
        core = ConsumerCore(
            self.config,
            self._thread.reactor,
            invoke_listener=self._invoke_listener,
            run_callback=self._run_later,
        )
        core.on_event = self._signal
        core.start()
        return core

    # -- the application thread's inbox

    def _signal(self) -> None:
        self._signals.put(None)

    def _run_later(self, call: Callable[[], object]) -> None:
        """On the reactor thread: have C{call} run on the application's thread."""
        self._app_calls.append(call)
        self._signal()

    def _invoke_listener(
        self, hook: str, partitions: list[TopicPartition]
    ) -> Deferred[None]:
        """
        On the reactor thread: run a listener hook on the application's thread
        (inside its C{poll}); the Deferred fires once it ran.
        """
        listener = self._core.subscriptions.listener
        if listener is None:
            return succeed(None)
        done: Deferred[None] = Deferred()
        reactor = self._thread.reactor

        def run() -> None:
            try:
                call_listener(listener, hook, partitions)
            except BaseException:
                failure = Failure()  # type: ignore[no-untyped-call]
                reactor.callFromThread(done.errback, failure)
            else:
                reactor.callFromThread(done.callback, None)

        self._app_calls.append(run)
        self._signal()
        return done

    def _run_app_calls(self) -> None:
        calls = self._app_calls
        while calls:
            calls.popleft()()

    def _await(
        self, function: Callable[..., Any], *args: object, timeout: float | None
    ) -> Any:
        """
        Run C{function(*args)} on the reactor thread and wait for its result,
        running listener hooks and callbacks meanwhile.

        @raise errors.RequestTimedOutError: if no result came within C{timeout}.
        """
        outcome = _Outcome()

        def finished(result: object) -> None:
            outcome.set(result)
            self._signal()

        def start() -> None:
            maybeDeferred(function, *args).addBoth(finished)

        if self._thread.in_reactor_thread():
            raise errors.IllegalStateError(
                "a blocking Odradek call was made on the reactor thread; code "
                "running on the reactor must use odradek.client.TwistedConsumer"
            )
        self._thread.call_soon(start)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not outcome.done:
            self._run_app_calls()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise errors.RequestTimedOutError(
                    f"no answer from the consumer's I/O thread within {timeout} s"
                )
            with contextlib.suppress(queue.Empty):
                self._signals.get(timeout=remaining)
        self._run_app_calls()
        result = outcome.result
        if isinstance(result, Failure):
            result.raiseException()
        return result

    def _call(self, function: Callable[..., Any], *args: object) -> Any:
        """Run a quick, non-waiting call on the reactor thread."""
        self._check_open()
        return self._thread.call(function, *args, timeout=_HOP_SLACK * 6)

    def _check_open(self) -> None:
        if self._closed:
            raise errors.IllegalStateError("This consumer has already been closed.")

    def _timeout_ms(self, timeout: float | None) -> int:
        if timeout is None:
            return int(self.config.default_api_timeout_ms)
        if timeout < 0:
            raise ValueError(f"Timeout must not be negative: {timeout}")
        return int(timeout * 1000)

    def _await_timed(
        self, function: Callable[..., Any], timeout: float | None, *args: object
    ) -> Any:
        timeout_ms = self._timeout_ms(timeout)
        self._check_open()
        with self._lock:
            return self._await(
                function, *args, timeout_ms, timeout=timeout_ms / 1000 + _HOP_SLACK
            )

    # -- subscribing

    def subscribe(
        self, topics: Iterable[str] | str | re.Pattern[str], listener: object = None
    ) -> None:
        """
        Join the group (C{group.id}) to consume the given topics, or every topic
        matching a compiled pattern; the group assigns the partitions. A new call
        replaces the subscription; an empty list unsubscribes.

        @param topics: topic names, or a compiled C{re.Pattern}.
        @param listener: an L{IConsumerRebalanceListener
            <odradek.client.consumer.listener.IConsumerRebalanceListener>}; its
            hooks run on this thread inside C{poll}.
        @raise odradek.client.errors.InvalidGroupIdError: without C{group.id}.
        @raise odradek.client.errors.IllegalStateError: after C{assign}.
        @raise ValueError: for an empty or non-string topic name.
        @raise TypeError: for a listener without the listener's methods.
        """
        with self._lock:
            if isinstance(topics, re.Pattern):
                self._call(self._core.subscribe_pattern, topics, listener)
            else:
                self._call(self._core.subscribe, topics, listener)

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """
        Consume exactly these partitions, without a group rebalance; a new call
        replaces them, an empty list unsubscribes.

        @raise odradek.client.errors.IllegalStateError: after C{subscribe}.
        """
        with self._lock:
            self._call(self._core.assign, list(partitions))

    def assignment(self) -> set[TopicPartition]:
        """@return: the partitions assigned to this consumer now."""
        return self._call(self._core.assignment)  # type: ignore[no-any-return]

    def subscription(self) -> set[str]:
        """@return: the topics subscribed to."""
        return self._call(self._core.subscription)  # type: ignore[no-any-return]

    def unsubscribe(self) -> None:
        """Drop the subscription or assignment, leaving the group."""
        self._check_open()
        with self._lock:
            self._await(self._core.unsubscribe, timeout=None)

    # -- polling

    def poll(self, timeout: float) -> list[ConsumerRecord]:
        """
        Return the records fetched since the last poll (at most
        C{max.poll.records}), waiting up to C{timeout} seconds for some.

        Also where the group's life happens: joining, the rebalance listener's
        hooks, auto-commits and commit callbacks.

        @param timeout: seconds to wait at most for records.
        @return: the records, maybe none.
        @raise odradek.client.errors.WakeupError: if L{wakeup} was called.
        @raise odradek.client.errors.IllegalStateError: if the consumer is closed
            or not subscribed to anything.
        @raise odradek.client.errors.KafkaError: an error the consumer met
            (C{NoOffsetForPartitionError}, a fatal group error ...).
        """
        if timeout < 0:
            raise ValueError(f"Timeout must not be negative: {timeout}")
        self._check_open()
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                self._raise_if_woken()
                self._run_app_calls()
                records: list[ConsumerRecord] = self._thread.call(
                    self._core.poll_once, timeout=_HOP_SLACK * 6
                )
                if records:
                    return records
                if self._app_calls:
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._raise_if_woken()
                    return records
                with contextlib.suppress(queue.Empty):
                    self._signals.get(timeout=remaining)
                # Drop the other tokens: the next round looks at everything.
                self._drain_signals()

    def _drain_signals(self) -> None:
        signals = self._signals
        while True:
            try:
                signals.get_nowait()
            except queue.Empty:
                return

    def _raise_if_woken(self) -> None:
        if self._woken:
            self._woken = False
            raise errors.WakeupError("the consumer was woken up")

    def wakeup(self) -> None:
        """
        Make a blocked C{poll} (or the next one) raise
        L{WakeupError<odradek.client.errors.WakeupError>}. Safe from any thread and
        from a signal handler.
        """
        self._woken = True
        self._signals.put(None)

    # -- offsets

    def commit_sync(
        self,
        offsets: Mapping[TopicPartition, OffsetAndMetadata] | None = None,
        timeout: float | None = None,
    ) -> None:
        """
        Commit C{offsets} (each the offset of the next record to read), or the
        positions after the last poll, and wait until the broker stored them.

        @param timeout: seconds at most (C{default.api.timeout.ms} by default).
        @raise odradek.client.errors.CommitFailedError: if the consumer is no
            longer in the group's generation (a rebalance took its partitions).
        @raise odradek.client.errors.RequestTimedOutError: if not done in time.
        """
        self._await_timed(self._core.commit_sync, timeout, _offsets(offsets))

    def commit_async(
        self,
        offsets: Mapping[TopicPartition, OffsetAndMetadata] | None = None,
        callback: CommitCallback | None = None,
    ) -> None:
        """
        Send a commit without waiting. C{callback(offsets, error)} runs on this
        thread during a later C{poll}, C{commit_sync} or C{close}; C{error} is
        C{None} on success.
        """
        with self._lock:
            self._call(self._core.commit_async, _offsets(offsets), callback)

    def committed(
        self, partitions: Iterable[TopicPartition], timeout: float | None = None
    ) -> dict[TopicPartition, OffsetAndMetadata | None]:
        """
        @return: the group's last committed offset of each partition, C{None}
            where there is none.
        """
        return self._await_timed(  # type: ignore[no-any-return]
            self._core.committed, timeout, list(partitions)
        )

    def position(self, partition: TopicPartition, timeout: float | None = None) -> int:
        """
        @return: the offset of the next record that will be fetched from
            C{partition} (looked up first if there is no position yet).
        @raise odradek.client.errors.IllegalStateError: if it is not assigned.
        """
        return self._await_timed(  # type: ignore[no-any-return]
            lambda *args: Deferred.fromCoroutine(self._core.position(*args)),
            timeout,
            partition,
        )

    def seek(self, partition: TopicPartition, offset: int | OffsetAndMetadata) -> None:
        """Fetch C{partition} from C{offset} at the next poll."""
        self._call(self._core.seek, partition, offset)

    def seek_to_beginning(
        self, partitions: Iterable[TopicPartition] | None = None
    ) -> None:
        """Fetch C{partitions} (all assigned ones by default) from their start."""
        self._call(self._core.seek_to, "earliest", _optional_list(partitions))

    def seek_to_end(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        """Fetch C{partitions} (all assigned ones by default) from their end."""
        self._call(self._core.seek_to, "latest", _optional_list(partitions))

    def beginning_offsets(
        self, partitions: Iterable[TopicPartition], timeout: float | None = None
    ) -> dict[TopicPartition, int]:
        """@return: the first offset of each partition."""
        return self._await_timed(  # type: ignore[no-any-return]
            self._core.beginning_offsets, timeout, list(partitions)
        )

    def end_offsets(
        self, partitions: Iterable[TopicPartition], timeout: float | None = None
    ) -> dict[TopicPartition, int]:
        """@return: the offset after the last record of each partition."""
        return self._await_timed(  # type: ignore[no-any-return]
            self._core.end_offsets, timeout, list(partitions)
        )

    def offsets_for_times(
        self, timestamps: Mapping[TopicPartition, int], timeout: float | None = None
    ) -> dict[TopicPartition, OffsetAndTimestamp | None]:
        """
        @param timestamps: milliseconds since the epoch, by partition.
        @return: the first offset at or after each time; C{None} where there is
            none.
        """
        return self._await_timed(  # type: ignore[no-any-return]
            self._core.offsets_for_times, timeout, dict(timestamps)
        )

    # -- flow control and metadata

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        """Stop fetching C{partitions} (polls return none of theirs) until resumed."""
        self._call(self._core.pause, list(partitions))

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        """Fetch paused partitions again."""
        self._call(self._core.resume, list(partitions))

    def paused(self) -> set[TopicPartition]:
        """@return: the paused partitions."""
        return self._call(self._core.paused)  # type: ignore[no-any-return]

    def partitions_for(
        self, topic: str, timeout: float | None = None
    ) -> list[PartitionInfo]:
        """@return: the partitions of C{topic}."""
        return self._await_timed(  # type: ignore[no-any-return]
            self._core.partitions_for, timeout, topic
        )

    def list_topics(
        self, timeout: float | None = None
    ) -> dict[str, list[PartitionInfo]]:
        """@return: every topic of the cluster with its partitions."""
        return self._await_timed(  # type: ignore[no-any-return]
            lambda timeout_ms: Deferred.fromCoroutine(
                self._core.list_topics(timeout_ms)
            ),
            timeout,
        )

    # -- closing

    def close(self, timeout: float | None = None) -> None:
        """
        Commit the positions (with C{enable.auto.commit}), run the listener's
        revoked hook, leave the group at once (so the others rebalance without
        waiting for the session timeout) and release the connections. Closing
        twice is harmless.

        @param timeout: seconds at most (30 by default).
        """
        if self._closed:
            return
        timeout_ms = 30000 if timeout is None else int(timeout * 1000)
        with self._lock:
            try:
                self._await(
                    lambda: Deferred.fromCoroutine(self._core.close(timeout_ms)),
                    timeout=timeout_ms / 1000 + _HOP_SLACK,
                )
            finally:
                self._closed = True

    def __enter__(self) -> Consumer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Consumer {self._core.client_id} {id(self):#x}>"


def _offsets(
    offsets: Mapping[TopicPartition, OffsetAndMetadata | int] | None,
) -> dict[TopicPartition, OffsetAndMetadata] | None:
    """Accept plain offsets as well as L{OffsetAndMetadata}."""
    if offsets is None:
        return None
    return {
        tp: value if isinstance(value, OffsetAndMetadata) else OffsetAndMetadata(value)
        for tp, value in offsets.items()
    }


def _optional_list(
    partitions: Iterable[TopicPartition] | None,
) -> list[TopicPartition] | None:
    return None if partitions is None else list(partitions)
