"""Backtest scoring: the judging rules of tools/score_detections.py, reimplemented.

A detection matches a crisis of its kind and community when it opens between
2 minutes before the crisis start and 10 minutes after its end. False alarms are
detections matching no crisis of their kind and lying in no crisis window of
their community; extra matches of a detected crisis are duplicates.
"""
from __future__ import annotations

import math
import statistics
from datetime import datetime, timedelta, timezone
from typing import Any

EARLY, LATE = timedelta(minutes=2), timedelta(minutes=10)
KINDS = ("raid", "complaint_spike", "dispute")


def _ts(s: Any) -> datetime:
    if isinstance(s, (int, float)):
        return datetime.fromtimestamp(s, tz=timezone.utc)
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def _in(c: dict[str, Any], comm: str, t: datetime) -> bool:
    inside: bool = c["community"] == comm and c["_s"] - EARLY <= t <= c["_e"] + LATE
    return inside


def score(labels: dict[str, Any], detections: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-kind recall, delays, false alarms and duplicates, plus overall figures."""
    meta = labels["meta"]
    days = (_ts(meta["end"]) - _ts(meta["start"])).total_seconds() / 86400
    comm_days = days * len(meta["communities"])
    crises = [dict(c, _s=_ts(c["start"]), _e=_ts(c["end"]), _hits=[]) for c in labels["crises"]]
    negs = [dict(n, _s=_ts(n["start"]), _e=_ts(n["end"])) for n in labels.get("negatives", [])]
    false: list[dict[str, Any]] = []
    neg_hits: dict[str, int] = {}
    unknown_kind = 0
    for d in detections:
        t, k, comm = _ts(d["opened_at"]), d["kind"], d["community"]
        if k not in KINDS:
            unknown_kind += 1
        own = [c for c in crises if c["kind"] == k and _in(c, comm, t)]
        if own:
            own[0]["_hits"].append(t)
            continue
        if not any(_in(c, comm, t) for c in crises):
            false.append(d)
            for n in negs:
                if _in(n, comm, t):
                    neg_hits[n["kind"]] = neg_hits.get(n["kind"], 0) + 1
    report: dict[str, Any] = {"kinds": {k: _kind_report(k, crises, false) for k in KINDS}}
    total = len(crises)
    found = sum(1 for c in crises if c["_hits"])
    report["overall"] = {
        "recall": round(found / total, 3) if total else None,
        "false_alarms": len(false),
        "false_alarms_per_community_day": round(len(false) / comm_days, 3),
        "hard_negative_hits": neg_hits,
        "unknown_kind_detections": unknown_kind,
        "detections": len(detections),
    }
    return report


def _kind_report(k: str, crises: list[dict[str, Any]], false: list[dict[str, Any]]) -> dict[str, Any]:
    cs = [c for c in crises if c["kind"] == k]
    hit = [c for c in cs if c["_hits"]]
    delays = sorted(max(0.0, (min(c["_hits"]) - c["_s"]).total_seconds()) for c in hit)
    fa = [d for d in false if d["kind"] == k]
    n_det = sum(len(c["_hits"]) for c in cs)
    return {
        "crises": len(cs),
        "detected": len(hit),
        "recall": round(len(hit) / len(cs), 3) if cs else None,
        "precision": round(len(hit) / (len(hit) + len(fa)), 3) if (hit or fa) else None,
        "false_alarms": len(fa),
        "duplicates": n_det - len(hit),
        "delay_median_s": round(statistics.median(delays), 1) if delays else None,
        "delay_p90_s": round(delays[max(0, math.ceil(0.9 * len(delays)) - 1)], 1) if delays else None,
        "missed": [f'{c["community"]}/{c.get("variant")}@{c["start"]}' for c in cs if not c["_hits"]],
    }


def format_table(report: dict[str, Any]) -> str:
    """Plain-text table: one row per kind, then the overall line."""
    head = f"{'kind':<16}{'crises':>7}{'found':>6}{'recall':>7}{'med s':>8}{'p90 s':>8}{'FA':>4}{'dups':>5}"
    rows = [head, "-" * len(head)]
    for k, r in report["kinds"].items():
        rows.append(f"{k:<16}{r['crises']:>7}{r['detected']:>6}{_f(r['recall']):>7}"
                    f"{_f(r['delay_median_s']):>8}{_f(r['delay_p90_s']):>8}{r['false_alarms']:>4}{r['duplicates']:>5}")
    o = report["overall"]
    rows.append(f"overall recall {_f(o['recall'])}; false alarms {o['false_alarms']} "
                f"({o['false_alarms_per_community_day']}/community-day); detections {o['detections']}; "
                f"hard-negative hits {o['hard_negative_hits'] or 0}")
    return "\n".join(rows)


def _f(v: Any) -> str:
    return "-" if v is None else str(v)
