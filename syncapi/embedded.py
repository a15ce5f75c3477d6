"""The envelope reader of protocols whose wire has no headers (WebSocket, TCP, UDP, raw
IP): headers and content type may travel embedded in the payload
(:func:`syncapi.headers.embed`), and are taken out only when the callback first asks.

Decoding lazily keeps the receive path cheap for the many messages that carry no
headers, and makes a damaged embedded frame a :class:`~syncapi.errors.DecodeError`
raised *in the callback*, where the subscriber's ``on_error`` policy deals with it.
"""

from __future__ import annotations

from . import core
from .errors import DecodeError
from .headers import Headers, extract_with_extras, is_embedded

__all__ = ["EmbeddedReader"]


class EmbeddedReader(core.EnvelopeReader):
    """A received message whose headers and content type may be embedded in its payload.

    ``embedded=False`` (the subscriber's header policy is not ``"embed"``, or the wire
    says the message cannot be framed) takes the payload as it is. Subclasses add their
    extras and may override :meth:`_got_extras` to read the protocol details the sender
    embedded.
    """

    __slots__ = ("_decoded",)

    def __init__(
        self,
        payload: bytes,
        *,
        channel: str,
        subscriber: core.Subscriber | None,
        embedded: bool = True,
    ) -> None:
        super().__init__(payload, channel=channel, subscriber=subscriber)
        self._decoded = not embedded or not is_embedded(payload)

    def _got_extras(self, extras: dict[str, str]) -> None:
        """Hook: the protocol extras the sender embedded (e.g. a WebSocket opcode)."""

    def _decode(self) -> None:
        self._decoded = True
        try:
            headers, content_type, payload, extras = extract_with_extras(self._payload)
        except DecodeError as exc:
            self._decoded = False  # raise again on the next access
            raise DecodeError(f"message on {self.identity}: {exc}") from exc
        self._headers = headers
        self._content_type = content_type
        self._payload = payload
        if extras:
            self._got_extras(extras)

    def read(self, size: int = -1) -> bytes:
        """Read the payload (embedded headers removed)."""
        if not self._decoded:
            self._decode()
        return super().read(size)

    @property
    def payload(self) -> bytes:
        """The whole payload (embedded headers removed)."""
        if not self._decoded:
            self._decode()
        return self._payload

    @property
    def headers(self) -> Headers:
        """The headers the sender embedded (empty for a bare message)."""
        if not self._decoded:
            self._decode()
        if self._headers is None:
            self._headers = Headers()
        return self._headers

    @property
    def content_type(self) -> str | None:
        """The content type the sender embedded, or ``None``."""
        if not self._decoded:
            self._decode()
        return self._content_type
