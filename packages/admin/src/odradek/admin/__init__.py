"""
Odradek's admin tools: Kafka-style command-line scripts and a web dashboard.
"""

__all__: list[str] = []
