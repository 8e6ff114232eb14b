"""GET /api/v1/playbooks/{name}/diff validates its version numbers itself (found by schemathesis:
a huge integer used to reach the database, which SQLite cannot bind)."""
from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from crisis.api.playbooks import MAX_VERSION
from tests.engine.conftest import World, auth


def _diff(client: FlaskClient, world: World, query: str):  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/playbooks/raid/diff?{query}", headers=auth(world, "alice"))


@pytest.mark.parametrize(("query", "param"), [
    ("from=1&to=99999999999999999999999999", "to"),
    ("from=99999999999999999999999999&to=1", "from"),
    (f"from=1&to={MAX_VERSION + 1}", "to"),
    (f"from={2**63}&to=1", "from"),
    ("from=0&to=1", "from"),
    ("from=1&to=-1", "to"),
    ("from=-99999999999999999999&to=1", "from"),
    ("from=1&to=1.5", "to"),
    ("from=1e3&to=1", "from"),
    ("from=%EF%BC%91&to=1", "from"),  # a full-width digit one: int() takes it, we do not
    ("from=&to=1", "from"),
    ("from=1", "to"),
    ("to=1", "from"),
])
def test_it_answers_400_naming_the_bad_version_parameter(client: FlaskClient, world: World, query: str,
                                                         param: str) -> None:
    resp = _diff(client, world, query)
    assert resp.status_code == 400, resp.get_json()
    body = resp.get_json()
    assert body["error"] == "bad_query"
    assert body["parameter"] == param
    assert body["message"].startswith(f"{param}: ")


def test_it_still_diffs_existing_versions_and_404s_missing_ones(client: FlaskClient, world: World) -> None:
    ok = _diff(client, world, "from=2&to=2")
    assert ok.status_code == 200 and ok.get_json()["from"] == 2
    missing = _diff(client, world, f"from=2&to={MAX_VERSION}")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"


@pytest.mark.parametrize("version", ["0", "99999999999999999999999999", str(MAX_VERSION + 1)])
def test_it_answers_404_for_a_version_path_no_version_can_have(client: FlaskClient, world: World,
                                                               version: str) -> None:
    resp = client.get(f"/api/v1/playbooks/raid/versions/{version}", headers=auth(world, "alice"))
    assert resp.status_code == 404, resp.get_json()
    assert resp.get_json()["error"] == "not_found"
