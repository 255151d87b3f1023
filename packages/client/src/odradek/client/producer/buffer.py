"""
The producer's C{buffer.memory}: L{BufferPool} accounts for the memory the batches
waiting to be sent may take (Kafka's C{BufferPool}).

Python allocates the bytes itself, so the pool holds no buffers: it only counts. A
thread that needs more than is free blocks, in first-come first-served order, until
batches complete and give their memory back, or until C{max.block.ms} passes.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from odradek.client.errors import (
    IllegalStateError,
    RecordTooLargeError,
    RequestTimedOutError,
)

__all__ = ["BufferExhaustedError", "BufferPool", "ConditionLike"]


class BufferExhaustedError(RequestTimedOutError):
    """
    The producer could not reserve memory for a record within C{max.block.ms}:
    records are produced faster than they can be sent.
    """


class ConditionLike(Protocol):
    """The part of C{threading.Condition} the pool uses; tests may pass a fake."""

    def wait(self, timeout: float | None = None) -> bool:
        """
        Release the pool's lock, wait for L{notify} or the timeout, take it again.

        @param timeout: the longest wait in seconds.
        @return: C{False} if the wait timed out.
        """

    def notify(self, n: int = 1) -> None:
        """
        Wake the waiter.

        @param n: how many waiters to wake.
        """


class BufferPool:
    """
    Count the bytes reserved out of C{buffer.memory}. Thread-safe.

    A thread asking for more memory than is free queues behind earlier waiters; the
    first of the queue takes memory as batches give it back, until it has enough.

    @ivar total_memory: the C{buffer.memory} in bytes.
    """

    def __init__(
        self,
        total_memory: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        condition_factory: Callable[[], ConditionLike] | None = None,
    ) -> None:
        """
        @param total_memory: the C{buffer.memory} in bytes.
        @param clock: a monotonic clock in seconds, for the blocking deadline.
        @param condition_factory: makes one condition per waiting thread; by default a
            C{threading.Condition} over the pool's lock (a re-entrant lock).
        """
        self.total_memory = total_memory
        self._available = total_memory
        self._clock = clock
        self._lock = threading.RLock()
        self._new_condition = condition_factory or self._condition
        self._waiters: deque[ConditionLike] = deque()
        self._closed = False

    def _condition(self) -> ConditionLike:
        return threading.Condition(self._lock)

    @property
    def available_memory(self) -> int:
        """The bytes not reserved."""
        return self._available

    @property
    def queued(self) -> int:
        """How many threads are blocked waiting for memory."""
        with self._lock:
            return len(self._waiters)

    def allocate(self, size: int, max_time_to_block_ms: int) -> None:
        """
        Reserve C{size} bytes, blocking the calling thread while there are not
        enough free.

        @param size: the bytes to reserve.
        @param max_time_to_block_ms: the longest wait, in milliseconds.
        @raise RecordTooLargeError: at once, if C{size} is more than C{buffer.memory}.
        @raise BufferExhaustedError: if the bytes were not free in time.
        @raise IllegalStateError: if the pool is or gets closed.
        """
        if size > self.total_memory:
            raise RecordTooLargeError(
                f"Attempt to allocate {size} bytes, but there is a hard limit of"
                f" {self.total_memory} bytes on memory allocations (buffer.memory)."
            )
        with self._lock:
            try:
                self._check_open()
                if not self._waiters and self._available >= size:
                    self._available -= size
                    return
                self._wait_for(size, max_time_to_block_ms)
            finally:
                self._wake_next()

    def _wait_for(self, size: int, max_time_to_block_ms: int) -> None:
        """Queue for memory and take it as it comes back; the lock is held."""
        condition = self._new_condition()
        self._waiters.append(condition)
        accumulated = 0
        deadline = self._clock() + max_time_to_block_ms / 1000
        try:
            while True:
                if self._waiters[0] is condition:
                    got = min(size - accumulated, self._available)
                    self._available -= got
                    accumulated += got
                    if accumulated == size:
                        accumulated = 0
                        return
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise BufferExhaustedError(
                        f"Failed to allocate {size} bytes within the configured max"
                        f" blocking time {max_time_to_block_ms} ms. Total memory:"
                        f" {self.total_memory} bytes. Available memory:"
                        f" {self._available + accumulated} bytes."
                    )
                condition.wait(remaining)
                self._check_open()
        finally:
            self._available += accumulated
            self._waiters.remove(condition)

    def _check_open(self) -> None:
        if self._closed:
            raise IllegalStateError("Producer closed while allocating memory")

    def _wake_next(self) -> None:
        """Wake the first waiter if there is memory for it to take; the lock is held."""
        if self._available > 0 and self._waiters:
            self._waiters[0].notify()

    def deallocate(self, size: int) -> None:
        """
        Give back bytes reserved with L{allocate}.

        @param size: the bytes to give back.
        """
        with self._lock:
            self._available += size
            self._wake_next()

    def close(self) -> None:
        """
        Refuse further allocations and fail the threads waiting for memory with
        L{IllegalStateError}.
        """
        with self._lock:
            self._closed = True
            for condition in self._waiters:
                condition.notify()
