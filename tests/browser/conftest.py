"""A real server (werkzeug in a thread, jobs inline) and Debian's Chromium driven by Playwright.

Every page a test opens is watched: a response of 500 or more, a console error or an
uncaught page error fails the test at teardown."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask

from crisis import playbooks, runtime
from crisis.app import create_app
from crisis.clock import SystemClock
from crisis.config import Config
from crisis.db import session_scope
from crisis.demo import DemoStream
from crisis.tenancy import communities
from tests.conftest import CHROMIUM  # noqa: F401 -- re-exported for scripts
from tests.live import LiveServer

PASSWORD = "correct horse battery"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass
class Site:
    url: str
    app: Flask
    slug: str
    ingest_token: str
    users: dict[str, str] = field(default_factory=dict)  # role -> email

    def post_events(self, events: list[dict[str, Any]]) -> None:
        from crisis.demo import post

        for i in range(0, len(events), 1000):
            post(f"{self.url}/api/v1/communities/{self.slug}/events", self.ingest_token, events[i:i + 1000])


def seed(app: Flask, slug: str = "lantern") -> tuple[str, dict[str, str]]:
    rt = app.extensions["crisis"]
    clock = SystemClock()
    users = {}
    with session_scope(rt.sessions) as session:
        playbooks.sync(session, clock=clock)
        community, issued = communities.create_community(session, slug, name="Lantern Guild", clock=clock)
        for role, email, name in (("moderator", "mo@example.test", "Mo"), ("responder", "ray@example.test", "Ray"),
                                  ("manager", "meg@example.test", "Meg")):
            user, _ = communities.create_user(session, email, password=PASSWORD, clock=clock, display_name=name)
            communities.grant_role(session, user, community, role)
            users[role] = email
    return issued.token, users


def raid_events(slug: str, *, now: datetime | None = None, history_minutes: int = 120,
                per_minute: float = 30.0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(history, raid): ordinary traffic for a baseline, then a raid three minutes ago."""
    now = now or datetime.now(timezone.utc)
    stream = DemoStream(slug, seed=11)
    raid_at = now - timedelta(minutes=4)
    history = list(stream.span(now - timedelta(minutes=history_minutes), raid_at, per_minute))
    raid = sorted(stream.raid(raid_at, size=60, seconds=60) + list(stream.span(raid_at, now, per_minute)),
                  key=lambda e: e["ts"])
    return history, raid


@pytest.fixture
def live_config(config: Config) -> Config:
    return replace(config, secret_key="browser-secret-key-0123456789")


@pytest.fixture
def site(live_config: Config) -> Iterator[Site]:
    app = create_app(live_config, clock=SystemClock())
    token, users = seed(app)
    with LiveServer(app) as server:
        yield Site(server.url, app, "lantern", token, users)
    runtime.reset()


class PageWatch:
    """Collects what must never happen on a page: 5xx answers and JavaScript errors.

    Chromium also logs "Failed to load resource" for any 4xx answer. A page answered on
    purpose with 403 or 404 (a refusal, a hidden tenant) is not a script error, so those
    are ignored for documents only; a 4xx on a script, stylesheet or fetch still fails."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.refused_documents: set[str] = set()

    def _console(self, page: Any, msg: Any) -> None:
        if msg.type != "error":
            return
        where = (msg.location or {}).get("url", "")
        if msg.text.startswith("Failed to load resource: the server responded with a status of 4") \
                and where in self.refused_documents:
            return
        self.problems.append(f"console error on {page.url}: {msg.text} ({where})")

    def _response(self, resp: Any) -> None:
        if resp.status >= 500:
            self.problems.append(f"{resp.status} from {resp.url}")
        elif resp.status >= 400 and resp.request.resource_type == "document":
            self.refused_documents.add(resp.url)

    def attach(self, page: Any) -> Any:
        page.on("console", lambda msg: self._console(page, msg))
        page.on("pageerror", lambda exc: self.problems.append(f"page error on {page.url}: {exc}"))
        page.on("response", self._response)
        return page


@pytest.fixture
def watch() -> Iterator[PageWatch]:
    watcher = PageWatch()
    yield watcher
    assert not watcher.problems, "\n".join(watcher.problems)


@pytest.fixture
def new_page(browser: Any, watch: PageWatch) -> Iterator[Any]:
    """new_page(viewport=DESKTOP, locale='en-US') -> a watched page in a fresh context."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int] = DESKTOP, locale: str = "en-US") -> Any:
        context = browser.new_context(viewport=viewport, locale=locale)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return watch.attach(context.new_page())

    yield make
    for context in contexts:
        context.close()


def open_raid(site: Site, page: Any) -> None:
    """Post a raid and open its incident from the list, once its containment is proposed."""
    history, raid = raid_events(site.slug)
    site.post_events(history)
    site.post_events(raid)
    page.goto(f"{site.url}/incidents?status=open")
    row = page.locator("tr.incident-row").first
    row.wait_for(timeout=60_000)
    assert "Raid" in row.inner_text()
    row.locator("a").first.click()
    page.locator("#containment li.caction[data-kind=ban]").wait_for()


def log_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{base}/")


def no_sideways_scroll(page: Any) -> None:
    """The whole page, not one box in it, is no wider than the window."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px at {page.viewport_size['width']}px"


def in_reach(page: Any, selector: str) -> None:
    """The first match is visible, inside the window's width once scrolled to, and a click
    would reach it (Playwright's trial click: enabled, stable, nothing covering it). A live
    region may swap the element out mid-check; then it is found again."""
    from playwright.sync_api import Error as PlaywrightError

    width = page.viewport_size["width"]
    for attempt in range(3):
        control = page.locator(selector).first
        try:
            control.scroll_into_view_if_needed()
            box = control.bounding_box()
            assert box is not None and control.is_visible(), f"{selector} is hidden on {page.url}"
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, \
                f"{selector} on {page.url} is outside the {width}px width: {box}"
            control.click(trial=True)
            return
        except PlaywrightError as exc:
            if "not attached" not in str(exc) or attempt == 2:
                raise
