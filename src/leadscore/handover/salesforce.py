"""SalesforceSink: create or update a Lead for each hand-over, upserting by an external id.

Needs the ``salesforce`` extra (simple-salesforce), which is imported when a sink is built.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any, Final

from leadscore.errors import DeliveryError
from leadscore.handover.fields import MISSING, FieldSource, check_source, resolve
from leadscore.handover.record import HandOver

__all__ = ["SalesforceSink"]

# Salesforce API names: a letter, then letters, digits and underscores (custom ones end in __c).
_API_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# Error codes that Salesforce returns with a 4xx status for conditions that pass:
# record locks held by another transaction and API request limits.
_TRANSIENT_ERROR_CODES: Final = frozenset(
    {"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "TOO_MANY_REQUESTS"}
)


class SalesforceSink:
    """Upsert a Lead (or another object) per contact through the Salesforce REST API.

    The record is addressed by ``external_id_field`` set to the contact id, with
    ``PATCH /sobjects/Lead/<external_id_field>/<contact id>``. A retry therefore
    updates the Lead it created instead of creating a second one. The field must
    exist in Salesforce as an External ID field. ``fields`` maps each Salesforce field
    to a hand-over field path (see `leadscore.handover.fields`) or a function of the
    hand-over. A field whose profile or details value is missing is left out, so that
    the update keeps what is in Salesforce. Example::

        SalesforceSink(
            {"LastName": "profile.last_name", "Company": "profile.company",
             "Email": "profile.email", "Lead_Score__c": "score", "Rating": "level"},
            instance_url="https://example.my.salesforce.com", session_id=token,
        )

    Pass either a ready ``simple_salesforce.Salesforce`` as ``salesforce`` or
    ``instance_url`` and ``session_id``. With the latter, ``session`` (a
    ``requests.Session``) is used if given, and every request gets ``timeout``
    seconds. A ready client keeps its own timeouts. 5xx replies, connection errors,
    record locks and API limits raise a retryable DeliveryError. Other 4xx replies,
    such as an unknown field, raise a permanent one.
    """

    def __init__(
        self,
        fields: Mapping[str, FieldSource],
        *,
        salesforce: Any = None,
        instance_url: str | None = None,
        session_id: str | None = None,
        external_id_field: str = "Leadscore_Id__c",
        sobject: str = "Lead",
        version: str | None = None,
        timeout: float = 30.0,
        session: Any = None,
    ) -> None:
        try:
            import simple_salesforce
        except ImportError as error:
            raise ImportError(
                "SalesforceSink needs simple-salesforce: pip install 'leadscore[salesforce]'"
            ) from error

        for name, parameter in ((external_id_field, "external_id_field"), (sobject, "sobject")):
            if not isinstance(name, str) or not _API_NAME.fullmatch(name):
                raise ValueError(f"{parameter} must be a Salesforce API name, got {name!r}")
        if not fields:
            raise ValueError("fields must map at least one Salesforce field")
        for field, source in fields.items():
            if not isinstance(field, str) or not _API_NAME.fullmatch(field):
                raise ValueError(f"{field!r} is not a Salesforce field API name")
            if field.lower() == external_id_field.lower():
                # Salesforce rejects an upsert body that repeats the external id field.
                raise ValueError(
                    f"fields must not include the external id field {external_id_field!r}; "
                    "the contact id is sent in the URL"
                )
            check_source(source, f"the source of field {field!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")

        if salesforce is not None:
            if instance_url is not None or session_id is not None or session is not None:
                raise ValueError("pass either salesforce or instance_url and session_id, not both")
            client = salesforce
        else:
            if not instance_url or not session_id:
                raise ValueError("pass salesforce, or both instance_url and session_id")
            client = _build_client(
                simple_salesforce, instance_url, session_id, version, session, timeout
            )

        self._client = client
        self._fields = dict(fields)
        self._external_id_field = external_id_field
        self._sobject = sobject

    def __repr__(self) -> str:
        return (
            f"SalesforceSink(sobject={self._sobject!r}, "
            f"external_id_field={self._external_id_field!r})"
        )

    def build_record(self, handover: HandOver) -> dict[str, Any]:
        """Return the field values the upsert sends for ``handover``."""
        record = {}
        for field, source in self._fields.items():
            value = resolve(handover, source)
            if value is MISSING:
                continue
            record[field] = _salesforce_value(value, field, handover)
        return record

    def deliver(self, handover: HandOver) -> None:
        """Upsert the record for the hand-over's contact; raises DeliveryError on failure."""
        from requests.exceptions import RequestException, SSLError
        from simple_salesforce.exceptions import SalesforceError

        record = self.build_record(handover)
        # The contact id goes into a URL path, so a / or ? in it must be escaped.
        record_id = f"{self._external_id_field}/{urllib.parse.quote(handover.contact_id, safe='')}"
        where = f"Salesforce {self._sobject} upsert for contact {handover.contact_id}"

        try:
            getattr(self._client, self._sobject).upsert(record_id, record)
        except SalesforceError as error:
            raise _status_error(where, error.status, error.content) from error
        except SSLError as error:
            raise DeliveryError(
                f"{where} failed: the TLS certificate did not verify", retryable=False
            ) from error
        except RequestException as error:
            raise DeliveryError(
                f"{where} failed: network error ({type(error).__name__})", retryable=True
            ) from error


def _build_client(
    simple_salesforce: Any,
    instance_url: str,
    session_id: str,
    version: str | None,
    session: Any,
    timeout: float,
) -> Any:
    import requests
    from requests.adapters import HTTPAdapter

    class _TimeoutAdapter(HTTPAdapter):
        # simple-salesforce passes no timeout, so without this a request could wait forever.
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            if not args and kwargs.get("timeout") is None:
                kwargs["timeout"] = timeout
            return super().send(request, *args, **kwargs)

    session = session if session is not None else requests.Session()
    session.mount("https://", _TimeoutAdapter())
    options: dict[str, Any] = {"instance_url": instance_url, "session_id": session_id}
    if version is not None:
        options["version"] = version
    return simple_salesforce.Salesforce(session=session, **options)


def _status_error(where: str, status: int, content: Any) -> DeliveryError:
    """Classify a Salesforce error reply by status and error codes.

    The message names error codes and fields but not Salesforce's text, which can
    quote the rejected value (a profile value).
    """
    codes: list[str] = []
    fields: list[str] = []
    if isinstance(content, list):
        for item in content:
            if isinstance(item, Mapping):
                codes.append(str(item.get("errorCode", "")))
                fields.extend(str(field) for field in item.get("fields") or ())
    retryable = status >= 500 or status in (408, 429) or bool(_TRANSIENT_ERROR_CODES & set(codes))
    message = f"{where} failed with HTTP {status}"
    if codes:
        message += f" ({', '.join(codes)})"
    if fields:
        message += f" on fields {', '.join(fields)}"
    return DeliveryError(message, retryable=retryable)


def _salesforce_value(value: Any, field: str, handover: HandOver) -> Any:
    """Return ``value`` in the form the Salesforce REST API takes in JSON."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        # Multi-select picklists take their values joined by semicolons.
        return ";".join(str(item) for item in value)
    raise DeliveryError(
        f"field {field} for hand-over {handover.key}: a {type(value).__name__} "
        "cannot be sent to Salesforce; map it through a function",
        retryable=False,
    )
