"""Signed, expiring one-click acknowledge links.

GET shows a confirmation page and changes nothing: mail scanners and chat link
previews fetch every URL they see. Only the POST from that page acknowledges, and the
timeline names the person the link was sent to."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, render_template_string

from crisis.clock import isoformat
from crisis.config import Config
from crisis.models import Incident, User
from crisis.notify.ack_tokens import LinkError, read_token
from crisis.response import lifecycle
from crisis.response.states import IncidentStatus, InvalidTransition
from crisis.tenancy.communities import role_in
from crisis.webctx import db, rt

bp = Blueprint("acklinks", __name__)


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ heading }}</title>
<meta name="robots" content="noindex"><meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>{{ heading }}</h1><p>{{ message }}</p>
{% if incident %}<p><strong>#{{ incident.id }} {{ incident.title }}</strong> ({{ incident.severity }},
{{ incident.status }})</p>{% endif %}
{% if button %}<form method="post"><button type="submit">{{ button }}</button></form>{% endif %}
</main></body></html>"""


def page(status: int, heading: str, message: str, *, incident: Incident | None = None,
         button: str = "") -> tuple[Response, int]:
    """The small page a one-click link answers with; `button` posts the form back to the link."""
    html = render_template_string(_PAGE, heading=heading, message=message, incident=incident, button=button)
    resp = Response(html, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return resp, status


class Unusable(Exception):
    """The link cannot be used (bad, expired, or what it names is gone); `page` says why."""

    def __init__(self, page: tuple[Response, int]) -> None:
        self.page = page


def read_or_refuse(read: Callable[[Config, str, datetime], dict[str, Any]], token: str) -> dict[str, Any]:
    """The token's payload, read against the injected clock; Unusable (410 expired, 404 bad) otherwise."""
    runtime = rt()
    try:
        return read(runtime.config, token, runtime.clock.now())
    except LinkError as exc:
        raise Unusable(page(410 if "expired" in str(exc) else 404, "Link not usable", str(exc))) from exc


def _load(token: str) -> tuple[Incident, User | None]:
    data = read_or_refuse(read_token, token)
    session = db()
    incident = session.get(Incident, data["i"])
    if incident is None:
        raise Unusable(page(404, "Incident not found", "This incident no longer exists."))
    user = session.get(User, data["u"]) if data["u"] else None
    if user is not None and role_in(session, user.id, incident.community_id) is None:
        # Staff who left the community since the alert: the link still acknowledges, as its
        # holder, but must not make them commander of an incident they can no longer see.
        user = None
    return incident, user


@bp.get("/ack/<token>")
def confirm(token: str) -> tuple[Response, int]:
    try:
        incident, user = _load(token)
    except Unusable as unusable:
        return unusable.page
    who = (user.display_name or user.email) if user else "the link holder"
    if incident.status != IncidentStatus.TRIGGERED:
        return page(200, "Nothing to do", f"This incident is already {incident.status}.", incident=incident)
    return page(200, "Acknowledge this incident?", "Acknowledging stops the escalation and tells the team "
                 "you are on it.", incident=incident, button=f"Acknowledge as {who}")


@bp.post("/ack/<token>")
def acknowledge(token: str) -> tuple[Response, int]:
    try:
        incident, user = _load(token)
    except Unusable as unusable:
        return unusable.page
    session = db()
    label = (user.display_name or user.email) if user else "acknowledge link"
    actor = lifecycle.Actor(user_id=user.id if user else None, label=label, via="link")
    try:
        lifecycle.transition(session, incident.id, IncidentStatus.ACKNOWLEDGED, actor=actor, clock=rt().clock,
                             note="acknowledged from the link in a notification")
        session.commit()
    except (InvalidTransition, lifecycle.ConcurrentTransition):
        session.rollback()
        session.refresh(incident)
        return page(409, "Nothing to do", f"This incident is already {incident.status}.", incident=incident)
    when = isoformat(incident.acknowledged_at) if incident.acknowledged_at else ""
    return page(200, "Acknowledged", f"Thank you, {label}: the escalation has stopped ({when}).",
                 incident=incident)
