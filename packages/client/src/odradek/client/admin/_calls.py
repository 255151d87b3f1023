"""
How the admin client runs a call: within a deadline (the call's timeout, or
C{default.api.timeout.ms}), retrying what failed with a retriable error after an
exponential backoff (C{retry.backoff.ms} doubling up to C{retry.backoff.max.ms},
with 20% jitter) at most C{retries} times, as Kafka's C{KafkaAdminClient} does.

L{CallContext} holds one call's deadline and tries; L{Outcomes} the outcome of
each item of a call that acts on several; L{run_batch} sends the items still
pending to one broker (found again on each try) until each has a final outcome.
A call that runs out of time or tries fails its pending items with
L{RequestTimedOutError <odradek.client.errors.RequestTimedOutError>}, whose
C{__cause__} is the last error seen.
"""

from __future__ import annotations

import random as _random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import attrs
from kio.static.protocol import RequestPayload, ResponsePayload
from twisted.internet.defer import CancelledError, Deferred, FirstError, gatherResults
from twisted.internet.defer import TimeoutError as DeferredTimeoutError
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from odradek.client import errors
from odradek.client.admin.results import ItemResults
from odradek.client.network.connection import KafkaConnection

__all__ = [
    "CallContext",
    "Outcomes",
    "missing_result",
    "run_batch",
    "run_once",
]

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

_JITTER = 0.2

#: Errors after which the metadata is refreshed before the next try.
_STALE_METADATA: tuple[type[errors.KafkaError], ...] = (
    errors.NotControllerError,
    errors.NotLeaderOrFollowerError,
    errors.LeaderNotAvailableError,
    errors.UnknownTopicOrPartitionError,
    errors.NetworkError,
)


class _DeadlineReached(errors.RequestTimedOutError):
    """A wait reached the call's deadline: the error seen before it is the cause."""


def missing_result(item: object) -> errors.KafkaError:
    """@return: the error of an item the broker's answer left out."""
    return errors.KafkaError(
        f"the broker's response did not contain a result for {item}"
    )


@attrs.define(eq=False)
class CallContext:
    """
    One admin call's deadline, tries and last error.

    @ivar name: what the call does, for error messages (C{"createTopics"}).
    @ivar reactor: the clock.
    @ivar deadline: when the call must end, in the reactor's seconds.
    @ivar timeout_ms: the call's whole timeout, for error messages.
    @ivar request_timeout_ms: C{request.timeout.ms}: the longest wait for one
        response.
    @ivar retries: how many times to retry at most.
    @ivar retry_backoff_ms: the wait before the first retry.
    @ivar retry_backoff_max_ms: the longest wait between tries.
    @ivar random: returns a float in [0, 1), for the backoff jitter.
    @ivar tries: the tries that failed so far.
    @ivar stale_metadata: whether the metadata must be refreshed before the next
        try (an error said it is out of date).
    """

    name: str
    reactor: IReactorTime
    deadline: float
    timeout_ms: float
    request_timeout_ms: int
    retries: int
    retry_backoff_ms: int
    retry_backoff_max_ms: int
    random: Callable[[], float] = _random.random
    tries: int = 0
    stale_metadata: bool = False

    def remaining_ms(self) -> float:
        """@return: the time left until the deadline, in milliseconds."""
        return (self.deadline - self.reactor.seconds()) * 1000

    def expired(self) -> bool:
        """@return: whether the deadline has passed."""
        return self.remaining_ms() <= 0

    def response_timeout_ms(self) -> int:
        """
        @return: how long to wait for the next response: C{request.timeout.ms},
            but no later than the deadline.
        """
        return max(1, int(min(self.request_timeout_ms, self.remaining_ms())))

    async def wait(self, waiting: Deferred[T]) -> T:
        """
        Wait for a Deferred, no later than the deadline.

        @param waiting: what to wait for; cancelled at the deadline.
        @return: its result.
        @raise errors.RequestTimedOutError: at the deadline.
        """
        remaining = self.remaining_ms()
        if remaining <= 0:
            waiting.cancel()
            waiting.addErrback(lambda _: None)
            raise _DeadlineReached(f"{self.name} reached its deadline")
        waiting.addTimeout(remaining / 1000, self.reactor)
        try:
            return await waiting
        except DeferredTimeoutError:
            raise _DeadlineReached(f"{self.name} reached its deadline") from None

    def fork(self) -> CallContext:
        """
        @return: a context for one part of this call (sent to one broker among
            several), with the same deadline and no tries yet.
        """
        return attrs.evolve(self, tries=0, stale_metadata=False)

    def noted(self, error: BaseException) -> None:
        """Take note of a retriable error: it may call for fresh metadata."""
        if isinstance(error, _STALE_METADATA):
            self.stale_metadata = True

    async def backoff(self) -> bool:
        """
        Count a failed try and wait before the next one (no later than the
        deadline).

        @return: whether another try may be made: C{False} when the retries are
            used up or the deadline has passed.
        """
        self.tries += 1
        if self.tries > self.retries or self.expired():
            return False
        delay = self.retry_backoff_ms * 2 ** min(self.tries - 1, 32)
        delay *= 1 - _JITTER + 2 * _JITTER * self.random()
        delay = min(delay, self.retry_backoff_max_ms, self.remaining_ms())
        await deferLater(self.reactor, max(delay, 0) / 1000)
        return not self.expired()

    def timed_out(self, last: BaseException | None) -> errors.RequestTimedOutError:
        """
        @param last: the last error seen, if any: the new error's cause.
        @return: the error of a call that ran out of time or tries.
        """
        if self.tries > self.retries:
            tries = "1 try" if self.tries == 1 else f"{self.tries} tries"
            detail = f"{self.name} failed after {tries}"
        else:
            detail = f"{self.name} timed out after {int(self.timeout_ms)} ms"
        if isinstance(last, _DeadlineReached):
            last = None
        if last is not None:
            detail += f"; the last error was {last}"
        error = errors.RequestTimedOutError(detail)
        error.__cause__ = last
        return error


