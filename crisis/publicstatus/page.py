"""The public status page's read model: open incidents' public titles with their updates,
and those resolved in the last week. Built from the public tables and each incident's
status and times only; the internal title, notes, evidence and severity are never read.

The digest names what the page shows, so the view answers a revalidation (If-None-Match)
without rendering, and renders each distinct page once per process (RenderCache)."""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import isoformat
from crisis.models import Community, Incident, PublicIncident, PublicUpdate
from crisis.publicstatus import statuspage
from crisis.publicstatus.states import phase

RESOLVED_FOR = timedelta(days=7)
UPDATES_SHOWN = 50


@dataclass(frozen=True)
class Update:
    phase: str
    body: str
    posted_at: datetime


@dataclass(frozen=True)
class Entry:
    id: int  # the public incident's id, not the internal one
    title: str
    phase: str
    started_at: datetime  # when members first heard
    resolved_at: datetime | None
    updates: tuple[Update, ...]


@dataclass(frozen=True)
class View:
    slug: str
    name: str
    about: str
    open: tuple[Entry, ...] = ()
    resolved: tuple[Entry, ...] = field(default_factory=tuple)

    def digest(self, lang: str) -> str:
        raw = json.dumps({"lang": lang, **to_json(self)}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


def load(session: Session, slug: str, *, now: datetime) -> View | None:
    """The page, or None when there is no such community or its page is off (the same 404)."""
    community = session.scalar(select(Community).where(Community.slug == slug))
    if community is None:
        return None
    settings = statuspage.settings_for(session, community.id)
    if settings is None or not settings.enabled:
        return None
    rows = session.execute(
        select(PublicIncident, Incident.status, Incident.resolved_at)
        .join(Incident, Incident.id == PublicIncident.incident_id)
        .where(PublicIncident.community_id == community.id, PublicIncident.hidden.is_(False))
        .where((Incident.status != "resolved") | (Incident.resolved_at >= now - RESOLVED_FOR))
        .order_by(PublicIncident.last_update_at.desc(), PublicIncident.id.desc())).all()
    entries = [_entry(session, public, status, resolved_at) for public, status, resolved_at in rows]
    return View(slug=community.slug, name=statuspage.public_name(community, settings), about=settings.about,
                open=tuple(e for e in entries if e.phase != "resolved"),
                resolved=tuple(sorted((e for e in entries if e.phase == "resolved"),
                                      key=lambda e: e.resolved_at or now, reverse=True)))


def _entry(session: Session, public: PublicIncident, status: str, resolved_at: datetime | None) -> Entry:
    updates = session.execute(select(PublicUpdate.phase, PublicUpdate.body, PublicUpdate.posted_at)
                              .where(PublicUpdate.incident_id == public.incident_id)
                              .order_by(PublicUpdate.posted_at.desc(), PublicUpdate.id.desc())
                              .limit(UPDATES_SHOWN)).all()
    return Entry(id=public.id, title=public.title, phase=phase(status), started_at=public.created_at,
                 resolved_at=resolved_at if status == "resolved" else None,
                 updates=tuple(Update(p, b, at) for p, b, at in updates))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def to_json(view: View) -> dict[str, Any]:
    data = asdict(view)
    return _jsonable(data)  # type: ignore[no-any-return]


class RenderCache:
    """Rendered pages by (slug, language, digest), the newest `size` kept: during a crisis
    members reload the page far more often than it changes."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> str | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, str, str], html: str) -> None:
        with self._lock:
            self._items[key] = html
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
