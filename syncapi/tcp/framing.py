"""How ``tcp://`` cuts messages out of a byte stream, and puts them in.

=============  ==============================================  =========================
framing        on the wire                                     a bad peer
=============  ==============================================  =========================
``length``     a big-endian unsigned length in                 announcing more than
               ``length_prefix`` bytes (4 by default), then    ``max_message``: dropped
               that many bytes of message                      before anything is read
``delimiter``  the message, then ``delimiter``                 ``max_message`` bytes
               (``"\\n"`` by default)                          without a delimiter:
                                                               dropped
``raw``        the bytes as they are; each read is a message   —
=============  ==============================================  =========================

A :class:`Decoder` is fed what each ``recv`` returns and gives back the whole messages
it completes; it keeps a partial message as a list of chunks and joins them once, so a
16 MiB message costs one copy, not one per read.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

from ..errors import ConfigError, ReceiveError
from ..headers import EMBED_MAGIC
from .options import _Common

__all__ = ["Decoder", "FrameError", "decoder_for", "encoder_for"]


class FrameError(ReceiveError):
    """The peer broke the framing (a frame over ``max_message``): it is disconnected.

    Attributes:
        messages: the whole messages the same read held before the fault (delivered).
    """

    def __init__(self, message: str, *, messages: Sequence[bytes] = ()) -> None:
        super().__init__(message)
        self.messages = list(messages)


class Decoder:
    """Turns the chunks of a stream into messages (one per framing)."""

    def feed(self, data: bytes) -> list[bytes]:
        """The messages ``data`` completes (possibly none).

        Raises:
            FrameError: the peer broke the framing; the stream cannot be read further.
        """
        raise NotImplementedError

    @property
    def partial(self) -> int:
        """Bytes of an unfinished message held (what a stream ending now would lose)."""
        return 0


class LengthDecoder(Decoder):
    """Length-prefixed frames."""

    def __init__(self, prefix: int, limit: int) -> None:
        self._head = struct.Struct(">" + {1: "B", 2: "H", 4: "I", 8: "Q"}[prefix])
        self._size = prefix
        self._limit = limit
        self._rest = b""  # less than a header, or a frame too short to wait on chunks
        self._parts: list[bytes] = []  # a long frame's chunks, header included
        self._have = 0
        self._need = 0  # header + length of the frame in _parts (0: none)

    def feed(self, data: bytes) -> list[bytes]:
        if self._need:
            self._parts.append(data)
            self._have += len(data)
            if self._have < self._need:
                return []
            data = b"".join(self._parts)
            self._parts = []
            self._need = self._have = 0
        elif self._rest:
            data = self._rest + data
        out: list[bytes] = []
        pos = 0
        end = len(data)
        size = self._size
        limit = self._limit
        unpack = self._head.unpack_from
        while end - pos >= size:
            (length,) = unpack(data, pos)
            if length > limit:
                raise FrameError(
                    f"the peer announced a {length}-byte message, over max_message ({limit})",
                    messages=out,
                )
            stop = pos + size + length
            if stop > end:
                if end - pos > 65536:  # a long frame: gather chunks, join once
                    self._parts = [data[pos:]]
                    self._have = end - pos
                    self._need = size + length
                    self._rest = b""
                    return out
                break
            out.append(data[pos + size : stop])
            pos = stop
        self._rest = data[pos:] if pos < end else b""
        return out

    @property
    def partial(self) -> int:
        return self._have or len(self._rest)


class DelimiterDecoder(Decoder):
    """Messages that end with a delimiter."""

    def __init__(self, delimiter: bytes, limit: int) -> None:
        self._delim = delimiter
        self._limit = limit
        self._parts: list[bytes] = []  # the current message's chunks (no delimiter yet)
        self._have = 0
        self._tail = b""  # the last len(delimiter) - 1 bytes of _parts

    def feed(self, data: bytes) -> list[bytes]:
        delim = self._delim
        overlap = len(delim) - 1
        if self._parts:
            # the delimiter may have begun in earlier chunks (however small they were)
            if data.find(delim) < 0 and (
                not overlap or (self._tail + data[:overlap]).find(delim) < 0
            ):
                self._parts.append(data)
                self._have += len(data)
                if overlap:
                    self._tail = (self._tail + data)[-overlap:]
                self._check(self._have - overlap, [])
                return []
            data = b"".join(self._parts) + data
            self._parts = []
            self._have = 0
        out: list[bytes] = []
        pos = 0
        find = data.find
        limit = self._limit
        while True:
            at = find(delim, pos)
            if at < 0:
                break
            if at - pos > limit:
                self._check(at - pos, out)
            out.append(data[pos:at])
            pos = at + overlap + 1
        if pos < len(data):
            rest = data[pos:]
            self._parts = [rest]
            self._have = len(rest)
            self._tail = rest[-overlap:] if overlap else b""
            self._check(self._have - overlap, out)  # its end may be part of a delimiter
        return out

    def _check(self, size: int, out: list[bytes]) -> None:
        if size > self._limit:
            raise FrameError(
                f"the peer sent over max_message ({self._limit}) bytes without the delimiter "
                f"{self._delim!r}",
                messages=out,
            )

    @property
    def partial(self) -> int:
        return self._have


class RawDecoder(Decoder):
    """No framing: each chunk is a message."""

    def feed(self, data: bytes) -> list[bytes]:
        return [data]


def decoder_for(options: _Common) -> Decoder:
    """A new decoder for one connection under ``options``."""
    if options.framing == "length":
        return LengthDecoder(options.length_prefix, options.max_message)
    if options.framing == "delimiter":
        return DelimiterDecoder(options.delimiter_bytes, options.max_message)
    return RawDecoder()


class Encoder:
    """Frames messages for the wire under one connection's options."""

    def __init__(self, options: _Common) -> None:
        self._framing = options.framing
        # frame_bare()'s shortcut: length framing; under "embed", payloads that could be
        # misread as embedded (the magic) take the long way
        self._bare = options.framing == "length"
        self._magic = EMBED_MAGIC if options.header_policy == "embed" else None
        self._limit = options.max_message
        self._head = struct.Struct(">" + {1: "B", 2: "H", 4: "I", 8: "Q"}[options.length_prefix])
        self._delim = options.delimiter_bytes

    def shortcut(self) -> tuple[int, bytes | None, Callable[[int], bytes]]:
        """What :meth:`frame_bare` needs, for a sender to inline it: the largest payload
        framed as it is (-1: none, the framing is not length), the embed magic a payload
        must not start with (``None``: any), and the length prefix's ``pack``."""
        return (self._limit if self._bare else -1), self._magic, self._head.pack

    def frame_bare(self, data: bytes) -> bytes | None:
        """``data`` (a payload without headers) framed, when length framing sends it as
        it is; ``None`` when it needs the long way (:func:`encode` and :meth:`frame`)."""
        if not self._bare or len(data) > self._limit or data[:4] == self._magic:
            return None
        return self._head.pack(len(data)) + data

    def frame(self, messages: Sequence[bytes], *, where: str) -> bytes:
        """``messages`` framed, as one block of bytes to write.

        Raises:
            ConfigError: with delimiter framing, a message that contains the delimiter.
        """
        if self._framing == "length":
            pack = self._head.pack
            if len(messages) == 1:
                data = messages[0]
                return pack(len(data)) + data
            return b"".join([part for data in messages for part in (pack(len(data)), data)])
        if self._framing == "delimiter":
            delim = self._delim
            for data in messages:
                at = data.find(delim)
                if at >= 0:
                    raise ConfigError(
                        f"{where}: a message contains the delimiter {delim!r} (at byte {at}); "
                        "it would arrive as two messages. Use framing='length' for any bytes"
                    )
            return delim.join(messages) + delim
        return b"".join(messages)


def encoder_for(options: _Common) -> Encoder:
    """The encoder for ``options``."""
    return Encoder(options)
