"""
Odradek's client SDK: the Kafka wire protocol, the record batch format and, as they
arrive, the producer, consumer and admin client.
"""

__all__: list[str] = []
