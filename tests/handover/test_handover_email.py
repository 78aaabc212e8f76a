"""EmailSink against a real aiosmtpd server on 127.0.0.1: content, headers, TLS, login, errors."""

from __future__ import annotations

import base64
import email
import email.policy
import re
import socket
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

import attrs
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
from leadscore.scorecard import Threshold

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


def encoded_word(charset: str, encoding: str, text: str) -> str:
    """Return ``text`` as one RFC 2047 encoded word, written the way an attacker would."""
    data = text.encode("utf-8")
    if encoding.lower() == "b":
        payload = base64.b64encode(data).decode("ascii")
    else:
        pieces = []
        for byte in data:
            if chr(byte).isalnum():
                pieces.append(chr(byte))
            elif byte == 0x20:
                pieces.append("_")
            else:
                pieces.append(f"={byte:02X}")
        payload = "".join(pieces)
    return f"=?{charset}?{encoding}?{payload}?="


# Values that decode to a CR LF and an extra header when a reader treats them as
# encoded words. Each short one fits in one encoded word when sent, and each long one
# needs two.
SHORT_ENCODED_WORD_VALUES = [
    "=?utf-8?q?Ann=0D=0ABcc:_x@example.com?=",
    encoded_word("utf-8", "b", "\r\nBcc: x@example.com"),
    encoded_word("UTF-8", "B", "\r\nBcc: x@example.com"),
    "=?iso-8859-1?q?Ann=0D=0ABcc:_x@example.com?=",
]
LONG_ENCODED_WORD_VALUES = [
    "Ann " + encoded_word("utf-8", "q", "\nCc: y@example.com") + " Example",
    "=?utf-8?q?Ann?= =?utf-8?q?=0D=0ABcc:_x@example.com?=",
]
ENCODED_WORD_VALUES = SHORT_ENCODED_WORD_VALUES + LONG_ENCODED_WORD_VALUES


def received(mail: Any) -> EmailMessage:
    parsed = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def raw_field(content: bytes, name: bytes) -> list[bytes]:
    """Return the raw lines of header ``name``: its first line and its continuation lines."""
    header_block = content.split(b"\r\n\r\n", 1)[0]
    lines = header_block.split(b"\r\n")
    prefix = name.lower() + b":"
    for index, line in enumerate(lines):
        if line.lower().startswith(prefix):
            field = [line]
            for continuation in lines[index + 1 :]:
                if continuation[:1] not in (b" ", b"\t"):
                    break
                field.append(continuation)
            return field
    raise AssertionError(f"no {name!r} header in {header_block!r}")


def assert_no_bare_line_breaks(content: bytes, name: bytes) -> None:
    header_block = content.split(b"\r\n\r\n", 1)[0]
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", header_block) is None
    for line in raw_field(content, name):
        assert b"\r" not in line
        assert b"\n" not in line
        assert len(line) <= 998


@pytest.mark.parametrize("value", ENCODED_WORD_VALUES)
def test_encoded_word_in_subject_stays_literal(
    start_smtp_server: Callable[..., SMTPServer], value: str
) -> None:
    server = start_smtp_server()
    handover = make_handover(contact=Contact("c-1", {"name": value}))

    plain_sink(server.port, subject="Hot lead: ${profile.name}").deliver(handover)

    (mail,) = server.handler.mails
    message = received(mail)
    assert mail.rcpt_tos == ["sales@example.com", "lead@example.com"]
    assert message["Bcc"] is None
    assert message["Cc"] is None
    assert message["Subject"] == f"Hot lead: {value}"
    assert_no_bare_line_breaks(mail.content, b"Subject")


@pytest.mark.parametrize("value", ENCODED_WORD_VALUES)
def test_encoded_word_in_names_stays_literal(
    start_smtp_server: Callable[..., SMTPServer], value: str
) -> None:
    # Contact id, scoring, threshold and level are hand-over text as well.
    server = start_smtp_server()
    handover = make_handover(
        contact=Contact(value, {"name": "Ann"}),
        scoring=value,
        threshold=Threshold(value, 100),
        level=value,
    )

    plain_sink(server.port, subject="${contact_id}|${scoring}|${threshold}|${level}").deliver(
        handover
    )

    (mail,) = server.handler.mails
    message = received(mail)
    assert message["Bcc"] is None
    assert message["Cc"] is None
    assert message["Subject"] == f"{value}|{value}|{value}|{value}"
    assert_no_bare_line_breaks(mail.content, b"Subject")


@pytest.mark.parametrize("value", ENCODED_WORD_VALUES)
def test_encoded_word_in_key_stays_literal(
    start_smtp_server: Callable[..., SMTPServer], handover: HandOver, value: str
) -> None:
    # A hand-over read back with HandOver.from_dict may carry any non-empty key.
    server = start_smtp_server()

    plain_sink(server.port).deliver(attrs.evolve(handover, key=value))

    (mail,) = server.handler.mails
    message = received(mail)
    assert message["Bcc"] is None
    assert message["Cc"] is None
    assert message["X-Leadscore-Key"] == value
    assert "=?" not in message["Message-ID"]
    assert_no_bare_line_breaks(mail.content, b"X-Leadscore-Key")
    assert_no_bare_line_breaks(mail.content, b"Message-ID")


