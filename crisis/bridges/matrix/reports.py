"""Room reports from the homeserver's admin API. Synapse does not push reports to
application services, so a periodic job (the sweeper) reads each linked room's new reports
with the link's server admin token and stores them as `report.create` events through the
same path as pushed events; the link keeps the last report id it stored."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crisis.bridges import intake, links
from crisis.bridges.matrix.client import MatrixClient, MatrixError
from crisis.bridges.matrix.mapping import permalink
from crisis.clock import Clock, isoformat
from crisis.db import sweep
from crisis.models import Community, PlatformLink


def as_event(report: dict[str, Any], channel: str, link_id: int) -> dict[str, Any]:
    """One admin-API event report as a crisis report event (report ids count per homeserver,
    so the link is part of the event id)."""
    room, event_id = str(report["room_id"]), str(report["event_id"])
    out: dict[str, Any] = {
        "id": f"matrix-report-{link_id}-{int(report['id'])}", "type": "report.create", "channel": channel,
        "ts": isoformat(datetime.fromtimestamp(int(report["received_ts"]) / 1000, tz=timezone.utc)),
        "actor": {"id": str(report["user_id"])}, "target": {"message_id": event_id},
        "x-permalink": permalink(room, event_id)}
    if report.get("sender"):
        out["target"]["user_id"] = str(report["sender"])
    if report.get("reason"):
        out["reason"] = str(report["reason"])[:1000]
    return out


def poll(sessions: sessionmaker[Session], *, clock: Clock, secret_key: str) -> int:
    """Store every linked room's new reports; returns how many were stored."""
    def find(session: Session, now: datetime, limit: int) -> list[int]:
        return list(session.scalars(select(PlatformLink.id).where(
            PlatformLink.platform == "matrix", PlatformLink.admin_token.is_not(None),
            PlatformLink.disabled.is_(False)).order_by(PlatformLink.id).limit(limit)))

    return sweep(sessions, find, lambda session, link_id, now: poll_link(session, link_id, clock=clock,
                                                                         secret_key=secret_key),
                 now=clock.now(), limit=1000)


def poll_link(session: Session, link_id: int, *, clock: Clock, secret_key: str) -> int:
    link = session.get(PlatformLink, link_id)
    community = session.get(Community, link.community_id) if link else None
    assert link is not None and community is not None
    token = links.admin_token(link, secret_key)
    assert token is not None
    client = MatrixClient(link.endpoint, token)
    now = clock.now()
    fresh: list[dict[str, Any]] = []
    cursor = link.reports_cursor
    try:
        for room, channel in link.rooms.items():
            for report in client.event_reports(room, after_id=link.reports_cursor):
                fresh.append(as_event(report, channel, link.id))
                cursor = max(cursor, int(report["id"]))
    except (MatrixError, KeyError, TypeError, ValueError) as exc:
        links.record_error(link, f"reading reports: {exc}", now)
        return 0
    if not fresh:
        return 0
    stored = intake.store(session, link, community, fresh, clock=clock)
    for refused in stored.invalid:
        links.record_error(link, f"report {refused}", now)
    link.reports_cursor = cursor
    return stored.stored
