"""
Tests for L{odradek.admin}.
"""
