"""Quality bar on the labeled dev set, and agreement with the reference judge."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crisis.detection.scoring import format_table, score
from crisis.detection.stream_replay import iter_ndjson, run_stream

# The shared folder sits beside the project root (../shared), here and in CI.
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
DEV = SHARED / "datasets" / "dev"
JUDGE = SHARED / "tools" / "score_detections.py"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (DEV / "events.ndjson.gz").exists(), reason="dev set not mounted")]


@pytest.fixture(scope="module")
def dev_incidents() -> list[dict[str, Any]]:
    return run_stream(iter_ndjson(str(DEV / "events.ndjson.gz")))


@pytest.fixture(scope="module")
def labels() -> dict[str, Any]:
    return json.loads((DEV / "labels.json").read_text())


def test_it_meets_the_quality_bar_on_the_dev_set(dev_incidents: list, labels: dict) -> None:
    report = score(labels, dev_incidents)
    print(format_table(report))
    kinds = report["kinds"]
    for kind in ("raid", "complaint_spike", "dispute"):
        assert kinds[kind]["recall"] == 1.0, kind
        assert kinds[kind]["duplicates"] == 0, kind
    assert report["overall"]["false_alarms"] <= 1
    assert kinds["raid"]["delay_median_s"] <= 30
    assert kinds["complaint_spike"]["delay_median_s"] <= 180
    assert kinds["dispute"]["delay_median_s"] <= 180


def test_it_scores_exactly_like_the_reference_judge(dev_incidents: list, labels: dict,
                                                     tmp_path: Path) -> None:
    path = tmp_path / "incidents.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in dev_incidents))
    out = subprocess.run([sys.executable, str(JUDGE), str(DEV / "labels.json"), str(path)],
                         capture_output=True, text=True, check=True).stdout
    reference = json.loads(out[: out.rstrip().rfind("\n")])
    assert score(labels, dev_incidents) == reference


def test_it_scores_misses_false_alarms_and_duplicates_like_the_judge(labels: dict, tmp_path: Path) -> None:
    crisis = labels["crises"][0]
    dets = [{"kind": crisis["kind"], "community": crisis["community"], "opened_at": crisis["start"]},
            {"kind": crisis["kind"], "community": crisis["community"], "opened_at": crisis["end"]},
            {"kind": "raid", "community": "nowhere", "opened_at": labels["meta"]["start"]},
            {"kind": "spam_wave", "community": crisis["community"], "opened_at": labels["meta"]["start"]}]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in dets))
    out = subprocess.run([sys.executable, str(JUDGE), str(DEV / "labels.json"), str(path)],
                         capture_output=True, text=True, check=True).stdout
    mine = score(labels, dets)
    assert mine == json.loads(out[: out.rstrip().rfind("\n")])
    assert mine["overall"]["false_alarms"] == 2 and mine["kinds"][crisis["kind"]]["duplicates"] == 1
