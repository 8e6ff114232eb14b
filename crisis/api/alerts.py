"""Where alert sources post: Alertmanager / Grafana webhooks, PagerDuty Events API v2
(/v2/enqueue, and under the API prefix) and generic webhooks.

The integration key is the tenant: it names one integration of one community, so one
community's key never touches another's incidents. A request is answered 2xx only once
its changes are committed; a database outage answers 503 (crisis.api.errors), so the
sender's own retries (Alertmanager's, the pagerduty client's) lose nothing, and applying
the same body twice changes nothing twice (crisis.alert_intake.groups)."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.exc import IntegrityError

from crisis.alert_intake import alertmanager, groups, integrations, pagerduty, webhook
from crisis.alert_intake.notice import Notice, Refused
from crisis.api import ratelimit
from crisis.api.errors import ApiError
from crisis.insight import metrics
from crisis.models import AlertIntegration
from crisis.response.lifecycle import ConcurrentTransition
from crisis.tenancy.credentials import hash_token
from crisis.webctx import db, rt

bp = Blueprint("api_alerts", __name__)
MAX_BODY = 1024 * 1024  # Alertmanager caps a notification with max_alerts; 1 MiB holds ~1000 alerts


def _refuse(status: int, error: str, message: str, **extra: Any) -> ApiError:
    return ApiError(status, error, message, **extra)


def _json_body() -> Any:
    if (request.content_length or 0) > MAX_BODY:
        raise _refuse(413, "too_large", f"the body is {request.content_length} bytes; at most {MAX_BODY}")
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY:
        raise _refuse(413, "too_large", f"the body is {len(raw)} bytes; at most {MAX_BODY}")
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise _refuse(400, "bad_json", f"the body is not valid JSON: {exc}") from None


def _key(path_key: str | None) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    if header and (scheme.lower() != "bearer" or not value.strip()):
        raise _refuse(401, "unauthorized", "the Authorization header must be 'Bearer <integration key>'")
    key = value.strip() or (path_key or "")
    if not key:
        raise _refuse(401, "unauthorized", "no integration key: send Authorization: Bearer <key> "
                                           "(Alertmanager: http_config.authorization) or post to .../<key>")
    return key


def _limited(key: str) -> int | None:
    wait = ratelimit.limits().check_alerts(hash_token(key))
    if wait is not None:
        metrics.count_rate_limited("alerts")
    return wait


def _integration(key: str, kind: str) -> AlertIntegration:
    found = integrations.by_key(db(), key)
    if found is None:
        raise _refuse(401, "unauthorized", "unknown or rotated integration key")
    if found.kind != kind:
        raise _refuse(403, "wrong_integration", f"this key belongs to a {found.kind} integration; "
                                                f"post to {integrations.ENDPOINTS[found.kind]}")
    return found


def apply(integration: AlertIntegration, notice: Notice) -> groups.Received:
    """Commit the notice; a race on a new group or an incident's status is retried once."""
    session = db()
    for attempt in (1, 2):
        try:
            with rt().single_writer:
                received = groups.receive(session, integration, notice, clock=rt().clock)
                session.commit()
            return received
        except (IntegrityError, ConcurrentTransition):
            session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _intake(kind: str, parse: Callable[[Any, AlertIntegration], Notice], path_key: str | None,
            answer: Callable[[Notice, groups.Received], dict[str, Any]]) -> tuple[Response, int]:
    key = _key(path_key)
    wait = _limited(key)
    if wait is not None:
        raise ApiError(429, "rate_limited", f"too many requests for this integration; retry in {wait}s",
                       headers={"Retry-After": str(wait)}, retry_after=wait)
    integration = _integration(key, kind)
    body = _json_body()
    try:
        notice = parse(body, integration)
    except Refused as exc:
        raise _refuse(422, "invalid_alerts", str(exc),
                      errors=[{"field": where, "message": what} for where, what in exc.problems.items]) from None
    received = apply(integration, notice)
    resp = jsonify({"status": "accepted", "outcome": received.outcome, "incident_id": received.incident_id,
                    **answer(notice, received)})
    return resp, 202


@bp.post("/api/v1/alerts/alertmanager")
@bp.post("/api/v1/alerts/alertmanager/<key>")
def alertmanager_webhook(key: str | None = None) -> tuple[Response, int]:
    return _intake("alertmanager", alertmanager.parse, key, lambda n, _r: {"alerts": len(n.alerts)})


@bp.post("/api/v1/alerts/webhook")
@bp.post("/api/v1/alerts/webhook/<key>")
def generic_webhook(key: str | None = None) -> tuple[Response, int]:
    return _intake("webhook", webhook.parse, key, lambda n, _r: {"dedup_key": n.group_key})


# ---- PagerDuty Events API v2: its own answer shapes, which its clients read --------------
class PagerDutyRefusal(Exception):
    def __init__(self, status: int, errors: list[str], *, wait: int | None = None) -> None:
        super().__init__("; ".join(errors))
        self.status, self.errors, self.wait = status, errors, wait


@bp.errorhandler(PagerDutyRefusal)
def _pd_refusal(exc: PagerDutyRefusal) -> tuple[Response, int]:
    if exc.status == 429:
        resp = jsonify({"status": "throttle event", "message": "Requests for this integration are arriving too "
                        f"quickly; retry in {exc.wait}s", "errors": exc.errors})
        resp.headers["Retry-After"] = str(exc.wait)
        return resp, 429
    return jsonify({"status": "invalid event", "message": "Event object is invalid", "errors": exc.errors}), exc.status


def enqueue() -> tuple[Response, int]:
    try:
        body = _json_body()
    except ApiError as exc:
        raise PagerDutyRefusal(exc.status, [exc.message]) from None
    key = pagerduty.routing_key(body)
    if not key:
        raise PagerDutyRefusal(400, ["routing_key: is required (the crisis integration key)"])
    wait = _limited(key)
    if wait is not None:
        raise PagerDutyRefusal(429, [f"rate limited; retry in {wait}s"], wait=wait)
    try:
        integration = _integration(key, "pagerduty")
    except ApiError as exc:
        raise PagerDutyRefusal(400, [f"routing_key: {exc.message}"]) from None
    try:
        notice = pagerduty.parse(body, integration)
    except Refused as exc:
        raise PagerDutyRefusal(400, exc.problems.messages()) from None
    apply(integration, notice)
    return jsonify({"status": "success", "message": "Event processed", "dedup_key": notice.group_key}), 202


bp.add_url_rule("/v2/enqueue", "enqueue", enqueue, methods=["POST"])
bp.add_url_rule("/api/v1/alerts/pagerduty/v2/enqueue", "enqueue_api", enqueue, methods=["POST"])
