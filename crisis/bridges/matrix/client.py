"""The few homeserver calls the bridge makes, over plain HTTP (urllib): short timeouts, and
every failure a MatrixError naming the call, so a slow homeserver cannot stall intake."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from crisis.bridges.base import Account


class MatrixError(RuntimeError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class MatrixClient:
    homeserver: str
    token: str
    timeout: float = 5.0

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.homeserver}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            raise MatrixError(f"{method} {path.split('?')[0]}: HTTP {exc.code} {detail}", exc.code) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise MatrixError(f"{method} {path.split('?')[0]}: {exc}") from None
        return json.loads(raw) if raw else {}

    def ping(self, service_id: str) -> dict[str, Any]:
        return self.call("POST", f"/_matrix/client/v1/appservice/{quote(service_id, safe='')}/ping", {})

    def account(self, user_id: str) -> Account:
        """The admin users API (a server admin's token): display name and creation time."""
        data = self.call("GET", f"/_synapse/admin/v2/users/{quote(user_id, safe='')}")
        created = data.get("creation_ts")
        when = None
        if isinstance(created, int) and created > 0:
            # Synapse has reported seconds and milliseconds in different versions.
            when = datetime.fromtimestamp(created / 1000 if created > 10**11 else created, tz=timezone.utc)
        return Account(user_id, str(data.get("displayname") or ""), when)

    def event_reports(self, room_id: str, after_id: int = 0, page: int = 100) -> list[dict[str, Any]]:
        """The room's reports with an id above `after_id`, oldest first (newest-first pages,
        followed until a page reaches reports already seen)."""
        found: list[dict[str, Any]] = []
        offset: Any = 0
        while True:
            data = self.call("GET", f"/_synapse/admin/v1/event_reports?room_id={quote(room_id, safe='')}"
                                    f"&limit={page}&dir=b&from={offset}")
            rows = list(data.get("event_reports") or [])
            found += [r for r in rows if int(r.get("id", 0)) > after_id]
            offset = data.get("next_token")
            if offset is None or not rows or any(int(r.get("id", 0)) <= after_id for r in rows):
                return sorted(found, key=lambda r: int(r.get("id", 0)))
