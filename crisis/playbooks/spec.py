"""Playbook documents: parse and validate, with messages that name the file and the field.

A playbook is data. Validation turns the YAML into a normalised dict (defaults filled in)
whose canonical JSON is hashed, so a version is identified by what it says, not how it
is formatted."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from crisis.containment import kinds
from crisis.response.states import SEVERITIES
from crisis.versioned import canonical_hash, parse_yaml

COMMUNITY_ROLES = ("moderator", "responder", "manager", "admin")
TARGET_KINDS = ("user", "schedule", "role", "channel", "channel_purpose", "incident_role")
NOTIFY_EVENTS = ("opened", "acknowledged", "mitigated", "resolved", "status_update")
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_DURATION_RE = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_LEVELS = 10
MAX_REPEAT = 5  # Grafana OnCall's cap: more repeats only page tired people again
# Members told less often than daily are not kept informed; more often than every minute is noise.
MEMBER_EVERY = (timedelta(minutes=1), timedelta(hours=24))


class PlaybookError(ValueError):
    """Invalid playbook; `problems` lists 'field: message' strings."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def parse_duration(raw: object) -> timedelta:
    """'30s', '15m', '2h', '1d' (or a number of seconds) → timedelta."""
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a duration")
    if isinstance(raw, int) and raw >= 0:
        return timedelta(seconds=raw)
    match = _DURATION_RE.match(str(raw).strip())
    if not match:
        raise ValueError(f"{raw!r} is not a duration (use 30s, 15m, 2h or 1d)")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


@dataclass
class _Checker:
    problems: list[str]

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def string(self, data: dict[str, Any], key: str, where: str, *, required: bool = True,
               default: str = "") -> str:
        value = data.get(key, None)
        if value is None:
            if required:
                self.add(f"{where}{key}", "is required")
            return default
        if not isinstance(value, str) or (required and not value.strip()):
            self.add(f"{where}{key}", f"must be a non-empty string, got {value!r}")
            return default
        return value

    def duration(self, value: object, where: str) -> str:
        try:
            parse_duration(value)
        except ValueError as exc:
            self.add(where, str(exc))
        return str(value)

    def targets(self, raw: object, where: str, roles: set[str]) -> list[dict[str, str]]:
        if not isinstance(raw, list):
            self.add(where, "must be a list of targets like {schedule: primary} or {role: manager}")
            return []
        out: list[dict[str, str]] = []
        for i, target in enumerate(raw):
            spot = f"{where}[{i}]"
            if not isinstance(target, dict) or len(target) != 1:
                self.add(spot, f"must have exactly one of {', '.join(TARGET_KINDS)}")
                continue
            (kind, value), = target.items()
            if kind not in TARGET_KINDS:
                self.add(spot, f"unknown target {kind!r} (use one of {', '.join(TARGET_KINDS)})")
            elif not isinstance(value, str) or not value:
                self.add(f"{spot}.{kind}", "must be a non-empty string")
            elif kind == "role" and value not in COMMUNITY_ROLES:
                self.add(f"{spot}.role", f"{value!r} is not a community role ({', '.join(COMMUNITY_ROLES)})")
            elif kind == "incident_role" and value not in roles:
                self.add(f"{spot}.incident_role", f"{value!r} is not declared under roles")
            else:
                out.append({kind: value})
        return out


def validate(data: object, source: str = "<playbook>") -> dict[str, Any]:
    """Return the normalised spec or raise PlaybookError listing every problem found."""
    c = _Checker([])
    if not isinstance(data, dict):
        raise PlaybookError(source, ["the document must be a mapping with name, version, title, ..."])
    known = {"name", "version", "title", "description", "applies_to", "roles", "steps", "escalation",
             "notify", "postmortem", "member_updates"}
    for key in sorted(set(data) - known):
        c.add(str(key), f"unknown field (known: {', '.join(sorted(known))})")
    name = c.string(data, "name", "")
    if name and not NAME_RE.match(name):
        c.add("name", f"{name!r} must be lowercase letters, digits, - or _")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        c.add("version", f"must be a positive integer, got {version!r}")
    spec: dict[str, Any] = {
        "name": name, "version": version, "title": c.string(data, "title", ""),
        "description": c.string(data, "description", "", required=False),
        "applies_to": _applies_to(c, data.get("applies_to")),
    }
    spec["roles"] = _roles(c, data.get("roles"))
    role_names = set(spec["roles"])
    spec["steps"] = _steps(c, data.get("steps"), role_names)
    spec["escalation"] = _escalation(c, data.get("escalation"), role_names)
    spec["notify"] = _notify(c, data.get("notify"), role_names)
    spec["postmortem"] = _postmortem(c, data.get("postmortem"))
    # Only playbooks that ask for a cadence get the key, so older playbooks hash as before.
    if "member_updates" in data:
        spec["member_updates"] = _member_updates(c, data["member_updates"], role_names,
                                                 spec["applies_to"]["severities"])
    if c.problems:
        raise PlaybookError(source, c.problems)
    return spec


