"""A community's public status page settings: on or off, the name and the short text the
public sees. Off by default: a page nobody published answers 404."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.audit.log import changes, record
from crisis.models import Community, StatusPage

MAX_NAME = 200
MAX_ABOUT = 1000


class StatusPageError(ValueError):
    """A refused setting; the message starts with the field."""


def settings_for(session: Session, community_id: int) -> StatusPage | None:
    return session.scalar(select(StatusPage).where(StatusPage.community_id == community_id))


def public_name(community: Community, page: StatusPage | None) -> str:
    return (page.name if page is not None and page.name else community.name)


def url(community: Community, page: StatusPage | None, base_url: str) -> str:
    """The page's address, or "" while it is off (messages must not link to a 404)."""
    return f"{base_url}/status/{community.slug}" if page is not None and page.enabled else ""


def _shown(page: StatusPage | None) -> dict[str, object]:
    if page is None:
        return {"enabled": False, "name": "", "about": ""}
    return {"enabled": page.enabled, "name": page.name, "about": page.about}


def configure(session: Session, community: Community, *, enabled: bool | None = None, name: str | None = None,
              about: str | None = None, now: datetime, actor: str = "system",
              actor_user_id: int | None = None) -> StatusPage:
    """Change the given settings (None keeps one), audited as status_page.update with what
    changed; StatusPageError, before anything changes, when a value is refused."""
    if name is not None:
        name = name.strip()
        if len(name) > MAX_NAME:
            raise StatusPageError(f"name: at most {MAX_NAME} characters")
    if about is not None:
        about = about.strip().replace("\r\n", "\n")
        if len(about) > MAX_ABOUT:
            raise StatusPageError(f"about: at most {MAX_ABOUT} characters")
    page = settings_for(session, community.id)
    old = _shown(page)
    if page is None:
        page = StatusPage(community_id=community.id, enabled=False, name="", about="", updated_at=now)
        session.add(page)
    if name is not None:
        page.name = name
    if about is not None:
        page.about = about
    if enabled is not None:
        page.enabled = enabled
    page.updated_at = now
    session.flush()
    before, after = changes(old, _shown(page))
    if before or after:
        record(session, community_id=community.id, actor=actor, actor_user_id=actor_user_id,
               action="status_page.update", target="status page", before=before, after=after, at=now)
    return page
