"""SalesforceSink against a local HTTPS server that implements the REST upsert endpoint."""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
from collections.abc import Callable
from typing import Any

import pytest
import requests
from handover_helpers import (
    LOCALHOST,
    UPSERT_PATH,
    FakeClock,
    FakeSalesforceLeads,
    RecordingHTTPServer,
    Reply,
    TLSFiles,
    free_port,
    make_handover,
)
from simple_salesforce import Salesforce

from leadscore.errors import DeliveryError
from leadscore.handover import Dispatcher, HandOver, MemoryOutbox, SalesforceSink
from leadscore.model import Contact

FIELDS = {
    "LastName": "profile.name",
    "Company": "profile.company",
    "Email": "profile.email",
    "Lead_Score__c": "score",
    "Rating": "level",
}


@pytest.fixture
def salesforce_server(
    start_http_server: Callable[..., RecordingHTTPServer], tls_files: TLSFiles
) -> tuple[RecordingHTTPServer, FakeSalesforceLeads]:
    server = start_http_server(tls=tls_files.server_context())
    leads = FakeSalesforceLeads()
    server.handler = leads
    return server, leads


def trusting_session(tls_files: TLSFiles) -> requests.Session:
    session = requests.Session()
    session.verify = str(tls_files.cert)
    return session


def sink_for(server: RecordingHTTPServer, tls_files: TLSFiles, **options: Any) -> SalesforceSink:
    settings: dict[str, Any] = {
        "instance_url": server.url,
        "session_id": "test-session",
        "session": trusting_session(tls_files),
        "timeout": 5.0,
    }
    settings.update(options)
    return SalesforceSink(settings.pop("fields", FIELDS), **settings)


def test_upsert_creates_lead_by_external_id(
    salesforce_server: tuple[RecordingHTTPServer, FakeSalesforceLeads],
    tls_files: TLSFiles,
    handover: HandOver,
) -> None:
    server, leads = salesforce_server

    sink_for(server, tls_files).deliver(handover)

    (request,) = server.requests
    assert request.method == "PATCH"
    assert UPSERT_PATH.fullmatch(request.path)
    assert request.path.endswith("/Leadscore_Id__c/c-1")
    assert json.loads(request.body) == {
        "LastName": "Ann Example",
        "Company": "Example Ltd",
        "Email": "ann@example.com",
        "Lead_Score__c": 105,
        "Rating": "MQL",
    }
    assert list(leads.leads) == ["c-1"]


def test_retry_after_500_keeps_one_lead(
    salesforce_server: tuple[RecordingHTTPServer, FakeSalesforceLeads],
    tls_files: TLSFiles,
    handover: HandOver,
    clock: FakeClock,
) -> None:
    server, leads = salesforce_server
    # The server writes the Lead, then fails: the worst case for a retry.
    leads.commit_before_failing = True
    leads.fail_next.append(
        Reply(500, body=b'[{"errorCode": "UNKNOWN_EXCEPTION", "message": "try again"}]')
    )
    outbox = MemoryOutbox()
    dispatcher = Dispatcher(
        outbox, {"crm": sink_for(server, tls_files)}, clock=clock, rng=random.Random(1)
    )
    dispatcher.submit(handover)

    first = dispatcher.run_pending()
    clock.advance(10)
    second = dispatcher.run_pending()

    assert (first.retried, second.delivered) == (1, 1)
    assert len(server.requests) == 2
    assert server.requests[0].path == server.requests[1].path
    assert list(leads.leads) == ["c-1"]
    assert leads.leads["c-1"]["Lead_Score__c"] == 105
    (delivery,) = outbox.deliveries()
    assert delivery.status == "delivered"
    assert delivery.last_error is not None
    assert "HTTP 500" in delivery.last_error


def test_update_keeps_existing_lead(
    salesforce_server: tuple[RecordingHTTPServer, FakeSalesforceLeads], tls_files: TLSFiles
) -> None:
    server, leads = salesforce_server
    sink = sink_for(server, tls_files)

    sink.deliver(make_handover(score=105))
    lead_id = leads.leads["c-1"]["Id"]
    sink.deliver(make_handover(score=140, at=dt.datetime(2026, 7, 1, tzinfo=dt.UTC)))

    assert list(leads.leads) == ["c-1"]
    assert leads.leads["c-1"]["Id"] == lead_id
    assert leads.leads["c-1"]["Lead_Score__c"] == 140


def test_invalid_field_is_permanent_and_quotes_no_value(
    salesforce_server: tuple[RecordingHTTPServer, FakeSalesforceLeads],
    tls_files: TLSFiles,
    handover: HandOver,
) -> None:
    server, leads = salesforce_server
    error = [
        {
            "errorCode": "INVALID_EMAIL_ADDRESS",
            "message": "Email: invalid email address: ann@example.com",
            "fields": ["Email"],
        }
    ]
    leads.fail_next.append(Reply(400, body=json.dumps(error).encode()))

    with pytest.raises(DeliveryError) as caught:
        sink_for(server, tls_files).deliver(handover)

    assert caught.value.retryable is False
    assert "HTTP 400 (INVALID_EMAIL_ADDRESS) on fields Email" in str(caught.value)
    assert "ann@example.com" not in str(caught.value)


