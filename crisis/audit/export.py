"""The audit log as CSV or JSON, rendered row by row so a long log streams."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from crisis.audit.query import as_dict
from crisis.models import AuditEntry

COLUMNS = ("id", "at", "community_id", "actor", "actor_user_id", "subject_user_id", "action", "target", "before",
           "after", "remote_addr")
FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
# Spreadsheets run a cell starting with one of these as a formula; actors and targets
# come from what people typed (a login name), so they are defused with a leading quote.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, (dict, list)) else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def csv_lines(entries: Iterable[AuditEntry]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(COLUMNS)
    yield flush()
    for entry in entries:
        row = as_dict(entry)
        writer.writerow([_cell(row[c]) for c in COLUMNS])
        yield flush()


def json_chunks(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """{"entries": [...]}: one JSON document, written an entry at a time."""
    yield '{"entries": ['
    first = True
    for entry in entries:
        yield ("" if first else ",\n") + json.dumps(as_dict(entry), ensure_ascii=False, sort_keys=True)
        first = False
    yield "]}\n"


def render(entries: Iterable[AuditEntry], fmt: str) -> Iterator[str]:
    return csv_lines(entries) if fmt == "csv" else json_chunks(entries)
