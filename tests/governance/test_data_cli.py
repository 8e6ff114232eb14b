"""`crisis data erase | export | retention`, run as operators run them."""
from __future__ import annotations

import json
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis.clock import FixedClock, isoformat
from crisis.config import Config
from crisis.ingest.store import decode_batch, store_events
from crisis.ingest.validate import validate_batch
from crisis.models import AuditEntry, EventBatch, EventId
from crisis.response import drain
from tests.conftest import Factory
from tests.test_cli import crisis


def _store(session: Session, factory: Factory, clock: FixedClock, ids: list[str]) -> int:
    tenant = factory.community("lantern")
    raw = [{"id": i, "type": "message.create", "ts": isoformat(clock.now()), "actor": {"id": "@mallory:hs.test"},
            "channel": "general", "content": "the combination is 31-4-15"} for i in ids]
    valid, _ = validate_batch(raw, "lantern", clock.now())
    store_events(session, tenant.community, valid, clock=clock)
    session.commit()
    drain.drain(session, tenant.community.id, clock=clock)
    session.commit()
    return tenant.community.id


def test_it_erases_a_member_and_prints_the_tombstone(config: Config, factory: Factory, session: Session,
                                                     clock: FixedClock) -> None:
    _store(session, factory, clock, ["a", "b"])
    out = crisis(config, "data", "erase", "lantern", "@mallory:hs.test", "--json")
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["status"] == "done" and shown["counts"]["events_own"] == 2
    session.expire_all()
    events = [e for b in session.scalars(select(EventBatch)) for e in decode_batch(b.body, b.fresh, b.count)]
    assert {e["actor"]["id"] for e in events} == {shown["tombstone"]}
    audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "member.erased"))
    assert audit is not None and audit.actor.startswith("cli")
    missing = crisis(config, "data", "erase", "nowhere", "@x:hs")
    assert missing.returncode == 1 and "nowhere" in missing.stderr


def test_it_writes_the_export_archive(config: Config, factory: Factory, tmp_path: Path) -> None:
    factory.community("lantern")
    target = tmp_path / "lantern.zip"
    out = crisis(config, "data", "export", "lantern", "-o", str(target))
    assert out.returncode == 0, out.stderr
    assert "manifest.json" in zipfile.ZipFile(target).namelist()


def test_it_runs_retention_now_and_prints_its_state(config: Config, factory: Factory, session: Session) -> None:
    # The command runs on the real clock: these events arrived 45 days before it.
    old = FixedClock(datetime.now(timezone.utc) - timedelta(days=45))
    _store(session, factory, old, ["a", "b", "c"])
    out = crisis(config, "data", "retention", "lantern", "--run")
    assert out.returncode == 0, out.stderr
    first, _, rest = out.stdout.partition("\n")
    assert first.startswith("deleted 1 batches (3 events)")
    assert json.loads(rest)["events_deleted"] == 3
    session.expire_all()
    assert session.scalar(select(EventId)) is None
