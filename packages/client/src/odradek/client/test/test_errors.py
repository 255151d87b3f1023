"""
Tests for L{odradek.client.errors}, the table of Kafka error codes.
"""

from __future__ import annotations

import pickle

from kio.schema.errors import ErrorCode
from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors


class ErrorTableTests(SynchronousTestCase):
    """
    The table has one class for every error code Kafka defines, agreeing with kio.
    """

    def test_every_kio_code_has_a_class(self) -> None:
        """
        Every non-zero code of kio's C{ErrorCode} maps to a class with its code.
        """
        expected = {int(code) for code in ErrorCode if code != 0}
        self.assertEqual(set(errors.error_classes()), expected)

    def test_names_agree_with_kio(self) -> None:
        """
        Each class's C{name} is Kafka's upper-case name for its code.
        """
        for code in ErrorCode:
            if code == 0:
                continue
            with self.subTest(code=int(code)):
                self.assertEqual(errors.error_for_code(code).name, code.name.upper())

    def test_retriable_agrees_with_kio(self) -> None:
        """
        Each class is retriable exactly when kio marks its code retriable.
        """
        for code in ErrorCode:
            if code == 0:
                continue
            error = errors.error_for_code(code)
            with self.subTest(code=int(code)):
                self.assertEqual(error.retriable, code.retriable)
                self.assertEqual(
                    issubclass(error, errors.RetriableError), code.retriable
                )

    def test_codes_agree(self) -> None:
        """
        The class found for a code carries that code.
        """
        for code, error in errors.error_classes().items():
            self.assertEqual(error.code, code)

    def test_names_unique(self) -> None:
        """
        No two codes share a Kafka name or a class name.
        """
        classes = list(errors.error_classes().values())
        self.assertEqual(len({c.name for c in classes}), len(classes))
        self.assertEqual(len({c.__name__ for c in classes}), len(classes))

    def test_classes_exported(self) -> None:
        """
        Every class in the table is a module attribute listed in C{__all__}.
        """
        for error in errors.error_classes().values():
            self.assertIs(getattr(errors, error.__name__), error)
            self.assertIn(error.__name__, errors.__all__)

    def test_class_names(self) -> None:
        """
        Classes are named after Kafka's Java exceptions, with Error for Exception.
        """
        self.assertIs(errors.error_for_code(2), errors.CorruptRecordError)
        self.assertIs(errors.error_for_code(87), errors.InvalidRecordError)
        self.assertIs(errors.error_for_code(10), errors.RecordTooLargeError)
        self.assertIs(errors.error_for_code(6), errors.NotLeaderOrFollowerError)
        self.assertIs(errors.error_for_code(3), errors.UnknownTopicOrPartitionError)
        self.assertIs(errors.error_for_code(35), errors.UnsupportedVersionError)
        self.assertIs(errors.error_for_code(-1), errors.UnknownServerError)
        self.assertIs(errors.error_for_code(76), errors.UnsupportedCompressionTypeError)
        self.assertIs(errors.error_for_code(7), errors.RequestTimedOutError)

    def test_duplicate_code_refused(self) -> None:
        """
        Declaring a second class for a code already in the table fails.
        """
        with self.assertRaises(ValueError) as caught:

            class Again(errors.KafkaError, code=6, name="NOT_LEADER_OR_FOLLOWER"):
                pass

        self.assertIn("NotLeaderOrFollowerError", str(caught.exception))


