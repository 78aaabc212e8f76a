"""EmailSink: send each hand-over as an e-mail with text and HTML parts, using smtplib."""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import smtplib
import ssl
from collections.abc import Callable, Iterable, Sequence
from email import policy
from email.charset import Charset
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import Policy
from email.utils import formataddr, formatdate, getaddresses
from typing import Final, Literal

from leadscore.errors import DeliveryError
from leadscore.handover.fields import (
    HandOverTemplate,
    breakdown_table_html,
    breakdown_table_text,
    one_line,
)
from leadscore.handover.record import HandOver

__all__ = ["DEFAULT_HTML_BODY", "DEFAULT_SUBJECT", "DEFAULT_TEXT_BODY", "EmailSink"]

logger = logging.getLogger("leadscore.handover")

DEFAULT_SUBJECT: Final = "Lead ${contact_id} reached ${threshold} in ${scoring} (score ${score})"
DEFAULT_TEXT_BODY: Final = """\
Contact ${contact_id} reached the threshold ${threshold} (${threshold_points} points) \
in the scoring ${scoring} at ${at}.

Score: ${score}
Level: ${level}

Why:
${breakdown}
"""
DEFAULT_HTML_BODY: Final = """\
<p>Contact <b>${contact_id}</b> reached the threshold <b>${threshold}</b> \
(${threshold_points} points) in the scoring <b>${scoring}</b> at ${at}.</p>
<p>Score: <b>${score}</b><br>Level: ${level}</p>
<h3>Why</h3>
${breakdown}
"""

# A bare address with one @ and none of the characters that separate or quote addresses.
# Quoted local parts are valid e-mail but are rejected here, because they are rare
# and hard to check.
_ADDRESS: Final = re.compile(r"[^@\s,;:<>()\[\]\"\\]+@[^@\s,;:<>()\[\]\"\\]+")

# "=?" starts an RFC 2047 encoded word. RFC 2047 forbids encoded words in an address,
# but Python's email parser decodes them there too, so an address with "=?" is rejected.
_ENCODED_WORD_START: Final = "=?"

# Message-ID keeps the hand-over key when it is made of these characters. Any other key
# is replaced by its sha256 hex digest, which is as stable across retries.
_MESSAGE_ID_KEY: Final = re.compile(r"[0-9A-Za-z._-]+")

# RFC 2047 limits a line with an encoded word to 76 characters, and RFC 5322 limits
# any line to 998.
_FOLD_LENGTH: Final = 76
_MAX_LINE_LENGTH: Final = 998

# RFC 2047: an encoded word is at most 75 characters long.
_MAX_ENCODED_WORD: Final = 75
_UTF8: Final = Charset("utf-8")

# RFC 5322 allows lines of up to 998 characters. _Header folds the headers built here
# itself, so this limit applies to the MIME headers that the email package adds.
_POLICY: Final = policy.SMTP.clone(max_line_length=998)

Security = Literal["starttls", "ssl", "none"]
_DEFAULT_PORTS: Final = {"starttls": 587, "ssl": 465, "none": 25}

# Recipients: a fixed list, or a function of the hand-over such as the contact's owner.
Recipients = Sequence[str] | Callable[[HandOver], str | Iterable[str]]


