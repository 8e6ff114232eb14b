"""Screenshots of the main pages at desktop (1280×800) and phone (390×844) widths.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Builds a throwaway database, posts a demo raid through the ingest API of a real server,
works the incident a little (acknowledge, a task, a note, a status update), resolves a
second one with a postmortem, and saves docs/screenshots/<page>-<desktop|phone>.png."""
from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crisis import migrate, runtime  # noqa: E402
from crisis.app import create_app  # noqa: E402
from crisis.clock import SystemClock  # noqa: E402
from crisis.config import Config  # noqa: E402
from crisis.db import session_scope  # noqa: E402
from crisis.models import Community, Incident, User  # noqa: E402
from crisis.response import lifecycle, postmortems
from tests.browser.conftest import ARGS, CHROMIUM, DESKTOP, PHONE, Site, raid_events, seed  # noqa: E402
from tests.live import LiveServer  # noqa: E402

SIZES = {"desktop": DESKTOP, "phone": PHONE}


def prepare(app: object) -> tuple[int, int]:
    """Work the raid a little, and write a second, resolved incident with a postmortem."""
    rt = app.extensions["crisis"]  # type: ignore[attr-defined]
    clock = SystemClock()
    with session_scope(rt.sessions) as session:
        raid = session.query(Incident).order_by(Incident.id).first()
        assert raid is not None, "the demo raid opened no incident"
        ray = session.query(User).filter_by(email="ray@example.test").one()
        meg = session.query(User).filter_by(email="meg@example.test").one()
        actor = lifecycle.Actor.of(ray, via="web")
        lifecycle.transition(session, raid.id, lifecycle.S.ACKNOWLEDGED, actor=actor, clock=clock)
        lifecycle.add_note(session, raid, "Invites **paused** for 2 h; slow mode 30 s in #general.", actor=actor,
                           clock=clock)
        lifecycle.post_update(session, raid, "A spam raid hit #general. It is contained; please don't click "
                              "links from new accounts.", actor=actor, clock=clock)
        older = lifecycle.open_manual(
            session, session.get(Community, raid.community_id), kind="dispute", severity="sev2",
            title="Heated argument in #off-topic", description="Two long-standing members; reports piling up.",
            actor=lifecycle.Actor.of(meg), clock=clock)
        lifecycle.transition(session, older.id, lifecycle.S.ACKNOWLEDGED, actor=lifecycle.Actor.of(meg), clock=clock)
        lifecycle.transition(session, older.id, lifecycle.S.RESOLVED, actor=lifecycle.Actor.of(meg), clock=clock)
        pm = postmortems.create_draft(session, older, clock=clock, author_id=meg.id)
        postmortems.save(session, pm, bodies={s["key"]: s["body"] or "Two members escalated a disagreement; "
                                              "moderators split the thread and talked to both."
                                              for s in pm.sections}, verdict="true_alarm", duplicate_of_id=None,
                         clock=clock)
        postmortems.add_action(session, pm, title="Pin the conduct rules in #off-topic", owner_id=ray.id,
                               due_at=postmortems.parse_due((date.today() + timedelta(days=7)).isoformat()),
                               clock=clock)
        return raid.id, older.id


def shoot(out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'crisis.db'}"
        migrate.upgrade(db_url)
        config = Config(var_dir=Path(tmp), database_url=db_url, redis_url="redis://127.0.0.1:1/0",
                        secret_key="screenshots-secret-key-0123", sync_jobs=True)
        app = create_app(config, clock=SystemClock())
        token, users = seed(app)
        saved: list[Path] = []
        with LiveServer(app) as server:
            site = Site(server.url, app, "lantern", token, users)
            history, raid = raid_events("lantern", history_minutes=180)
            site.post_events(history)
            site.post_events(raid)
            raid_id, resolved_id = prepare(app)
            pages = {
                "incidents": "/incidents",
                "incident": f"/c/lantern/incidents/{raid_id}",
                "postmortem": f"/c/lantern/incidents/{resolved_id}/postmortem",
                "health": "/c/lantern/health",
                "dashboard": "/dashboard",
                "playbook-diff": "/playbooks/raid/diff",
                "settings": "/c/lantern/settings",
                "oncall": "/c/lantern/oncall",
            }
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
                for size, viewport in SIZES.items():
                    context = browser.new_context(viewport=viewport, device_scale_factor=1)
                    page = context.new_page()
                    page.goto(f"{server.url}/login")
                    page.fill("input[name=email]", users["manager"])
                    page.fill("input[name=password]", "correct horse battery")
                    page.click("form.login button[type=submit]")
                    page.wait_for_url(f"{server.url}/")
                    for name, path in pages.items():
                        page.goto(server.url + path)
                        page.wait_for_load_state("networkidle")
                        target = out / f"{name}-{size}.png"
                        page.screenshot(path=str(target), full_page=size == "desktop")
                        saved.append(target)
                    context.close()
                browser.close()
        runtime.reset()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in shoot(args.out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