class LookupTests(SynchronousTestCase):
    """
    L{errors.error_for_code} and L{errors.raise_for_code} find classes by code.
    """

    def test_unknown_code(self) -> None:
        """
        A code the table does not know gives a KafkaError subclass carrying it.
        """
        error = errors.error_for_code(999)
        self.assertTrue(issubclass(error, errors.UnknownErrorCode))
        self.assertTrue(issubclass(error, errors.KafkaError))
        self.assertEqual(error.code, 999)
        self.assertEqual(error.name, "UNKNOWN_ERROR_CODE_999")
        self.assertFalse(error.retriable)

    def test_unknown_code_class_is_stable(self) -> None:
        """
        Looking up the same unknown code twice gives the same class.
        """
        self.assertIs(errors.error_for_code(4242), errors.error_for_code(4242))

    def test_unknown_codes_not_in_table(self) -> None:
        """
        Classes made for unknown codes do not join the table of known codes.
        """
        errors.error_for_code(777)
        self.assertNotIn(777, errors.error_classes())

    def test_zero(self) -> None:
        """
        Code 0 means success and has no class.
        """
        self.assertRaises(ValueError, errors.error_for_code, 0)

    def test_raise_for_zero(self) -> None:
        """
        L{errors.raise_for_code} does nothing for code 0.
        """
        errors.raise_for_code(0)

    def test_raise_for_code(self) -> None:
        """
        L{errors.raise_for_code} raises the class for the code with the message.
        """
        with self.assertRaises(errors.NotLeaderOrFollowerError) as caught:
            errors.raise_for_code(6, "partition 3 moved")
        self.assertEqual(caught.exception.message, "partition 3 moved")
        self.assertIsInstance(caught.exception, errors.RetriableError)

    def test_raise_for_unknown_code(self) -> None:
        """
        L{errors.raise_for_code} raises a KafkaError carrying an unknown code.
        """
        with self.assertRaises(errors.KafkaError) as caught:
            errors.raise_for_code(31000)
        self.assertEqual(caught.exception.code, 31000)


class KafkaErrorTests(SynchronousTestCase):
    """
    Instances of L{errors.KafkaError} carry their code, name and message.
    """

    def test_str_with_message(self) -> None:
        """
        C{str()} gives the Kafka name followed by the message.
        """
        error = errors.NotLeaderOrFollowerError("broker 2 leads now")
        self.assertEqual(str(error), "NOT_LEADER_OR_FOLLOWER: broker 2 leads now")

    def test_str_without_message(self) -> None:
        """
        Without a message, C{str()} gives the Kafka name.
        """
        self.assertEqual(str(errors.TopicExistsError()), "TOPIC_ALREADY_EXISTS")

    def test_instance_attributes(self) -> None:
        """
        The code, name and retriable flag are readable from an instance.
        """
        error = errors.UnknownTopicOrPartitionError()
        self.assertEqual(
            (error.code, error.name, error.retriable),
            (3, "UNKNOWN_TOPIC_OR_PARTITION", True),
        )
        self.assertIsNone(error.message)

    def test_base_is_unknown_server_error(self) -> None:
        """
        A bare KafkaError stands for UNKNOWN_SERVER_ERROR on the wire.
        """
        self.assertEqual(errors.KafkaError.code, -1)
        self.assertEqual(errors.KafkaError.name, "UNKNOWN_SERVER_ERROR")

    def test_repr(self) -> None:
        """
        C{repr()} names the class and the message.
        """
        self.assertEqual(
            repr(errors.ProducerFencedError("epoch 4")),
            "ProducerFencedError('epoch 4')",
        )

    def test_pickle(self) -> None:
        """
        Errors survive pickling with their class and message.
        """
        error = pickle.loads(pickle.dumps(errors.InvalidRecordError("bad key")))
        self.assertIsInstance(error, errors.InvalidRecordError)
        self.assertEqual(error.message, "bad key")

    def test_pickle_unknown_code(self) -> None:
        """
        Errors for unknown codes survive pickling with their code and message.
        """
        original = errors.error_for_code(5000)("from the future")
        error = pickle.loads(pickle.dumps(original))
        self.assertIs(type(error), type(original))
        self.assertEqual(error.message, "from the future")

    def test_records_names(self) -> None:
        """
        The names the record batch code raises exist with their codes.
        """
        self.assertEqual(errors.CorruptRecordError.code, 2)
        self.assertEqual(errors.InvalidRecordError.code, 87)
        self.assertEqual(errors.RecordTooLargeError.code, 10)
        self.assertEqual(errors.UnsupportedCompressionTypeError.code, 76)
