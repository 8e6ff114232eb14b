"""Real processes for end-to-end tests: the app over real HTTP, rq workers as subprocesses."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from crisis.config import ROOT, Config


class LiveServer:
    """The Flask app on a loopback port, served by werkzeug in a thread."""

    def __init__(self, app: Flask) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.thread.join(5)


def process_env(config: Config, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRISIS_")}
    env.update({
        "CRISIS_DATABASE_URL": config.database_url,
        "CRISIS_REDIS_URL": config.redis_url,
        "CRISIS_VAR_DIR": str(config.var_dir),
        "CRISIS_SECRET_KEY": config.secret_key,
        "CRISIS_SWEEP_INTERVAL": str(config.sweep_interval),
        "CRISIS_BASE_URL": config.base_url,
        "PYTHONPATH": str(ROOT),
    })
    env.update(extra)
    return env


def stop_process(proc: subprocess.Popen[bytes], sig: int, timeout: float) -> None:
    """Send `sig`, give the process `timeout` seconds to shut down cleanly, then kill it."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class WorkerProcess:
    """`crisis worker` in a subprocess with the test's configuration."""

    def __init__(self, config: Config, *, name: str = "w1", log_dir: Path | None = None, **env: str) -> None:
        self.env = process_env(config, **env)
        self.name = name
        self.log_path = (log_dir or config.var_dir) / f"worker-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "crisis", "worker", "--name", self.name],
                                     env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        return self

    def stop(self, sig: int | None = None) -> None:
        if self.proc is None:
            return
        stop_process(self.proc, signal.SIGTERM if sig is None else sig, 15)
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def wait_for(predicate: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.1,
             message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
