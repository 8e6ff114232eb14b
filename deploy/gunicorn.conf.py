"""gunicorn settings for running `gunicorn -c deploy/gunicorn.conf.py wsgi:app` directly
(`crisis web` passes the same options on the command line)."""
from __future__ import annotations

import os
from pathlib import Path

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = 8
# Behind a reverse proxy: let it buffer slow clients; keep-alive for its connection pool.
keepalive = 5
timeout = 60
graceful_timeout = 30
accesslog = "-"


def on_starting(server: object) -> None:
    # The metrics directory of this process group, wiped once before the workers fork.
    from crisis.insight import metrics
    from crisis.config import Config

    metrics.prepare_group(Path(Config.from_env().var_dir), "web")
