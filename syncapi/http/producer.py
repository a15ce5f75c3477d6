"""The sending side of ``http://``: Producer, Publisher, EnvelopeWriter and Response.

One ``requests.Session`` per :class:`Producer` (its connection pool is shared by all
publishers and threads; syncapi never changes the session after building it, and it
keeps no cookies, so concurrent use is safe). A :class:`Publisher` is a route under the
producer's base URL; ``send`` makes one request per envelope, one after the other.
"""

from __future__ import annotations

import http.cookiejar
import json
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from .. import core
from ..bindings import coerce_channel_bindings
from ..core import check_timeout
from ..errors import ClosedError, ConfigError, SendError, TimeoutError
from ..headers import HeadersLike
from ..servers import ServerURL, resolve_options
from .bindings import ChannelBindings, MessageBindings, OperationBindings
from .options import ProducerOptions, check_method
from .wire import CAPABILITIES, headers_to_request

__all__ = [
    "EnvelopeWriter",
    "HTTPStatusError",
    "Producer",
    "Publisher",
    "Response",
    "check_bindings",
]

_log = logging.getLogger("syncapi.http")
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})


@dataclass(frozen=True)
class Response:
    """The server's answer to one request."""

    status: int
    """The HTTP status code."""
    reason: str
    """The reason phrase (``"OK"``, ``"Not Found"``...)."""
    headers: Mapping[str, str] = field(repr=False)
    """The response headers (case-insensitive)."""
    body: bytes = field(repr=False)
    """The response body."""
    url: str = ""
    """The URL the request went to."""

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status <= 299

    @property
    def content_type(self) -> str | None:
        """The response's ``Content-Type``, or ``None``."""
        return self.headers.get("Content-Type")

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced)."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON (``ValueError`` when it is not)."""
        return json.loads(self.body)


class HTTPStatusError(SendError):
    """The server answered a request with a status other than 2xx.

    Attributes:
        response: the :class:`Response` (status, headers, body).
    """

    def __init__(
        self,
        message: str,
        response: Response,
        failures: Sequence[tuple[Any, BaseException | str]] = (),
    ) -> None:
        super().__init__(message, failures)
        self.response = response

    @property
    def status(self) -> int:
        """The response's status code."""
        return self.response.status


