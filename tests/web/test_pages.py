"""Every page renders for its audience; tenants stay apart; roles gate the buttons."""
from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from crisis.models import Incident
from tests.conftest import Factory
from tests.web.conftest import Team, as_user


def test_it_renders_every_page_for_a_manager(client: FlaskClient, team: Team, incident: Incident) -> None:
    as_user(client, team.manager)
    slug = team.tenant.community.slug
    for path in ("/", "/incidents", "/incidents?status=open&severity=sev2", "/incidents/rows", f"/c/{slug}",
                 f"/c/{slug}/incidents/{incident.id}", f"/c/{slug}/incidents/{incident.id}/live/timeline",
                 f"/c/{slug}/incidents/{incident.id}/live/header", f"/c/{slug}/oncall", f"/c/{slug}/settings",
                 f"/c/{slug}/health", "/dashboard", "/playbooks", "/playbooks/raid", "/playbooks/raid/edit"):
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.status_code)


def test_it_hides_incidents_of_other_communities(client: FlaskClient, factory: Factory, team: Team,
                                                 incident: Incident) -> None:
    other = factory.community("harbor")
    stranger = factory.staff("sam@example.test", other.community, "admin")
    as_user(client, stranger)
    assert client.get(f"/c/lantern/incidents/{incident.id}").status_code == 404
    assert client.get(f"/c/harbor/incidents/{incident.id}").status_code == 404
    assert "Raid in #general" not in client.get("/incidents").get_data(as_text=True)


def test_it_lists_open_incidents_first(client: FlaskClient, team: Team, incident: Incident) -> None:
    as_user(client, team.moderator)
    html = client.get("/incidents/rows").get_data(as_text=True)
    assert f'data-incident-id="{incident.id}"' in html


@pytest.mark.parametrize("who,allowed", [("moderator", ["acknowledge"]),
                                         ("responder", ["acknowledge", "mitigate", "resolve"])])
def test_it_offers_only_the_buttons_a_role_may_press(client: FlaskClient, team: Team, incident: Incident, who: str,
                                                     allowed: list[str]) -> None:
    as_user(client, getattr(team, who))
    html = client.get(f"/c/lantern/incidents/{incident.id}").get_data(as_text=True)
    for action in ("acknowledge", "mitigate", "resolve"):
        assert (f'data-action="{action}"' in html) == (action in allowed)


def test_it_refuses_a_dashboard_to_non_managers(client: FlaskClient, team: Team) -> None:
    as_user(client, team.responder)
    assert client.get("/dashboard").status_code == 403
