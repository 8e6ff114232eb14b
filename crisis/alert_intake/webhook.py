"""A generic webhook: any JSON object, read through the integration's field paths
(title, severity, dedup_key, details, status), for scripts and bots that speak neither
Alertmanager nor PagerDuty."""
from __future__ import annotations

import uuid
from typing import Any

from crisis.alert_intake import integrations
from crisis.alert_intake.notice import FIRING, RESOLVED, AlertIn, Notice, Problems, Refused
from crisis.models import AlertIntegration

STATUSES = {"firing": FIRING, "trigger": FIRING, "triggered": FIRING, "alerting": FIRING, "problem": FIRING,
            "resolved": RESOLVED, "resolve": RESOLVED, "ok": RESOLVED, "recovered": RESOLVED}
_MISSING = object()


def lookup(body: Any, path: str) -> Any:
    """The value at a dotted path ("alert.labels.0.name"); list items by index."""
    node = body
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def parse(body: Any, integration: AlertIntegration) -> Notice:
    problems = Problems()
    if not isinstance(body, dict):
        problems.add("body", "must be a JSON object")
        raise Refused(problems)
    paths = {**integrations.DEFAULT_FIELD_PATHS, **(integration.field_paths or {})}

    def at(name: str) -> Any:
        return lookup(body, paths[name])

    title = at("title")
    if title is _MISSING or not isinstance(title, str) or not title.strip():
        problems.add(paths["title"], "the title: must be a non-empty string (field_paths.title points here)")
        title = ""
    elif len(title) > 1024:
        problems.add(paths["title"], "the title is longer than 1024 characters")
    severity = integration.default_severity
    raw_severity = at("severity")
    if raw_severity is not _MISSING and raw_severity not in (None, ""):
        try:
            severity = integrations.map_severity(integration, raw_severity, paths["severity"])
        except integrations.IntegrationError as exc:
            problems.add(paths["severity"], str(exc).partition(": ")[2])
    raw_key = at("dedup_key")
    if raw_key is _MISSING or raw_key in (None, ""):
        key = ""
    elif isinstance(raw_key, str | int) and not isinstance(raw_key, bool) and len(str(raw_key)) <= 255:
        key = str(raw_key)
    else:
        problems.add(paths["dedup_key"], "the dedup key: must be a string or number of at most 255 characters")
        key = ""
    raw_status = at("status")
    status = FIRING
    if raw_status is not _MISSING and raw_status not in (None, ""):
        status = STATUSES.get(str(raw_status).strip().lower(), "")
        if not status:
            problems.add(paths["status"], f"{str(raw_status)[:20]!r} is not one of {', '.join(STATUSES)}")
    if status == RESOLVED and not key:
        problems.add(paths["dedup_key"], "a resolution must name the dedup key of what it resolves")
    details = at("details")
    if problems:
        raise Refused(problems)
    key = key or uuid.uuid4().hex
    line = " ".join(str(title).split())[:300]
    alert = AlertIn(fingerprint=key[:255], status=status, labels={}, annotations={"summary": line})
    return Notice(group_key=key, alerts=[alert], title=line, severity=severity,
                  details={"details": None if details is _MISSING else details})
