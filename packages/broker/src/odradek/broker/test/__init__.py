"""
Tests for L{odradek.broker}.

Hypothesis runs derandomized and without deadlines here, so that every run of the
unit tests explores the same examples and a slow machine cannot fail a test.
"""

from hypothesis import settings

settings.register_profile("odradek", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("odradek")
