"""Alertmanager's webhook body (version 4; Grafana's webhook contact point sends the same)
as a Notice: the groupKey is the group, each alert keyed by its fingerprint."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from crisis.alert_intake import integrations
from crisis.alert_intake.notice import (
    FIRING,
    MAX_ALERTS,
    RESOLVED,
    AlertIn,
    Notice,
    Problems,
    Refused,
    string_map,
    text,
    timestamp,
    title_of,
)
from crisis.models import AlertIntegration
from crisis.response.states import SEVERITIES


def parse(body: Any, integration: AlertIntegration) -> Notice:
    """Raise Refused naming every problem; nothing of a refused body is stored."""
    problems = Problems()
    if not isinstance(body, dict):
        problems.add("body", "must be an Alertmanager webhook object (version 4)")
        raise Refused(problems)
    version = body.get("version")
    if version not in ("4", 4, None):
        problems.add("version", f"{str(version)[:10]!r} is not supported (Alertmanager sends \"4\")")
    group_key = text(body.get("groupKey"), "groupKey", problems, required=True, limit=10_000)
    raw_alerts = body.get("alerts")
    if not isinstance(raw_alerts, list) or not raw_alerts:
        problems.add("alerts", "must be a non-empty list")
        raw_alerts = []
    elif len(raw_alerts) > MAX_ALERTS:
        problems.add("alerts", f"has {len(raw_alerts)} alerts; at most {MAX_ALERTS} (set max_alerts on the receiver)")
        raw_alerts = []
    alerts = [a for i, raw in enumerate(raw_alerts) if (a := _alert(raw, f"alerts[{i}]", problems)) is not None]
    common_labels = string_map(body.get("commonLabels"), "commonLabels", problems)
    common_annotations = string_map(body.get("commonAnnotations"), "commonAnnotations", problems)
    group_labels = string_map(body.get("groupLabels"), "groupLabels", problems)
    severity = _severity(integration, alerts, problems)
    external = text(body.get("externalURL"), "externalURL", problems, limit=2000)
    if problems:
        raise Refused(problems)
    first = alerts[0]
    alertname = common_labels.get("alertname") or group_labels.get("alertname") or first.labels.get("alertname", "")
    summary = common_annotations.get("summary") or first.annotations.get("summary", "")
    fallback = "Alert group " + ", ".join(f"{k}={v}" for k, v in sorted(group_labels.items()))
    truncated = body.get("truncatedAlerts")
    return Notice(
        group_key=group_key, alerts=alerts, title=title_of(alertname, summary, fallback), severity=severity,
        details={"receiver": str(body.get("receiver", ""))[:200], "external_url": external,
                 "group_labels": group_labels, "common_labels": common_labels,
                 "common_annotations": common_annotations,
                 "truncated_alerts": truncated if isinstance(truncated, int) else 0})


def _alert(raw: Any, where: str, problems: Problems) -> AlertIn | None:
    if not isinstance(raw, dict):
        problems.add(where, "must be an object")
        return None
    status = raw.get("status")
    if status not in (FIRING, RESOLVED):
        problems.add(f"{where}.status", f"{str(status)[:20]!r} is not firing or resolved")
    labels = string_map(raw.get("labels"), f"{where}.labels", problems)
    annotations = string_map(raw.get("annotations"), f"{where}.annotations", problems)
    fingerprint = text(raw.get("fingerprint"), f"{where}.fingerprint", problems, limit=255)
    if not fingerprint and labels:
        # Grafana before 8.x and hand-written senders leave it out: the labels identify an alert.
        fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
    elif not fingerprint:
        problems.add(f"{where}.fingerprint", "is required when the alert has no labels")
    starts = timestamp(raw.get("startsAt"), f"{where}.startsAt", problems)
    ends = timestamp(raw.get("endsAt"), f"{where}.endsAt", problems)
    url = text(raw.get("generatorURL"), f"{where}.generatorURL", problems, limit=2000)
    if status not in (FIRING, RESOLVED):
        return None
    return AlertIn(fingerprint, str(status), labels, annotations, starts, ends, url)


def _severity(integration: AlertIntegration, alerts: list[AlertIn], problems: Problems) -> str:
    """The worst mapped severity among the firing alerts (all alerts, when none fires)."""
    label = integration.severity_label
    any_firing = any(a.status == FIRING for a in alerts)
    found: list[str] = []
    for i, alert in enumerate(alerts):
        if label not in alert.labels:
            continue
        try:
            mapped = integrations.map_severity(integration, alert.labels[label], f"alerts[{i}].labels.{label}")
        except integrations.IntegrationError as exc:
            where, _sep, what = str(exc).partition(": ")
            problems.add(where, what)
            continue
        if alert.status == FIRING or not any_firing:
            found.append(mapped)
    return min(found, key=SEVERITIES.index) if found else integration.default_severity
