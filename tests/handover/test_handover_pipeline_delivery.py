"""HandOverPipeline end to end: a Tracker with SQLiteStore delivering to real local servers.

The servers run on 127.0.0.1: aiosmtpd for e-mail, http.server for webhooks and for
the Salesforce REST endpoint that simple-salesforce calls.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import random
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from handover_helpers import (
    LOCALHOST,
    START,
    UPSERT_PATH,
    FakeClock,
    FakeSalesforceLeads,
    ReceivedRequest,
    RecordingHTTPServer,
    Reply,
    SMTPServer,
    TLSFiles,
    free_port,
    pipeline_rules,
    visits,
)

import leadscore
from leadscore import Activity
from leadscore.errors import DeliveryError
from leadscore.handover import (
    EmailSink,
    HandOver,
    HandOverPipeline,
    Sink,
    WebhookSink,
    verify_signature,
)
from leadscore.tracking import SQLiteStore

ENGINE = leadscore.compile(pipeline_rules())
SENDER = "Leadscore <leadscore@example.com>"
SECRET = "webhook-secret-for-tests"
PROFILE = {"name": "Ann Example", "email": "ann@example.com", "company": "Example Ltd"}
MQL_AT = START + dt.timedelta(hours=2)


def email_sink(server: SMTPServer, **options: Any) -> EmailSink:
    settings: dict[str, Any] = {
        "port": server.port,
        "security": "none",
        "local_hostname": "localhost",
        "sender": SENDER,
        "recipients": ["sales@example.com"],
        "timeout": 5.0,
        "subject": "Hot lead: ${profile.name} (${score} points)",
    }
    settings.update(options)
    return EmailSink(LOCALHOST, **settings)


def open_pipeline(path: Path, sinks: dict[str, Sink], **options: Any) -> HandOverPipeline:
    routes = options.pop("routes", {"Product A": {"MQL": list(sinks)}})
    return HandOverPipeline(ENGINE, SQLiteStore(path), routes=routes, sinks=sinks, **options)


def reach_mql(pipeline: HandOverPipeline, contact_id: str = "c-1", **profile: Any) -> None:
    pipeline.tracker.update_profile(contact_id, {**PROFILE, **profile}, START)
    pipeline.tracker.record_many(visits(contact_id, START, 3, contact_id))


# --- e-mail ------------------------------------------------------------------------------


def test_email_end_to_end(start_smtp_server: Callable[..., SMTPServer], tmp_path: Path) -> None:
    server = start_smtp_server()
    pipeline = open_pipeline(tmp_path / "scores.db", {"email": email_sink(server)})
    reach_mql(pipeline)

    summary = pipeline.run_pending()

    assert summary.delivered == 1
    (mail,) = server.handler.mails
    message = mail.message
    assert mail.rcpt_tos == ["sales@example.com"]
    assert message["From"] == SENDER
    assert message["To"] == "sales@example.com"
    assert message["Subject"] == "Hot lead: Ann Example (30 points)"
    assert message["X-Leadscore-Key"] == HandOver.make_key("c-1", "Product A", "MQL", MQL_AT)
    # SMTP sends CRLF line ends.
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "reached the threshold MQL (30 points) in the scoring Product A" in text
    assert "Score: 30" in text
    assert "Level: MQL" in text
    assert re.search(r"^Pricing page\s+30\s+3$", text, re.MULTILINE)
    assert re.search(r"^Job title\s+0$", text, re.MULTILINE)
    html = message.get_body(("html",)).get_content()
    assert "<td>Pricing page</td><td>30</td>" in html
    pipeline.close()


def test_bcc_in_name_adds_no_header(
    start_smtp_server: Callable[..., SMTPServer], tmp_path: Path
) -> None:
    server = start_smtp_server()
    pipeline = open_pipeline(tmp_path / "scores.db", {"email": email_sink(server)})
    reach_mql(pipeline, name="Ann\r\nBcc: x@example.com")

    pipeline.run_pending()

    (mail,) = server.handler.mails
    assert mail.rcpt_tos == ["sales@example.com"]
    assert mail.message["Bcc"] is None
    assert not re.search(rb"^bcc:", mail.content, re.MULTILINE | re.IGNORECASE)
    assert mail.message["Subject"] == "Hot lead: Ann  Bcc: x@example.com (30 points)"
    pipeline.close()


class OwnerEnricher:
    """Looks each contact's owner up in a dictionary standing for the user's CRM."""

    def __init__(self, owners: dict[str, str]) -> None:
        self.owners = owners

    def enrich(self, handover: HandOver) -> HandOver:
        owner = self.owners.get(handover.contact_id)
        if owner is None:
            raise DeliveryError(f"contact {handover.contact_id} is not in the CRM", retryable=False)
        return handover.with_details({"owner_email": owner})


def test_enrichment_and_deleted_contact(
    start_smtp_server: Callable[..., SMTPServer], tmp_path: Path
) -> None:
    server = start_smtp_server()
    owners = {"c-1": "owner-1@example.com", "c-2": "owner-2@example.com"}
    sink = email_sink(server, recipients=lambda h: h.details["owner_email"])
    pipeline = open_pipeline(
        tmp_path / "scores.db", {"email": sink}, enricher=OwnerEnricher(owners)
    )
    reach_mql(pipeline, "c-1")
    reach_mql(pipeline, "c-2")
    del owners["c-2"]  # deleted from the CRM while its hand-over waits

    summary = pipeline.run_pending()

    assert (summary.delivered, summary.dead) == (1, 1)
    assert [mail.rcpt_tos for mail in server.handler.mails] == [["owner-1@example.com"]]
    (letter,) = pipeline.dead_letters()
    assert letter.contact_id == "c-2"
    assert "not in the CRM" in (letter.last_error or "")

    owners["c-2"] = "owner-2@example.com"
    assert pipeline.retry_dead_letter(letter.id)
    pipeline.run_pending()

    assert [mail.rcpt_tos for mail in server.handler.mails][1:] == [["owner-2@example.com"]]
    assert pipeline.dead_letters() == []
    pipeline.close()


# --- webhooks ----------------------------------------------------------------------------


class FlakyReceiver:
    """A webhook receiver that first sends the scripted failures, then accepts each request.

    ``accepted`` counts the 2xx replies per (path, Idempotency-Key).
    """

    def __init__(self, failures: list[Reply]) -> None:
        self.failures = collections.deque(failures)
        self.accepted: collections.Counter[tuple[str, str]] = collections.Counter()
        self.arrived = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, request: ReceivedRequest) -> Reply:
        with self._lock:
            if self.failures:
                return self.failures.popleft()
            self.accepted[(request.path, request.headers["Idempotency-Key"])] += 1
        self.arrived.set()
        return Reply(200, body=b"{}")


def check_signed(request: ReceivedRequest) -> str:
    """Check a webhook request's signature and key; return the hand-over key."""
    assert verify_signature(SECRET, request.body, request.headers["X-Leadscore-Signature"])
    key = json.loads(request.body)["handover"]["key"]
    assert request.headers["Idempotency-Key"] == key
    return str(key)


