"""Per-community settings: the detectors' (read on every batch, crisis.response.drain.effective_settings)
and retention's (crisis.retention.policy), validated at the edge and stored on the community."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crisis.audit.log import changes as changed_keys
from crisis.audit.log import record
from crisis.cases import settings as case_settings
from crisis.detection import DetectorSettings
from crisis.ingest.validate import FieldError, parse_rfc3339
from crisis.models import Community
from crisis.retention import policy as retention

KINDS = ("raid", "complaint_spike", "dispute", "spam_wave", "mass_leave", "report_backlog")
LEVELS = ("low", "normal", "high")
DETECTOR_FIELDS = ("sensitivity", "allow_users", "allow_roles", "ignore_bots", "surge_windows", "enabled_kinds",
                   "hostile_terms", "friendly_terms", case_settings.KEY, "campaign_boost")
# Retention is data governance: changing it needs the admin role (ADMIN_FIELDS).
ADMIN_FIELDS = retention.FIELDS
FIELDS = DETECTOR_FIELDS + ADMIN_FIELDS
# Written by crisis.campaigns.boosts (in its own table), never through the settings.
SERVICE_FIELDS = ("campaign_windows",)
MAX_LIST = 1000
MAX_WINDOWS = 50


class InvalidSettings(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the settings")
        self.errors = errors


def defaults() -> dict[str, Any]:
    return {**public(DetectorSettings()), **retention.defaults(), case_settings.KEY: case_settings.defaults()}


def public(settings: DetectorSettings) -> dict[str, Any]:
    data = settings.to_dict()
    data["surge_windows"] = [dict(w) for w in data["surge_windows"]]
    for name in SERVICE_FIELDS:
        data.pop(name, None)
    return data


def current(community: Community) -> dict[str, Any]:
    """The stored settings over the defaults, in the form they were written."""
    stored = community.settings or {}
    base = defaults()
    return {**base, **stored, case_settings.KEY: {**base[case_settings.KEY], **stored.get(case_settings.KEY, {})}}


def _strings(errors: list[FieldError], name: str, value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in value):
        errors.append(FieldError(0, name, "must be a list of non-empty strings (at most 200 characters each)"))
    elif len(value) > MAX_LIST:
        errors.append(FieldError(0, name, f"has {len(value)} entries; the limit is {MAX_LIST}"))


def _windows(errors: list[FieldError], value: Any) -> None:
    if not isinstance(value, list) or len(value) > MAX_WINDOWS:
        errors.append(FieldError(0, "surge_windows", f"must be a list of at most {MAX_WINDOWS} windows"))
        return
    for i, window in enumerate(value):
        where = f"surge_windows[{i}]"
        if not isinstance(window, dict):
            errors.append(FieldError(0, where, "must be an object with start, end and optional factor and label"))
            continue
        unknown = set(window) - {"start", "end", "factor", "label"}
        if unknown:
            errors.append(FieldError(0, f"{where}.{sorted(unknown)[0]}", "is not a known field"))
        start = parse_rfc3339(window["start"]) if isinstance(window.get("start"), str) else None
        end = parse_rfc3339(window["end"]) if isinstance(window.get("end"), str) else None
        if start is None:
            errors.append(FieldError(0, f"{where}.start", "must be an RFC 3339 time with a zone"))
        if end is None:
            errors.append(FieldError(0, f"{where}.end", "must be an RFC 3339 time with a zone"))
        if start and end and end <= start:
            errors.append(FieldError(0, f"{where}.end", "must be after start"))
        factor = window.get("factor", 5.0)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 1 <= factor <= 100:
            errors.append(FieldError(0, f"{where}.factor", "must be a number from 1 to 100"))
        label = window.get("label", "")
        if not isinstance(label, str) or len(label) > 200:
            errors.append(FieldError(0, f"{where}.label", "must be a string of at most 200 characters"))


def validate(body: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    for key in body:
        if key in SERVICE_FIELDS:
            errors.append(FieldError(0, key, "is set by crisis while a campaign is active, not through the settings"))
        elif key not in FIELDS:
            errors.append(FieldError(0, key, f"is not a setting (settings: {', '.join(FIELDS)})"))
    if "sensitivity" in body:
        value = body["sensitivity"]
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ((numeric and 0.5 <= value <= 2.0) or value in LEVELS):
            errors.append(FieldError(0, "sensitivity", "must be a number from 0.5 to 2.0 or one of low, normal, high"))
    for name in ("allow_users", "allow_roles", "hostile_terms", "friendly_terms"):
        if name in body:
            _strings(errors, name, body[name])
    if "ignore_bots" in body and not isinstance(body["ignore_bots"], bool):
        errors.append(FieldError(0, "ignore_bots", "must be true or false"))
    if "surge_windows" in body:
        _windows(errors, body["surge_windows"])
    if "campaign_boost" in body:
        value = body["campaign_boost"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1.0 <= value <= 2.0:
            errors.append(FieldError(0, "campaign_boost", "must be a number from 1.0 (off) to 2.0: the factor on the "
                                     "raid sensitivity while a campaign that hit a sibling community is active"))
    if "enabled_kinds" in body:
        value = body["enabled_kinds"]
        if not isinstance(value, list) or any(k not in KINDS for k in value):
            errors.append(FieldError(0, "enabled_kinds", f"must be a list drawn from {', '.join(KINDS)}"))
    if case_settings.KEY in body:
        errors.extend(case_settings.validate(body[case_settings.KEY]))
    return errors + retention.validate(body)


# Settings that name members: the append-only audit log keeps how many, never who, so that
# erasing a member (crisis.erasure) leaves no trace of them in a row nobody may change.
MEMBER_LISTS = ("allow_users",)


def _counted(side: dict[str, Any]) -> dict[str, Any]:
    return {k: (len(v) if k in MEMBER_LISTS and isinstance(v, list) else v) for k, v in side.items()}


def update(session: Session, community: Community, changes: dict[str, Any], *, actor: str = "system",
           actor_user_id: int | None = None) -> dict[str, Any]:
    """Merge validated changes into the stored settings, audited with what changed; raises
    InvalidSettings naming each bad field."""
    errors = validate(changes)
    if errors:
        raise InvalidSettings(errors)
    old = current(community)
    merged = {**(community.settings or {}), **changes}
    if case_settings.KEY in changes:  # per category: a change of one keeps the others
        merged[case_settings.KEY] = {**(community.settings or {}).get(case_settings.KEY, {}),
                                     **changes[case_settings.KEY]}
    DetectorSettings.from_dict(merged)  # the detectors must be able to load what we store
    community.settings = merged
    session.flush()
    before, after = (_counted(side) for side in changed_keys(old, current(community)))
    if after or before:
        record(session, community_id=community.id, actor=actor, actor_user_id=actor_user_id,
               action="settings.update", target="detector settings", before=before, after=after)
    return current(community)
