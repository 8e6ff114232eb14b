"""The ingest API: every response code, idempotency, atomic rejection, token isolation."""
from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis.ingest.store import decode_batch
from crisis.models import EventBatch, EventId
from tests.conftest import Factory, Tenant
from tests.openapi import assert_matches_spec


def ev(i: int, **over: Any) -> dict[str, Any]:
    base = {"id": f"e{i}", "type": "message.create", "ts": "2026-10-05T11:59:00.000Z",
            "actor": {"id": f"u{i}", "name": f"user{i}", "created_at": "2024-01-01T00:00:00Z"},
            "channel": "general", "message_id": f"m{i}", "content": "hello"}
    base.update(over)
    return base


def post(client: FlaskClient, tenant: Tenant | None, body: Any, *, slug: str | None = None,
         content_type: str = "application/json", token: str | None = None) -> Any:
    slug = slug or (tenant.community.slug if tenant else "lantern")
    headers = {}
    bearer = token if token is not None else (tenant.token if tenant else None)
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    resp = client.post(f"/api/v1/communities/{slug}/events", data=data, headers=headers, content_type=content_type)
    assert_matches_spec(f"/api/v1/communities/{slug}/events", "post", resp.status_code, resp.get_json())
    return resp


def stored(session: Session) -> int:
    session.expire_all()
    ids = session.scalar(select(func.count()).select_from(EventId)) or 0
    assert ids == (session.scalar(select(func.sum(EventBatch.count))) or 0), "the log and the id index disagree"
    return ids


@pytest.fixture
def lantern(factory: Factory) -> Tenant:
    return factory.community("lantern")


def test_it_accepts_a_json_array(client: FlaskClient, lantern: Tenant, session: Session) -> None:
    resp = post(client, lantern, [ev(1), ev(2)])
    assert resp.status_code == 202
    assert resp.get_json() == {"accepted": 2, "duplicates": 0}
    assert stored(session) == 2


def test_it_accepts_an_events_object(client: FlaskClient, lantern: Tenant) -> None:
    resp = post(client, lantern, {"events": [ev(1)]})
    assert resp.status_code == 202 and resp.get_json()["accepted"] == 1


def test_it_accepts_ndjson(client: FlaskClient, lantern: Tenant, session: Session) -> None:
    body = "\n".join(json.dumps(ev(i)) for i in range(3)) + "\n\n"
    resp = post(client, lantern, body, content_type="application/x-ndjson")
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 3, "duplicates": 0}
    assert stored(session) == 3


def test_it_is_idempotent_on_event_ids(client: FlaskClient, lantern: Tenant, session: Session) -> None:
    post(client, lantern, [ev(1), ev(2)])
    resp = post(client, lantern, [ev(1), ev(2), ev(3)])
    assert resp.get_json() == {"accepted": 1, "duplicates": 2}
    assert stored(session) == 3


def test_it_counts_repeats_inside_one_batch_as_duplicates(client: FlaskClient, lantern: Tenant,
                                                           session: Session) -> None:
    resp = post(client, lantern, [ev(1), ev(1)])
    assert resp.get_json() == {"accepted": 1, "duplicates": 1}
    assert stored(session) == 1


def test_it_rejects_the_whole_batch_when_one_event_is_invalid(client: FlaskClient, lantern: Tenant,
                                                              session: Session) -> None:
    resp = post(client, lantern, [ev(1), ev(2, ts="yesterday"), ev(3, actor={"name": "x"})])
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    assert {"index": 1, "field": "ts"} == {k: errors[0][k] for k in ("index", "field")}
    assert "RFC 3339" in errors[0]["message"]
    assert {"index": 2, "field": "actor.id", "message": "is required"} in errors
    assert stored(session) == 0


@pytest.mark.parametrize("event, field", [
    (ev(1, type="message.explode"), "type"),
    (ev(1, content="x" * 4001), "content"),
    (ev(1, community="harbor"), "community"),
    (ev(1, ts="2026-10-05T11:59:00"), "ts"),
    (ev(1, id=""), "id"),
    (ev(1, target={"user": "u2"}), "target.user"),
    (ev(1, colour="red"), "colour"),
    ({k: v for k, v in ev(1).items() if k != "actor"}, "actor"),
    (ev(1, ts="2026-10-07T12:00:00Z"), "ts"),
])
def test_it_names_the_field_at_fault(client: FlaskClient, lantern: Tenant, event: dict[str, Any],
                                     field: str) -> None:
    resp = post(client, lantern, [event])
    assert resp.status_code == 422
    assert resp.get_json()["errors"][0]["field"] == field


