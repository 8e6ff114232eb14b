"""A community's public status page settings: on or off, the name and the short text the
public sees. Off by default: a page nobody published answers 404."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

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


def configure(session: Session, community: Community, *, enabled: bool | None = None, name: str | None = None,
              about: str | None = None, now: datetime) -> StatusPage:
    page = settings_for(session, community.id)
    if page is None:
        page = StatusPage(community_id=community.id, enabled=False, name="", about="", updated_at=now)
        session.add(page)
    if name is not None:
        name = name.strip()
        if len(name) > MAX_NAME:
            raise StatusPageError(f"name: at most {MAX_NAME} characters")
        page.name = name
    if about is not None:
        about = about.strip().replace("\r\n", "\n")
        if len(about) > MAX_ABOUT:
            raise StatusPageError(f"about: at most {MAX_ABOUT} characters")
        page.about = about
    if enabled is not None:
        page.enabled = enabled
    page.updated_at = now
    session.flush()
    return page