def test_record_lock_is_retryable(
    salesforce_server: tuple[RecordingHTTPServer, FakeSalesforceLeads],
    tls_files: TLSFiles,
    handover: HandOver,
) -> None:
    server, leads = salesforce_server
    leads.fail_next.append(
        Reply(400, body=b'[{"errorCode": "UNABLE_TO_LOCK_ROW", "message": "locked"}]')
    )

    with pytest.raises(DeliveryError) as caught:
        sink_for(server, tls_files).deliver(handover)

    assert caught.value.retryable is True


def test_contact_id_is_escaped_in_path(
    salesforce_server: tuple[RecordingHTTPServer, FakeSalesforceLeads], tls_files: TLSFiles
) -> None:
    server, leads = salesforce_server
    handover = make_handover(contact=Contact("crm/42?x", {"name": "Bo", "company": "B"}))

    sink_for(server, tls_files).deliver(handover)

    assert server.requests[0].path.endswith("/Leadscore_Id__c/crm%2F42%3Fx")
    assert list(leads.leads) == ["crm/42?x"]


def test_ready_client_is_used(
    salesforce_server: tuple[RecordingHTTPServer, FakeSalesforceLeads],
    tls_files: TLSFiles,
    handover: HandOver,
) -> None:
    server, leads = salesforce_server
    client = Salesforce(
        instance_url=server.url, session_id="test-session", session=trusting_session(tls_files)
    )

    SalesforceSink(FIELDS, salesforce=client).deliver(handover)

    assert list(leads.leads) == ["c-1"]


def test_field_values_are_converted(
    salesforce_server: tuple[RecordingHTTPServer, FakeSalesforceLeads], tls_files: TLSFiles
) -> None:
    server, _ = salesforce_server
    handover = make_handover(
        contact=Contact("c-1", {"name": "Ann", "interests": ["CRM", "API"]})
    ).with_details({"owner_id": "005xx"})
    fields = {
        "LastName": "profile.name",
        "Company": lambda h: h.profile.get("company") or "[not provided]",
        "Interests__c": "profile.interests",
        "Crossed_At__c": "at",
        "OwnerId": "details.owner_id",
        "Website": "profile.website",  # missing: left out
    }

    sink_for(server, tls_files, fields=fields).deliver(handover)

    assert json.loads(server.requests[0].body) == {
        "LastName": "Ann",
        "Company": "[not provided]",
        "Interests__c": "CRM;API",
        "Crossed_At__c": "2026-06-01T09:30:00+00:00",
        "OwnerId": "005xx",
    }


def test_closed_port_is_retryable(tls_files: TLSFiles, handover: HandOver) -> None:
    sink = SalesforceSink(
        FIELDS,
        instance_url=f"https://{LOCALHOST}:{free_port()}",
        session_id="test-session",
        session=trusting_session(tls_files),
        timeout=2.0,
    )

    with pytest.raises(DeliveryError, match="network error") as caught:
        sink.deliver(handover)

    assert caught.value.retryable is True


def test_untrusted_certificate_is_permanent(
    salesforce_server: tuple[RecordingHTTPServer, FakeSalesforceLeads], handover: HandOver
) -> None:
    server, _ = salesforce_server
    sink = SalesforceSink(FIELDS, instance_url=server.url, session_id="test-session")

    with pytest.raises(DeliveryError, match="certificate") as caught:
        sink.deliver(handover)

    assert caught.value.retryable is False


@pytest.mark.parametrize(
    ("fields", "options", "message"),
    [
        ({"Leadscore_Id__c": "contact_id"}, {}, "external id field"),
        ({"Last Name": "profile.name"}, {}, "not a Salesforce field API name"),
        ({"LastName": "profile"}, {}, "unknown hand-over field"),
        ({}, {}, "at least one"),
        (FIELDS, {"sobject": "Lead; DROP"}, "sobject must be"),
        (FIELDS, {"salesforce": object()}, "not both"),
        (FIELDS, {"session_id": None}, "both instance_url and session_id"),
    ],
)
def test_configuration_errors(
    fields: dict[str, Any], options: dict[str, Any], message: str
) -> None:
    settings: dict[str, Any] = {
        "instance_url": f"https://{LOCALHOST}:1",
        "session_id": "test-session",
    }
    settings.update(options)
    if "salesforce" in options:
        settings.pop("session_id")

    with pytest.raises(ValueError, match=message):
        SalesforceSink(fields, **settings)


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes the import raise ImportError, as if the extra were absent.
    monkeypatch.setitem(sys.modules, "simple_salesforce", None)

    with pytest.raises(ImportError, match=r"pip install 'leadscore\[salesforce\]'"):
        SalesforceSink(FIELDS, instance_url=f"https://{LOCALHOST}:1", session_id="x")
