"""`crisis run`, the command behind `make run`: everything starts on the embedded
defaults, the demo raid opens an incident whose page reaches the demo admin's pager, and
an interrupt stops every process."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

from crisis.config import ROOT
from tests.live import wait_for
from tests.servers import free_port


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _incidents(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM incidents").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_it_starts_everything_plays_the_demo_raid_and_stops_every_process(tmp_path: Path) -> None:
    var = tmp_path / "var"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRISIS_")}
    env.update(CRISIS_VAR_DIR=str(var), PYTHONPATH=str(ROOT))
    log = open(tmp_path / "run.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "crisis", "run", "--bind", f"127.0.0.1:{port}",
                             "--demo-raid-after", "5", "--demo-pager-port", str(free_port())], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    pages = var / "demo-pages.jsonl"
    try:
        def up() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                    return resp.status == 200
            except OSError:
                return False

        wait_for(up, timeout=60, interval=0.5, message="the web server to be ready")
        wait_for(lambda: _incidents(var / "crisis.db") > 0, timeout=90, interval=0.5,
                 message="the demo raid to open an incident; log:\n" + (tmp_path / "run.log").read_text())
        wait_for(lambda: pages.exists() and pages.read_text().strip() != "", timeout=60, interval=0.5,
                 message="the raid's page to reach the demo pager; log:\n" + (tmp_path / "run.log").read_text())
        first = json.loads(pages.read_text().splitlines()[0])
        assert "Raid" in first["title"] or "raid" in first["message"], first
        output = (tmp_path / "run.log").read_text()
        assert "demo admin login (shown once): admin@demo.local / " in output
        assert "demo pager: " in output, "the page is printed where make run's output is"
        assert _processes_with(f"CRISIS_VAR_DIR={var}")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    wait_for(lambda: not _processes_with(f"CRISIS_VAR_DIR={var}"), timeout=20, interval=0.5,
             message="every process crisis run started to stop")
