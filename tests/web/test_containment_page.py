"""The incident page's Containment section: what each action does and where it stands, and its
forms (approve, cancel, undo, release, propose, resolve-and-undo), each with CSRF and the role
the action's kind needs. Jobs run inline, and the community has no bridge: approving an action
hands it to a person as a task, and undo makes an "Undo by hand" task."""
from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import FixedClock
from crisis.containment import service
from crisis.models import ContainmentAction, Incident, Task
from tests.conftest import Factory
from tests.web.conftest import Team, as_user, csrf, post

HOSTILE = "<script>alert(1)</script>"
RAIDERS = ["@spam1:example.org", "@spam2:example.org", HOSTILE]


def _page(incident: Incident) -> str:
    return f"/c/lantern/incidents/{incident.id}"


def _verb(incident: Incident, action: ContainmentAction, verb: str) -> str:
    return f"{_page(incident)}/containment/{action.id}/{verb}"


def _fresh(session: Session, action: ContainmentAction) -> ContainmentAction:
    session.expire_all()
    row = session.get(ContainmentAction, action.id)
    assert row is not None
    return row


def _lockdown(session: Session, incident: Incident) -> ContainmentAction:
    """The raid playbook's contain step proposed a lockdown (sev2: not applied by itself)."""
    found = [a for a in service.for_incident(session, incident.id) if a.kind == "lockdown"]
    assert len(found) == 1 and found[0].status == "proposed"
    return found[0]


@pytest.fixture
def raid(session: Session, incident: Incident) -> Incident:
    """The incident with raiders in its evidence, one of them named like a script."""
    incident.evidence = {**incident.evidence, "accounts": RAIDERS}
    session.commit()
    return incident


def _propose(session: Session, incident: Incident, kind: str, clock: FixedClock) -> ContainmentAction:
    action = service.propose(session, incident, kind, actor="test", now=clock.now())
    session.commit()
    return action


def _section(html: str) -> str:
    start = html.index('id="containment"')
    return html[start:html.index('id="evidence"', start)]


def test_it_lists_the_playbooks_actions(client: FlaskClient, team: Team, incident: Incident,
                                        session: Session) -> None:
    lockdown = _lockdown(session, incident)
    as_user(client, team.moderator)
    html = _section(client.get(_page(incident)).get_data(as_text=True))
    assert f'id="action-{lockdown.id}"' in html
    assert "Lock down (pause joins) (knock)" in html
    assert "cstatus-proposed" in html and "by hand" in html
    assert "playbook step contain" in html
    assert "2 hours after it is applied" in html
    # A moderator may not approve a lockdown (it needs a responder) and is told so instead of a button.
    assert 'data-verb="approve"' not in html
    assert "Approving this needs the responder role or above; you are moderator." in html
    assert 'data-verb="cancel"' in html


def test_the_live_part_renders_the_section(client: FlaskClient, team: Team, incident: Incident,
                                           session: Session) -> None:
    lockdown = _lockdown(session, incident)
    as_user(client, team.responder)
    resp = client.get(f"{_page(incident)}/live/containment")
    assert resp.status_code == 200
    assert f'id="action-{lockdown.id}"' in resp.get_data(as_text=True)
    assert 'data-verb="approve"' in resp.get_data(as_text=True)


def test_a_responder_approves_and_the_action_becomes_a_task_for_a_person(
        client: FlaskClient, team: Team, incident: Incident, session: Session) -> None:
    lockdown = _lockdown(session, incident)
    as_user(client, team.responder)
    resp = post(client, _verb(incident, lockdown, "approve"))
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"#action-{lockdown.id}")
    row = _fresh(session, lockdown)
    assert row.status == "applied" and row.approved_by == "ray" and row.task_id is not None
    task = session.get(Task, row.task_id)
    assert task is not None and task.title.startswith("By hand:")
    html = client.get(_page(incident)).get_data(as_text=True)
    section = _section(html)
    assert "cstatus-applied" in section and "ray" in section
    assert f'href="#task-{task.id}"' in section and f'id="task-{task.id}"' in html
    assert "reverts itself at" in section
    assert 'data-verb="undo"' in section
    assert "approved: Lock down" in html  # the timeline names who approved