def _applies_to(c: _Checker, raw: object) -> dict[str, list[str]]:
    if not isinstance(raw, dict):
        c.add("applies_to", "is required: {kinds: [raid], severities: [sev1, sev2]} ('*' matches any kind)")
        return {"kinds": [], "severities": []}
    kinds = raw.get("kinds")
    if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) and k for k in kinds):
        c.add("applies_to.kinds", "must be a non-empty list of incident kinds (or ['*'])")
        kinds = []
    severities = raw.get("severities", list(SEVERITIES))
    if not isinstance(severities, list) or not severities or any(s not in SEVERITIES for s in severities):
        c.add("applies_to.severities", f"must list some of {', '.join(SEVERITIES)}")
        severities = []
    return {"kinds": list(kinds), "severities": list(severities)}


def _roles(c: _Checker, raw: object) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict) or not raw:
        c.add("roles", "is required: a mapping of incident roles, at least 'commander'")
        return {}
    if "commander" not in raw:
        c.add("roles", "must declare 'commander' (the incident owner)")
    roles: dict[str, dict[str, Any]] = {}
    for name, body in raw.items():
        where = f"roles.{name}"
        if not isinstance(name, str) or not NAME_RE.match(name):
            c.add(where, "role names are lowercase words")
            continue
        if not isinstance(body, dict):
            c.add(where, "must be a mapping with description and filled_by")
            continue
        filled = c.targets(body.get("filled_by", []), f"{where}.filled_by", set())
        for target in filled:
            if next(iter(target)) in ("channel", "channel_purpose", "incident_role"):
                c.add(f"{where}.filled_by", "a role is filled by a user, a schedule or a community role")
        roles[name] = {"description": body.get("description", "") or "", "filled_by": filled}
    return roles


def _steps(c: _Checker, raw: object, roles: set[str]) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        c.add("steps", "is required: a list of steps with id, title, owner, due")
        return []
    steps: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, body in enumerate(raw):
        where = f"steps[{i}]"
        if not isinstance(body, dict):
            c.add(where, "must be a mapping")
            continue
        fields = {"id", "title", "instructions", "owner", "due", "required", "action", "expires_after", "approval"}
        for key in sorted(set(body) - fields):
            c.add(f"{where}.{key}", f"unknown field ({', '.join(sorted(fields))})")
        step_id = c.string(body, "id", f"{where}.")
        if step_id and not NAME_RE.match(step_id):
            c.add(f"{where}.id", f"{step_id!r} must be lowercase letters, digits, - or _")
        if step_id in seen:
            c.add(f"{where}.id", f"duplicate step id {step_id!r}")
        seen.add(step_id)
        owner = c.string(body, "owner", f"{where}.")
        if owner and owner not in roles:
            c.add(f"{where}.owner", f"{owner!r} is not declared under roles ({', '.join(sorted(roles))})")
        required = body.get("required", True)
        if not isinstance(required, bool):
            c.add(f"{where}.required", "must be true or false")
        step = {"id": step_id, "title": c.string(body, "title", f"{where}."),
                "instructions": c.string(body, "instructions", f"{where}.", required=False),
                "owner": owner, "due": c.duration(body.get("due"), f"{where}.due"),
                "required": bool(required)}
        # Only steps that carry an action get its keys, so older playbooks hash as before.
        step.update(_action(c, body, where))
        steps.append(step)
    return steps


