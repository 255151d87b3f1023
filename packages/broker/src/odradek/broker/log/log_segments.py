"""
L{LogSegments}: a partition's segments, sorted by base offset (Kafka's
C{LogSegments}).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

import attrs

from odradek.broker.log.segment import LogSegment

__all__ = ["LogSegments"]


@attrs.define(eq=False)
class LogSegments:
    """
    A sorted map from base offset to segment, with floor lookups in O(log n).
    """

    _bases: list[int] = attrs.field(factory=list)
    _by_base: dict[int, LogSegment] = attrs.field(factory=dict)

    def __len__(self) -> int:
        return len(self._bases)

    def __iter__(self) -> Iterator[LogSegment]:
        """
        @return: the segments in offset order.
        """
        by_base = self._by_base
        return (by_base[base] for base in list(self._bases))

    def add(self, segment: LogSegment) -> None:
        """
        Add a segment, replacing any with the same base offset.
        """
        base = segment.base_offset
        if base not in self._by_base:
            bisect.insort(self._bases, base)
        self._by_base[base] = segment

    def remove(self, base_offset: int) -> LogSegment:
        """
        @return: the segment removed.
        @raise KeyError: if there is none at C{base_offset}.
        """
        segment = self._by_base.pop(base_offset)
        del self._bases[bisect.bisect_left(self._bases, base_offset)]
        return segment

    def clear(self) -> list[LogSegment]:
        """
        @return: every segment, removed.
        """
        removed = list(self)
        self._bases.clear()
        self._by_base.clear()
        return removed

    @property
    def first(self) -> LogSegment | None:
        """
        @return: the oldest segment.
        """
        return self._by_base[self._bases[0]] if self._bases else None

    @property
    def last(self) -> LogSegment | None:
        """
        @return: the newest segment (the active one).
        """
        return self._by_base[self._bases[-1]] if self._bases else None

    def get(self, base_offset: int) -> LogSegment | None:
        """
        @return: the segment with that base offset, if any.
        """
        return self._by_base.get(base_offset)

    def floor(self, offset: int) -> LogSegment | None:
        """
        @return: the segment with the largest base offset at most C{offset}.
        """
        index = bisect.bisect_right(self._bases, offset)
        return self._by_base[self._bases[index - 1]] if index else None

    def higher(self, base_offset: int) -> LogSegment | None:
        """
        @return: the segment after the one based at C{base_offset}, if any.
        """
        index = bisect.bisect_right(self._bases, base_offset)
        if index < len(self._bases):
            return self._by_base[self._bases[index]]
        return None

    def values(self, start: int, end: int) -> list[LogSegment]:
        """
        @return: the segments that may hold offsets in C{[start, end)}: from the
            floor of C{start} to those based before C{end}.
        """
        low = max(bisect.bisect_right(self._bases, start) - 1, 0)
        high = bisect.bisect_left(self._bases, end)
        return [self._by_base[base] for base in self._bases[low:high]]

    @property
    def size_in_bytes(self) -> int:
        """
        @return: the total size of the C{.log} files.
        """
        return sum(segment.size for segment in self._by_base.values())
