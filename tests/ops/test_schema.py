"""schemathesis against the served OpenAPI document, in process, for a bounded number of
cases per operation: no 5xx, and every response matches the document.

Driven from a plain test (schemathesis' pytest fixture loader does not run under pytest 9)."""
from __future__ import annotations

from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from crisis.alert_intake import integrations
from tests.conftest import Factory

EXAMPLES = 5
# Readiness answers 503 by design when a dependency is down (Redis is, in these tests).
SKIP = {("GET", "/readyz")}


def test_it_never_answers_5xx_and_matches_the_document(app: Flask, factory: Factory) -> None:
    tenant = factory.community("lantern")
    staff = factory.staff("alice@example.test", tenant.community, "admin")
    personal = factory.personal_token(staff.user)
    # Alert senders authenticate with an integration key of their kind (crisis.alert_intake).
    alert_keys = {kind: integrations.create(factory.session, tenant.community, kind=kind, name=kind,
                                            clock=factory.clock).key for kind in integrations.KINDS}
    factory.session.commit()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        kind = next((k for k in integrations.KINDS if f"/alerts/{k}" in operation.path), "")
        token = tenant.token if operation.path.endswith("/events") else alert_keys.get(kind, personal)
        routing_key = alert_keys["pagerduty"] if operation.path.endswith("/v2/enqueue") else None

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            if routing_key and isinstance(case.body, dict):
                case.body["routing_key"] = routing_key  # PagerDuty's key is in the body: reach past the 400
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"},
                                   checks=[not_a_server_error, response_schema_conformance])

        try:
            run()
        except Exception as exc:  # noqa: BLE001 -- collect every operation's failure, then report
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
