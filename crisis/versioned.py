"""What versioned YAML documents (playbooks, rulebooks) share: the YAML error a person can
act on, the canonical hash that says whether a file changed, and the sync report."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def parse_yaml(text: str) -> tuple[Any, str | None]:
    """(data, None), or (None, the problem with its line and column)."""
    try:
        return yaml.safe_load(text), None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        return None, f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})"


def canonical_hash(obj: Any) -> str:
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