def deliver_to_owner(server: SMTPServer, owner_name: str) -> tuple[Any, EmailMessage]:
    contact = Contact("c-1", {"owner_name": owner_name, "owner_email": "owner@example.com"})
    sink = plain_sink(
        server.port,
        recipients=lambda h: formataddr((h.profile["owner_name"], h.profile["owner_email"])),
    )

    sink.deliver(make_handover(contact=contact))

    (mail,) = server.handler.mails
    return mail, received(mail)


@pytest.mark.parametrize("value", SHORT_ENCODED_WORD_VALUES)
def test_encoded_word_in_owner_name_stays_literal(
    start_smtp_server: Callable[..., SMTPServer], value: str
) -> None:
    server = start_smtp_server()

    mail, message = deliver_to_owner(server, value)

    assert mail.rcpt_tos == ["owner@example.com"]
    assert message["Bcc"] is None
    assert message["Cc"] is None
    (owner,) = message["To"].addresses
    assert owner.display_name == value
    assert owner.addr_spec == "owner@example.com"
    assert_no_bare_line_breaks(mail.content, b"To")


@pytest.mark.parametrize("value", LONG_ENCODED_WORD_VALUES)
def test_long_owner_name_adds_no_header(
    start_smtp_server: Callable[..., SMTPServer], value: str
) -> None:
    server = start_smtp_server()

    mail, message = deliver_to_owner(server, value)

    assert mail.rcpt_tos == ["owner@example.com"]
    assert message["Bcc"] is None
    assert message["Cc"] is None
    (owner,) = message["To"].addresses
    # Python's email parser puts a space between two encoded words in a display name,
    # where RFC 2047 readers join them, so only the spaces may differ.
    assert owner.display_name.replace(" ", "") == value.replace(" ", "")
    assert owner.addr_spec == "owner@example.com"
    assert_no_bare_line_breaks(mail.content, b"To")


def test_compose_keeps_encoded_word_literal() -> None:
    value = ENCODED_WORD_VALUES[0]
    handover = make_handover(contact=Contact("c-1", {"name": value}))
    sink = plain_sink(free_port(), subject="Hot lead: ${profile.name}")

    message = sink.compose(handover)

    assert message["Subject"] == f"Hot lead: {value}"
    assert message["Bcc"] is None
    assert b"\r\nBcc" not in message.as_bytes()


def test_non_ascii_name_reads_back(start_smtp_server: Callable[..., SMTPServer]) -> None:
    server = start_smtp_server()
    name = "Zoë Šťastná"
    contact = Contact("c-1", {"name": name, "owner_email": "owner@example.com"})
    sink = plain_sink(
        server.port,
        subject="Hot lead: ${profile.name}",
        recipients=lambda h: f"{h.profile['name']} <{h.profile['owner_email']}>",
    )

    sink.deliver(make_handover(contact=contact))

    (mail,) = server.handler.mails
    message = received(mail)
    assert message["Subject"] == "Hot lead: Zoë Šťastná"
    (owner,) = message["To"].addresses
    assert owner.display_name == name
    assert_no_bare_line_breaks(mail.content, b"Subject")
    assert_no_bare_line_breaks(mail.content, b"To")


def test_long_non_ascii_subject_reads_back(
    start_smtp_server: Callable[..., SMTPServer],
) -> None:
    # Long enough for several encoded words, which RFC 2047 limits to 75 characters.
    server = start_smtp_server()
    name = " ".join(["Zoë Šťastná"] * 12) + "  =?x?"
    handover = make_handover(contact=Contact("c-1", {"name": name}))

    plain_sink(server.port, subject="Hot lead: ${profile.name}").deliver(handover)

    (mail,) = server.handler.mails
    assert received(mail)["Subject"] == f"Hot lead: {name}"
    subject_lines = raw_field(mail.content, b"Subject")
    assert len(subject_lines) > 1
    # RFC 2047 limits a line with encoded words to 76 characters.
    assert all(len(line) <= 76 for line in subject_lines)


def test_chosen_address_with_encoded_word_is_permanent(
    start_smtp_server: Callable[..., SMTPServer],
) -> None:
    server = start_smtp_server()
    contact = Contact("c-1", {"owner_email": "=?utf-8?q?x=0D=0A?=@example.com"})
    sink = plain_sink(server.port, recipients=lambda h: h.profile["owner_email"])

    with pytest.raises(DeliveryError) as caught:
        sink.deliver(make_handover(contact=contact))

    assert caught.value.retryable is False
    assert server.handler.mails == []


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
        ({"sender": "=?utf-8?q?a?=@example.com"}, "not a valid"),
        ({"recipients": ["=?utf-8?q?a?=@example.com"]}, "not a valid"),
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