def _unique(keys: Iterable[K]) -> tuple[K, ...]:
    return tuple(dict.fromkeys(keys))


@attrs.define(eq=False)
class Outcomes(Generic[K, V]):
    """
    The items of a call and what became of each: a value, a final error, or
    still pending (with the last retriable error seen).

    @ivar keys: the items, in order.
    """

    keys: tuple[K, ...] = attrs.field(converter=_unique)
    _done: dict[K, V | BaseException] = attrs.field(init=False, factory=dict)
    _last: dict[K, BaseException] = attrs.field(init=False, factory=dict)

    @property
    def pending(self) -> list[K]:
        """The items without a final outcome, in order."""
        return [key for key in self.keys if key not in self._done]

    @property
    def done(self) -> dict[K, V | BaseException]:
        """The final outcome of each settled item."""
        return dict(self._done)

    def settle(self, key: K, outcome: V | BaseException) -> None:
        """Give an item its final outcome."""
        self._done[key] = outcome

    def retry(self, key: K, error: BaseException) -> None:
        """
        Keep an item pending after a retriable error, which becomes its last
        error unless it is only the deadline passing.
        """
        if not isinstance(error, _DeadlineReached) or key not in self._last:
            self._last[key] = error

    def fail_pending(self, error: BaseException) -> None:
        """Give every pending item the same final error."""
        for key in self.pending:
            self._done[key] = error

    def time_out(self, context: CallContext) -> None:
        """Fail the pending items: they ran out of time or tries."""
        for key in self.pending:
            self._done[key] = context.timed_out(self._last.get(key))

    def results(self) -> ItemResults[K, V]:
        """@return: the outcomes as L{ItemResults}; every item must be settled."""
        return ItemResults.of(self.keys, self._done)


def _retriable(error: BaseException) -> bool:
    return isinstance(error, errors.KafkaError) and error.retriable


async def run_batch(
    context: CallContext,
    outcomes: Outcomes[K, V],
    connect: Callable[[], Awaitable[KafkaConnection]],
    build: Callable[[KafkaConnection, Sequence[K]], RequestPayload],
    parse: Callable[[ResponsePayload], Mapping[K, V | BaseException]],
    retry_item: Callable[[BaseException], bool] = lambda error: False,
) -> None:
    """
    Send the pending items to one broker, in one request per try, until each
    has a final outcome.

    An error of the whole try (no connection, no response, a top-level error
    that C{parse} raises) is retried when retriable and otherwise becomes the
    outcome of every pending item. An item's own error is retried when
    C{retry_item} says so, else final.

    @param context: the call.
    @param outcomes: the items; settled when this returns.
    @param connect: gets the connection to the broker to send to.
    @param build: makes the request for some items, in the connection's version.
    @param parse: reads the response: each item's value or error.
    @param retry_item: whether an item's error is worth another try.
    """
    while outcomes.pending:
        if context.expired():
            outcomes.time_out(context)
            return
        pending = outcomes.pending
        try:
            connection = await connect()
            request = build(connection, pending)
            response: Any = await context.wait(
                connection.send(request, timeout_ms=context.response_timeout_ms())
            )
            answered = parse(response)
        except CancelledError:
            raise
        except Exception as error:
            if not _retriable(error):
                outcomes.fail_pending(error)
                return
            context.noted(error)
            for key in pending:
                outcomes.retry(key, error)
        else:
            for key in pending:
                outcome = answered.get(key)
                if outcome is None and key not in answered:
                    outcome = missing_result(key)
                if isinstance(outcome, BaseException) and retry_item(outcome):
                    context.noted(outcome)
                    outcomes.retry(key, outcome)
                else:
                    outcomes.settle(key, outcome)  # type: ignore[arg-type]
        if outcomes.pending and not await context.backoff():
            outcomes.time_out(context)
            return


async def run_once(context: CallContext, attempt: Callable[[], Awaitable[T]]) -> T:
    """
    Make a call of one item: try until an attempt succeeds, fails with an error
    that is not retriable, or the call runs out of time or tries.

    @param context: the call.
    @param attempt: one try.
    @return: the result of the try that succeeded.
    @raise errors.RequestTimedOutError: when out of time or tries.
    @raise BaseException: the error of a try that is not retriable.
    """
    last: BaseException | None = None
    while not context.expired():
        try:
            return await attempt()
        except CancelledError:
            raise
        except Exception as error:
            if not _retriable(error):
                raise
            context.noted(error)
            if not isinstance(error, _DeadlineReached) or last is None:
                last = error
        if not await context.backoff():
            break
    raise context.timed_out(last)


def gather(waiting: Iterable[Deferred[T]]) -> Deferred[list[T]]:
    """
    @param waiting: Deferreds that do not fail (but when cancelled).
    @return: a Deferred firing with their results, in order; cancelling it
        cancels them.
    """
    return gatherResults(list(waiting), consumeErrors=True).addErrback(_first_failure)


def _first_failure(failure: Failure) -> Failure:
    error = failure.value
    if isinstance(error, FirstError):
        return error.subFailure
    return failure