def test_undo_reverts_and_hands_the_undo_to_a_person(client: FlaskClient, team: Team, incident: Incident,
                                                     session: Session) -> None:
    lockdown = _lockdown(session, incident)
    as_user(client, team.responder)
    post(client, _verb(incident, lockdown, "approve"))
    resp = post(client, _verb(incident, lockdown, "undo"))
    assert resp.status_code == 303
    row = _fresh(session, lockdown)
    assert row.status == "reverted" and row.reverted_by == "ray"
    undo_task = session.get(Task, row.task_id)
    assert undo_task is not None and undo_task.title.startswith("Undo by hand:")
    section = _section(client.get(_page(incident)).get_data(as_text=True))
    assert "cstatus-reverted" in section and 'data-verb="undo"' not in section
    assert f'href="#task-{row.receipt["task_id"]}"' in section and f'href="#task-{undo_task.id}"' in section


def test_cancel_withdraws_a_proposal(client: FlaskClient, team: Team, incident: Incident, session: Session) -> None:
    lockdown = _lockdown(session, incident)
    as_user(client, team.moderator)
    post(client, _verb(incident, lockdown, "cancel"))
    assert _fresh(session, lockdown).status == "cancelled"
    # A second cancel is refused with the reason, not a server error.
    resp = post(client, _verb(incident, lockdown, "cancel"))
    assert resp.status_code == 303
    html = client.get(_page(incident)).get_data(as_text=True)
    assert "flash-error" in html and "Could not cancel the action" in html


def test_a_moderator_cannot_approve_a_ban_and_sees_why(client: FlaskClient, team: Team, raid: Incident,
                                                       session: Session, clock: FixedClock) -> None:
    ban = _propose(session, raid, "ban", clock)
    as_user(client, team.moderator)
    resp = post(client, _verb(raid, ban, "approve"))
    assert resp.status_code == 303
    assert _fresh(session, ban).status == "proposed"
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert re.search(r'class="flash flash-error"[^>]*>Could not approve the action: approving ban needs the '
                     r"responder role or above; you are moderator", html), html


def test_release_lets_one_account_go(client: FlaskClient, team: Team, raid: Incident, session: Session,
                                     clock: FixedClock) -> None:
    ban = _propose(session, raid, "ban", clock)
    as_user(client, team.responder)
    post(client, _verb(raid, ban, "approve"))
    row = _fresh(session, ban)
    assert row.status == "applied" and {t["state"] for t in row.targets} == {"done"}
    section = _section(client.get(_page(raid)).get_data(as_text=True))
    assert section.count('class="secondary release"') == len(RAIDERS)
    post(client, _verb(raid, ban, "release"), {"account": "@spam2:example.org"})
    states = {t["account"]: t["state"] for t in _fresh(session, ban).targets}
    assert states == {"@spam1:example.org": "done", "@spam2:example.org": "released", HOSTILE: "done"}
    section = _section(client.get(_page(raid)).get_data(as_text=True))
    assert section.count('class="secondary release"') == len(RAIDERS) - 1 and "tstate-released" in section
    # Releasing it again is refused with the reason.
    post(client, _verb(raid, ban, "release"), {"account": "@spam2:example.org"})
    assert "is released, not held by this action" in client.get(_page(raid)).get_data(as_text=True)


def test_an_irreversible_action_needs_the_confirm_box(client: FlaskClient, team: Team, raid: Incident,
                                                      session: Session, clock: FixedClock) -> None:
    redact = _propose(session, raid, "redact", clock)
    as_user(client, team.responder)
    section = _section(client.get(_page(raid)).get_data(as_text=True))
    assert "cannot be undone" in section
    assert 'name="confirm" value="1" required' in section
    post(client, _verb(raid, redact, "approve"))
    assert _fresh(session, redact).status == "proposed"
    html = client.get(_page(raid)).get_data(as_text=True)
    assert "Could not approve the action: Delete the accounts&#39; recent messages cannot be undone: tick" in html
    post(client, _verb(raid, redact, "approve"), {"confirm": "1"})
    row = _fresh(session, redact)
    assert row.status == "applied" and row.expires_at is None
    section = _section(client.get(_page(raid)).get_data(as_text=True))
    assert "never: this cannot be undone" in section and 'data-verb="undo"' not in section