class EmailSink:
    """Send each hand-over as an e-mail through an SMTP server.

    ``security`` is ``"starttls"`` (upgrade a plain connection, port 587 by default),
    ``"ssl"`` (TLS from the start with `smtplib.SMTP_SSL`, port 465) or ``"none"``
    (port 25). Subject and bodies are `HandOverTemplate` text; ``${breakdown}`` is a
    table. HTML values are escaped. Every header value has its control characters
    replaced by spaces, and text that a reader could decode as an RFC 2047 encoded word
    is sent encoded, so a profile field cannot add a header and arrives as written. Write
    display names in recipients as plain text, such as ``"Zoë Šťastná <z@example.com>"``,
    because an encoded word there also arrives as written. Example::

        EmailSink("smtp.example.com", sender="leadscore@example.com",
                  recipients=lambda h: h.profile["owner_email"],
                  username="leadscore", password=os.environ["SMTP_PASSWORD"],
                  subject="Hot lead: ${profile.name} (${score} points)")

    4xx replies, refused connections and timeouts raise a retryable DeliveryError, and
    5xx replies a permanent one. ``local_hostname`` is the name sent in EHLO. When it
    is None, smtplib uses the machine's fully qualified name, which may need a DNS
    lookup.
    """

    def __init__(
        self,
        host: str,
        *,
        sender: str,
        recipients: Recipients,
        port: int | None = None,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        subject: str = DEFAULT_SUBJECT,
        text_body: str = DEFAULT_TEXT_BODY,
        html_body: str | None = DEFAULT_HTML_BODY,
    ) -> None:
        if not isinstance(host, str) or not host or host != one_line(host).strip():
            raise ValueError(f"host must be a host name or address, got {host!r}")
        if security not in _DEFAULT_PORTS:
            raise ValueError(f"security must be 'starttls', 'ssl' or 'none', got {security!r}")
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port must be between 1 and 65535, got {port!r}")
        if (username is None) != (password is None):
            raise ValueError("give both username and password to log in, or neither")
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")

        self._host = host
        self._port = port if port is not None else _DEFAULT_PORTS[security]
        self._security = security
        self._username = username
        self._password = password
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._local_hostname = local_hostname

        self._sender = _parse_address(sender, "sender")
        self._recipients = recipients
        if not callable(recipients):
            # Fixed recipients are checked now, so a typo fails at start-up, not at delivery.
            if isinstance(recipients, str):
                raise TypeError("recipients must be a list of addresses or a callable, not text")
            if not recipients:
                raise ValueError("recipients must list at least one address")
            for address in recipients:
                _parse_address(address, "recipient")

        self._subject = HandOverTemplate(subject)
        self._text_body = HandOverTemplate(text_body)
        self._html_body = HandOverTemplate(html_body) if html_body is not None else None

    def __repr__(self) -> str:
        return f"EmailSink(host={self._host!r}, port={self._port}, security={self._security!r})"

    def deliver(self, handover: HandOver) -> None:
        """Send the hand-over's e-mail; raises DeliveryError if the server does not accept it."""
        recipients = self._recipients_for(handover)
        message = self._compose(handover, recipients)
        self._send(message, [address for _, address in recipients], handover)

    def compose(self, handover: HandOver) -> EmailMessage:
        """Build the e-mail for ``handover`` without sending it, for previews and tests."""
        return self._compose(handover, self._recipients_for(handover))

    def _compose(self, handover: HandOver, recipients: Sequence[tuple[str, str]]) -> EmailMessage:
        # Every header is built by _text_header or _address_header, which encode the text
        # themselves (see _Header for the reason).
        message = EmailMessage(policy=_POLICY)
        try:
            message["From"] = _address_header("From", [self._sender])
            message["To"] = _address_header("To", recipients)
            message["Subject"] = _text_header("Subject", self._subject.render_text(handover))
            message["Date"] = _text_header("Date", formatdate(usegmt=True))
            message["Message-ID"] = _text_header(
                "Message-ID", self._message_id(handover, recipients)
            )
            message["X-Leadscore-Key"] = _text_header("X-Leadscore-Key", handover.key)
        except ValueError as error:
            raise DeliveryError(
                f"could not build the e-mail headers for hand-over {handover.key}",
                retryable=False,
            ) from error

        breakdown = breakdown_table_text(handover)
        message.set_content(self._text_body.render_text(handover, breakdown=breakdown))
        if self._html_body is not None:
            html_breakdown = breakdown_table_html(handover)
            html = self._html_body.render_html(handover, breakdown=html_breakdown)
            message.add_alternative(html, subtype="html")
        return message

    def _message_id(self, handover: HandOver, recipients: Sequence[tuple[str, str]]) -> str:
        # Stable across retries, so a receiver can drop a repeated e-mail. The recipients'
        # digest keeps two e-mail sinks with different recipients from sharing an id.
        addresses = "\n".join(sorted(address for _, address in recipients))
        digest = hashlib.sha256(addresses.encode("utf-8")).hexdigest()[:16]
        key = handover.key
        if not _MESSAGE_ID_KEY.fullmatch(key):
            key = hashlib.sha256(key.encode("utf-8")).hexdigest()
        domain = self._sender[1].rpartition("@")[2] or "leadscore.invalid"
        return f"<{key}.{digest}@{domain}>"

    def _recipients_for(self, handover: HandOver) -> list[tuple[str, str]]:
        if callable(self._recipients):
            chosen = self._recipients(handover)
            addresses = [chosen] if isinstance(chosen, str) else list(chosen)
        else:
            addresses = list(self._recipients)
        if not addresses:
            raise DeliveryError(
                f"the recipients function chose no address for hand-over {handover.key}",
                retryable=False,
            )

        parsed = []
        for address in addresses:
            try:
                parsed.append(_parse_address(address, "recipient"))
            except (TypeError, ValueError) as error:
                # The message names no address: it may be personal data from the profile.
                raise DeliveryError(
                    f"a recipient address for hand-over {handover.key} is invalid",
                    retryable=False,
                ) from error
        return parsed

    def _send(self, message: EmailMessage, recipients: list[str], handover: HandOver) -> None:
        place = f"{self._host}:{self._port}"
        stage = "connect"
        client: smtplib.SMTP | None = None
        try:
            client = self._connect()

            if self._security == "starttls":
                stage = "STARTTLS"
                client.starttls(context=self._tls_context())

            if self._username is not None and self._password is not None:
                stage = "login"
                client.login(self._username, self._password)

            stage = "send"
            refused = client.send_message(message, from_addr=self._sender[1], to_addrs=recipients)
        except (smtplib.SMTPException, OSError) as error:
            raise _delivery_error(error, stage, place, self._timeout) from error
        finally:
            if client is not None:
                _close_quietly(client)

        if refused:
            # Some recipients got the e-mail, so a retry would send it to them twice.
            codes = sorted({code for code, _ in refused.values()})
            logger.warning(
                "e-mail for hand-over %s (contact %s) reached %d of %d recipients; "
                "the server refused the others with codes %s",
                handover.key,
                handover.contact_id,
                len(recipients) - len(refused),
                len(recipients),
                codes,
            )

    def _connect(self) -> smtplib.SMTP:
        if self._security == "ssl":
            return smtplib.SMTP_SSL(
                self._host,
                self._port,
                local_hostname=self._local_hostname,
                timeout=self._timeout,
                context=self._tls_context(),
            )
        return smtplib.SMTP(
            self._host, self._port, local_hostname=self._local_hostname, timeout=self._timeout
        )

    def _tls_context(self) -> ssl.SSLContext:
        return self._ssl_context if self._ssl_context is not None else ssl.create_default_context()