def _action(c: _Checker, body: dict[str, Any], where: str) -> dict[str, Any]:
    raw = body.get("action")
    if raw is None:
        for key in ("expires_after", "approval"):
            if key in body:
                c.add(f"{where}.{key}", "only a step with an action may have it")
        return {}
    if not isinstance(raw, dict) or not isinstance(raw.get("kind"), str):
        c.add(f"{where}.action", f"must be a mapping with kind ({', '.join(kinds.KINDS)}) and its parameters")
        return {}
    name = raw["kind"]
    if name not in kinds.KINDS:
        c.add(f"{where}.action.kind", f"{name!r} is not a containment action ({', '.join(kinds.KINDS)})")
        return {}
    kind = kinds.KINDS[name]
    params: dict[str, Any] = {}
    max_targets = raw.get("max_targets", kinds.DEFAULT_TARGETS)
    if not isinstance(max_targets, int) or isinstance(max_targets, bool) or not 1 <= max_targets <= kinds.MAX_TARGETS:
        c.add(f"{where}.action.max_targets", f"must be an integer from 1 to {kinds.MAX_TARGETS}")
    # Parameters inline ({kind: lockdown, join_rule: knock}) or, as normalised, under params.
    given = {k: v for k, v in raw.items() if k not in ("kind", "max_targets", "params")}
    nested = raw.get("params", {})
    if not isinstance(nested, dict):
        c.add(f"{where}.action.params", "must be a mapping of parameters")
        nested = {}
    for key, value in {**nested, **given}.items():
        if key not in kind.params:
            c.add(f"{where}.action.{key}", f"{name} takes no such parameter (it takes: "
                  f"{', '.join(['max_targets', *kind.params])})")
        elif value not in kind.params[key]:
            c.add(f"{where}.action.{key}", f"{value!r} is not one of {', '.join(map(str, kind.params[key]))}")
        else:
            params[key] = value
    out: dict[str, Any] = {"action": {"kind": name, "params": params, "max_targets": max_targets}}
    if "expires_after" in body:
        if not kind.reversible:
            c.add(f"{where}.expires_after", f"{name} cannot be undone, so it cannot expire")
        out["expires_after"] = c.duration(body["expires_after"], f"{where}.expires_after")
        try:
            expiry = parse_duration(body["expires_after"])
        except ValueError:
            expiry = None  # reported by c.duration
        # The same bounds the service enforces: a step outside them would propose nothing.
        if expiry is not None and not timedelta(minutes=1) <= expiry <= timedelta(days=30):
            c.add(f"{where}.expires_after", "must be from 1m to 30d")
    out["approval"] = _approval(c, body.get("approval"), kind, f"{where}.approval")
    return out


def _approval(c: _Checker, raw: object, kind: kinds.Kind, where: str) -> dict[str, Any]:
    """`responder` (a role), or {role: responder, auto: {severities: [sev1], min_score: 25}}."""
    if raw is None:
        return {"role": kind.approve_role.value, "auto": None}
    if isinstance(raw, str):
        raw = {"role": raw}
    if not isinstance(raw, dict) or set(raw) - {"role", "auto"}:
        c.add(where, "must be a role, or {role: responder, auto: {severities: [sev1], min_score: N}}")
        return {"role": kind.approve_role.value, "auto": None}
    role = raw.get("role", kind.approve_role.value)
    if role not in COMMUNITY_ROLES:
        c.add(f"{where}.role", f"{role!r} is not a community role ({', '.join(COMMUNITY_ROLES)})")
    elif COMMUNITY_ROLES.index(role) < COMMUNITY_ROLES.index(kind.approve_role.value):
        c.add(f"{where}.role", f"{kind.name} needs at least {kind.approve_role.value} to approve")
    auto = raw.get("auto")
    if auto is not None:
        if not kind.auto_allowed:
            c.add(f"{where}.auto", f"{kind.name} always needs a person to approve it")
            auto = None
        elif not isinstance(auto, dict) or not auto or set(auto) - {"severities", "min_score"}:
            c.add(f"{where}.auto", "must be {severities: [sev1]} and/or {min_score: N}")
            auto = None
        else:
            sevs = auto.get("severities")
            if sevs is not None and (not isinstance(sevs, list) or not sevs or any(s not in SEVERITIES for s in sevs)):
                c.add(f"{where}.auto.severities", f"must list some of {', '.join(SEVERITIES)}")
            score = auto.get("min_score")
            if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
                c.add(f"{where}.auto.min_score", "must be a number")
    return {"role": role, "auto": auto}


