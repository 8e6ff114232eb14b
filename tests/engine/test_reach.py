"""Would anyone be paged? A community whose escalation resolves to nobody under a playbook is
told so by `crisis playbooks sync`, on its settings page and on its on-call page."""
from __future__ import annotations

import json

from flask.testing import FlaskClient
from sqlalchemy import delete
from sqlalchemy.orm import Session

from crisis.clock import FixedClock
from crisis.config import Config
from crisis.models import ContactMethod, Schedule
from crisis.notify import reach
from tests.conftest import Factory
from tests.engine.conftest import World
from tests.test_cli import crisis
from tests.web.conftest import login


def test_a_community_with_people_on_call_and_contact_methods_has_no_gap(session: Session, world: World,
                                                                        clock: FixedClock) -> None:
    assert reach.gaps(session, world.community, clock.now()) == []


def test_it_names_each_level_that_reaches_nobody_and_why(session: Session, world: World,
                                                          clock: FixedClock) -> None:
    session.execute(delete(ContactMethod).where(ContactMethod.user_id.in_([world.alice.id, world.bob.id])))
    session.execute(delete(Schedule).where(Schedule.name == "secondary"))
    session.commit()
    gaps = {g.playbook: g for g in reach.gaps(session, world.community, clock.now())}
    raid = gaps["raid"]
    assert raid.severities == ["sev1", "sev2", "sev3", "sev4"] and "raid" in raid.kinds
    assert raid.reasons == [
        "level 1: Alice has no contact method",
        "level 2: no schedule named 'secondary'; no enabled channel for 'team'",
        "level 3: Alice has no contact method",
    ]
    assert "under playbook raid v" in raid.summary and "would page nobody" in raid.summary
    assert set(gaps) >= {"default", "raid"}


def test_the_settings_and_on_call_pages_warn(client: FlaskClient, session: Session, world: World) -> None:
    login(client, world.carol.email)
    assert 'id="unreachable"' not in client.get("/c/lantern/settings").get_data(as_text=True)
    session.execute(delete(ContactMethod).where(ContactMethod.user_id.in_([world.alice.id, world.bob.id])))
    session.commit()
    for page in ("/c/lantern/settings", "/c/lantern/oncall"):
        html = client.get(page).get_data(as_text=True)
        assert 'id="unreachable"' in html and "Alerts would reach nobody" in html, page
        assert "Alice has no contact method" in html, page


def test_playbooks_sync_warns_about_each_community_that_would_page_nobody(config: Config, world: World,
                                                                         factory: Factory) -> None:
    factory.community("quiet")  # nobody on staff yet
    out = crisis(config, "playbooks", "sync")
    assert out.returncode == 0, out.stderr  # a warning, not a failure
    assert "community lantern" not in out.stderr and "community harbor" not in out.stderr  # staffed and reachable
    assert "warning   community quiet: " in out.stderr and "would page nobody" in out.stderr
    data = json.loads(crisis(config, "playbooks", "sync", "--json").stdout)
    assert {u["community"] for u in data["unreachable"]} == {"quiet"}