def _parse_address(text: object, role: str) -> tuple[str, str]:
    """Return the display name (empty when there is none) and the bare address of one address.

    Raises ValueError for anything but exactly one address without control
    characters. The message names the role, not the address. `getaddresses` does not
    decode encoded words, so the display name is the literal text.
    """
    if not isinstance(text, str):
        raise TypeError(f"{role} address must be text, got {type(text).__name__}")
    if text != one_line(text):
        raise ValueError(f"{role} address contains a line break or control character")
    parsed = getaddresses([text])
    if len(parsed) != 1:
        raise ValueError(f"{role} must be exactly one address")
    name, address = parsed[0]
    if not _ADDRESS.fullmatch(address) or _ENCODED_WORD_START in address:
        raise ValueError(f"{role} is not a valid e-mail address")
    return name, address


class _Header(str):
    """A header whose value the email package stores and writes exactly as built here.

    Python's email policies (checked on 3.11.7, 3.12.1 and 3.13.0) parse a header value
    given as text and decode any RFC 2047 encoded word in it. They then write the decoded
    text out unencoded when it is ASCII. A profile value
    ``=?utf-8?q?Ann=0D=0ABcc:_x@example.com?=`` thus became ``Ann``, CR LF and a ``Bcc``
    header, and text that we encode beforehand ends the same way. The policy stores a
    value that has a ``name`` attribute as it is and writes it with the value's ``fold``
    method, as documented for `email.policy.EmailPolicy`. So ``str(self)`` is the text
    that ``message[name]`` returns, and ``fold`` writes ``units``, which are already
    encoded.
    """

    name: str
    units: tuple[str, ...]

    def __new__(cls, name: str, text: str, units: Iterable[str]) -> _Header:
        header = super().__new__(cls, text)
        header.name = name
        header.units = tuple(units)
        return header

    def __getnewargs__(self) -> tuple[str, str, tuple[str, ...]]:  # type: ignore[override]
        return self.name, str(self), self.units

    def fold(self, *, policy: Policy) -> str:
        """Return the header line: units joined by spaces, folded before a unit past 76 columns."""
        lines = [f"{self.name}:"]
        for index, unit in enumerate(self.units):
            # The first unit stays on the name's line: a parser reads a value that starts
            # on a continuation line back with a leading space.
            if index > 0 and len(lines[-1]) + 1 + len(unit) > _FOLD_LENGTH:
                lines.append("")
            lines[-1] += " " + unit
        return policy.linesep.join(lines) + policy.linesep


def _is_plain(text: str) -> bool:
    """Return whether ``text`` can be sent unencoded, because a reader decodes nothing in it."""
    return (
        text.isascii()
        and text.isprintable()
        and _ENCODED_WORD_START not in text
        and text == text.strip()
    )


