"""
Tests for L{odradek.client}.
"""
