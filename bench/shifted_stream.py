"""A larger replay stream made from the dev set: COPIES shifted copies of its communities.

    .venv/bin/python bench/shifted_stream.py [--copies 4] [--out stream.ndjson.gz]

Copy 0 is the dev set itself. Copy k >= 1 renames every community `slug` to `slug.k` (event
ids and message ids carry the slug, so `orchard-11` becomes `orchard.k-11`), adds
k * 1,000,000 to the number of every account id (`or19647` -> `or1019647` for k = 1; actors
and the users a reply, report or moderation action targets alike) and moves every timestamp
(and account creation time) k * 97 s later. The copies are then merged on event time, so the
stream interleaves 3 * COPIES communities the way a multi-tenant feed does. With the default
4 copies: 1,213,132 events in 12 communities over the dev set's week (+ 5 minutes).

Each copy holds the dev set's crises and negatives (shifted the same way), so a replay of it
opens about COPIES times the dev set's incidents. Names and message texts are kept.
"""
from __future__ import annotations

import argparse
import gzip
import heapq
import json
import re
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

DEV = str(Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "dev" / "events.ndjson.gz")
COPIES = 4
ID_SHIFT = 1_000_000
TS_SHIFT = 97.0  # seconds between copies: not a whole minute, so copies' minute ticks differ

_ACCOUNT = re.compile(r"^([a-z]+)(\d+)$")


def _shift_account(account: str, k: int) -> str:
    m = _ACCOUNT.match(account)
    return f"{m.group(1)}{int(m.group(2)) + k * ID_SHIFT}" if m else f"{account}.{k}"


def _shift_ts(ts: str, seconds: float) -> str:
    dt = datetime.fromisoformat(ts).astimezone(timezone.utc) + timedelta(seconds=seconds)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _shift_slugged(value: str, slug: str, new: str) -> str:
    return new + value[len(slug):] if value.startswith(slug + "-") else f"{value}.{new}"


def shift_event(wire: dict[str, Any], k: int) -> dict[str, Any]:
    """The event of copy k (copy 0 is the event itself)."""
    if k == 0:
        return wire
    slug = wire["community"]
    new = f"{slug}.{k}"
    out = dict(wire, community=new, id=_shift_slugged(wire["id"], slug, new),
               ts=_shift_ts(wire["ts"], k * TS_SHIFT))
    if "message_id" in wire:
        out["message_id"] = _shift_slugged(wire["message_id"], slug, new)
    actor = dict(wire["actor"])
    actor["id"] = _shift_account(actor["id"], k)
    if actor.get("created_at"):
        actor["created_at"] = _shift_ts(actor["created_at"], k * TS_SHIFT)
    out["actor"] = actor
    target = wire.get("target")
    if target:
        target = dict(target)
        if "user_id" in target:
            target["user_id"] = _shift_account(target["user_id"], k)
        if "message_id" in target:
            target["message_id"] = _shift_slugged(target["message_id"], slug, new)
        out["target"] = target
    return out


def dev_lines(path: str = DEV) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") if path.endswith(".gz") else open(path) as fh:
        return [ln for ln in fh if ln.strip()]


def shifted_lines(lines: list[str], copies: int = COPIES) -> Iterator[str]:
    """The merged stream of `copies` shifted copies, one JSON line each (the dev set's own spelling)."""
    def copy(k: int) -> Iterator[tuple[str, str]]:
        for ln in lines:
            if k == 0:
                yield json.loads(ln)["ts"], ln
                continue
            ev = shift_event(json.loads(ln), k)
            yield ev["ts"], json.dumps(ev, separators=(",", ":"), ensure_ascii=False) + "\n"

    # RFC 3339 in one spelling (ms, "Z") sorts as text; each copy is in time order already.
    for _ts, ln in heapq.merge(*(copy(k) for k in range(copies)), key=lambda p: p[0]):
        yield ln


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=COPIES)
    ap.add_argument("--events", default=DEV)
    ap.add_argument("--out", default="-", help="an .ndjson(.gz) file, or - for stdout")
    a = ap.parse_args()
    stream = shifted_lines(dev_lines(a.events), a.copies)
    if a.out == "-":
        sys.stdout.writelines(stream)
        return
    with gzip.open(a.out, "wt", encoding="utf-8") if a.out.endswith(".gz") else open(a.out, "w") as fh:
        fh.writelines(stream)


if __name__ == "__main__":
    main()
