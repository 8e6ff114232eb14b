"""The public status page's read model: open incidents' public titles with their updates,
and those resolved in the last week. Built from the public tables and each incident's
status and times only; the internal title, notes, evidence and severity are never read.

The index names the page's version from two small queries, so a revalidation
(If-None-Match) is answered without reading the updates or rendering, and each version is
rendered once per process (RenderCache)."""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from crisis.clock import isoformat
from crisis.models import Community, Incident, PublicIncident, PublicUpdate, StatusPage
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


@dataclass(frozen=True)
class Shown:
    """One public incident on the page, as the index reads it (plain columns, no ORM object)."""

    id: int
    incident_id: int
    title: str
    created_at: datetime
    updated_at: datetime
    status: str
    resolved_at: datetime | None


@dataclass(frozen=True)
class Index:
    """What decides the page, read in three small queries: its settings, the public incidents
    shown with their status, and the newest update. Updates never change once posted, so
    this names the page's version without reading them."""

    community_id: int
    slug: str
    name: str
    about: str
    settings_at: datetime
    rows: tuple[Shown, ...]
    latest_update: int

    def digest(self, lang: str) -> str:
        key = [lang, self.slug, self.name, self.about, isoformat(self.settings_at), self.latest_update,
               [(r.id, r.title, isoformat(r.updated_at), r.status, isoformat(r.resolved_at) if r.resolved_at else None)
                for r in self.rows]]
        raw = json.dumps(key, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


# Built once: under a crowd of reloads, building the statements cost more than running them.
_PAGE = (select(Community.id, Community.slug, Community.name, StatusPage.name, StatusPage.about,
                StatusPage.updated_at)
         .join(StatusPage, StatusPage.community_id == Community.id)
         .where(Community.slug == bindparam("slug"), StatusPage.enabled.is_(True)))
_ROWS = (select(PublicIncident.id, PublicIncident.incident_id, PublicIncident.title, PublicIncident.created_at,
                PublicIncident.updated_at, Incident.status, Incident.resolved_at)
         .join(Incident, Incident.id == PublicIncident.incident_id)
         .where(PublicIncident.community_id == bindparam("cid"), PublicIncident.hidden.is_(False))
         .where((Incident.status != "resolved") | (Incident.resolved_at >= bindparam("since")))
         .order_by(PublicIncident.last_update_at.desc(), PublicIncident.id.desc()))
_LATEST = select(func.max(PublicUpdate.id)).where(PublicUpdate.community_id == bindparam("cid"))


def index(session: Session, slug: str, *, now: datetime) -> Index | None:
    """None when there is no such community or its page is off (the same 404)."""
    found = session.execute(_PAGE, {"slug": slug}).first()
    if found is None:
        return None
    cid, slug, community_name, page_name, about, settings_at = found
    rows = tuple(Shown(*row) for row in session.execute(_ROWS, {"cid": cid, "since": now - RESOLVED_FOR}))
    latest = session.scalar(_LATEST, {"cid": cid})
    return Index(cid, slug, page_name or community_name, about, settings_at, rows, int(latest or 0))


def view(session: Session, found: Index, *, now: datetime) -> View:
    """The page itself: every shown incident's updates, newest first, in one query."""
    ids = [r.incident_id for r in found.rows]
    updates: dict[int, list[Update]] = {i: [] for i in ids}
    if ids:
        for incident_id, ph, body, at in session.execute(
                select(PublicUpdate.incident_id, PublicUpdate.phase, PublicUpdate.body, PublicUpdate.posted_at)
                .where(PublicUpdate.incident_id.in_(ids))
                .order_by(PublicUpdate.posted_at.desc(), PublicUpdate.id.desc())):
            if len(updates[incident_id]) < UPDATES_SHOWN:
                updates[incident_id].append(Update(ph, body, at))
    entries = [Entry(id=r.id, title=r.title, phase=phase(r.status), started_at=r.created_at,
                     resolved_at=r.resolved_at if r.status == "resolved" else None,
                     updates=tuple(updates[r.incident_id])) for r in found.rows]
    return View(slug=found.slug, name=found.name, about=found.about,
                open=tuple(e for e in entries if e.phase != "resolved"),
                resolved=tuple(sorted((e for e in entries if e.phase == "resolved"),
                                      key=lambda e: e.resolved_at or now, reverse=True)))


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
