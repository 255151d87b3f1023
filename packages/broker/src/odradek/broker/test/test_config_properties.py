"""
Tests for L{odradek.broker.config.load_properties}, the Java properties format.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.config import ConfigError, load_properties


class LoadPropertiesTests(SynchronousTestCase):
    """
    L{load_properties} reads the Java properties format.
    """

    def test_separators(self) -> None:
        """
        C{=}, C{:} and white space each separate a key from its value, with white
        space around them ignored.
        """
        text = "a=1\nb: 2\nc 3\nd   =   4\ne\t:\t5\n"
        self.assertEqual(
            load_properties(text), {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}
        )

    def test_trailing_white_space_kept(self) -> None:
        """
        White space at the end of a value belongs to the value.
        """
        self.assertEqual(load_properties("a = 1  \n"), {"a": "1  "})

    def test_comments_and_blank_lines(self) -> None:
        """
        Lines starting with C{#} or C{!}, after optional white space, and blank
        lines are skipped; C{#} later in a line is part of the value.
        """
        text = "# one\n  ! two\n\n   \t\na=1 # not a comment\n"
        self.assertEqual(load_properties(text), {"a": "1 # not a comment"})

    def test_key_without_value(self) -> None:
        """
        A key alone on its line has the empty value.
        """
        self.assertEqual(load_properties("a\nb=\n"), {"a": "", "b": ""})

    def test_continuation(self) -> None:
        """
        A line ending in a backslash continues on the next one, whose leading white
        space is dropped.
        """
        text = "listeners=PLAINTEXT://:9092,\\\n    SSL://:9093\nnext=1\n"
        self.assertEqual(
            load_properties(text),
            {"listeners": "PLAINTEXT://:9092,SSL://:9093", "next": "1"},
        )

    def test_continuation_of_continuation(self) -> None:
        """
        A continued line may itself continue; a continuation line starting with
        C{#} is not a comment.
        """
        text = "a=1\\\n  2\\\n  #3\n"
        self.assertEqual(load_properties(text), {"a": "12#3"})

    def test_even_backslashes_do_not_continue(self) -> None:
        """
        A line ending in an escaped backslash ends there.
        """
        self.assertEqual(load_properties("a=x\\\\\nb=2\n"), {"a": "x\\", "b": "2"})

    def test_comment_does_not_continue(self) -> None:
        """
        A comment ending in a backslash does not swallow the next line.
        """
        self.assertEqual(load_properties("# note \\\na=1\n"), {"a": "1"})

    def test_continuation_at_end(self) -> None:
        """
        A backslash on the last line continues into nothing.
        """
        self.assertEqual(load_properties("a=1\\"), {"a": "1"})

    def test_escapes(self) -> None:
        """
        C{\\t}, C{\\n}, C{\\r}, C{\\f} and C{\\uXXXX} stand for their characters; a
        backslash before any other character stands for that character.
        """
        text = "a=\\t\\n\\r\\f\\u00e9\\u0041\\q\\\\\n"
        self.assertEqual(load_properties(text), {"a": "\t\n\r\féAq\\"})

    def test_escaped_separators_in_key(self) -> None:
        """
        Escaped C{=}, C{:}, C{#} and spaces belong to the key.
        """
        text = "a\\=b\\:c\\ d\\#=value\n"
        self.assertEqual(load_properties(text), {"a=b:c d#": "value"})

    def test_line_endings(self) -> None:
        """
        CRLF and a lone CR end lines as LF does.
        """
        self.assertEqual(
            load_properties("a=1\r\nb=2\rc=3"), {"a": "1", "b": "2", "c": "3"}
        )

    def test_later_line_wins(self) -> None:
        """
        A key given twice has its last value.
        """
        self.assertEqual(load_properties("a=1\na=2\n"), {"a": "2"})

    def test_malformed_unicode_escape(self) -> None:
        """
        A C{\\u} not followed by four hex digits is an error naming the line.
        """
        error = self.assertRaises(ConfigError, load_properties, "a=1\nb=\\u00zz\n")
        self.assertIn("line 2", error.message)

    def test_non_ascii(self) -> None:
        """
        Text outside ASCII passes through unchanged.
        """
        self.assertEqual(
            load_properties("name=Odradek é 🦉\n"), {"name": "Odradek é 🦉"}
        )
