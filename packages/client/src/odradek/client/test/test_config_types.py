"""
Tests for L{odradek.client._configtypes}: L{load_object}, which resolves import
paths for C{class} keys, and the L{Password} type.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from odradek.client._configtypes import Password, load_object
from odradek.client.config import ConfigError


class LoadObjectTests(SynchronousTestCase):
    """
    Tests for L{load_object}.
    """

    def test_load_object(self) -> None:
        """Both import path forms find the object."""
        self.assertIs(load_object("os.path:join"), load_object("os.path.join"))
        self.assertIs(load_object("odradek.client.config:ConfigError"), ConfigError)

    def test_load_object_errors(self) -> None:
        """A malformed or missing path is a ValueError naming it."""
        for path in ("nodots", "no_such_module_xyz.Name", "os.path:no_such_name"):
            error = self.assertRaises(ValueError, load_object, path)
            self.assertIn(path.split(".")[0].split(":")[0], str(error))


class PasswordTests(SynchronousTestCase):
    """
    Tests for L{Password}.
    """

    def test_password_hidden(self) -> None:
        """A Password hides its value from repr and str."""
        secret = Password("hunter2")
        self.assertNotIn("hunter2", repr(secret))
        self.assertNotIn("hunter2", str(secret))
        self.assertEqual(secret.value, "hunter2")
