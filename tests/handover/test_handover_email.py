"""EmailSink against a real aiosmtpd server on 127.0.0.1: content, headers, TLS, login, errors."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
from handover_helpers import (
    LOCALHOST,
    SMTP_PASSWORD,
    SMTP_USER,
    SMTPServer,
    TLSFiles,
    free_port,
    make_handover,
)

from leadscore.errors import DeliveryError
from leadscore.handover import EmailSink, HandOver
from leadscore.model import Contact

SENDER = "Leadscore <leadscore@example.com>"
SALES = ["sales@example.com", "Team Lead <lead@example.com>"]


# aiosmtpd warns about auth_require_tls=False, which is right here: the connection is TLS.
_AUTH_OVER_IMPLICIT_TLS = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning"
)


def plain_sink(port: int, **options: Any) -> EmailSink:
    settings: dict[str, Any] = {
        "port": port,
        "security": "none",
        "local_hostname": "localhost",
        "sender": SENDER,
        "recipients": SALES,
        "timeout": 5.0,
    }
    settings.update(options)
    return EmailSink(LOCALHOST, **settings)


def text_and_html(mail: Any) -> tuple[str, str]:
    message = mail.message
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html


def test_email_arrives_with_headers_and_parts(
    start_smtp_server: Callable[..., SMTPServer], handover: HandOver
) -> None:
    server = start_smtp_server()

    plain_sink(server.port).deliver(handover)

    (mail,) = server.handler.mails
    message = mail.message
    assert mail.mail_from == "leadscore@example.com"
    assert mail.rcpt_tos == ["sales@example.com", "lead@example.com"]
    assert message["From"] == SENDER
    assert message["To"] == "sales@example.com, Team Lead <lead@example.com>"
    assert message["Subject"] == "Lead c-1 reached MQL in fit (score 105)"
    assert message["X-Leadscore-Key"] == handover.key
    assert message["Message-ID"].startswith(f"<{handover.key}.")
    assert message["Message-ID"].endswith("@example.com>")
    assert message["Date"]


def test_email_bodies_show_breakdown(
    start_smtp_server: Callable[..., SMTPServer], handover: HandOver
) -> None:
    server = start_smtp_server()

    plain_sink(server.port).deliver(handover)

    text, html = text_and_html(server.handler.mails[0])
    assert "Contact c-1 reached the threshold MQL (100 points) in the scoring fit" in text
    assert "Score: 105" in text
    assert "Pricing page" in text
    assert "Job title" in text
    assert "<table>" in html
    assert "<td>Pricing page</td><td>30</td><td>1</td>" in html


def test_email_templates_use_profile_fields(
    start_smtp_server: Callable[..., SMTPServer], handover: HandOver
) -> None:
    server = start_smtp_server()
    sink = plain_sink(
        server.port,
        subject="Hot lead: ${profile.name} at ${profile.company}",
        text_body="Call ${profile.name}, ${profile.no_such_field}signed up ${profile.signed_up}.",
        html_body="<p>${profile.name}</p>",
    )

    sink.deliver(handover)

    text, html = text_and_html(server.handler.mails[0])
    assert server.handler.mails[0].message["Subject"] == "Hot lead: Ann Example at Example Ltd"
    assert text.strip() == "Call Ann Example, signed up 2026-01-15."
    assert html.strip() == "<p>Ann Example</p>"


def test_email_html_escapes_values(start_smtp_server: Callable[..., SMTPServer]) -> None:
    server = start_smtp_server()
    handover = make_handover(contact=Contact("c-1", {"name": "<script>alert('x')</script> & co"}))

    plain_sink(server.port, html_body="<p>${profile.name}</p>").deliver(handover)

    _, html = text_and_html(server.handler.mails[0])
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in html
    assert "<script>" not in html


def test_crlf_in_profile_adds_no_header(start_smtp_server: Callable[..., SMTPServer]) -> None:
    server = start_smtp_server()
    contact = Contact("c-1", {"name": "Ann\r\nBcc: x@example.com\nX-Evil: 1"})
    handover = make_handover(contact=contact)

    plain_sink(server.port, subject="Hot lead: ${profile.name}").deliver(handover)

    (mail,) = server.handler.mails
    message = mail.message
    assert message["Bcc"] is None
    assert message["X-Evil"] is None
    assert mail.rcpt_tos == ["sales@example.com", "lead@example.com"]
    assert message["Subject"] == "Hot lead: Ann  Bcc: x@example.com X-Evil: 1"
    header_block = mail.content.split(b"\r\n\r\n", 1)[0]
    assert not any(line.startswith(b"Bcc") for line in header_block.split(b"\r\n"))


def test_recipients_chosen_per_handover(
    start_smtp_server: Callable[..., SMTPServer], handover: HandOver
) -> None:
    server = start_smtp_server()

    plain_sink(server.port, recipients=lambda h: h.profile["owner_email"]).deliver(handover)

    (mail,) = server.handler.mails
    assert mail.rcpt_tos == ["owner@example.com"]
    assert mail.message["To"] == "owner@example.com"


@pytest.mark.parametrize(
    "address",
    [
        "owner@example.com\r\nBcc: x@example.com",
        "owner@example.com, x@example.com",
        "not an address",
        "",
    ],
)
def test_bad_chosen_recipient_is_permanent(
    start_smtp_server: Callable[..., SMTPServer], address: str
) -> None:
    server = start_smtp_server()
    handover = make_handover(contact=Contact("c-1", {"owner_email": address}))
    sink = plain_sink(server.port, recipients=lambda h: h.profile["owner_email"])

    with pytest.raises(DeliveryError) as caught:
        sink.deliver(handover)

    assert caught.value.retryable is False
    assert "x@example.com" not in str(caught.value)
    assert server.handler.mails == []


def test_no_chosen_recipient_is_permanent(handover: HandOver) -> None:
    sink = plain_sink(free_port(), recipients=lambda h: [])

    with pytest.raises(DeliveryError, match="chose no address") as caught:
        sink.deliver(handover)

    assert caught.value.retryable is False


def test_starttls_and_login(
    start_smtp_server: Callable[..., SMTPServer], tls_files: TLSFiles, handover: HandOver
) -> None:
    # The server requires STARTTLS before MAIL and a login before MAIL.
    server = start_smtp_server("starttls")
    sink = plain_sink(
        server.port,
        security="starttls",
        ssl_context=tls_files.client_context(),
        username=SMTP_USER,
        password=SMTP_PASSWORD,
    )

    sink.deliver(handover)

    assert len(server.handler.mails) == 1


def test_server_requiring_starttls_rejects_plain(
    start_smtp_server: Callable[..., SMTPServer], handover: HandOver
) -> None:
    server = start_smtp_server("starttls")

    with pytest.raises(DeliveryError) as caught:
        plain_sink(server.port).deliver(handover)

    assert caught.value.retryable is False
    assert server.handler.mails == []


def test_wrong_password_is_permanent(
    start_smtp_server: Callable[..., SMTPServer], tls_files: TLSFiles, handover: HandOver
) -> None:
    server = start_smtp_server("starttls")
    sink = plain_sink(
        server.port,
        security="starttls",
        ssl_context=tls_files.client_context(),
        username=SMTP_USER,
        password="wrong",
    )

    with pytest.raises(DeliveryError, match="login") as caught:
        sink.deliver(handover)

    assert caught.value.retryable is False
    assert "wrong" not in str(caught.value)
    assert server.handler.mails == []


@_AUTH_OVER_IMPLICIT_TLS
def test_implicit_tls_with_smtp_ssl(
    start_smtp_server: Callable[..., SMTPServer], tls_files: TLSFiles, handover: HandOver
) -> None:
    server = start_smtp_server("ssl")
    sink = plain_sink(
        server.port,
        security="ssl",
        ssl_context=tls_files.client_context(),
        username=SMTP_USER,
        password=SMTP_PASSWORD,
    )

    sink.deliver(handover)

    assert len(server.handler.mails) == 1


@_AUTH_OVER_IMPLICIT_TLS
def test_untrusted_certificate_is_permanent(
    start_smtp_server: Callable[..., SMTPServer], handover: HandOver
) -> None:
    # The default context trusts the system's CAs, which did not sign the test certificate.
    server = start_smtp_server("ssl")

    with pytest.raises(DeliveryError, match="certificate") as caught:
        plain_sink(server.port, security="ssl").deliver(handover)

    assert caught.value.retryable is False


@pytest.mark.parametrize(
    ("stage", "reply", "retryable"),
    [
        ("rcpt", "550 5.1.1 <sales@example.com>: Recipient address rejected", False),
        ("rcpt", "452 4.2.2 Mailbox full", True),
        ("data", "451 4.3.0 Try again later", True),
        ("data", "554 5.7.1 Message rejected as spam", False),
    ],
)
def test_smtp_reply_codes_decide_retry(
    start_smtp_server: Callable[..., SMTPServer],
    handover: HandOver,
    stage: str,
    reply: str,
    retryable: bool,
) -> None:
    server = start_smtp_server()
    if stage == "rcpt":
        server.handler.rcpt_reply = reply
    else:
        server.handler.data_reply = reply

    with pytest.raises(DeliveryError) as caught:
        plain_sink(server.port).deliver(handover)

    assert caught.value.retryable is retryable
    assert reply.split()[0] in str(caught.value)
    assert "sales@example.com" not in str(caught.value)


def test_connection_refused_is_retryable(handover: HandOver) -> None:
    with pytest.raises(DeliveryError, match="connection refused") as caught:
        plain_sink(free_port()).deliver(handover)

    assert caught.value.retryable is True


def test_silent_server_times_out(handover: HandOver) -> None:
    # The kernel completes the TCP handshake for the backlog, but no greeting ever comes.
    with socket.create_server((LOCALHOST, 0)) as silent:
        port = silent.getsockname()[1]

        with pytest.raises(DeliveryError, match="timed out") as caught:
            plain_sink(port, timeout=0.3).deliver(handover)

    assert caught.value.retryable is True


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"subject": "${profil.name}"}, "unknown hand-over field"),
        ({"text_body": "costs $"}, "invalid template"),
        ({"recipients": ["a@example.com\nBcc: b@example.com"]}, "line break"),
        ({"recipients": []}, "at least one"),
        ({"sender": "two@example.com, three@example.com"}, "exactly one"),
        ({"username": "only-user"}, "both username and password"),
        ({"security": "tls"}, "security must be"),
    ],
)
def test_configuration_errors_raise_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plain_sink(25, **options)


def test_compose_previews_without_sending(handover: HandOver) -> None:
    sink = plain_sink(free_port(), html_body=None)

    message = sink.compose(handover)

    assert message["Subject"] == "Lead c-1 reached MQL in fit (score 105)"
    assert message.get_content_type() == "text/plain"
    assert "Pricing page" in message.get_content()


def test_repr_hides_password() -> None:
    sink = plain_sink(25, username=SMTP_USER, password=SMTP_PASSWORD)

    assert SMTP_PASSWORD not in repr(sink)
