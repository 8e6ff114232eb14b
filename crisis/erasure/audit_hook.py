"""The audit log call for erasure and export, through one door.

crisis.audit.log is built on another branch (gov-audit). Until it is merged this records
nothing and says so (returns False); once it is there, every call goes to it unchanged."""
from __future__ import annotations

import importlib
import logging
from typing import Any

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


def record(session: Session, *, community_id: int, actor: Any, action: str, target: str,
           remote_addr: str | None) -> bool:
    """Write the audit row in the caller's transaction; False when there is no audit log yet."""
    try:
        audit = importlib.import_module("crisis.audit.log")
    except ModuleNotFoundError:
        log.info("no audit log in this build; %s on %s of community %s is not recorded", action, target,
                 community_id)
        return False
    audit.record(session, community_id=community_id, actor=actor, action=action, target=target,
                 remote_addr=remote_addr)
    return True
