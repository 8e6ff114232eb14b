"""A community's rules as data: parse and validate, with messages naming the field.

    version: 3
    offence_window: 180d        # offences older than this no longer move a member up a ladder
    rules:
      - id: no-spam
        title: {en: No spam or advertising, zh: 禁止刷屏和广告}
        text: {en: ..., zh: ...}
        categories: [spam]      # the complaint categories this rule answers (the queue suggests it)
        ladder:                 # first offence, second, ...; the last step repeats
          - {penalty: warn}
          - {penalty: mute, duration: 24h}      # carried out by the containment action `mute`
          - {penalty: remove}                   # `kick`
          - {penalty: ban}                      # `ban`; a duration makes it a temporary ban

Each ladder step names the containment action that carries it out where a bridge exists
(`action:`, defaulting per penalty; `none` records it only). Validation returns the
normalised rules (defaults filled in) whose canonical JSON is hashed, so a version is
identified by what it says, not how it is formatted."""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from crisis.cases.categories import CATEGORIES
from crisis.playbooks import parse_duration
from crisis.versioned import canonical_hash, parse_yaml

PENALTIES = ("warn", "mute", "remove", "ban")  # mildest first: a ladder never steps down
ACTIONS = {"warn": ("none",), "mute": ("mute", "none"), "remove": ("kick", "none"), "ban": ("ban", "none")}
LANGS = ("en", "zh")
RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_RULES = 100
MAX_STEPS = 10
MAX_TITLE = 200
MAX_TEXT = 4000
DEFAULT_WINDOW = "180d"


