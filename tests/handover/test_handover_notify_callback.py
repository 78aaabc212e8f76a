"""NotifySink through apprise's json:// to a local HTTP server, and CallbackSink."""

from __future__ import annotations

import json
import sys

import pytest
from handover_helpers import RecordingHTTPServer, Reply, make_handover

from leadscore.errors import DeliveryError
from leadscore.handover import CallbackSink, HandOver, NotifySink
from leadscore.model import Contact

# apprise 2.3 imports the deprecated imghdr module on Python 3.11 and 3.12.
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")


def json_url(server: RecordingHTTPServer) -> str:
    return f"json://127.0.0.1:{server.port}/notify"


def test_notify_posts_title_and_body(http_server: RecordingHTTPServer, handover: HandOver) -> None:
    NotifySink(json_url(http_server)).deliver(handover)

    (request,) = http_server.requests
    payload = json.loads(request.body)
    assert request.method == "POST"
    assert request.path == "/notify"
    assert payload["title"] == "Lead c-1 reached MQL"
    assert payload["message"] == (
        "Contact c-1 reached MQL in fit with a score of 105.\nJob title: 75; Pricing page: 30"
    )


def test_notify_templates_and_html_escaping(http_server: RecordingHTTPServer) -> None:
    handover = make_handover(contact=Contact("c-1", {"company": "<b>Acme</b>\r\nX: 1"}))
    sink = NotifySink(
        json_url(http_server),
        title="Hot lead: ${profile.company}",
        body="<p>${profile.company}: ${score}</p>",
        body_format="html",
    )

    sink.deliver(handover)

    payload = json.loads(http_server.requests[0].body)
    assert payload["title"] == "Hot lead: <b>Acme</b>  X: 1"
    assert "&lt;b&gt;Acme&lt;/b&gt;" in payload["message"]
    assert "<b>Acme</b>" not in payload["message"]


def test_notify_failure_is_retryable(http_server: RecordingHTTPServer, handover: HandOver) -> None:
    http_server.handler = lambda request: Reply(500)

    with pytest.raises(DeliveryError, match="apprise could not notify") as caught:
        NotifySink(json_url(http_server)).deliver(handover)

    assert caught.value.retryable is True
    assert str(http_server.port) not in str(caught.value)


def test_notify_rejects_unknown_url_without_showing_it() -> None:
    with pytest.raises(ValueError, match="URL number 2") as caught:
        NotifySink(["json://127.0.0.1:1/", "nosuchscheme://t0ken@host/"])

    assert "t0ken" not in str(caught.value)


def test_notify_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes the import raise ImportError, as if the extra were absent.
    monkeypatch.setitem(sys.modules, "apprise", None)

    with pytest.raises(ImportError, match=r"pip install 'leadscore\[notify\]'"):
        NotifySink("json://127.0.0.1:1/")


def test_callback_receives_handover(handover: HandOver) -> None:
    received: list[HandOver] = []

    CallbackSink(received.append).deliver(handover)

    assert received == [handover]


def test_callback_exception_becomes_retryable(handover: HandOver) -> None:
    def broken(handover: HandOver) -> None:
        raise KeyError(handover.profile["email"])

    with pytest.raises(DeliveryError) as caught:
        CallbackSink(broken, name="crm-queue").deliver(handover)

    assert caught.value.retryable is True
    assert str(caught.value) == f"callback crm-queue raised KeyError for hand-over {handover.key}"
    assert isinstance(caught.value.__cause__, KeyError)


def test_callback_delivery_error_passes_through(handover: HandOver) -> None:
    permanent = DeliveryError("contact opted out", retryable=False)

    def refuse(handover: HandOver) -> None:
        raise permanent

    with pytest.raises(DeliveryError) as caught:
        CallbackSink(refuse).deliver(handover)

    assert caught.value is permanent


def test_callback_requires_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        CallbackSink("not callable")  # type: ignore[arg-type]
