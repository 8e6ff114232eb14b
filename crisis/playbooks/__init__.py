"""Versioned playbooks: YAML in playbooks/, immutable stored versions, pinned by incidents."""
from __future__ import annotations

from crisis.playbooks.spec import PlaybookError, content_hash, load_text, parse_duration, validate
from crisis.playbooks.store import (
    PLAYBOOK_DIR,
    VersionConflict,
    create_version,
    diff,
    get_version,
    latest,
    load_dir,
    names,
    select_for,
    sync,
)
from crisis.versioned import SyncReport

__all__ = [
    "PLAYBOOK_DIR", "PlaybookError", "SyncReport", "VersionConflict", "content_hash", "create_version",
    "diff", "get_version", "latest", "load_dir", "load_text", "names", "parse_duration", "select_for",
    "sync", "validate",
]