def _escalation(c: _Checker, raw: object, roles: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("levels"), list) or not raw["levels"]:
        c.add("escalation.levels", "is required: a list of {after: 5m, notify: [targets]}")
        return {"levels": [], "repeat": {"times": 0, "after": "0m"}}
    levels = []
    for i, body in enumerate(raw["levels"][:MAX_LEVELS + 1]):
        where = f"escalation.levels[{i}]"
        if not isinstance(body, dict):
            c.add(where, "must be a mapping with after and notify")
            continue
        levels.append({"after": c.duration(body.get("after", "0m"), f"{where}.after"),
                       "notify": c.targets(body.get("notify"), f"{where}.notify", roles)})
    if len(raw["levels"]) > MAX_LEVELS:
        c.add("escalation.levels", f"at most {MAX_LEVELS} levels")
    repeat = raw.get("repeat", {"times": 0, "after": "0m"})
    if not isinstance(repeat, dict):
        c.add("escalation.repeat", "must be {times: N, after: 15m}")
        repeat = {}
    times = repeat.get("times", 0)
    if not isinstance(times, int) or isinstance(times, bool) or not 0 <= times <= MAX_REPEAT:
        c.add("escalation.repeat.times", f"must be an integer from 0 to {MAX_REPEAT}")
        times = 0
    return {"levels": levels,
            "repeat": {"times": times, "after": c.duration(repeat.get("after", "0m"), "escalation.repeat.after")}}


def _notify(c: _Checker, raw: object, roles: set[str]) -> dict[str, list[dict[str, str]]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        c.add("notify", f"must map events ({', '.join(NOTIFY_EVENTS)}) to targets")
        return {}
    out: dict[str, list[dict[str, str]]] = {}
    for event, targets in raw.items():
        if event not in NOTIFY_EVENTS:
            c.add(f"notify.{event}", f"unknown event (use {', '.join(NOTIFY_EVENTS)})")
            continue
        out[event] = c.targets(targets, f"notify.{event}", roles)
    return out


def _postmortem(c: _Checker, raw: object) -> dict[str, Any]:
    if raw is None:
        return {"required_for": [], "due": "7d", "sections": []}
    if not isinstance(raw, dict):
        c.add("postmortem", "must be {required_for: [sev1], due: 7d, sections: [...]}")
        return {"required_for": [], "due": "7d", "sections": []}
    required_for = raw.get("required_for", [])
    if not isinstance(required_for, list) or any(s not in SEVERITIES for s in required_for):
        c.add("postmortem.required_for", f"must list some of {', '.join(SEVERITIES)}")
        required_for = []
    sections = raw.get("sections", [])
    if not isinstance(sections, list) or not all(isinstance(s, str) and s for s in sections):
        c.add("postmortem.sections", "must be a list of section titles")
        sections = []
    return {"required_for": required_for, "due": c.duration(raw.get("due", "7d"), "postmortem.due"),
            "sections": sections}


def _member_updates(c: _Checker, raw: object, roles: set[str], applies: list[str]) -> dict[str, Any]:
    """{every: 30m, severities: [sev1]}: while such an incident is open, members hear from
    the liaison at least this often, or the liaison is reminded."""
    where = "member_updates"
    if not isinstance(raw, dict):
        c.add(where, "must be {every: 30m, severities: [sev1]}")
        return {"every": "30m", "severities": []}
    for key in sorted(set(raw) - {"every", "severities"}, key=str):
        c.add(f"{where}.{key}", "unknown field (every, severities)")
    if "every" not in raw:
        c.add(f"{where}.every", "is required: how often members hear an update (e.g. 30m)")
    every = c.duration(raw.get("every", "30m"), f"{where}.every")
    try:
        period: timedelta | None = parse_duration(raw.get("every", "30m"))
    except ValueError:
        period = None  # reported by c.duration
    low, high = MEMBER_EVERY
    if period is not None and not low <= period <= high:
        c.add(f"{where}.every", "must be from 1m to 24h")
    severities = raw.get("severities", applies)
    if not isinstance(severities, list) or not severities or any(s not in SEVERITIES for s in severities):
        c.add(f"{where}.severities", f"must list some of {', '.join(SEVERITIES)}")
        severities = []
    if "liaison" not in roles:
        c.add(where, "a missed update reminds the incident's liaison: declare a liaison role under roles")
    return {"every": every, "severities": list(severities)}


def load_text(text: str, source: str) -> dict[str, Any]:
    data, problem = parse_yaml(text)
    if problem is not None:
        raise PlaybookError(source, [problem])
    return validate(data, source)


def content_hash(spec: dict[str, Any]) -> str:
    return canonical_hash(spec)


def matches(spec: dict[str, Any], kind: str, severity: str) -> int:
    """0 = does not apply; 2 = names this kind; 1 = applies through the '*' wildcard."""
    applies = spec["applies_to"]
    if severity not in applies["severities"]:
        return 0
    if kind in applies["kinds"]:
        return 2
    return 1 if "*" in applies["kinds"] else 0
