"""Local servers, builders and a fake clock for the hand-over tests, all on 127.0.0.1."""

from __future__ import annotations

import collections
import datetime as dt
import http.server
import json
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from leadscore.handover import HandOver
from leadscore.model import Activity, Contact
from leadscore.scorecard import Award, RuleResult, Threshold

LOCALHOST = "127.0.0.1"
UTC = dt.UTC
CROSSED_AT = dt.datetime(2026, 6, 1, 9, 30, tzinfo=UTC)

PROXY_VARIABLES = (
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)


def free_port() -> int:
    """Return a port on 127.0.0.1 that was free a moment ago; nothing listens on it now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOCALHOST, 0))
        port: int = probe.getsockname()[1]
        return port


def make_handover(**changes: Any) -> HandOver:
    """Build a hand-over with a profile, a two-rule breakdown and one award; override any field."""
    activity = Activity(
        "c-1",
        "page_visit",
        dt.datetime(2026, 5, 30, 8, 0, tzinfo=UTC),
        {"url": "https://example.com/pricing", "seconds": 42},
        id="evt-17",
    )
    options: dict[str, Any] = {
        "contact": Contact(
            "c-1",
            {
                "name": "Ann Example",
                "email": "ann@example.com",
                "owner_email": "owner@example.com",
                "company": "Example Ltd",
                "signed_up": dt.date(2026, 1, 15),
            },
        ),
        "scoring": "fit",
        "threshold": Threshold("MQL", 100),
        "score": 105,
        "level": "MQL",
        "at": CROSSED_AT,
        "breakdown": (
            RuleResult("Job title", "profile", 75, True),
            RuleResult(
                "Pricing page",
                "activity",
                30,
                True,
                awards=(Award(activity, 30, dt.datetime(2026, 6, 29, 8, 0, tzinfo=UTC)),),
            ),
        ),
    }
    options.update(changes)
    contact = options.pop("contact")
    return HandOver.for_crossing(contact, **options)


# --- TLS -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TLSFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def make_tls_files(folder: Path) -> TLSFiles:
    """Write a self-signed certificate for localhost and 127.0.0.1 into ``folder``."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOCALHOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )

    cert_path = folder / "cert.pem"
    key_path = folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return TLSFiles(cert_path, key_path)


# --- HTTP ------------------------------------------------------------------------------


