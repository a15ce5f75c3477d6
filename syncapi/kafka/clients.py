"""Making and closing kafka-python clients, and turning their errors into syncapi's.

kafka-python 3.0 starts an IO thread in a client's constructor before it bootstraps, and a
constructor that fails (an unreachable cluster) leaves that thread and its sockets
behind. :func:`build` keeps hold of the half-built object and releases what it started,
so a failed ``syncapi.producer(...)`` leaks nothing.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from ..errors import ConfigError, ConnectError, MessageTooLarge, SyncapiError, TimeoutError
from ..servers import ServerURL

__all__ = ["bootstrap_servers", "build", "describe_error", "refuse_security", "translate"]

_log = logging.getLogger("syncapi.kafka")
_C = TypeVar("_C")

DEFAULT_PORT = 9092
"""The port of a host given without one."""


def bootstrap_servers(url: ServerURL) -> list[str]:
    """``host:port`` strings of every host of a ``kafka://`` URL (port 9092 by default)."""
    if url.username is not None or url.password is not None:
        raise ConfigError(
            f"kafka URL {url}: user info in a kafka:// URL is not used; set SASL through "
            "client_config (sasl_mechanism, sasl_plain_username, sasl_plain_password, "
            "security_protocol)"
        )
    if not url.hosts or not all(h.host for h in url.hosts):
        raise ConfigError(f"kafka URL {url}: name at least one broker, e.g. kafka://127.0.0.1:9092")
    path = url.path.strip("/")
    if path:
        raise ConfigError(
            f"kafka URL {url}: a kafka:// URL has no path ({path!r}); "
            "name topics as channels, e.g. producer.publisher('orders')"
        )
    out = []
    for hp in url.hosts:
        host = f"[{hp.host}]" if ":" in hp.host else hp.host
        out.append(f"{host}:{hp.port or DEFAULT_PORT}")
    return out


def refuse_security(security: object) -> None:
    """``kafka://`` has no per-channel security: refuse it rather than ignore it."""
    if security is not None:
        raise ConfigError(
            "kafka:// takes no per-channel security; set TLS/SASL for the whole connection "
            "through client_config (security_protocol, sasl_mechanism, ssl_cafile...)"
        )


def build(cls: type[_C], what: str, settings: dict[str, Any]) -> _C:
    """Construct the kafka-python client ``cls`` with ``settings``; map its errors.

    Raises:
        ConnectError: the cluster could not be reached within the bootstrap timeout.
        ConfigError: kafka-python refused a setting.
    """
    client = cls.__new__(cls)
    try:
        client.__init__(**settings)  # type: ignore[misc]
    except BaseException as exc:
        _dispose(client)
        servers = ", ".join(settings.get("bootstrap_servers", []))
        raise translate(exc, f"{what} for {servers}") from exc
    return client


def _dispose(client: object) -> None:
    """Release what a client whose constructor failed has started (IO thread, sockets)."""
    for name, method in (("_client", "close"), ("_net", "stop"), ("_metrics", "close")):
        part = client.__dict__.get(name)
        stop = getattr(part, method, None)
        if stop is None:
            continue
        try:
            stop()
        except Exception:  # best effort: the original error is what matters
            _log.debug("releasing a half-built %s failed", type(client).__name__, exc_info=True)
    sender = client.__dict__.get("_sender")
    if sender is not None:  # KafkaProducer: its own close() handles a half-built object
        try:
            client.close(timeout=0)  # type: ignore[attr-defined]
        except Exception:
            _log.debug("closing a half-built producer failed", exc_info=True)


def describe_error(exc: BaseException) -> str:
    """A one-line text for a kafka-python error: its class name and message, or the
    broker error's description when the message says nothing (``"... : None"``)."""
    text = str(exc).strip()
    name = type(exc).__name__
    if not text or text == "None" or text.endswith(": None"):
        description = " ".join(str(getattr(exc, "description", "") or "").split())
        return f"{name}: {description}" if description else name
    return text if name in text[:80] else f"{name}: {text}"


def translate(exc: BaseException, context: str) -> BaseException:
    """The syncapi error for a kafka-python error raised while doing ``context``."""
    if isinstance(exc, SyncapiError) or not isinstance(exc, Exception):
        return exc
    import kafka.errors as errors

    reason = describe_error(exc)
    if isinstance(exc, errors.KafkaConfigurationError | errors.UnsupportedCodecError):
        return ConfigError(f"{context}: {reason}")
    if isinstance(exc, errors.KafkaTimeoutError):
        if "bootstrap" in str(exc).lower():
            return ConnectError(f"{context}: no broker could be reached ({reason})")
        return TimeoutError(f"{context}: {reason}")
    if isinstance(exc, errors.KafkaConnectionError):
        return ConnectError(f"{context}: {reason}")
    if isinstance(exc, errors.MessageSizeTooLargeError | errors.RecordListTooLargeError):
        return MessageTooLarge(f"{context}: {reason}")
    if isinstance(exc, errors.InvalidTopicError):
        return ConfigError(f"{context}: {reason}")
    if isinstance(exc, ValueError | TypeError):
        return ConfigError(f"{context}: {reason}")
    if isinstance(exc, RuntimeError) and "codec" in str(exc).lower():
        # kafka-python 3.0 raises RuntimeError for a compression library that is missing
        return ConfigError(f"{context}: {reason}")
    return SyncapiError(f"{context}: {reason}")