class RulebookError(ValueError):
    """Invalid rules; `problems` lists 'field: message' strings."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def _duration(problems: list[str], raw: object, where: str, low: timedelta, high: timedelta) -> str | None:
    try:
        value = parse_duration(raw)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return None
    if not low <= value <= high:
        problems.append(f"{where}: must be from {_span(low)} to {_span(high)}")
        return None
    return str(raw).strip()


def _span(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _texts(problems: list[str], raw: object, where: str, limit: int, required: bool) -> dict[str, str]:
    """{en, zh}: a plain string is taken as English; at least one language when required."""
    if raw is None:
        if required:
            problems.append(f"{where}: is required ({{en: ..., zh: ...}})")
        return dict.fromkeys(LANGS, "")
    if isinstance(raw, str):
        raw = {"en": raw}
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping like {{en: ..., zh: ...}}")
        return dict.fromkeys(LANGS, "")
    out = dict.fromkeys(LANGS, "")
    for key, value in raw.items():
        if key not in LANGS:
            problems.append(f"{where}.{key}: is not a language here (use en and zh)")
        elif not isinstance(value, str):
            problems.append(f"{where}.{key}: must be text")
        elif len(value) > limit:
            problems.append(f"{where}.{key}: is {len(value)} characters long; the limit is {limit}")
        else:
            out[key] = value.strip()
    if required and not any(out.values()):
        problems.append(f"{where}: needs the English or the Chinese text, or both")
    return out


def _step(problems: list[str], raw: object, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping like {{penalty: mute, duration: 24h}}")
        return {"penalty": "warn", "duration": None, "action": "none"}
    for key in raw:
        if key not in ("penalty", "duration", "action"):
            problems.append(f"{where}.{key}: is not a known field (known: penalty, duration, action)")
    penalty = raw.get("penalty")
    if penalty not in PENALTIES:
        problems.append(f"{where}.penalty: must be one of {', '.join(PENALTIES)}")
        penalty = "warn"
    duration = None
    if raw.get("duration") is not None:
        if penalty in ("warn", "remove"):
            problems.append(f"{where}.duration: a {penalty} has no duration")
        else:
            duration = _duration(problems, raw["duration"], f"{where}.duration", timedelta(minutes=1),
                                 timedelta(days=365))
    elif penalty == "mute":
        problems.append(f"{where}.duration: a mute needs a duration (e.g. 1h, 24h, 7d)")
    action = raw.get("action", ACTIONS[penalty][0])
    if action not in ACTIONS[penalty]:
        problems.append(f"{where}.action: a {penalty} is carried out by {' or '.join(ACTIONS[penalty])}")
        action = ACTIONS[penalty][0]
    return {"penalty": penalty, "duration": duration, "action": action}


def _rule(problems: list[str], raw: object, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping with id, title, text and ladder")
        return {}
    for key in raw:
        if key not in ("id", "title", "text", "ladder", "categories"):
            problems.append(f"{where}.{key}: is not a known field (known: id, title, text, ladder, categories)")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
        problems.append(f"{where}.id: must be 1 to 64 lower-case letters, digits, - or _ (e.g. no-spam)")
        rule_id = ""
    ladder_raw = raw.get("ladder")
    if not isinstance(ladder_raw, list) or not 1 <= len(ladder_raw) <= MAX_STEPS:
        problems.append(f"{where}.ladder: must be a list of 1 to {MAX_STEPS} steps (warn, mute, remove, ban)")
        ladder_raw = []
    ladder = [_step(problems, step, f"{where}.ladder[{i}]") for i, step in enumerate(ladder_raw)]
    for i in range(1, len(ladder)):
        if PENALTIES.index(ladder[i]["penalty"]) < PENALTIES.index(ladder[i - 1]["penalty"]):
            problems.append(f"{where}.ladder[{i}].penalty: a repeat offence cannot be met with less "
                            f"({ladder[i]['penalty']} after {ladder[i - 1]['penalty']})")
    categories = raw.get("categories") or []
    if not isinstance(categories, list) or any(c not in CATEGORIES for c in categories):
        problems.append(f"{where}.categories: must be a list drawn from {', '.join(CATEGORIES)}")
        categories = []
    return {"id": rule_id, "title": _texts(problems, raw.get("title"), f"{where}.title", MAX_TITLE, True),
            "text": _texts(problems, raw.get("text"), f"{where}.text", MAX_TEXT, False),
            "categories": list(dict.fromkeys(categories)), "ladder": ladder}


def validate(data: object, source: str = "<rules>") -> dict[str, Any]:
    """The normalised rules, or RulebookError listing every problem with its field."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise RulebookError(source, ["the document must be a mapping with version and rules"])
    for key in data:
        if key not in ("version", "offence_window", "rules"):
            problems.append(f"{key}: is not a known field (known: version, offence_window, rules)")
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append("version: must be a whole number from 1")
        version = 1
    window = _duration(problems, data.get("offence_window", DEFAULT_WINDOW), "offence_window", timedelta(days=1),
                       timedelta(days=3650)) or DEFAULT_WINDOW
    rules_raw = data.get("rules")
    if not isinstance(rules_raw, list) or not 1 <= len(rules_raw) <= MAX_RULES:
        problems.append(f"rules: must be a list of 1 to {MAX_RULES} rules")
        rules_raw = []
    rules = [_rule(problems, raw, f"rules[{i}]") for i, raw in enumerate(rules_raw)]
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.get("id") and rule["id"] in seen:
            problems.append(f"rules[{i}].id: {rule['id']!r} is used by an earlier rule")
        seen.add(rule.get("id", ""))
    if problems:
        raise RulebookError(source, problems)
    return {"version": version, "offence_window": window, "rules": rules}


def load_text(text: str, source: str) -> dict[str, Any]:
    data, problem = parse_yaml(text)
    if problem is not None:
        raise RulebookError(source, [problem])
    return validate(data, source)


def content_hash(spec: dict[str, Any]) -> str:
    return canonical_hash({k: v for k, v in spec.items() if k != "version"})


def find(spec: dict[str, Any], rule_id: str) -> dict[str, Any] | None:
    return next((r for r in spec["rules"] if r["id"] == rule_id), None)


def text_in(texts: dict[str, str], lang: str) -> str:
    """The rule's text in `lang` ('en' | 'zh'), else the other language's."""
    other = "zh" if lang == "en" else "en"
    return texts.get(lang) or texts.get(other) or ""


def step_duration(step: dict[str, Any]) -> timedelta | None:
    return parse_duration(step["duration"]) if step.get("duration") else None