def test_it_escapes_hostile_account_names(client: FlaskClient, team: Team, raid: Incident, session: Session,
                                          clock: FixedClock) -> None:
    ban = _propose(session, raid, "ban", clock)
    assert HOSTILE in [t["account"] for t in ban.targets]
    as_user(client, team.responder)
    html = client.get(_page(raid)).get_data(as_text=True)
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _section(html)
    preview = client.get(_page(raid), query_string={"kind": "ban", "preview": "1"}).get_data(as_text=True)
    assert HOSTILE not in preview and "&lt;script&gt;alert(1)&lt;/script&gt;" in preview


def test_it_proposes_from_the_form_after_a_preview(client: FlaskClient, team: Team, raid: Incident,
                                                   session: Session) -> None:
    as_user(client, team.moderator)
    html = client.get(_page(raid), query_string={"kind": "mute", "accounts": "@a:x.org\n\n@b:x.org\n",
                                                 "expires_after": "30m"}).get_data(as_text=True)
    assert "<details id=\"propose\" open>" in html and "Preview: Mute accounts" in html
    assert "<code>@a:x.org</code>" in html and "<code>@b:x.org</code>" in html
    resp = post(client, f"{_page(raid)}/containment", {"kind": "mute", "accounts": "@a:x.org\n@b:x.org",
                                                        "expires_after": "30m"})
    assert resp.status_code == 303
    mute = [a for a in service.for_incident(session, raid.id) if a.kind == "mute"]
    assert len(mute) == 1 and [t["account"] for t in mute[0].targets] == ["@a:x.org", "@b:x.org"]
    assert mute[0].expires_after_s == 1800 and mute[0].proposed_by == "mo"
    assert resp.headers["Location"].endswith(f"#action-{mute[0].id}")
    # No accounts given: the evidence's. A duration that does not parse is refused with why.
    post(client, f"{_page(raid)}/containment", {"kind": "ban", "accounts": ""})
    ban = [a for a in service.for_incident(session, raid.id) if a.kind == "ban"]
    assert [t["account"] for t in ban[0].targets] == RAIDERS
    post(client, f"{_page(raid)}/containment", {"kind": "mute", "expires_after": "soon"})
    html = client.get(_page(raid)).get_data(as_text=True)
    assert "Could not propose the action: expires_after:" in html
    bad = client.get(_page(raid), query_string={"kind": "nuke"}).get_data(as_text=True)
    assert "is not a containment action" in bad


def test_resolving_offers_to_undo_what_is_in_force(client: FlaskClient, team: Team, incident: Incident,
                                                   session: Session) -> None:
    lockdown = _lockdown(session, incident)
    as_user(client, team.responder)
    assert 'name="revert_actions"' not in client.get(_page(incident)).get_data(as_text=True)
    post(client, _verb(incident, lockdown, "approve"))
    html = client.get(_page(incident)).get_data(as_text=True)
    assert 'name="revert_actions" value="1" checked' in html
    assert "Also undo the containment still in force (1 action)" in html
    assert html.count('data-action="resolve"') == 1
    post(client, f"{_page(incident)}/resolve", {"revert_actions": "1"})
    session.expire_all()
    assert session.get(Incident, incident.id).status == "resolved"  # type: ignore[union-attr]
    row = _fresh(session, lockdown)
    assert row.status == "reverted" and row.reverted_by == "ray"
    timeline = [e.message for e in session.get(Incident, incident.id).timeline]  # type: ignore[union-attr]
    assert any("asked to undo" in m and "via resolving the incident" in m for m in timeline)


