"""NotifySink: post each hand-over to chat or push services through apprise URLs.

Needs the ``notify`` extra (apprise), which is imported when a sink is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Literal

from leadscore.errors import DeliveryError
from leadscore.handover.fields import HandOverTemplate, one_line
from leadscore.handover.record import HandOver

__all__ = ["DEFAULT_NOTIFY_BODY", "DEFAULT_NOTIFY_TITLE", "NotifySink"]

DEFAULT_NOTIFY_TITLE: Final = "Lead ${contact_id} reached ${threshold}"
DEFAULT_NOTIFY_BODY: Final = (
    "Contact ${contact_id} reached ${threshold} in ${scoring} with a score of ${score}.\n"
    "${breakdown}"
)

BodyFormat = Literal["text", "markdown", "html"]


class NotifySink:
    """Send each hand-over as a chat or push message to one or more apprise URLs.

    Any service apprise supports works, such as ``slack://``, ``msteams://``,
    ``mailto://`` or a plain ``json://`` endpoint. ``title`` and ``body`` are
    `HandOverTemplate` text. With ``body_format="html"`` the values are HTML-escaped;
    markdown is not escaped. Example::

        NotifySink(os.environ["SLACK_URL"], title="Hot lead: ${profile.company}")

    If any service fails, a retryable DeliveryError is raised and the retry goes to
    every URL again, so the services that succeeded see the message twice. Give each
    service its own sink where that matters. Time limits are the services' own, set
    in the URL (apprise's ``cto`` and ``rto`` options).
    """

    def __init__(
        self,
        urls: str | Sequence[str],
        *,
        title: str = DEFAULT_NOTIFY_TITLE,
        body: str = DEFAULT_NOTIFY_BODY,
        body_format: BodyFormat = "text",
    ) -> None:
        try:
            import apprise
        except ImportError as error:
            raise ImportError(
                "NotifySink needs apprise: pip install 'leadscore[notify]'"
            ) from error

        if body_format not in ("text", "markdown", "html"):
            raise ValueError(
                f"body_format must be 'text', 'markdown' or 'html', got {body_format!r}"
            )
        url_list = [urls] if isinstance(urls, str) else list(urls)
        if not url_list:
            raise ValueError("urls must name at least one notification URL")

        self._apprise: Any = apprise.Apprise()
        for number, url in enumerate(url_list, start=1):
            # The URL is not shown: notification URLs carry tokens.
            if not isinstance(url, str) or not self._apprise.add(url):
                raise ValueError(f"notification URL number {number} is not one apprise supports")
        self._count = len(url_list)
        self._title = HandOverTemplate(title)
        self._body = HandOverTemplate(body)
        self._body_format = body_format

    def __repr__(self) -> str:
        return f"NotifySink({self._count} URL(s), body_format={self._body_format!r})"

    def deliver(self, handover: HandOver) -> None:
        """Notify every URL; raises a retryable DeliveryError if any of them fails."""
        title = one_line(self._title.render_text(handover))
        if self._body_format == "html":
            body = self._body.render_html(handover)
        else:
            body = self._body.render_text(handover)

        result = self._apprise.notify(body=body, title=title, body_format=self._body_format)
        if not result:
            # apprise 2 returns a result with counts, earlier versions a plain bool.
            failed = getattr(result, "failed_count", None)
            share = f"{failed} of {self._count}" if failed else f"one or more of {self._count}"
            raise DeliveryError(
                f"apprise could not notify {share} services for hand-over {handover.key}",
                retryable=True,
            )
