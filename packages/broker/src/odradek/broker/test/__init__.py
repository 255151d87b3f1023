"""
Tests for L{odradek.broker}.
"""