@dataclass
class Reply:
    """A scripted HTTP reply; ``delay`` seconds pass before it is sent."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class RecordingHTTPServer:
    """An HTTP(S) server on 127.0.0.1 that records requests and sends scripted replies.

    ``script`` is a queue of replies used in order; when it is empty, ``handler``
    decides (by default 200 with an empty JSON object).
    """

    def __init__(self, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[ReceivedRequest] = []
        self.script: collections.deque[Reply] = collections.deque()
        self.handler: Callable[[ReceivedRequest], Reply] = lambda request: Reply(200, body=b"{}")
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = ReceivedRequest(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
                )
                reply = server._record(request)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer((LOCALHOST, port), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port: int = self._server.server_address[1]
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://{LOCALHOST}:{self.port}"
        # A short poll interval makes shutdown() return quickly.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def _record(self, request: ReceivedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self.script:
                return self.script.popleft()
        return self.handler(request)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


# --- Salesforce -------------------------------------------------------------------------

UPSERT_PATH = re.compile(
    r"/services/data/v\d+\.\d+/sobjects/Lead/Leadscore_Id__c/(?P<value>[^/?]+)"
)


class FakeSalesforceLeads:
    """The part of Salesforce's REST API that an upsert by external id uses.

    ``fail_next`` replies are sent instead of success; with ``commit_before_failing``
    the record is written first, like a server that fails after its commit.
    """

    def __init__(self) -> None:
        self.leads: dict[str, dict[str, Any]] = {}
        self.fail_next: list[Reply] = []
        self.commit_before_failing = False
        self._lock = threading.Lock()

    def __call__(self, request: ReceivedRequest) -> Reply:
        match = UPSERT_PATH.fullmatch(request.path)
        if request.method != "PATCH" or match is None:
            return Reply(404, body=b'[{"errorCode": "NOT_FOUND", "message": "no such resource"}]')
        if request.headers.get("Authorization") != "Bearer test-session":
            return Reply(401, body=b'[{"errorCode": "INVALID_SESSION_ID", "message": "bad"}]')

        external_id = urllib.parse.unquote(match["value"])
        fields = json.loads(request.body)
        with self._lock:
            failure = self.fail_next.pop(0) if self.fail_next else None
            if failure is not None and not self.commit_before_failing:
                return failure
            created = external_id not in self.leads
            lead = self.leads.setdefault(external_id, {"Id": f"00Q{len(self.leads):012d}"})
            lead.update(fields)
        if failure is not None:
            return failure
        if created:
            body = {"id": lead["Id"], "success": True, "errors": [], "created": True}
            return Reply(201, {"Content-Type": "application/json"}, json.dumps(body).encode())
        return Reply(204)


# --- SMTP ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class RecordingSMTPHandler:
    """An aiosmtpd handler that keeps every message and can refuse recipients or data."""

    def __init__(self) -> None:
        self.mails: list[ReceivedMail] = []
        self.rcpt_reply: str | None = None  # e.g. "550 5.1.1 no such user"
        self.data_reply: str | None = None  # e.g. "451 4.3.0 try again later"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            return self.data_reply
        self.mails.append(
            ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 Message accepted"


SMTP_USER = "leadscore"
SMTP_PASSWORD = "s3cret-for-tests"


@dataclass
class SMTPServer:
    handler: RecordingSMTPHandler
    controller: Controller
    port: int


def authenticate_test_user(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    """Accept only SMTP_USER with SMTP_PASSWORD."""
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == SMTP_USER
        and auth_data.password.decode() == SMTP_PASSWORD
    )
    # handled=False makes aiosmtpd send the 535 reply itself on failure.
    return AuthResult(success=ok, handled=False)


def start_smtp_controller(
    handler: RecordingSMTPHandler, mode: str, tls_files: TLSFiles
) -> SMTPServer:
    """Start aiosmtpd on 127.0.0.1: "plain", "starttls" (login required) or "ssl" (TLS at once)."""
    port = free_port()
    options: dict[str, Any] = {}
    if mode == "starttls":
        options = {
            "tls_context": tls_files.server_context(),
            "require_starttls": True,
            "authenticator": authenticate_test_user,
            "auth_require_tls": True,
            "auth_required": True,
        }
    elif mode == "ssl":
        # aiosmtpd counts only STARTTLS as TLS for auth_require_tls, so it is
        # turned off here, where the whole connection is TLS from the start.
        options = {
            "ssl_context": tls_files.server_context(),
            "authenticator": authenticate_test_user,
            "auth_require_tls": False,
            "auth_required": True,
        }
    controller = Controller(
        handler, hostname=LOCALHOST, port=port, server_hostname="localhost", **options
    )
    controller.start()
    return SMTPServer(handler, controller, port)


# --- Clock -----------------------------------------------------------------------------


class FakeClock:
    """A clock that moves only when a test calls ``advance`` or ``sleep``."""

    def __init__(self, start: dt.datetime = CROSSED_AT) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)


# --- Tracker rules ---------------------------------------------------------------------

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# "Product A" reaches MQL with three page visits, or a demo request, and SQL with 60
# points. Visits expire after 7 days, so a contact can drop below MQL and climb back.
# SETTINGS takes scoring settings such as "notify once".
RULES_TEMPLATE = """
scoring "Product A" {
    threshold "MQL" at 30
    threshold "SQL" at 60
    SETTINGS
    rule "Job title" { when contact.title == "CTO" award 20 }
    rule "Pricing page" { on page_visit award 10 each max 40 expire after 7 days }
    rule "Demo request" { on demo_request award 30 expire after 14 days }
}
scoring "Product B" {
    threshold "MQL" at 20
    rule "Webinar" { on webinar award 20 each expire after 3 days }
}
"""


def pipeline_rules(settings: str = "") -> str:
    """Return the test rules, with ``settings`` added to the scoring "Product A"."""
    return RULES_TEMPLATE.replace("SETTINGS", settings)


def visits(contact_id: str, start: dt.datetime, count: int, prefix: str) -> list[Activity]:
    """Return ``count`` page visits of a contact, one hour apart from ``start``."""
    return [
        Activity(
            contact_id,
            "page_visit",
            start + dt.timedelta(hours=hour),
            {"url": "https://example.com/pricing"},
            id=f"{prefix}-{hour}",
        )
        for hour in range(count)
    ]
