"""A local Synapse homeserver on loopback, for `crisis demo matrix` and the bridge's tests:
SQLite, no federation, raised rate limits, a registration shared secret. Synapse lives in
a venv of its own (scripts/synapse-venv.sh, cached), never in the service's. Not for
production: a real community's homeserver is its own."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from crisis.bridges.matrix.client import MatrixError

ROOT = Path(__file__).resolve().parents[3]
SECRET = "crisis-test-shared-secret"
_LIMIT = {"per_second": 10000, "burst_count": 10000}


def synapse_python() -> Path | None:
    """The cached venv's python (installed on first use), or None when it cannot be had."""
    try:
        out = subprocess.run([str(ROOT / "scripts" / "synapse-venv.sh")], check=True, capture_output=True,
                             text=True, timeout=900).stdout.strip()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
        return None
    return Path(out) if out else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Synapse:
    def __init__(self, python: Path, directory: Path | None = None, port: int | None = None) -> None:
        self.python = python
        self.dir = directory or Path(tempfile.mkdtemp(prefix="crisis-synapse-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.appservices: list[Path] = []
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config(self) -> dict[str, Any]:
        return {
            "server_name": "localhost", "public_baseurl": self.url + "/", "report_stats": False,
            "pid_file": str(self.dir / "homeserver.pid"), "signing_key_path": str(self.dir / "signing.key"),
            "media_store_path": str(self.dir / "media"), "log_config": str(self.dir / "log.yaml"),
            "listeners": [{"port": self.port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                           "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}],
            "database": {"name": "sqlite3", "args": {"database": str(self.dir / "homeserver.db")}},
            "registration_shared_secret": SECRET, "macaroon_secret_key": "m" * 32, "form_secret": "f" * 32,
            "trusted_key_servers": [], "federation_domain_whitelist": [], "suppress_key_server_warning": True,
            "presence": {"enabled": False}, "bcrypt_rounds": 4, "enable_metrics": False,
            "rc_message": _LIMIT, "rc_registration": _LIMIT, "rc_room_creation": _LIMIT, "rc_admin_redaction": _LIMIT,
            "rc_joins": {"local": _LIMIT, "remote": _LIMIT}, "rc_joins_per_room": _LIMIT,
            "rc_invites": {"per_room": _LIMIT, "per_user": _LIMIT},
            "rc_login": {"address": _LIMIT, "account": _LIMIT, "failed_attempts": _LIMIT},
            "app_service_config_files": [str(p) for p in self.appservices],
        }

    def start(self) -> Synapse:
        (self.dir / "homeserver.yaml").write_text(yaml.safe_dump(self._config()))
        (self.dir / "log.yaml").write_text(yaml.safe_dump({
            "version": 1, "formatters": {"f": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
            "handlers": {"file": {"class": "logging.FileHandler", "filename": str(self.dir / "homeserver.log"),
                                  "formatter": "f"}},
            "root": {"level": "INFO", "handlers": ["file"]}, "disable_existing_loggers": False}))
        if not (self.dir / "signing.key").exists():
            subprocess.run([str(self.python), "-m", "synapse.app.homeserver", "-c", str(self.dir / "homeserver.yaml"),
                            "--generate-keys"], check=True, capture_output=True, timeout=120)
        self.proc = subprocess.Popen([str(self.python), "-m", "synapse.app.homeserver",
                                      "-c", str(self.dir / "homeserver.yaml")],
                                     stdout=open(self.dir / "stdout.log", "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"synapse exited: {self.log()[-2000:]}")
            try:
                urllib.request.urlopen(f"{self.url}/_matrix/client/versions", timeout=1).read()
                return self
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"synapse did not answer in 90 s: {self.log()[-2000:]}")

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in (self.dir / "stdout.log", self.dir / "homeserver.log")
                         if p.exists())

    def register(self, name: str, *, admin: bool = False, password: str = "pw-0123456789") -> MatrixUser:
        """A user through the shared-secret admin API; returns it logged in."""
        nonce = call(self.url, "GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(SECRET.encode(), b"\0".join([nonce.encode(), name.encode(), password.encode(),
                                                    b"admin" if admin else b"notadmin"]), hashlib.sha1).hexdigest()
        data = call(self.url, "POST", "/_synapse/admin/v1/register",
                    {"nonce": nonce, "username": name, "password": password, "admin": admin, "mac": mac})
        return MatrixUser(self.url, data["user_id"], data["access_token"])


def call(base: str, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None,
         timeout: float = 30) -> Any:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None,
                                 method=method, headers={"Content-Type": "application/json",
                                                         **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise MatrixError(f"{method} {path}: HTTP {exc.code} {exc.read()[:300]!r}", exc.code) from None


class MatrixUser:
    def __init__(self, base: str, user_id: str, token: str) -> None:
        self.base, self.user_id, self.token = base, user_id, token
        self._txn = 0

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return call(self.base, method, path, body, self.token)

    def create_room(self, **body: Any) -> str:
        return str(self.call("POST", "/_matrix/client/v3/createRoom",
                             {"preset": "public_chat", "visibility": "private", **body})["room_id"])

    def join(self, room_id: str) -> None:
        self.call("POST", f"/_matrix/client/v3/join/{quote(room_id, safe='')}", {})

    def say(self, room_id: str, text: str) -> str:
        self._txn += 1
        path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/send/m.room.message/t{os.getpid()}-{self._txn}"
        return str(self.call("PUT", path, {"msgtype": "m.text", "body": text})["event_id"])
