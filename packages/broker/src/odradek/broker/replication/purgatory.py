"""
Delayed operations and the purgatory where they wait, as in Kafka: a request that
cannot be answered yet (a fetch waiting for C{min_bytes}, an C{acks=-1} produce
waiting for the high watermark) becomes a L{DelayedOperation}, watched under the
partitions it concerns. Whatever may complete it (an append, a move of the high
watermark, a leader change, a topic deletion) calls
L{DelayedOperationPurgatory.check_and_complete} for the partition, and each operation
watching it checks its condition again. An operation that is still waiting when its
delay ends is completed anyway, by a delayed call on the reactor.

Everything runs on the reactor thread: completion happens once, and completing an
operation stops its timer and unwatches it at once, so that no timer and no
reference outlives it.
"""

from __future__ import annotations

from collections.abc import Iterable

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from odradek.broker.log import TopicPartition

__all__ = ["DelayedOperation", "DelayedOperationPurgatory"]


class DelayedOperation:
    """
    An operation that completes when its condition holds, or when its delay ends.

    Subclasses implement L{try_complete}, which checks the condition and calls
    L{force_complete} when it holds, and L{on_complete}, which answers; they may
    implement L{on_expiration}, called after an operation completed because its delay
    ended.

    @ivar delay_ms: how long the operation may wait.
    """

    def __init__(self, delay_ms: int) -> None:
        """
        @param delay_ms: see L{delay_ms}.
        """
        self.delay_ms = delay_ms
        self._completed = False
        self._timer: IDelayedCall | None = None
        self._purgatory: DelayedOperationPurgatory | None = None
        self._keys: tuple[TopicPartition, ...] = ()

    @property
    def is_completed(self) -> bool:
        """Whether the operation completed (or was cancelled)."""
        return self._completed

    def try_complete(self) -> bool:
        """
        Check whether the operation can complete, and complete it if so.

        @return: whether this call completed it.
        """
        raise NotImplementedError()

    def on_complete(self) -> None:
        """
        Answer: called exactly once, when the operation completes.
        """
        raise NotImplementedError()

    def on_expiration(self) -> None:
        """
        Called after L{on_complete} when the delay ended first.
        """

    def force_complete(self) -> bool:
        """
        Complete the operation now, unless it is already complete: stop its timer,
        unwatch it and call L{on_complete}.

        @return: whether this call completed it.
        """
        if self._completed:
            return False
        self._completed = True
        self._release()
        self.on_complete()
        return True

    def cancel(self) -> None:
        """
        Drop the operation without answering (its requester went away).
        """
        if not self._completed:
            self._completed = True
            self._release()

    def _release(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()
        purgatory, self._purgatory = self._purgatory, None
        if purgatory is not None:
            purgatory._unwatch(self)

    def _expire(self) -> None:
        self._timer = None
        if self.force_complete():
            self.on_expiration()


class DelayedOperationPurgatory:
    """
    Delayed operations of one kind, watched by partition.

    @ivar name: the kind of operation (C{"Fetch"}, C{"Produce"}), for messages.
    """

    def __init__(self, name: str, reactor: IReactorTime) -> None:
        """
        @param name: see L{name}.
        @param reactor: schedules the operations' timeouts.
        """
        self.name = name
        self._reactor = reactor
        self._watchers: dict[TopicPartition, dict[DelayedOperation, None]] = {}
        self._pending: dict[DelayedOperation, None] = {}

    def __repr__(self) -> str:
        return f"<DelayedOperationPurgatory {self.name}: {len(self._pending)} waiting>"

    def try_complete_else_watch(
        self, operation: DelayedOperation, keys: Iterable[TopicPartition]
    ) -> bool:
        """
        Complete the operation now if it can; otherwise watch it under each of
        C{keys} and start its timer.

        @param operation: a new operation.
        @param keys: the partitions whose changes may complete it.
        @return: whether it completed now.
        """
        if operation.try_complete():
            return True
        operation._purgatory = self
        operation._keys = tuple(dict.fromkeys(keys))
        for key in operation._keys:
            self._watchers.setdefault(key, {})[operation] = None
        self._pending[operation] = None
        operation._timer = self._reactor.callLater(
            max(operation.delay_ms, 0) / 1000, operation._expire
        )
        return False

    def check_and_complete(self, key: TopicPartition) -> int:
        """
        Let every operation watching C{key} check its condition again.

        @param key: a partition that changed.
        @return: how many operations completed.
        """
        watchers = self._watchers.get(key)
        if not watchers:
            return 0
        completed = 0
        for operation in list(watchers):
            if not operation.is_completed and operation.try_complete():
                completed += 1
        return completed

    def complete_all(self) -> int:
        """
        Complete every waiting operation now (at shutdown).

        @return: how many were completed.
        """
        completed = 0
        for operation in list(self._pending):
            if operation.force_complete():
                completed += 1
        return completed

    @property
    def delayed(self) -> int:
        """How many operations are waiting."""
        return len(self._pending)

    def watched(self, key: TopicPartition) -> int:
        """
        @return: how many operations watch C{key}.
        """
        return len(self._watchers.get(key, ()))

    def _unwatch(self, operation: DelayedOperation) -> None:
        for key in operation._keys:
            watchers = self._watchers.get(key)
            if watchers is not None:
                watchers.pop(operation, None)
                if not watchers:
                    del self._watchers[key]
        self._pending.pop(operation, None)