def webhook_sinks(port: int, timeout: float) -> dict[str, Sink]:
    return {
        "crm-hook": WebhookSink(f"http://{LOCALHOST}:{port}/crm", secret=SECRET, timeout=timeout),
        "ops-hook": WebhookSink(f"http://{LOCALHOST}:{port}/ops", secret=SECRET, timeout=timeout),
    }


def test_webhook_outage_recovery(
    start_http_server: Callable[..., RecordingHTTPServer], tmp_path: Path
) -> None:
    port = free_port()  # nothing listens here until the server starts below
    clock = FakeClock()
    pipeline = open_pipeline(
        tmp_path / "scores.db",
        webhook_sinks(port, timeout=0.5),
        clock=clock,
        max_attempts=20,
        max_delay=5.0,
        rng=random.Random(7),
    )
    reach_mql(pipeline, "c-1")
    reach_mql(pipeline, "c-2")

    first_down = pipeline.run_pending()
    clock.advance(10)
    second_down = pipeline.run_pending()

    server = start_http_server(port=port)
    # Two 500s, then a reply that comes after the sink's timeout, then success.
    receiver = FlakyReceiver([Reply(500), Reply(500), Reply(504, delay=2.0)])
    server.handler = receiver
    reach_mql(pipeline, "c-3")
    for _ in range(10):
        clock.advance(10)
        pipeline.run_pending()

    assert (first_down.retried, second_down.retried) == (4, 4)
    statuses = [delivery.status for delivery in pipeline.deliveries()]
    assert statuses == ["delivered"] * 6
    keys = {HandOver.make_key(c, "Product A", "MQL", MQL_AT) for c in ("c-1", "c-2", "c-3")}
    assert set(receiver.accepted) == {(path, key) for path in ("/crm", "/ops") for key in keys}
    assert set(receiver.accepted.values()) == {1}
    assert len(server.requests) == 9
    assert {check_signed(request) for request in server.requests} == keys
    pipeline.close()


