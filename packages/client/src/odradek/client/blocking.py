"""
The thread the blocking API's reactor runs on.

The SDK's core runs on a Twisted reactor. Ordinary applications never see it: the
first blocking client they make starts the global reactor in a daemon thread that
the SDK owns (L{ReactorThread.shared}), and every later client shares it. An
application that runs the reactor itself (in another thread) gets that reactor used
instead. Calling a blocking method from the reactor's own thread would deadlock, so
it raises L{errors.IllegalStateError<odradek.client.errors.IllegalStateError>}:
code on the reactor thread uses the Twisted face (L{odradek.client.TwistedProducer}).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import maybeDeferred
from twisted.python.failure import Failure

from odradek.client import errors

__all__ = ["ReactorThread"]

_shared_lock = threading.Lock()
_shared: ReactorThread | None = None


class ReactorThread:
    """
    A reactor and the thread it runs on, with calls into it from other threads.

    @ivar reactor: the reactor.
    @ivar owned: whether the SDK started the reactor (in its own daemon thread).
    """

    def __init__(self, reactor: Any) -> None:
        """
        @param reactor: the reactor to run calls on; started in a daemon thread by
            L{start} unless it runs already.
        """
        self.reactor = reactor
        self.owned = False
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._lock = threading.Lock()

    @classmethod
    def shared(cls) -> ReactorThread:
        """
        @return: the process's one reactor thread, on the global reactor, started.
        """
        global _shared
        with _shared_lock:
            if _shared is None:
                from twisted.internet import reactor

                _shared = cls(reactor)
            _shared.start()
            return _shared

    def start(self) -> None:
        """
        Make sure the reactor runs: if it does not, run it in a daemon thread
        (without signal handlers, which only the main thread may install).
        """
        with self._lock:
            if self._started.is_set():
                return
            if self._thread is None:  # else another caller started it: wait too
                if self.reactor.running:
                    self._started.set()
                    return
                self.owned = True
                self.reactor.callWhenRunning(self._started.set)
                self._thread = threading.Thread(
                    target=self.reactor.run,
                    kwargs={"installSignalHandlers": False},
                    name="odradek-reactor",
                    daemon=True,
                )
                self._thread.start()
        if not self._started.wait(30):
            raise errors.IllegalStateError("the reactor thread did not start in 30 s")

    def in_reactor_thread(self) -> bool:
        """@return: whether the caller runs on the reactor's thread."""
        if self._thread is not None:
            return threading.current_thread() is self._thread
        from twisted.python import threadable

        return bool(threadable.isInIOThread())  # type: ignore[no-untyped-call]

    def call_soon(self, function: Callable[..., object], *args: object) -> None:
        """Run C{function(*args)} on the reactor thread, without waiting."""
        self.reactor.callFromThread(function, *args)

    def call(
        self,
        function: Callable[..., Any],
        *args: object,
        timeout: float | None = None,
    ) -> Any:
        """
        Run C{function(*args)} on the reactor thread and wait for its result (or the
        result of the Deferred it returns).

        @param timeout: seconds to wait at most; C{None} waits for ever.
        @return: the result.
        @raise BaseException: whatever the function raised or its Deferred failed
            with.
        @raise errors.RequestTimedOutError: if the result did not come within
            C{timeout} (the call itself goes on).
        @raise errors.IllegalStateError: if called from the reactor thread, where
            waiting would deadlock, or while the reactor does not run.
        """
        if self.in_reactor_thread():
            raise errors.IllegalStateError(
                "a blocking Odradek call was made on the reactor thread; "
                "code running on the reactor must use the Twisted API "
                "(odradek.client.TwistedProducer)"
            )
        if not self.reactor.running:
            raise errors.IllegalStateError(
                "the client's reactor is not running: nothing would answer"
            )
        done = threading.Event()
        outcome: list[object] = []

        def finished(result: object) -> None:
            outcome.append(result)
            done.set()

        def run() -> None:
            maybeDeferred(function, *args).addBoth(finished)

        self.reactor.callFromThread(run)
        if not done.wait(timeout):
            raise errors.RequestTimedOutError(
                f"no answer from the client's I/O thread within {timeout} s"
            )
        result = outcome[0]
        if isinstance(result, Failure):
            result.raiseException()
        return result

    def stop(self, timeout: float = 30) -> None:
        """
        Stop the reactor if this object started it (L{owned}), and wait for its
        thread to end; a reactor someone else runs is left alone.

        @param timeout: seconds to wait for the thread at most.
        """
        with self._lock:
            thread = self._thread
            if not self.owned or thread is None:
                return
            self.reactor.callFromThread(self.reactor.stop)
        thread.join(timeout)
