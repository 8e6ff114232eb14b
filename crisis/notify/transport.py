"""Sending one message with apprise, and telling permanent failures from transient ones.

Apprise 2 returns an AppriseResult (falsy unless every service succeeded), not a bool,
and never raises; it reports the HTTP status only in its logs."""
from __future__ import annotations

import json
import re
from typing import Any, Protocol

import apprise

_HTTP_CODE = re.compile(r"error=(\d{3})")
# Client errors mean the destination is wrong (a deleted webhook, a bad token): retrying
# will not help. 408 and 429 are the receiver asking us to come back later.
_RETRYABLE_4XX = {408, 425, 429}


class TransportError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class Transport(Protocol):
    def __call__(self, url: str, title: str, body: str, *, notify_type: str = "info") -> None: ...


_warmed = False


def warm() -> None:
    """Load apprise's plugin registry now (~0.3 s). rq forks a work horse per job: a worker
    that warmed up once hands every horse a loaded registry instead of each paying for it."""
    global _warmed
    if not _warmed:
        apprise.Apprise().add("json://localhost/")
        _warmed = True


def check_url(url: str) -> str | None:
    """None when apprise understands the URL, else what is wrong (without echoing secrets)."""
    if not isinstance(url, str) or not url.strip():
        return "must be a non-empty apprise URL such as mailto://, json://, discord://, tgram://"
    if len(url) > 2000:
        return "is longer than 2000 characters"
    if not apprise.Apprise().add(url):
        scheme = url.split("://", 1)[0] if "://" in url else ""
        return (f"apprise does not understand this URL (scheme {scheme!r})" if scheme
                else "is not an apprise URL (expected scheme://...)")
    return None


def _failure_detail(result: Any) -> tuple[str, bool]:
    """The last logged warning and whether it names a permanent HTTP status."""
    try:
        doc = json.loads("".join(result.iter_json()))
    except Exception:  # noqa: BLE001 -- the detail is a nicety; the failure itself is known
        return f"delivery failed ({_status_name(result)})", False
    messages = [log.get("message", "") for item in doc.get("results", []) for attempt in item.get("attempts", [])
                for log in attempt.get("logs", []) if log.get("level") in {"WARNING", "ERROR"}]
    message = messages[-1] if messages else f"delivery failed ({_status_name(result)})"
    codes = [int(c) for c in _HTTP_CODE.findall(message)]
    permanent = any(400 <= c < 500 and c not in _RETRYABLE_4XX for c in codes)
    return message[:400], permanent


def _status_name(result: Any) -> str:
    status = getattr(result, "status", None)
    return getattr(status, "name", str(status))


def send(url: str, title: str, body: str, *, notify_type: str = "info") -> None:
    """Deliver or raise TransportError(permanent=...). Never logs the URL: it may hold a token."""
    sender = apprise.Apprise()
    if not sender.add(url):
        raise TransportError("apprise does not understand this destination URL", permanent=True)
    # Our templates render plain text (crisis.notify.render). Saying so makes apprise escape it
    # for destinations that interpret markup: HTML email gets &lt;script&gt;, Markdown services
    # get backslash escapes. Without a body_format apprise passes the text through untouched,
    # and an incident title or note such as <img src=x onerror=...> became live HTML in email.
    result = sender.notify(title=title, body=body, notify_type=notify_type, body_format=apprise.NotifyFormat.TEXT)
    if result:  # truthy only for SUCCESS; PARTIAL, NOMATCH and TIMEOUT are failures
        return
    message, permanent = _failure_detail(result)
    raise TransportError(message, permanent=permanent)
