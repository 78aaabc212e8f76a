"""WebhookSink against a real HTTP server on 127.0.0.1: body, signature, status codes, outages."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Callable
from email.utils import formatdate

import pytest
from handover_helpers import (
    FakeClock,
    RecordingHTTPServer,
    Reply,
    free_port,
    make_handover,
)

from leadscore.errors import DeliveryError
from leadscore.handover import (
    CallbackSink,
    Dispatcher,
    HandOver,
    MemoryOutbox,
    WebhookSink,
    sign_body,
    verify_signature,
)
from leadscore.handover.webhook import parse_retry_after
from leadscore.model import Contact

SECRET = "hook-secret-for-tests"
SENT_AT = 1_780_000_000.0


def webhook(url: str, **options: object) -> WebhookSink:
    settings: dict[str, object] = {"secret": SECRET, "timeout": 5.0, "clock": lambda: SENT_AT}
    settings.update(options)
    return WebhookSink(url, **settings)  # type: ignore[arg-type]


def test_webhook_posts_signed_json(http_server: RecordingHTTPServer, handover: HandOver) -> None:
    webhook(f"{http_server.url}/hooks/leads?source=leadscore").deliver(handover)

    (request,) = http_server.requests
    assert request.method == "POST"
    assert request.path == "/hooks/leads?source=leadscore"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["Idempotency-Key"] == handover.key
    assert request.headers["X-Leadscore-Timestamp"] == "1780000000"
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Leadscore-Signature"] == f"sha256={expected}"


def test_webhook_body_carries_timestamp_and_handover(
    http_server: RecordingHTTPServer, handover: HandOver
) -> None:
    webhook(http_server.url).deliver(handover)

    body = json.loads(http_server.requests[0].body)
    assert body["type"] == "leadscore.handover"
    assert body["timestamp"] == 1_780_000_000
    assert HandOver.from_dict(body["handover"]) == handover


def test_signature_covers_timestamp(http_server: RecordingHTTPServer, handover: HandOver) -> None:
    webhook(http_server.url, clock=lambda: SENT_AT).deliver(handover)
    webhook(http_server.url, clock=lambda: SENT_AT + 60).deliver(handover)

    first, second = http_server.requests
    assert first.headers["X-Leadscore-Signature"] != second.headers["X-Leadscore-Signature"]
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


def test_verify_signature_rejects_changed_body(
    http_server: RecordingHTTPServer, handover: HandOver
) -> None:
    webhook(http_server.url).deliver(handover)
    request = http_server.requests[0]
    signature = request.headers["X-Leadscore-Signature"]

    assert verify_signature(SECRET, request.body, signature) is True
    assert verify_signature(SECRET, request.body.replace(b"105", b"999"), signature) is False
    assert verify_signature("other-secret", request.body, signature) is False


def test_unsigned_webhook_has_no_signature(
    http_server: RecordingHTTPServer, handover: HandOver
) -> None:
    webhook(http_server.url, secret=None).deliver(handover)

    assert "X-Leadscore-Signature" not in http_server.requests[0].headers


def test_verify_signature_missing_header_is_false(
    http_server: RecordingHTTPServer, handover: HandOver
) -> None:
    # A receiver passes None when the header is absent, as http.server's headers.get does.
    webhook(http_server.url, secret=None).deliver(handover)
    request = http_server.requests[0]

    assert (
        verify_signature(SECRET, request.body, request.headers.get("X-Leadscore-Signature"))
        is False
    )


SIGNED_BODY = b'{"type":"leadscore.handover","timestamp":1780000000}'
VALID_SIGNATURE = sign_body(SECRET, SIGNED_BODY)
VALID_HEX = VALID_SIGNATURE.removeprefix("sha256=")


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=",
        "sha256=\u00e9",
        "sha256=" + "\u00e9" * 64,
        VALID_SIGNATURE[:-1] + "\u00e9",
        VALID_SIGNATURE.encode("ascii")[:-1] + b"\xff",
        b"\xff\xfe",
        VALID_HEX,
        "sha1=" + VALID_HEX,
        "sha512=" + VALID_HEX,
        "SHA256=" + VALID_HEX,
        VALID_SIGNATURE[:-1],
        VALID_SIGNATURE + "0",
        VALID_SIGNATURE + ",sha256=" + VALID_HEX,
        "sha256=" + "0" * 64,
        "sha256=not-hex",
        "sha256 = " + VALID_HEX,
    ],
)
def test_verify_signature_rejects_bad_value(signature: str | bytes | None) -> None:
    assert verify_signature(SECRET, SIGNED_BODY, signature) is False


@pytest.mark.parametrize(
    "signature",
    [
        VALID_SIGNATURE,
        VALID_SIGNATURE.encode("ascii"),
        f" {VALID_SIGNATURE}\t",
        f" {VALID_SIGNATURE} ".encode("ascii"),
    ],
)
def test_verify_signature_accepts_text_or_bytes(signature: str | bytes) -> None:
    assert verify_signature(SECRET, SIGNED_BODY, signature) is True
    assert verify_signature(SECRET.encode("utf-8"), SIGNED_BODY, signature) is True


def test_extra_headers_are_sent(http_server: RecordingHTTPServer, handover: HandOver) -> None:
    webhook(http_server.url, headers={"Authorization": "Bearer t0ken"}).deliver(handover)

    assert http_server.requests[0].headers["Authorization"] == "Bearer t0ken"


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_is_delivered(
    http_server: RecordingHTTPServer, handover: HandOver, status: int
) -> None:
    http_server.script.append(Reply(status))

    webhook(http_server.url).deliver(handover)

    assert len(http_server.requests) == 1


@pytest.mark.parametrize(
    ("reply", "retryable", "retry_after"),
    [
        (Reply(408), True, None),
        (Reply(429, {"Retry-After": "7"}), True, 7.0),
        (Reply(429, {"Retry-After": formatdate(SENT_AT + 90, usegmt=True)}), True, 90.0),
        (Reply(429, {"Retry-After": "soon"}), True, None),
        (Reply(500), True, None),
        (Reply(503, {"Retry-After": "120"}), True, 120.0),
        (Reply(400, body=b'{"error": "bad field"}'), False, None),
        (Reply(401), False, None),
        (Reply(404), False, None),
        (Reply(422), False, None),
    ],
)
def test_status_decides_retry(
    http_server: RecordingHTTPServer,
    handover: HandOver,
    reply: Reply,
    retryable: bool,
    retry_after: float | None,
) -> None:
    http_server.script.append(reply)

    with pytest.raises(DeliveryError) as caught:
        webhook(http_server.url).deliver(handover)

    assert caught.value.retryable is retryable
    assert caught.value.retry_after == retry_after
    assert f"HTTP {reply.status}" in str(caught.value)


def test_redirect_is_not_followed(http_server: RecordingHTTPServer, handover: HandOver) -> None:
    http_server.script.append(Reply(301, {"Location": f"{http_server.url}/elsewhere"}))

    with pytest.raises(DeliveryError, match="redirect") as caught:
        webhook(f"{http_server.url}/hook").deliver(handover)

    assert caught.value.retryable is False
    assert [request.path for request in http_server.requests] == ["/hook"]


def test_slow_server_times_out(http_server: RecordingHTTPServer, handover: HandOver) -> None:
    http_server.script.append(Reply(200, delay=1.5))

    with pytest.raises(DeliveryError, match="timed out") as caught:
        webhook(http_server.url, timeout=0.3).deliver(handover)

    assert caught.value.retryable is True


def test_closed_port_is_retryable(handover: HandOver) -> None:
    with pytest.raises(DeliveryError, match="connection refused") as caught:
        webhook(f"http://127.0.0.1:{free_port()}/hook").deliver(handover)

    assert caught.value.retryable is True


def test_error_message_hides_path_and_query(handover: HandOver) -> None:
    url = f"http://127.0.0.1:{free_port()}/hooks/T0KEN?key=abc"

    with pytest.raises(DeliveryError) as caught:
        webhook(url).deliver(handover)

    assert "T0KEN" not in str(caught.value)
    assert "abc" not in str(caught.value)
    assert "T0KEN" not in repr(webhook(url))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/hook", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("127.0.0.1:8080/hook", "http:// or https://"),
        ("http:///hook", "no host"),
        ("http://user:pw@127.0.0.1/hook", "user name or password"),
        ("http://127.0.0.1/ho ok", "spaces"),
        ("http://127.0.0.1:99999/hook", "invalid port"),
    ],
)
def test_invalid_url_is_rejected(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WebhookSink(url)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"X-Team": "sales\r\nX-Evil: 1"}, "control characters"),
        ({"Bad Name": "x"}, "invalid HTTP header name"),
        ({"Idempotency-Key": "mine"}, "set by WebhookSink"),
        ({"x-leadscore-signature": "sha256=0"}, "set by WebhookSink"),
    ],
)
def test_invalid_headers_are_rejected(headers: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WebhookSink("http://127.0.0.1/hook", headers=headers)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("0", 0.0),
        (" 30 ", 30.0),
        ("-5", None),
        ("²", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        (formatdate(SENT_AT + 3600, usegmt=True), 3600.0),
        ("not a date", None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, SENT_AT) == seconds


def test_outage_then_recovery_loses_and_repeats_nothing(
    start_http_server: Callable[..., RecordingHTTPServer], clock: FakeClock
) -> None:
    port = free_port()  # nothing listens here until the server starts below
    handovers = [make_handover(contact=Contact(f"c-{i}", {"n": i})) for i in range(5)]
    called: list[str] = []
    outbox = MemoryOutbox()
    dispatcher = Dispatcher(
        outbox,
        {
            "crm-hook": webhook(f"http://127.0.0.1:{port}/hook", timeout=2.0),
            "audit": CallbackSink(lambda handover: called.append(handover.key)),
        },
        max_attempts=20,
        base_delay=1.0,
        max_delay=4.0,
        clock=clock,
        rng=random.Random(3),
    )
    for handover in handovers:
        dispatcher.submit(handover)

    during_outage = [dispatcher.run_pending()]
    clock.advance(5)
    during_outage.append(dispatcher.run_pending())

    server = start_http_server(port)
    clock.advance(5)
    after_recovery = dispatcher.run_pending()

    assert during_outage[0].delivered == 5  # the audit sink
    assert during_outage[0].retried == 5
    assert during_outage[1].retried == 5
    assert after_recovery.delivered == 5
    keys = sorted(handover.key for handover in handovers)
    assert sorted(request.headers["Idempotency-Key"] for request in server.requests) == keys
    assert sorted(called) == keys
    assert outbox.deliveries(status="pending") == []
    assert outbox.dead_letters() == []
    crm = outbox.deliveries(key=handovers[0].key)
    assert [(d.sink, d.status, d.attempts) for d in crm] == [
        ("crm-hook", "delivered", 3),
        ("audit", "delivered", 1),
    ]


@pytest.mark.parametrize(
    ("secret", "body", "problem"),
    [
        (None, b"{}", "secret must be the non-empty text or bytes"),
        ("", b"{}", "secret must be the non-empty text or bytes"),
        ("s3cret", "{}", "body must be the raw request body as bytes, got str"),
    ],
)
def test_verify_signature_names_a_wrong_secret_or_body(
    secret: object, body: object, problem: str
) -> None:
    with pytest.raises(TypeError, match=problem):
        verify_signature(secret, body, "sha256=00")  # type: ignore[arg-type]
