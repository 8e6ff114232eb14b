"""A PagerDuty Events API v2 event as a Notice: the dedup_key is the group (and its one
alert); trigger opens or updates, acknowledge and resolve move the incident."""
from __future__ import annotations

import uuid
from typing import Any

from crisis.alert_intake import integrations
from crisis.alert_intake.notice import FIRING, AlertIn, Notice, Problems, Refused, text, timestamp
from crisis.models import AlertIntegration

ACTIONS = ("trigger", "acknowledge", "resolve")
PD_SEVERITIES = ("critical", "error", "warning", "info")
MAX_LINKS = 50


def routing_key(body: Any) -> str:
    value = body.get("routing_key") if isinstance(body, dict) else None
    return value if isinstance(value, str) else ""


def parse(body: Any, integration: AlertIntegration) -> Notice:
    problems = Problems()
    if not isinstance(body, dict):
        problems.add("body", "must be an Events API v2 event object")
        raise Refused(problems)
    action = body.get("event_action")
    if action not in ACTIONS:
        problems.add("event_action", f"{str(action)[:20]!r} is not one of {', '.join(ACTIONS)}")
    dedup_key = text(body.get("dedup_key"), "dedup_key", problems, required=action in ("acknowledge", "resolve"),
                     limit=255)
    if action != "trigger":
        if problems:
            raise Refused(problems)
        return Notice(group_key=dedup_key, alerts=[], title="", severity=integration.default_severity,
                      action=str(action))
    payload = body.get("payload")
    if not isinstance(payload, dict):
        problems.add("payload", "is required for trigger events and must be an object")
        payload = {}
    summary = text(payload.get("summary"), "payload.summary", problems, required=True, limit=1024)
    source = text(payload.get("source"), "payload.source", problems, required=True, limit=255)
    raw_severity = payload.get("severity")
    severity = integration.default_severity
    if raw_severity in (None, ""):
        problems.add("payload.severity", f"is required (one of {', '.join(PD_SEVERITIES)})")
    else:
        try:
            severity = integrations.map_severity(integration, raw_severity, "payload.severity")
        except integrations.IntegrationError as exc:
            problems.add("payload.severity", str(exc).partition(": ")[2])
    at = timestamp(payload.get("timestamp"), "payload.timestamp", problems)
    extra = {k: text(payload.get(k), f"payload.{k}", problems, limit=255) for k in ("component", "group", "class")}
    custom = payload.get("custom_details")
    links = _refs(body.get("links"), "links", ("href", "text"), problems)
    images = _refs(body.get("images"), "images", ("src", "href", "alt"), problems)
    client = text(body.get("client"), "client", problems, limit=255)
    client_url = text(body.get("client_url"), "client_url", problems, limit=2000)
    if problems:
        raise Refused(problems)
    key = dedup_key or uuid.uuid4().hex
    labels = {"source": source, **{k: v for k, v in extra.items() if v}}
    alert = AlertIn(fingerprint=key[:255], status=FIRING, labels=labels, annotations={"summary": summary},
                    starts_at=at, url=client_url)
    return Notice(group_key=key, alerts=[alert], title=" ".join(summary.split())[:300], severity=severity,
                  details={"source": source, **extra, "custom_details": custom if custom is not None else {},
                           "links": links, "images": images, "client": client, "client_url": client_url},
                  action="trigger")


def _refs(value: Any, where: str, keys: tuple[str, ...], problems: Problems) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_LINKS:
        problems.add(where, f"must be a list of at most {MAX_LINKS} objects")
        return []
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            problems.add(f"{where}[{i}]", "must be an object")
            continue
        out.append({k: text(item.get(k), f"{where}[{i}].{k}", problems, limit=2000) for k in keys if k in item})
    return out

