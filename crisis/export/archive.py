"""A community's incidents, postmortems, cases and settings as one zip of JSON files.

Rows are written column by column from the schema, so a column added later is exported the
day it is added. Left out: staff e-mail addresses and every secret (tokens, key and password
hashes, contact and channel URLs, which often embed a token), and the raw events (retention
keeps those for days only; the incidents carry what they cite as evidence).

    manifest.json     the community, when, and how many rows of each kind
    community.json    name, platform, locale, time zone, settings (detectors and retention)
    staff.json        id, display name and role of each staff member (what the ids point at)
    incidents.json    each incident with its signals, timeline, responders, tasks, containment
    postmortems.json  each postmortem with its action items and its Markdown
    cases.json        the community's cases (complaints, their outcome and who decided)
"""
from __future__ import annotations

import io
import json
import zipfile
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, Table, select
from sqlalchemy.orm import Session

from crisis.audit import log as audit_log
from crisis.clock import isoformat
from crisis.models import (
    ContainmentAction,
    ContainmentMove,
    Incident,
    Membership,
    Responder,
    Signal,
    Task,
    TimelineEntry,
    User,
)
from crisis.models.cases import Case
from crisis.models.postmortem import Postmortem
from crisis.response.postmortems import to_markdown
from crisis.tenancy import community_settings

FORMAT = 1


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return isoformat(value)
    return value


def row_dict(obj: Any) -> dict[str, Any]:
    """Every column of an ORM row but binary ones, JSON-ready."""
    table: Table = obj.__table__
    return {c.key: _plain(getattr(obj, c.key)) for c in table.columns if not isinstance(c.type, LargeBinary)}


def _by_incident(session: Session, model: Any, ids: list[int], order: Any) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if ids:
        for row in session.scalars(select(model).where(model.incident_id.in_(ids)).order_by(order)):
            out[row.incident_id].append(row_dict(row))
    return out


def incidents(session: Session, community_id: int) -> list[dict[str, Any]]:
    rows = list(session.scalars(select(Incident).where(Incident.community_id == community_id).order_by(Incident.id)))
    ids = [r.id for r in rows]
    signals = _by_incident(session, Signal, ids, Signal.id)
    timeline = _by_incident(session, TimelineEntry, ids, TimelineEntry.id)
    responders = _by_incident(session, Responder, ids, Responder.id)
    tasks = _by_incident(session, Task, ids, Task.id)
    actions = _by_incident(session, ContainmentAction, ids, ContainmentAction.id)
    moves: dict[int, list[dict[str, Any]]] = defaultdict(list)
    action_ids = [a["id"] for group in actions.values() for a in group]
    if action_ids:
        for move in session.scalars(select(ContainmentMove).where(ContainmentMove.action_id.in_(action_ids))
                                    .order_by(ContainmentMove.id)):
            moves[move.action_id].append(row_dict(move))
    return [{**row_dict(r), "signals": signals[r.id], "timeline": timeline[r.id], "responders": responders[r.id],
             "tasks": tasks[r.id],
             "containment": [{**a, "moves": moves[a["id"]]} for a in actions[r.id]]} for r in rows]


def postmortems(session: Session, community_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(Postmortem).where(Postmortem.community_id == community_id).order_by(Postmortem.id))
    return [{**row_dict(pm), "action_items": [row_dict(i) for i in pm.action_items],
             "markdown": to_markdown(session, pm)} for pm in rows]


def staff(session: Session, community_id: int) -> list[dict[str, Any]]:
    rows = session.execute(select(User.id, User.display_name, Membership.role).join(Membership)
                           .where(Membership.community_id == community_id).order_by(User.id))
    return [{"id": uid, "display_name": name, "role": role} for uid, name, role in rows]


def cases(session: Session, community_id: int) -> list[dict[str, Any]]:
    """The community's cases, every column."""
    table: Table = Case.__table__  # type: ignore[assignment]
    columns = [c for c in table.columns if not isinstance(c.type, LargeBinary)]
    keys = list(table.primary_key.columns)
    rows = session.execute(select(*columns).where(table.c.community_id == community_id).order_by(*keys))
    return [{c.key: _plain(row[i]) for i, c in enumerate(columns)} for row in rows]


def build(session: Session, community: Any, *, now: datetime) -> bytes:
    """The archive's bytes."""
    files: dict[str, Any] = {
        "community.json": {"slug": community.slug, "name": community.name, "platform": community.platform,
                           "locale": community.locale, "timezone": community.timezone,
                           "created_at": isoformat(community.created_at),
                           "settings": community_settings.current(community)},
        "staff.json": staff(session, community.id),
        "incidents.json": incidents(session, community.id),
        "postmortems.json": postmortems(session, community.id),
    }
    files["cases.json"] = cases(session, community.id)
    manifest = {"format": FORMAT, "community": community.slug, "exported_at": isoformat(now),
                "files": sorted(["manifest.json", *files]),
                "counts": {name.removesuffix(".json"): len(body) for name, body in files.items()
                           if isinstance(body, list)}}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, body in {"manifest.json": manifest, **files}.items():
            archive.writestr(name, json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True, default=str))
    return buffer.getvalue()


def export(session: Session, community: Any, *, actor: str, actor_user_id: int | None, now: datetime) -> bytes:
    """The archive, recorded in the audit log (data.exported, with its counts) in the caller's
    transaction: the caller commits, then hands the bytes out."""
    body = build(session, community, now=now)
    audit_log.record(session, community_id=community.id, actor=actor, actor_user_id=actor_user_id,
                     action="data.exported", target=f"community {community.slug}", at=now, after=counts(body))
    return body


def counts(body: bytes) -> dict[str, int]:
    """The manifest's row counts of an archive: what the audit log records of an export."""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    return dict(manifest["counts"])


def filename(slug: str, now: datetime) -> str:
    return f"crisis-{slug}-{now.strftime('%Y%m%dT%H%M%SZ')}.zip"
