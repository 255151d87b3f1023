"""
The outcome of an admin call that acts on several items (topics, partitions,
configuration resources, groups ...): L{ItemResults}, a read-only mapping from
each item to its value, where an item that failed raises its own error so that one
failure does not hide the others' outcomes.

Example::

    results = admin.create_topics([NewTopic("a", 1, 1), NewTopic("b", 1, 1)])
    results.error("a")           # None, or the exception for topic a
    results["b"]                 # b's CreatedTopic, or raises b's exception
    results.values_ok()          # the topics created
    results.all()                # every value, or raise the first error
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Generic, TypeVar

import attrs

__all__ = ["ItemResults", "ListConsumerGroupsResult"]

K = TypeVar("K")
V = TypeVar("V")


@attrs.frozen(eq=False)
class ItemResults(Mapping[K, V], Generic[K, V]):
    """
    Per-item results: for each item, in the order the items were given, a value
    or an error.

    C{results[item]} returns the item's value or raises its error (a L{KafkaError
    <odradek.client.errors.KafkaError>} with the broker's message, most often);
    iterating gives the items; C{len} counts them, failed ones included.
    Comparing two results compares their items, values and errors.
    """

    _keys: tuple[K, ...]
    _values: Mapping[K, V]
    _errors: Mapping[K, BaseException]

    @classmethod
    def of(
        cls, keys: Iterable[K], outcomes: Mapping[K, V | BaseException]
    ) -> ItemResults[K, V]:
        """
        @param keys: the items, in order; each must have an outcome.
        @param outcomes: for each item, its value or its error (an exception).
        @return: the results.
        @raise KeyError: if an item has no outcome.
        """
        ordered = tuple(dict.fromkeys(keys))
        values: dict[K, V] = {}
        failures: dict[K, BaseException] = {}
        for key in ordered:
            outcome = outcomes[key]
            if isinstance(outcome, BaseException):
                failures[key] = outcome
            else:
                values[key] = outcome
        return cls(ordered, values, failures)

    def __getitem__(self, key: K) -> V:
        """
        @return: the item's value.
        @raise KeyError: if C{key} is not one of the items.
        @raise BaseException: the item's error, if it failed.
        """
        error = self._errors.get(key)
        if error is not None:
            raise error
        return self._values[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._values or key in self._errors

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ItemResults):
            return NotImplemented
        return (
            self._keys == other._keys
            and dict(self._values) == dict(other._values)
            and dict(self._errors) == dict(other._errors)
        )

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]

    def error(self, key: K) -> BaseException | None:
        """
        @return: the item's error, or C{None} if it succeeded.
        @raise KeyError: if C{key} is not one of the items.
        """
        if key not in self:
            raise KeyError(key)
        return self._errors.get(key)

    @property
    def errors(self) -> dict[K, BaseException]:
        """The error of each item that failed, in item order."""
        return {key: self._errors[key] for key in self._keys if key in self._errors}

    def values_ok(self) -> dict[K, V]:
        """@return: the value of each item that succeeded, in item order."""
        return {key: self._values[key] for key in self._keys if key in self._values}

    def all(self) -> dict[K, V]:
        """
        @return: the value of every item, in item order.
        @raise BaseException: the error of the first item (in item order) that
            failed, if any did.
        """
        for key in self._keys:
            error = self._errors.get(key)
            if error is not None:
                raise error
        return self.values_ok()

    def __repr__(self) -> str:
        parts = []
        for key in self._keys:
            error = self._errors.get(key)
            shown = repr(error) if error is not None else repr(self._values[key])
            parts.append(f"{key!r}: {shown}")
        return "ItemResults({" + ", ".join(parts) + "})"


@attrs.frozen
class ListConsumerGroupsResult(Generic[V]):
    """
    What C{list_consumer_groups} found: each broker lists the groups it
    coordinates, and a broker that failed does not hide the others' groups.

    @ivar valid: the groups listed, each once, in the order found.
    @ivar errors: the error of each broker that could not list its groups.
    """

    valid: tuple[V, ...]
    errors: tuple[BaseException, ...] = ()

    def all(self) -> list[V]:
        """
        @return: every group listed.
        @raise BaseException: the first broker's error, if any broker failed.
        """
        if self.errors:
            raise self.errors[0]
        return list(self.valid)
