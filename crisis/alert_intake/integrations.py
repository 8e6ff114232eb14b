"""Integrations: created and rotated with a fresh key (shown once, stored as its SHA-256),
found by the key a sender presents, and their per-integration settings: severity mapping,
the generic webhook's field paths, the kind and playbook of the incidents they open."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.audit.log import record
from crisis.clock import Clock, isoformat
from crisis.models import AlertIntegration, Community
from crisis.response.states import SEVERITIES
from crisis.tenancy.communities import Conflict, ServiceError
from crisis.tenancy.credentials import constant_time_equal, hash_token

KINDS = ("alertmanager", "pagerduty", "webhook")
# Where each kind posts (crisis.api.alerts); the key goes in a Bearer header or at the end of the path.
ENDPOINTS = {"alertmanager": "/api/v1/alerts/alertmanager", "webhook": "/api/v1/alerts/webhook",
             "pagerduty": "/v2/enqueue"}
KEY_PREFIX = "cra_"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# PagerDuty's four severities, Alertmanager's usual severity label values, and crisis's own names.
DEFAULT_SEVERITY_MAP = {"critical": "sev1", "error": "sev2", "warning": "sev3", "info": "sev4",
                        **{s: s for s in SEVERITIES}}
# A detector episode closes after a quiet spell of 30 minutes unless its kind says otherwise
# (crisis.detection.episodes.QUIET): an alert group that fires again within as long reopens
# its incident; later, it opens a new one.
DEFAULT_REOPEN_WITHIN_S = 1800
# Where the generic webhook finds each value, as dotted paths into the posted JSON.
DEFAULT_FIELD_PATHS = {"title": "title", "severity": "severity", "dedup_key": "dedup_key",
                       "details": "details", "status": "status"}
PATH = re.compile(r"^[A-Za-z0-9_$@-]{1,100}(\.[A-Za-z0-9_$@-]{1,100}){0,15}$")


class IntegrationError(ServiceError):
    """Bad input for an integration; the message names the field."""


@dataclass(frozen=True)
class IssuedIntegration:
    integration: AlertIntegration
    key: str  # shown once


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def parse_severity_map(value: Any) -> dict[str, str]:
    """A mapping {sender's value: sev1..sev4}, or "critical=sev1,warning=sev3" text."""
    if isinstance(value, str):
        pairs = [p.partition("=") for p in re.split(r"[,\n]", value) if p.strip()]
        if any(not sep for _k, sep, _v in pairs):
            raise IntegrationError("severity_map: write value=sevN pairs separated by commas")
        value = {k.strip(): v.strip() for k, _sep, v in pairs}
    if not isinstance(value, dict) or not value:
        raise IntegrationError("severity_map: must map sender values to sev1..sev4")
    mapping: dict[str, str] = {}
    for key, sev in value.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 100:
            raise IntegrationError(f"severity_map: the value {str(key)[:40]!r} must be 1 to 100 characters")
        if sev not in SEVERITIES:
            raise IntegrationError(f"severity_map.{key}: {str(sev)[:20]!r} is not one of {', '.join(SEVERITIES)}")
        mapping[key.strip().lower()] = sev
    return mapping


def parse_field_paths(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise IntegrationError("field_paths: must map title, severity, dedup_key, details, status to dotted paths")
    unknown = sorted(set(value) - set(DEFAULT_FIELD_PATHS))
    if unknown:
        raise IntegrationError(f"field_paths.{unknown[0]}: not a field (expected {', '.join(DEFAULT_FIELD_PATHS)})")
    for key, path in value.items():
        if not isinstance(path, str) or not PATH.match(path):
            raise IntegrationError(f"field_paths.{key}: {str(path)[:60]!r} must be a dotted path such as alert.name")
    return {**DEFAULT_FIELD_PATHS, **value}


def create(session: Session, community: Community, *, kind: str, name: str, clock: Clock,
           incident_kind: str = "alert", default_severity: str = "sev3", playbook: str | None = None,
           severity_label: str = "severity", severity_map: Any = None, field_paths: Any = None,
           auto_resolve: bool = True, reopen_within_s: int = DEFAULT_REOPEN_WITHIN_S, actor: str = "system",
           actor_user_id: int | None = None) -> IssuedIntegration:
    if kind not in KINDS:
        raise IntegrationError(f"kind: {kind[:30]!r} is not one of {', '.join(KINDS)}")
    if not NAME.match(name):
        raise IntegrationError(f"name: {name[:70]!r} must be 1-64 letters, digits, '.', '_' or '-'")
    if not incident_kind or len(incident_kind) > 64 or not NAME.match(incident_kind):
        raise IntegrationError("incident_kind: must be 1-64 letters, digits, '.', '_' or '-' (e.g. alert, outage)")
    if default_severity not in SEVERITIES:
        raise IntegrationError(f"default_severity: {default_severity[:20]!r} is not one of {', '.join(SEVERITIES)}")
    if playbook is not None and (not playbook or len(playbook) > 100):
        raise IntegrationError("playbook: must be 1 to 100 characters (a playbook name such as alert)")
    if not severity_label or len(severity_label) > 100:
        raise IntegrationError("severity_label: must be 1 to 100 characters (the label holding the severity)")
    if not 0 <= reopen_within_s <= 7 * 86400:
        raise IntegrationError("reopen_within_s: must be 0 to 604800 seconds")
    if session.scalar(select(AlertIntegration.id).where(AlertIntegration.community_id == community.id,
                                                        AlertIntegration.name == name)) is not None:
        raise Conflict(f"community {community.slug!r} already has an integration named {name!r}")
    key = new_key()
    integration = AlertIntegration(
        community_id=community.id, kind=kind, name=name, key_hash=hash_token(key), key_hint=key[-4:],
        incident_kind=incident_kind, default_severity=default_severity, playbook=playbook,
        severity_label=severity_label,
        severity_map=DEFAULT_SEVERITY_MAP if severity_map is None else parse_severity_map(severity_map),
        field_paths=parse_field_paths(field_paths or {}) if kind == "webhook" else {},
        auto_resolve=auto_resolve, reopen_within_s=reopen_within_s, created_at=clock.now(), disabled=False)
    session.add(integration)
    session.flush()
    shown = summary(integration)
    record(session, community_id=community.id, actor=actor, actor_user_id=actor_user_id,
           action="integration.create", target=f"{kind} integration {integration.id} ({name})",
           after={k: shown[k] for k in ("kind", "name", "key_hint", "incident_kind", "default_severity", "playbook",
                                        "severity_map", "auto_resolve")}, at=integration.created_at)
    return IssuedIntegration(integration, key)


def rotate(session: Session, integration: AlertIntegration, *, clock: Clock, actor: str = "system",
           actor_user_id: int | None = None) -> str:
    """A new key; the old one stops working when the caller commits."""
    key = new_key()
    old_hint = integration.key_hint
    integration.key_hash, integration.key_hint, integration.rotated_at = hash_token(key), key[-4:], clock.now()
    session.flush()
    record(session, community_id=integration.community_id, actor=actor, actor_user_id=actor_user_id,
           action="integration.rotate", target=f"{integration.kind} integration {integration.id} ({integration.name})",
           before={"key_hint": f"…{old_hint}"}, after={"key_hint": f"…{integration.key_hint}"},
           at=integration.rotated_at)
    return key


def by_key(session: Session, key: str) -> AlertIntegration | None:
    digest = hash_token(key)
    found = session.scalar(select(AlertIntegration).where(AlertIntegration.key_hash == digest))
    if found is None or found.disabled or not constant_time_equal(found.key_hash, digest):
        return None
    return found


def of_community(session: Session, community_id: int) -> list[AlertIntegration]:
    return list(session.scalars(select(AlertIntegration).where(AlertIntegration.community_id == community_id)
                                .order_by(AlertIntegration.id)))


def map_severity(integration: AlertIntegration, value: object, where: str) -> str:
    """The sender's severity value as sev1..sev4; an unknown one is the sender's error."""
    mapping = integration.severity_map or DEFAULT_SEVERITY_MAP
    text = str(value).strip().lower() if isinstance(value, str | int) and not isinstance(value, bool) else None
    if text is None or text not in mapping:
        shown = str(value)[:40] if text is not None else type(value).__name__
        raise IntegrationError(f"{where}: {shown!r} is not a severity this integration maps "
                               f"(one of {', '.join(sorted(mapping))})")
    return mapping[text]


def summary(integration: AlertIntegration) -> dict[str, Any]:
    return {
        "id": integration.id, "kind": integration.kind, "name": integration.name,
        "key_hint": f"…{integration.key_hint}", "incident_kind": integration.incident_kind,
        "default_severity": integration.default_severity, "playbook": integration.playbook,
        "severity_label": integration.severity_label, "severity_map": integration.severity_map,
        "field_paths": integration.field_paths, "auto_resolve": integration.auto_resolve,
        "reopen_within_s": integration.reopen_within_s,
        "created_at": isoformat(integration.created_at),
        "last_received_at": isoformat(integration.last_received_at) if integration.last_received_at else None,
        "disabled": integration.disabled,
    }
