"""The worker's garbage-collector settings (crisis.jobs.worker.settle_gc), in a process of
their own: they are process-wide and must not leak into the test run."""
from __future__ import annotations

import json
import subprocess
import sys

from crisis.jobs.worker import GC_THRESHOLDS


def test_the_worker_freezes_what_it_loaded_and_collects_less_often() -> None:
    code = ("import gc, json; from crisis.jobs import worker; before = gc.get_threshold(); worker.settle_gc(); "
            "print(json.dumps([before, gc.get_threshold(), gc.get_freeze_count(), gc.isenabled()]))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after, frozen, enabled = json.loads(run.stdout)
    assert before != after == list(GC_THRESHOLDS)  # the default differs across CPython versions
    assert frozen > 10_000 and enabled  # the imports are frozen; cycles are still collected
