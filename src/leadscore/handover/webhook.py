"""WebhookSink: POST each hand-over as signed JSON, using only urllib from the standard library."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any, Final

from leadscore.errors import DeliveryError
from leadscore.handover.record import HandOver

__all__ = ["WebhookSink", "parse_retry_after", "sign_body", "verify_signature"]

SIGNATURE_HEADER: Final = "X-Leadscore-Signature"
TIMESTAMP_HEADER: Final = "X-Leadscore-Timestamp"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"

# Headers the sink sets itself; extra headers may not replace them.
_RESERVED_HEADERS: Final = frozenset(
    name.lower()
    for name in (SIGNATURE_HEADER, TIMESTAMP_HEADER, IDEMPOTENCY_HEADER, "Content-Type", "Host")
)
# RFC 9110 token characters, the only ones allowed in a header name.
_HEADER_NAME: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")

# 408 Request Timeout, 425 Too Early and 429 Too Many Requests mean "try later". Other
# 4xx replies mean the request itself is wrong, so repeating it cannot help.
_RETRYABLE_4XX: Final = frozenset({408, 425, 429})

# At most this many bytes of a response body are read, and then dropped.
_MAX_RESPONSE_BYTES: Final = 65536


class WebhookSink:
    """POST each hand-over as JSON to an http or https URL.

    The body is ``{"type": "leadscore.handover", "timestamp": T, "handover": {...}}``,
    where the hand-over is `HandOver.to_dict` and ``T`` is the Unix time of sending,
    also sent as ``X-Leadscore-Timestamp``. With a ``secret``,
    ``X-Leadscore-Signature: sha256=<hex>`` is the HMAC-SHA256 of the exact body bytes.
    The timestamp is inside the signed body, so a receiver can reject old replays.
    ``Idempotency-Key`` carries ``handover.key``, which is the same on every retry.
    Example::

        WebhookSink("https://crm.example.com/hooks/leads", secret=os.environ["HOOK_SECRET"])

    A 2xx reply is a delivery. 408, 425, 429, 5xx, network errors and timeouts raise a
    retryable DeliveryError with ``retry_after`` from a ``Retry-After`` header. Other
    4xx replies and redirects raise a permanent one, because redirects are not
    followed. ``timeout`` is in seconds and applies to the connection and to each
    read. Proxies come from the usual ``https_proxy`` and ``no_proxy`` variables.
    """

    def __init__(
        self,
        url: str,
        *,
        secret: str | bytes | None = None,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = url
        self._origin = _check_url(url)
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        if secret is not None and not secret:
            raise ValueError("secret must not be empty; pass None to send unsigned requests")
        self._secret = secret
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self._timeout = timeout
        self._headers = _check_headers(headers or {})
        self._clock = clock

        # Redirects are refused: urllib would turn a redirected POST into a GET without
        # the body, or send the signature to another host.
        handlers: list[urllib.request.BaseHandler] = [_RefuseRedirects()]
        if ssl_context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=ssl_context))
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        # The path and query may contain a token, so only the origin is shown.
        return f"WebhookSink({self._origin!r}, signed={self._secret is not None})"

    def build_body(self, handover: HandOver, timestamp: int) -> bytes:
        """Return the exact request body for ``handover`` sent at Unix time ``timestamp``."""
        envelope = {
            "type": "leadscore.handover",
            "timestamp": timestamp,
            "handover": handover.to_dict(),
        }
        text = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8")

    def deliver(self, handover: HandOver) -> None:
        """POST the hand-over; raises DeliveryError unless the server replies with 2xx."""
        timestamp = int(self._clock())
        body = self.build_body(handover, timestamp)

        request = urllib.request.Request(self._url, data=body, method="POST")
        for name, value in self._headers.items():
            request.add_header(name, value)
        request.add_header("Content-Type", "application/json; charset=utf-8")
        request.add_header(IDEMPOTENCY_HEADER, handover.key)
        request.add_header(TIMESTAMP_HEADER, str(timestamp))
        if self._secret is not None:
            request.add_header(SIGNATURE_HEADER, sign_body(self._secret, body))

        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                response.read(_MAX_RESPONSE_BYTES)
        except urllib.error.HTTPError as error:
            with error:
                raise self._status_error(error.code, error.headers) from error
        except urllib.error.URLError as error:
            raise self._network_error(error.reason) from error
        except (OSError, http.client.HTTPException) as error:
            raise self._network_error(error) from error

    def _status_error(self, status: int, headers: Message | None) -> DeliveryError:
        where = f"webhook {self._origin} returned HTTP {status}"
        if 300 <= status < 400:
            return DeliveryError(
                f"{where}, a redirect; configure the URL it redirects to", retryable=False
            )
        if status in _RETRYABLE_4XX or status >= 500:
            header = headers.get("Retry-After") if headers is not None else None
            return DeliveryError(
                where, retryable=True, retry_after=parse_retry_after(header, self._clock())
            )
        return DeliveryError(where, retryable=False)

    def _network_error(self, reason: object) -> DeliveryError:
        where = f"webhook {self._origin}"
        if isinstance(reason, ssl.SSLCertVerificationError):
            return DeliveryError(
                f"{where}: the TLS certificate did not verify ({reason.verify_message})",
                retryable=False,
            )
        if isinstance(reason, TimeoutError):
            return DeliveryError(f"{where}: timed out after {self._timeout:g} s", retryable=True)
        if isinstance(reason, ConnectionRefusedError):
            return DeliveryError(f"{where}: connection refused", retryable=True)
        name = type(reason).__name__ if isinstance(reason, BaseException) else str(reason)
        return DeliveryError(f"{where}: network error ({name})", retryable=True)


def sign_body(secret: str | bytes, body: bytes) -> str:
    """Return the ``X-Leadscore-Signature`` value for ``body``: ``sha256=`` and the hex HMAC."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes, signature: str | bytes | None) -> bool:
    """Return whether ``signature`` is the header value `sign_body` makes, in constant time.

    For receivers. ``signature`` is the ``X-Leadscore-Signature`` value as text or bytes,
    with surrounding spaces and tabs ignored. A missing header (None), a value with
    non-ASCII characters, a malformed value or one without the ``sha256=`` prefix returns
    False and never raises; the hex digits must be lowercase, as `sign_body` writes them.
    A ``secret`` that is not non-empty text or bytes, or a ``body`` that is not bytes,
    raises TypeError. Also check the body's ``timestamp`` against your clock to reject
    replays. Example::

        ok = verify_signature(secret, request.body, request.headers.get("X-Leadscore-Signature"))
    """
    # The secret and body come from the receiver's own code, so a wrong type there is a
    # programming error and raises. Only the signature comes from the client.
    if not isinstance(secret, str | bytes) or not secret:
        raise TypeError(
            f"secret must be the non-empty text or bytes the sink signs with, got {secret!r}; "
            "check that the variable holding it is set"
        )
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError(
            f"body must be the raw request body as bytes, got {type(body).__name__}; "
            "the signature covers the exact bytes sent, so read the body without decoding it"
        )
    if isinstance(signature, str):
        if not signature.isascii():
            return False
        received = signature.encode("ascii")
    elif isinstance(signature, bytes):
        received = signature
    else:
        return False

    # RFC 9110 field values have no leading or trailing spaces or tabs, but some servers
    # pass them on.
    received = received.strip(b" \t")
    expected = sign_body(secret, bytes(body)).encode("ascii")
    # compare_digest does not stop at the first differing byte. Values of another length
    # return early, which shows only the length of a valid signature, and that is public.
    return hmac.compare_digest(expected, received)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Return the wait in seconds a ``Retry-After`` value requests, or None if absent or invalid.

    The value is a number of seconds or an HTTP date. ``now`` is the current Unix time,
    used for dates. A date in the past means no wait (0.0).
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)  # RFC 9110: HTTP dates are in GMT
    return max(0.0, when.timestamp() - now)


def _check_url(url: Any) -> str:
    """Return the URL's origin (scheme, host and port); raises ValueError unless it is http(s)."""
    if not isinstance(url, str):
        raise TypeError(f"url must be text, got {type(url).__name__}")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"webhook URL must start with http:// or https://, got {parts.scheme!r}")
    if not parts.hostname:
        raise ValueError("webhook URL has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "webhook URL must not contain a user name or password; pass them in headers"
        )
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in url):
        raise ValueError("webhook URL must not contain spaces or control characters")
    try:
        port = parts.port
    except ValueError as error:
        raise ValueError(f"webhook URL has an invalid port: {error}") from None
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port is not None else "")


def _check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    checked = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"invalid HTTP header name {name!r}")
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"header {name!r} is set by WebhookSink and cannot be replaced")
        if not isinstance(value, str) or any(
            (ord(char) < 32 and char != "\t") or ord(char) == 127 for char in value
        ):
            # The value is not shown: extra headers usually carry tokens.
            raise ValueError(
                f"the value of header {name!r} must be text without control characters"
            )
        checked[name] = value
    return checked


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Make every redirect an HTTPError with its 3xx status, instead of following it."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None