def test_webhook_background_thread(
    start_http_server: Callable[..., RecordingHTTPServer], tmp_path: Path
) -> None:
    server = start_http_server()
    receiver = FlakyReceiver([])
    server.handler = receiver
    sink = WebhookSink(f"{server.url}/crm", secret=SECRET, timeout=5.0)

    with open_pipeline(tmp_path / "scores.db", {"crm-hook": sink}, poll_interval=0.05) as pipeline:
        reach_mql(pipeline)
        # The wait only keeps a broken dispatcher from hanging the test run.
        arrived = receiver.arrived.wait(30)

    assert arrived
    (request,) = server.requests
    assert check_signed(request) == HandOver.make_key("c-1", "Product A", "MQL", MQL_AT)
    body = json.loads(request.body)
    assert body["handover"]["score"] == 30
    assert body["handover"]["profile"]["name"] == "Ann Example"


# --- Salesforce --------------------------------------------------------------------------


def test_salesforce_lead_upsert(
    start_http_server: Callable[..., RecordingHTTPServer], tls_files: TLSFiles, tmp_path: Path
) -> None:
    pytest.importorskip("simple_salesforce")
    requests = pytest.importorskip("requests")
    from leadscore.handover import SalesforceSink

    server = start_http_server(tls=tls_files.server_context())
    leads = FakeSalesforceLeads()
    server.handler = leads
    session = requests.Session()
    session.verify = str(tls_files.cert)
    sink = SalesforceSink(
        {
            "LastName": "profile.name",
            "Company": "profile.company",
            "Email": "profile.email",
            "Lead_Score__c": "score",
            "Rating": "level",
        },
        instance_url=server.url,
        session_id="test-session",
        session=session,
        timeout=5.0,
    )
    pipeline = open_pipeline(
        tmp_path / "scores.db", {"crm": sink}, routes={"Product A": {"*": ["crm"]}}
    )
    reach_mql(pipeline)
    pipeline.run_pending()

    assert leads.leads["c-1"]["Lead_Score__c"] == 30
    assert leads.leads["c-1"]["Rating"] == "MQL"

    pipeline.tracker.record(Activity("c-1", "demo_request", MQL_AT, id="demo-1"))
    pipeline.run_pending()

    assert list(leads.leads) == ["c-1"]
    assert leads.leads["c-1"] == {
        "Id": leads.leads["c-1"]["Id"],
        "LastName": "Ann Example",
        "Company": "Example Ltd",
        "Email": "ann@example.com",
        "Lead_Score__c": 60,
        "Rating": "SQL",
    }
    assert [request.method for request in server.requests] == ["PATCH", "PATCH"]
    assert all(UPSERT_PATH.fullmatch(request.path) for request in server.requests)
    assert server.requests[0].path.endswith("/Leadscore_Id__c/c-1")
    pipeline.close()