def _encoded_words(text: str, first_length: int = _MAX_ENCODED_WORD) -> list[str]:
    """Encode ``text`` as UTF-8 encoded words of at most 75 characters each (RFC 2047).

    The first word is at most ``first_length`` characters, so that it fits on the line
    with the header name. A reader joins adjacent encoded words without the spaces
    between them, and never decodes the decoded text a second time.
    """
    lengths = itertools.chain([first_length], itertools.repeat(_MAX_ENCODED_WORD))
    words = _UTF8.header_encode_lines(text, lengths)
    return [word for word in words if word is not None]


def _first_line_room(name: str) -> int:
    """Return how many characters fit after ``name: `` on the first line of a header."""
    return min(_MAX_ENCODED_WORD, _FOLD_LENGTH - len(name) - 2)


def _text_header(name: str, text: str) -> _Header:
    """Build an unstructured header that shows ``text`` with control characters as spaces.

    Text that is not plain ASCII, contains ``=?``, starts or ends with a space, or does
    not fit on one line is sent as encoded words, so a reader decodes exactly ``text``.
    """
    text = one_line(text)
    if _is_plain(text) and len(name) + 2 + len(text) <= _MAX_LINE_LENGTH:
        return _Header(name, text, [text])
    return _Header(name, text, _encoded_words(text, _first_line_room(name)))


def _address_header(name: str, addresses: Sequence[tuple[str, str]]) -> _Header:
    """Build an address header from (display name, address) pairs from `_parse_address`.

    A display name that is not plain ASCII is sent as encoded words (RFC 2047 allows them
    in a display name), so a reader decodes exactly the given name.

    NOTE: RFC 2047 readers join adjacent encoded words, but Python's email parser
    (3.11.7, 3.12.1 and 3.13.0) puts a space between them in a display name. A name
    longer than one encoded word (about 45 bytes of UTF-8) then reads back there with
    an extra space.
    """
    display_texts = []
    units: list[str] = []
    for position, (display_name, address) in enumerate(addresses):
        username, _, domain = address.rpartition("@")
        display_texts.append(
            str(Address(display_name=display_name, username=username, domain=domain))
        )

        quoted = formataddr((display_name, address))
        if not display_name:
            address_units = [address]
        elif _is_plain(display_name) and len(name) + 3 + len(quoted) <= _MAX_LINE_LENGTH:
            address_units = [quoted]
        else:
            room = _first_line_room(name) if position == 0 else _MAX_ENCODED_WORD
            address_units = [*_encoded_words(display_name, room), f"<{address}>"]
        if position < len(addresses) - 1:
            address_units[-1] += ","
        units.extend(address_units)
    return _Header(name, ", ".join(display_texts), units)


def _close_quietly(client: smtplib.SMTP) -> None:
    # The e-mail has been accepted or has failed by now. An error in QUIT must not turn
    # a success into a retry, which would send the e-mail twice.
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _delivery_error(
    error: smtplib.SMTPException | OSError, stage: str, place: str, timeout: float
) -> DeliveryError:
    """Classify an SMTP failure; the message leaves out server text, which may echo addresses."""
    prefix = f"SMTP {stage} at {place} failed"

    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in error.recipients.values()})
        # Retry only if a server asked for it: a 5xx for one address stays a 5xx.
        retryable = any(400 <= code < 500 for code in codes)
        return DeliveryError(
            f"{prefix}: the server rejected every recipient (codes {codes})", retryable=retryable
        )

    if isinstance(error, smtplib.SMTPResponseException):
        code = error.smtp_code
        return DeliveryError(
            f"{prefix}: the server replied {code}", retryable=_is_transient_reply(code)
        )

    if isinstance(error, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"{prefix}: {error}", retryable=False)

    if isinstance(error, smtplib.SMTPServerDisconnected):
        # smtplib reports a read timeout as a lost connection, with the timeout as context.
        if isinstance(error.__context__, TimeoutError):
            return DeliveryError(f"{prefix}: timed out after {timeout:g} s", retryable=True)
        return DeliveryError(f"{prefix}: the server closed the connection", retryable=True)

    if isinstance(error, ssl.SSLCertVerificationError):
        return DeliveryError(
            f"{prefix}: the server's TLS certificate did not verify ({error.verify_message})",
            retryable=False,
        )

    if isinstance(error, ConnectionRefusedError):
        return DeliveryError(f"{prefix}: connection refused", retryable=True)

    if isinstance(error, TimeoutError):
        return DeliveryError(f"{prefix}: timed out after {timeout:g} s", retryable=True)

    return DeliveryError(f"{prefix}: {type(error).__name__}", retryable=True)


def _is_transient_reply(code: int) -> bool:
    # RFC 5321: 4yz replies are transient failures and 5yz permanent. smtplib uses -1
    # for a reply it could not read, which is a broken connection.
    return code < 0 or 400 <= code < 500
