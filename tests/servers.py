"""Real servers on loopback for tests: redis-server and PostgreSQL, from Debian packages."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def tool(name: str, package: str) -> str:
    """The path of a command-line tool a test drives; a missing one skips the test, or fails
    it under TEST_REQUIRE_SERVERS (make test, CI), where nothing may skip for want of a part."""
    import pytest

    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (scripts/system-deps.sh installs the Debian package {package})"
        if os.environ.get("TEST_REQUIRE_SERVERS"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class RedisServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="crisis-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (make test installs it: apt-get install redis-server)")
        self.proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.dir),
             "--save", "", "--appendonly", "no", "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def postgres_available() -> bool:
    return (PG_BIN / "initdb").exists()


class PostgresServer:
    """A throwaway cluster. initdb refuses root, so it runs as the postgres user when we are root."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="crisis-pg-"))
        self.data = self.dir / "data"

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "crisis", "--auth=trust", "-E", "UTF8")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-o",
                  f"-h 127.0.0.1 -p {self.port} -k {self.dir} -F", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://crisis@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=crisis dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")
AMTOOL = Path("/usr/bin/amtool")


class AlertmanagerServer:
    """Debian's prometheus-alertmanager on loopback with second-scale group timings, one
    webhook receiver (`webhook_url`, with `bearer` in http_config.authorization), no gossip."""

    def __init__(self, webhook_url: str, bearer: str, *, group_wait: str = "1s", group_interval: str = "2s",
                 repeat_interval: str = "1h", group_by: tuple[str, ...] = ("alertname",)) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="crisis-am-"))
        self.proc: subprocess.Popen[bytes] | None = None
        receiver = {"name": "crisis", "webhook_configs": [{
            "url": webhook_url, "send_resolved": True, "max_alerts": 0,
            "http_config": {"authorization": {"type": "Bearer", "credentials": bearer}}}]}
        route = {"receiver": "crisis", "group_by": list(group_by), "group_wait": group_wait,
                 "group_interval": group_interval, "repeat_interval": repeat_interval}
        import json

        # JSON is YAML: no YAML dependency in this helper.
        (self.dir / "am.yml").write_text(json.dumps({"route": route, "receivers": [receiver]}))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AlertmanagerServer:
        if not ALERTMANAGER.exists():
            raise RuntimeError("prometheus-alertmanager is not installed (make system-deps)")
        log = open(self.dir / "am.log", "ab")
        self.proc = subprocess.Popen(
            [str(ALERTMANAGER), f"--config.file={self.dir / 'am.yml'}", f"--storage.path={self.dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=",
             f"--web.external-url={self.url}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT)
        wait_port(self.port)
        return self

    def amtool(self, *args: str) -> str:
        done = subprocess.run([str(AMTOOL), f"--alertmanager.url={self.url}", *args], check=True,
                              capture_output=True, text=True, timeout=30)
        return done.stdout

    def log(self) -> str:
        path = self.dir / "am.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
