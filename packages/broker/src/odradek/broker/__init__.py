"""
Odradek's broker: a Kafka-compatible broker driven by the Twisted reactor.
"""

__all__: list[str] = []
