"""
Kafka's framing: every request and response travels as a signed big-endian int32 size
followed by that many bytes.

L{FrameDecoder} is sans-IO: it is fed whatever bytes arrived and hands back the
complete frames, so the same code serves the broker, the client and the tests.
"""

from __future__ import annotations

import struct

from attrs import define, field

from odradek.client.protocol.errors import FrameSizeError

__all__ = ["DEFAULT_MAX_FRAME_SIZE", "FrameDecoder", "encode_frame"]

#: Apache Kafka's default for C{socket.request.max.bytes}: 100 MiB.
DEFAULT_MAX_FRAME_SIZE = 104857600

_SIZE = struct.Struct(">i")
_MAX_INT32 = 2**31 - 1


def encode_frame(body: bytes | bytearray | memoryview) -> bytes:
    """
    Put the size prefix in front of a message.

    @param body: the encoded request or response.
    @return: the frame: the size as a big-endian int32, then C{body}.
    @raise ValueError: if C{body} is too long for an int32 size.
    """
    size = len(body) if not isinstance(body, memoryview) else body.nbytes
    if size > _MAX_INT32:
        raise ValueError(f"a frame body of {size} bytes does not fit an int32 size")
    return _SIZE.pack(size) + body


def _check_max_frame_size(instance: object, attribute: object, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"max_frame_size must be an int, not {type(value).__name__}")
    if not 0 <= value <= _MAX_INT32:
        raise ValueError(
            f"max_frame_size must be between 0 and {_MAX_INT32}, not {value}"
        )


@define
class FrameDecoder:
    """
    Split a byte stream into Kafka frames.

    Bytes are kept in one buffer that grows at its end and is trimmed at its front
    once per L{feed}, so many small frames in one chunk and one large frame in many
    chunks both cost time proportional to their size. A frame's size is checked as
    soon as its four-byte prefix arrives, before any of its body is buffered.

    After a L{FrameSizeError} the stream cannot be resynchronised: every later call
    to L{feed} raises the same error.

    @ivar max_frame_size: the largest frame body accepted, in bytes.
    """

    max_frame_size: int = field(
        default=DEFAULT_MAX_FRAME_SIZE, validator=_check_max_frame_size
    )
    _buffer: bytearray = field(factory=bytearray, init=False, repr=False)
    _error: FrameSizeError | None = field(default=None, init=False, repr=False)

    @property
    def buffered(self) -> int:
        """
        The number of bytes received that are not yet part of a returned frame.
        """
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """
        Take the next bytes of the stream.

        @param data: any number of bytes, including none.
        @return: the bodies (without size prefix) of the frames completed by C{data},
            in order; often empty.
        @raise FrameSizeError: if a size prefix is negative or above
            C{max_frame_size}. Frames completed before the bad prefix in the same
            call are lost with it, as the connection must be closed anyway.
        """
        if self._error is not None:
            raise self._error
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        position = 0
        available = len(buffer)
        with memoryview(buffer) as view:
            while available - position >= 4:
                (size,) = _SIZE.unpack_from(view, position)
                if size < 0 or size > self.max_frame_size:
                    self._error = FrameSizeError(size, self.max_frame_size)
                    break
                end = position + 4 + size
                if end > available:
                    break
                frames.append(view[position + 4 : end].tobytes())
                position = end
        if self._error is not None:
            buffer.clear()
            raise self._error
        if position:
            del buffer[:position]
        return frames
