"""
Tests for L{odradek.client.producer.buffer}.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from twisted.trial.unittest import SynchronousTestCase

from odradek.client.errors import (
    IllegalStateError,
    RecordTooLargeError,
    RequestTimedOutError,
)
from odradek.client.producer.buffer import BufferExhaustedError, BufferPool

# The longest a test waits for another thread; never reached when the code works.
JOIN_SECONDS = 10.0


class FakeClock:
    """
    A monotonic clock the test moves.
    """

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeCondition:
    """
    A condition whose wait() runs a step of the test instead of blocking, then
    lets the fake clock run out the timeout unless the step says it was notified.
    """

    def __init__(self, clock: FakeClock, step: Callable[[], bool]) -> None:
        self.clock = clock
        self.step = step
        self.waits: list[float | None] = []
        self.notified = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        if self.step():
            return True
        assert timeout is not None
        self.clock.now += timeout
        return False

    def notify(self, n: int = 1) -> None:
        self.notified += n


class EventCondition:
    """
    A real condition that tells the test when a thread starts waiting on it.
    """

    def __init__(self, lock: threading.RLock, waiting: threading.Semaphore) -> None:
        self.condition = threading.Condition(lock)
        self.waiting = waiting

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.release()
        return self.condition.wait(timeout)

    def notify(self, n: int = 1) -> None:
        self.condition.notify(n)


def threaded_pool(total: int) -> tuple[BufferPool, threading.Semaphore]:
    """
    A pool with real conditions, and a semaphore released each time a thread waits.
    """
    waiting = threading.Semaphore(0)
    holder: list[BufferPool] = []
    pool = BufferPool(
        total, condition_factory=lambda: EventCondition(holder[0]._lock, waiting)
    )
    holder.append(pool)
    return pool, waiting


class BufferPoolTests(SynchronousTestCase):
    """
    Tests for L{BufferPool} without contention.
    """

    def test_accounting(self) -> None:
        """Allocations take memory and deallocations give it back."""
        pool = BufferPool(1000)
        pool.allocate(300, 0)
        pool.allocate(700, 0)
        self.assertEqual(pool.available_memory, 0)
        pool.deallocate(300)
        self.assertEqual(pool.available_memory, 300)
        pool.deallocate(700)
        self.assertEqual((pool.available_memory, pool.total_memory), (1000, 1000))
        self.assertEqual(pool.queued, 0)

    def test_larger_than_total(self) -> None:
        """A request over buffer.memory fails at once, naming the setting."""
        pool = BufferPool(1000)
        error = self.assertRaises(RecordTooLargeError, pool.allocate, 1001, 60_000)
        self.assertIn("buffer.memory", str(error))
        self.assertEqual(pool.available_memory, 1000)

    def test_exhausted(self) -> None:
        """Without memory freed in time, allocate() raises BufferExhaustedError."""
        clock = FakeClock()
        conditions: list[FakeCondition] = []

        def condition() -> FakeCondition:
            conditions.append(FakeCondition(clock, lambda: False))
            return conditions[-1]

        pool = BufferPool(1000, clock=clock, condition_factory=condition)
        pool.allocate(800, 0)
        error = self.assertRaises(BufferExhaustedError, pool.allocate, 500, 250)
        self.assertIsInstance(error, RequestTimedOutError)
        self.assertEqual(
            error.message,
            "Failed to allocate 500 bytes within the configured max blocking time"
            " 250 ms. Total memory: 1000 bytes. Available memory: 200 bytes.",
        )
        self.assertEqual(conditions[0].waits, [0.25])
        # The memory taken while waiting went back, and nobody waits any more.
        self.assertEqual((pool.available_memory, pool.queued), (200, 0))

    def test_zero_block_time(self) -> None:
        """With max.block.ms 0 a short pool fails without waiting."""
        clock = FakeClock()
        condition = FakeCondition(clock, lambda: False)
        pool = BufferPool(100, clock=clock, condition_factory=lambda: condition)
        pool.allocate(100, 0)
        self.assertRaises(BufferExhaustedError, pool.allocate, 1, 0)
        self.assertEqual(condition.waits, [])

    def test_memory_freed_while_waiting(self) -> None:
        """Memory given back while a thread waits completes its allocation."""
        clock = FakeClock()
        pool: BufferPool

        def free() -> bool:
            clock.now += 0.01
            pool.deallocate(300)
            return True

        condition = FakeCondition(clock, free)
        pool = BufferPool(1000, clock=clock, condition_factory=lambda: condition)
        pool.allocate(900, 0)
        pool.allocate(250, 1000)
        self.assertEqual(pool.available_memory, 150)
        self.assertEqual(condition.waits, [1.0])
        self.assertEqual(pool.queued, 0)

    def test_gathers_memory(self) -> None:
        """A waiter takes memory as it comes back, until it has enough."""
        clock = FakeClock()
        pool: BufferPool

        def free() -> bool:
            pool.deallocate(100)
            return True

        condition = FakeCondition(clock, free)
        pool = BufferPool(1000, clock=clock, condition_factory=lambda: condition)
        pool.allocate(1000, 0)
        pool.allocate(350, 1000)
        self.assertEqual(len(condition.waits), 4)
        self.assertEqual(pool.available_memory, 50)

    def test_closed(self) -> None:
        """A closed pool refuses allocations."""
        pool = BufferPool(1000)
        pool.close()
        self.assertRaises(IllegalStateError, pool.allocate, 1, 0)

    def test_close_while_waiting(self) -> None:
        """Closing the pool fails a waiting allocation and returns what it took."""
        clock = FakeClock()
        pool: BufferPool

        def close() -> bool:
            pool.deallocate(10)
            pool.close()
            return True

        condition = FakeCondition(clock, close)
        pool = BufferPool(100, clock=clock, condition_factory=lambda: condition)
        pool.allocate(100, 0)
        self.assertRaises(IllegalStateError, pool.allocate, 50, 1000)
        self.assertEqual((pool.available_memory, pool.queued), (10, 0))
        # Woken once by the deallocation and once by close().
        self.assertEqual(condition.notified, 2)


class BufferPoolThreadTests(SynchronousTestCase):
    """
    Tests for L{BufferPool} with threads that really block (no sleeps: the test
    waits for the threads to reach their wait, then frees memory).
    """

    def start(
        self, pool: BufferPool, size: int, outcome: list[str], name: str
    ) -> threading.Thread:
        """Allocate C{size} bytes on a new thread, noting C{name} in C{outcome}."""

        def run() -> None:
            try:
                pool.allocate(size, 60_000)
            except Exception as error:
                outcome.append(f"{name}: {type(error).__name__}")
            else:
                outcome.append(name)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def join(self, *threads: threading.Thread) -> None:
        """Join the threads, failing the test if one is stuck."""
        for thread in threads:
            thread.join(JOIN_SECONDS)
            self.assertFalse(thread.is_alive())

    def test_blocks_until_freed(self) -> None:
        """A thread blocks until another gives memory back."""
        pool, waiting = threaded_pool(100)
        pool.allocate(100, 0)
        outcome: list[str] = []
        thread = self.start(pool, 60, outcome, "a")
        self.assertTrue(waiting.acquire(timeout=JOIN_SECONDS))
        self.assertEqual((outcome, pool.queued), ([], 1))
        pool.deallocate(100)
        self.join(thread)
        self.assertEqual((outcome, pool.available_memory), (["a"], 40))

    def test_fifo(self) -> None:
        """A small request queues behind an earlier large one, even with room."""
        pool, waiting = threaded_pool(100)
        pool.allocate(70, 0)
        outcome: list[str] = []
        large = self.start(pool, 60, outcome, "large")
        self.assertTrue(waiting.acquire(timeout=JOIN_SECONDS))
        # The large request took the 30 bytes free; the small one must queue.
        small = self.start(pool, 10, outcome, "small")
        self.assertTrue(waiting.acquire(timeout=JOIN_SECONDS))
        self.assertEqual((pool.queued, pool.available_memory), (2, 0))
        pool.deallocate(30)
        self.join(large)
        self.assertEqual((outcome, pool.queued), (["large"], 1))
        pool.deallocate(10)
        self.join(small)
        self.assertEqual(outcome, ["large", "small"])
        self.assertEqual((pool.available_memory, pool.queued), (0, 0))

    def test_close_wakes_waiters(self) -> None:
        """close() wakes a blocked thread with IllegalStateError."""
        pool, waiting = threaded_pool(100)
        pool.allocate(100, 0)
        outcome: list[str] = []
        thread = self.start(pool, 50, outcome, "a")
        self.assertTrue(waiting.acquire(timeout=JOIN_SECONDS))
        pool.close()
        self.join(thread)
        self.assertEqual(outcome, ["a: IllegalStateError"])
