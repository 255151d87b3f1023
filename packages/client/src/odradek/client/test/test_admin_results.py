"""
Tests for L{odradek.client.admin.results}.
"""

from __future__ import annotations

from collections.abc import Mapping

from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.admin.results import ItemResults, ListConsumerGroupsResult


class ItemResultsTests(SynchronousTestCase):
    """
    L{ItemResults} maps each item to its value, or raises the item's error.
    """

    def setUp(self) -> None:
        self.exists = errors.TopicExistsError("topic b exists")
        self.denied = errors.TopicAuthorizationError("topic d")
        self.results: ItemResults[str, int | None] = ItemResults.of(
            ["a", "b", "c", "d"],
            {"a": 1, "b": self.exists, "c": None, "d": self.denied},
        )

    def test_mapping(self) -> None:
        """It is a mapping over every item, in the order given."""
        self.assertIsInstance(self.results, Mapping)
        self.assertEqual(list(self.results), ["a", "b", "c", "d"])
        self.assertEqual(len(self.results), 4)
        self.assertIn("b", self.results)
        self.assertNotIn("e", self.results)

    def test_getitem(self) -> None:
        """Indexing gives a value (C{None} too) or raises the item's error."""
        self.assertEqual(self.results["a"], 1)
        self.assertIsNone(self.results["c"])
        raised = self.assertRaises(errors.TopicExistsError, lambda: self.results["b"])
        self.assertIs(raised, self.exists)
        self.assertRaises(KeyError, lambda: self.results["e"])

    def test_error(self) -> None:
        """C{error} gives an item's error or C{None}; an unknown item is a KeyError."""
        self.assertIs(self.results.error("b"), self.exists)
        self.assertIsNone(self.results.error("a"))
        self.assertIsNone(self.results.error("c"))
        self.assertRaises(KeyError, self.results.error, "e")

    def test_errors_and_values(self) -> None:
        """C{errors} and C{values_ok} split the items, each in item order."""
        self.assertEqual(self.results.errors, {"b": self.exists, "d": self.denied})
        self.assertEqual(list(self.results.errors), ["b", "d"])
        self.assertEqual(self.results.values_ok(), {"a": 1, "c": None})

    def test_all_raises_first_error(self) -> None:
        """C{all} raises the error of the first failed item, in item order."""
        raised = self.assertRaises(errors.TopicExistsError, self.results.all)
        self.assertIs(raised, self.exists)

    def test_all(self) -> None:
        """Without errors, C{all} gives every value, in item order."""
        results = ItemResults.of(["y", "x"], {"x": 1, "y": 2})
        self.assertEqual(list(results.all().items()), [("y", 2), ("x", 1)])

    def test_duplicates(self) -> None:
        """An item given twice counts once."""
        results = ItemResults.of(["x", "x"], {"x": 1})
        self.assertEqual(list(results), ["x"])

    def test_missing_outcome(self) -> None:
        """Every item needs an outcome."""
        self.assertRaises(KeyError, ItemResults.of, ["x"], {})

    def test_equality(self) -> None:
        """Results compare by items, values and errors; they are not hashable."""
        same = ItemResults.of(
            ["a", "b", "c", "d"],
            {"a": 1, "b": self.exists, "c": None, "d": self.denied},
        )
        self.assertEqual(self.results, same)
        self.assertNotEqual(self.results, ItemResults.of(["a"], {"a": 1}))
        self.assertNotEqual(self.results, {"a": 1})
        self.assertRaises(TypeError, hash, self.results)

    def test_repr(self) -> None:
        """The repr shows each item's value or error."""
        self.assertEqual(
            repr(ItemResults.of(["a", "b"], {"a": 1, "b": self.exists})),
            "ItemResults({'a': 1, 'b': TopicExistsError('topic b exists')})",
        )


class ListConsumerGroupsResultTests(SynchronousTestCase):
    """
    L{ListConsumerGroupsResult} keeps the groups found and the brokers' errors.
    """

    def test_all(self) -> None:
        """C{all} lists the groups when no broker failed."""
        self.assertEqual(ListConsumerGroupsResult(("g1", "g2")).all(), ["g1", "g2"])

    def test_all_raises(self) -> None:
        """C{all} raises the first broker's error; C{valid} still has the groups."""
        error = errors.CoordinatorLoadInProgressError()
        result = ListConsumerGroupsResult(("g1",), (error,))
        self.assertIs(self.assertRaises(type(error), result.all), error)
        self.assertEqual(result.valid, ("g1",))