def test_resolving_without_the_box_leaves_the_action_in_force(client: FlaskClient, team: Team, incident: Incident,
                                                              session: Session) -> None:
    lockdown = _lockdown(session, incident)
    as_user(client, team.responder)
    post(client, _verb(incident, lockdown, "approve"))
    post(client, f"{_page(incident)}/resolve")
    assert _fresh(session, lockdown).status == "applied"


def test_forms_need_their_csrf_token(client: FlaskClient, team: Team, incident: Incident, session: Session) -> None:
    lockdown = _lockdown(session, incident)
    as_user(client, team.responder)
    assert client.post(_verb(incident, lockdown, "approve")).status_code == 400
    assert client.post(_verb(incident, lockdown, "approve"), data={"_csrf": "stale"}).status_code == 400
    assert client.post(f"{_page(incident)}/containment", data={"kind": "lockdown"}).status_code == 400
    assert _fresh(session, lockdown).status == "proposed"


def test_another_communitys_staff_get_404(client: FlaskClient, factory: Factory, team: Team, incident: Incident,
                                          session: Session) -> None:
    lockdown = _lockdown(session, incident)
    other = factory.community("harbor")
    stranger = factory.staff("sam@example.test", other.community, "admin")
    as_user(client, stranger)
    token = csrf(client, "/incidents")
    for path in (_page(incident), f"{_page(incident)}/live/containment"):
        assert client.get(path).status_code == 404
    own_slug = f"/c/harbor/incidents/{incident.id}/containment/{lockdown.id}/approve"
    for path in (_verb(incident, lockdown, "approve"), _verb(incident, lockdown, "cancel"),
                 f"{_page(incident)}/containment", own_slug):
        assert client.post(path, data={"_csrf": token, "kind": "lockdown"}).status_code == 404, path
    assert _fresh(session, lockdown).status == "proposed"
    assert session.scalars(select(ContainmentAction).where(ContainmentAction.incident_id == incident.id)).all() \
        == [lockdown]


def test_an_action_of_another_incident_is_404(client: FlaskClient, team: Team, incident: Incident,
                                              session: Session) -> None:
    lockdown = _lockdown(session, incident)
    as_user(client, team.responder)
    other = post(client, "/c/lantern/incidents", {"kind": "raid", "severity": "sev3", "title": "Second raid"})
    other_id = int(other.headers["Location"].rsplit("/", 1)[1])
    resp = post(client, f"/c/lantern/incidents/{other_id}/containment/{lockdown.id}/approve")
    assert resp.status_code == 404
    assert _fresh(session, lockdown).status == "proposed"


def test_a_failed_action_shows_the_platforms_message(client: FlaskClient, team: Team, incident: Incident,
                                                     session: Session, clock: FixedClock) -> None:
    lockdown = _lockdown(session, incident)
    lockdown.status, lockdown.last_error = "failed", "M_FORBIDDEN: You don't have permission to <change> join rules"
    session.commit()
    as_user(client, team.responder)
    section = _section(client.get(_page(incident)).get_data(as_text=True))
    assert 'class="caction-error" role="alert"' in section and "The platform refused:" in section
    assert "M_FORBIDDEN: You don&#39;t have permission to &lt;change&gt; join rules" in section
    assert 'data-verb="approve"' not in section and 'data-verb="undo"' not in section


def test_it_renders_the_section_in_chinese(client: FlaskClient, team: Team, incident: Incident,
                                           session: Session) -> None:
    lockdown = _lockdown(session, incident)
    as_user(client, team.responder)
    post(client, _verb(incident, lockdown, "approve"))
    client.post("/locale", data={"locale": "zh_Hans", "next": "/", "_csrf": csrf(client, "/")})
    html = client.get(_page(incident)).get_data(as_text=True)
    section = re.sub(r"<[^>]+>", " ", _section(html))
    assert "遏制" in section
    # The timeline's line about the approval is in Chinese too (crisis.timeline.Said).
    assert "批准：封锁（暂停加入） (knock)：0 个房间" in html, html.split('class="timeline"', 1)[-1][:1500]
    for english in ("Containment", "by hand", "Proposed", "Approved", "Expires", "Undo", "Propose an action",
                    "Lock down", "reverts itself"):
        assert english not in section, english