def test_it_reports_at_most_a_hundred_errors(client: FlaskClient, lantern: Tenant) -> None:
    resp = post(client, lantern, [ev(i, type="nope") for i in range(300)])
    assert resp.status_code == 422
    assert len(resp.get_json()["errors"]) == 100


def test_it_accepts_custom_types_and_fields(client: FlaskClient, lantern: Tenant) -> None:
    resp = post(client, lantern, [ev(1, type="x-poll.vote", **{"x-poll": "p1"})])
    assert resp.status_code == 202


def test_it_answers_400_on_unparsable_json(client: FlaskClient, lantern: Tenant) -> None:
    resp = post(client, lantern, b"[{not json")
    assert resp.status_code == 400 and "not valid JSON" in resp.get_json()["message"]


def test_it_answers_400_naming_the_bad_ndjson_line(client: FlaskClient, lantern: Tenant) -> None:
    resp = post(client, lantern, json.dumps(ev(1)) + "\n{oops\n", content_type="application/x-ndjson")
    assert resp.status_code == 400 and resp.get_json()["line"] == 2


def test_it_answers_400_on_a_body_that_is_not_a_list(client: FlaskClient, lantern: Tenant) -> None:
    assert post(client, lantern, {"event": ev(1)}).status_code == 400
    assert post(client, lantern, "42").status_code == 400


def test_it_answers_401_without_a_token(client: FlaskClient, lantern: Tenant) -> None:
    resp = post(client, None, [ev(1)], slug="lantern")
    assert resp.status_code == 401 and "Authorization" in resp.get_json()["message"]


def test_it_answers_401_on_an_unknown_or_revoked_token(client: FlaskClient, lantern: Tenant,
                                                       factory: Factory) -> None:
    assert post(client, lantern, [ev(1)], token="cri_nope").status_code == 401
    from crisis.tenancy.communities import revoke_token

    revoke_token(factory.session, lantern.token_id, clock=factory.clock)
    factory.session.commit()
    assert post(client, lantern, [ev(1)]).status_code == 401


def test_it_answers_403_to_another_communitys_token(client: FlaskClient, lantern: Tenant, factory: Factory,
                                                     session: Session) -> None:
    harbor = factory.community("harbor")
    resp = post(client, harbor, [ev(1)], slug="lantern")
    assert resp.status_code == 403 and "lantern" in resp.get_json()["message"]
    assert stored(session) == 0


def test_it_answers_403_to_a_personal_token(client: FlaskClient, lantern: Tenant, factory: Factory) -> None:
    staff = factory.staff("ann@example.test", lantern.community, "admin")
    resp = post(client, lantern, [ev(1)], token=factory.personal_token(staff.user))
    assert resp.status_code == 403


def test_it_answers_404_for_an_unknown_community(client: FlaskClient, lantern: Tenant) -> None:
    resp = post(client, lantern, [ev(1)], slug="nowhere")
    assert resp.status_code == 404 and "nowhere" in resp.get_json()["message"]


def test_it_answers_413_over_ten_thousand_events(client: FlaskClient, lantern: Tenant, session: Session) -> None:
    resp = post(client, lantern, [ev(i) for i in range(10_001)])
    assert resp.status_code == 413 and "10000" in resp.get_json()["message"]
    assert stored(session) == 0


def test_it_answers_413_over_ten_megabytes(client: FlaskClient, lantern: Tenant) -> None:
    resp = post(client, lantern, b"[" + b" " * (10 * 1024 * 1024 + 1) + b"]")
    assert resp.status_code == 413


def test_it_answers_415_on_other_content_types(client: FlaskClient, lantern: Tenant) -> None:
    resp = post(client, lantern, "id=1", content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 415 and "application/json" in resp.get_json()["message"]


def test_it_keeps_communities_apart_for_the_same_event_id(client: FlaskClient, lantern: Tenant,
                                                          factory: Factory, session: Session) -> None:
    harbor = factory.community("harbor")
    post(client, lantern, [ev(1)])
    assert post(client, harbor, [ev(1)]).get_json() == {"accepted": 1, "duplicates": 0}
    assert stored(session) == 2


def test_it_keeps_the_event_as_sent_and_its_arrival_time(client: FlaskClient, lantern: Tenant, session: Session,
                                                clock: Any) -> None:
    post(client, lantern, [ev(1, ts="2026-10-05T13:59:00+02:00")])
    row = session.scalar(select(EventBatch))
    assert row is not None
    assert [e["ts"] for e in decode_batch(row.body, row.fresh)] == ["2026-10-05T13:59:00+02:00"]
    assert row.received_at == clock.now()