class EnvelopeWriter(core.EnvelopeWriter):
    """An outgoing HTTP request: body, headers, content type, and the HTTP extras
    :meth:`set_method` and :meth:`set_query`. After a ``send``, :attr:`response` holds
    the server's answer."""

    __slots__ = ("_method", "_query", "response")

    message_bindings = MessageBindings

    def __init__(
        self,
        payload: core.Payload = b"",
        *,
        headers: HeadersLike | None = None,
        content_type: str | None = None,
        bindings: Any = None,
        method: str | None = None,
        query: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(payload, headers=headers, content_type=content_type, bindings=bindings)
        self._method: str | None = None
        self._query: list[tuple[str, str]] | None = None
        self.response: Response | None = None
        """The answer to the last ``send`` of this envelope (``None`` before)."""
        if method is not None:
            self.set_method(method)
        if query is not None:
            self.set_query(query)

    def set_method(self, method: str | None) -> None:
        """Send this envelope with ``method`` instead of the publisher's."""
        self._method = None if method is None else check_method(method)

    def set_query(self, query: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> None:
        """Set the query parameters (a mapping or ``(name, value)`` pairs; str only)."""
        if query is None:
            self._query = None
            return
        pairs = list(query.items()) if isinstance(query, Mapping) else list(query)
        for pair in pairs:
            if (
                not isinstance(pair, tuple)
                or len(pair) != 2
                or not all(isinstance(x, str) for x in pair)
            ):
                raise ConfigError(f"query parameters must be (str, str) pairs, got {pair!r}")
        self._query = pairs

    @property
    def method(self) -> str | None:
        """The method set with :meth:`set_method`, or ``None`` (the publisher's)."""
        return self._method

    @property
    def query(self) -> list[tuple[str, str]]:
        """The query parameters set with :meth:`set_query`."""
        return list(self._query or ())


class Publisher(core.Publisher[EnvelopeWriter]):
    """A route under the producer's base URL: ``send`` makes one request per envelope,
    in order, each answered before the next; a non-2xx answer raises
    :class:`HTTPStatusError` (with the response), and the envelopes after it are not
    sent (they are listed in ``failures`` too). Thread-safe: threads sharing a publisher
    send in parallel over the producer's connection pool.
    """

    envelope_class = EnvelopeWriter

    def __init__(
        self,
        producer: Producer,
        channel: str,
        bindings: ChannelBindings | None,
        operation_bindings: OperationBindings | None,
    ) -> None:
        super().__init__(channel, bindings=bindings, operation_bindings=operation_bindings)
        if "{" in channel or "}" in channel:
            raise ConfigError(
                f"HTTP channel {channel!r} has unexpanded parameters: pass parameters= to "
                "producer.publisher()"
            )
        self._producer = producer
        self._session = producer._session
        self._options = producer._options
        # the address is text: a '%' in it is a percent sign, not an escape
        path = quote(channel.lstrip("/"), safe="/:@!$&'()*+,;=-._~")
        self._url = f"{producer._base}/{path}"
        op = operation_bindings
        self._method = (op.method if op is not None and op.method else None) or self._options.method
        self._required = op.required_query() if op is not None and op.query else ()
        self._timeout = (self._options.connect_timeout, self._options.timeout)

    @property
    def url(self) -> str:
        """The URL requests go to."""
        return self._url

    @property
    def method(self) -> str:
        """The method of this publisher's requests (unless an envelope sets one)."""
        return self._method

    def envelope(
        self,
        payload: core.Payload = b"",
        *,
        headers: HeadersLike | None = None,
        content_type: str | None = None,
        bindings: Any = None,
        method: str | None = None,
        query: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> EnvelopeWriter:
        """Make an HTTP envelope; ``method`` and ``query`` as on :class:`EnvelopeWriter`."""
        return EnvelopeWriter(
            payload,
            headers=headers,
            content_type=content_type,
            bindings=bindings,
            method=method,
            query=query,
        )

    def request(
        self,
        envelope: EnvelopeWriter | core.Payload,
        *,
        timeout: float | None = None,
        raise_for_status: bool = True,
    ) -> Response:
        """Send one envelope and return the server's :class:`Response` (request/reply).

        Raises:
            HTTPStatusError: a non-2xx answer (unless ``raise_for_status=False``).
            TimeoutError: no answer within ``timeout``.
            SendError: the server could not be reached.
        """
        if self._closed:
            raise ClosedError(f"{self!r} is closed")
        check_timeout(timeout)
        env = envelope if isinstance(envelope, EnvelopeWriter) else EnvelopeWriter(envelope)
        response = self._one(env, timeout)
        if raise_for_status and not response.ok:
            raise self._status_error(env, response, [])
        return response

    def _one(self, env: EnvelopeWriter, timeout: float | None) -> Response:
        if self._required:
            given = {name for name, _ in env._query or ()}
            missing = [name for name in self._required if name not in given]
            if missing:
                raise ConfigError(
                    f"{self!r}: the operation bindings require the query parameter(s) "
                    f"{', '.join(missing)}; set them with envelope.set_query()"
                )
        headers = headers_to_request(env._headers)
        if env._content_type is not None:
            headers["Content-Type"] = env._content_type
        read = self._options.timeout if timeout is None else max(timeout, 0.001)
        method = env._method or self._method
        try:
            answer = self._session.request(
                method,
                self._url,
                params=env._query,
                data=env.payload,
                headers=headers,
                timeout=(min(self._options.connect_timeout, read or 0.001), read),
                allow_redirects=False,
                verify=self._options.verify,  # REQUESTS_CA_BUNDLE would override the session's
            )
        except requests.Timeout as exc:
            raise TimeoutError(f"{self!r}: no answer from {self._url} within {read} s") from exc
        except requests.ConnectionError as exc:
            # with a Retry policy, urllib3 reports a read timeout as "max retries"
            if isinstance(
                getattr(exc.args[0] if exc.args else None, "reason", None), ReadTimeoutError
            ):
                raise TimeoutError(f"{self!r}: no answer from {self._url} within {read} s") from exc
            raise SendError(
                f"{self!r}: {method} {self._url} failed: {exc}", [(env, str(exc))]
            ) from exc
        except requests.RequestException as exc:
            raise SendError(
                f"{self!r}: {method} {self._url} failed: {exc}", [(env, str(exc))]
            ) from exc
        response = Response(
            status=answer.status_code,
            reason=answer.reason or "",
            headers=CaseInsensitiveDict(answer.headers),
            body=answer.content,
            url=answer.url,
        )
        env.response = response
        return response

    def _status_error(
        self, env: EnvelopeWriter, response: Response, rest: Sequence[EnvelopeWriter]
    ) -> HTTPStatusError:
        body = response.text[:200]
        failures: list[tuple[Any, BaseException | str]] = [
            (env, f"{response.status} {response.reason}")
        ]
        failures.extend((other, "not sent: an earlier request failed") for other in rest)
        return HTTPStatusError(
            f"{self!r}: {env._method or self._method} {self._url} answered "
            f"{response.status} {response.reason}: {body!r}",
            response,
            failures,
        )

    def _send(self, envelopes: Sequence[core.EnvelopeWriter], timeout: float | None) -> None:
        for index, env in enumerate(envelopes):
            assert isinstance(env, EnvelopeWriter)
            try:
                response = self._one(env, timeout)
            except SendError as exc:
                rest = envelopes[index + 1 :]
                exc.failures.extend(
                    (other, "not sent: an earlier request failed") for other in rest
                )
                raise
            if not response.ok:
                raise self._status_error(env, response, envelopes[index + 1 :])  # type: ignore[arg-type]


def check_bindings(
    bindings: Any, operation_bindings: Any
) -> tuple[ChannelBindings | None, OperationBindings | None]:
    """The bindings of an http channel as the http classes (a document dict is parsed
    with ``from_dict``).

    Raises:
        ConfigError: bindings of another protocol, or a bad dict.
    """
    return coerce_channel_bindings(ChannelBindings, OperationBindings, bindings, operation_bindings)


class Producer(core.Producer[Publisher]):
    """An HTTP client for ``http://host:port/base`` (or ``https://``): one
    ``requests.Session`` whose connection pool all publishers and threads share.

    Options: :class:`~syncapi.http.ProducerOptions`. Thread-safe. Making it connects to
    nothing: an unreachable server shows at the first ``send``
    (:class:`~syncapi.errors.SendError`).
    """

    scheme = "http"
    capabilities = CAPABILITIES

    def __init__(self, url: ServerURL | str, **options: Any) -> None:
        super().__init__(url)
        self._options: ProducerOptions = resolve_options(ProducerOptions, self._url.query, options)
        if len(self._url.hosts) != 1:
            raise ConfigError(f"an HTTP server URL names exactly one host, got {self._url}")
        if self._url.username is not None:
            raise ConfigError(
                f"server URL {self._url}: put credentials in headers= (e.g. Authorization), "
                "not in the URL"
            )
        host = self._url.hosts[0]
        path = self._url.raw_path.rstrip("/")
        self._base = f"{self._url.scheme}://{host}{path}"
        self._session = self._make_session()
        self._lock = threading.Lock()

    def _make_session(self) -> requests.Session:
        opts = self._options
        session = requests.Session()
        retry = Retry(
            total=opts.retries,
            connect=opts.retries,
            read=0,  # a read error may be a slow answer: never send the request twice
            status=0,
            other=0,
            allowed_methods=_IDEMPOTENT,  # moot with read=0; connect retries ignore it
            backoff_factor=0.1,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(
            pool_connections=opts.pool_size, pool_maxsize=opts.pool_size, max_retries=retry
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.verify = opts.verify
        # a shared jar would be written by every thread's responses: keep no cookies
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        session.headers["User-Agent"] = f"syncapi {requests.utils.default_user_agent()}"
        if opts.headers:
            session.headers.update(opts.headers)
        return session

    @property
    def options(self) -> ProducerOptions:
        """The options in force."""
        return self._options

    @property
    def base_url(self) -> str:
        """The URL that channel addresses are appended to."""
        return self._base

    def _open_publisher(
        self, channel: str, bindings: Any, operation_bindings: Any, security: Any
    ) -> Publisher:
        channel_bindings, op = check_bindings(bindings, operation_bindings)
        if security is not None:
            raise ConfigError(
                "http:// takes credentials as headers= (e.g. Authorization), not security="
            )
        return Publisher(self, channel, channel_bindings, op)

    def _close(self) -> None:
        self._session.close()
