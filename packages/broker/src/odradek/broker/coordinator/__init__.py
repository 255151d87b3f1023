"""
The broker's coordinators: L{group<odradek.broker.coordinator.group>} runs consumer
groups and keeps their committed offsets in C{__consumer_offsets}.
"""

__all__: list[str] = []
