"""The application-service registration file an operator lists under Synapse's
`app_service_config_files`: where Synapse pushes, the two tokens, the bridge's own user and
the rooms whose events it receives."""
from __future__ import annotations

import re
from typing import Any

import yaml

from crisis.bridges.links import IssuedLink


def registration(issued: IssuedLink, *, crisis_url: str) -> dict[str, Any]:
    link = issued.link
    localpart = link.sender[1:].split(":", 1)[0]
    return {
        "id": link.service_id,
        "url": crisis_url.rstrip("/"),
        "as_token": issued.outbound_token,
        "hs_token": issued.inbound_token,
        "sender_localpart": localpart,
        "rate_limited": False,
        "namespaces": {
            "users": [{"exclusive": True, "regex": f"^{re.escape(link.sender)}$"}],
            "aliases": [],
            # Exactly the linked rooms: a room id regex ("!.*:server") matches nothing in
            # room version 12, whose ids carry no server name.
            "rooms": [{"exclusive": False, "regex": f"^{re.escape(room)}$"} for room in sorted(link.rooms)],
        },
    }


def to_yaml(document: dict[str, Any]) -> str:
    return "# crisis application service: add this file to app_service_config_files in homeserver.yaml\n" + \
        yaml.safe_dump(document, sort_keys=False)
