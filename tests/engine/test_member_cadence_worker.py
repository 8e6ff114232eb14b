"""The member-update reminder through rq with a real worker and real Redis: the due time is
computed from the injected clock when the incident opens, scheduled on rq's scheduler at
that time, and fired by a worker whose sweeper is off, so only the scheduled job can send
it. The liaison hears no earlier than the due time, once."""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from rq import Queue
from sqlalchemy import select

from crisis import playbooks, runtime
from crisis.app import create_app
from crisis.clock import FixedClock
from crisis.config import ROOT, Config
from crisis.jobs import names
from crisis.models import ContactMethod, MemberUpdateTimer
from crisis.response import lifecycle
from tests.conftest import Factory
from tests.engine.helpers import HttpReceiver
from tests.live import process_env, stop_process, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.slow]
LEAD = 15.0  # seconds from now until the reminder is due, in wall time


def test_a_real_worker_reminds_the_liaison_at_the_scheduled_due_time(redis_config: Config, tmp_path: Path,
                                                                     receiver: HttpReceiver) -> None:
    # The app's clock stands a minute minus LEAD behind the wall: a 1m cadence falls due LEAD s from now.
    wall = datetime.now(timezone.utc)
    clock = FixedClock(wall - timedelta(seconds=60 - LEAD))
    config = replace(redis_config, base_url="http://crisis.example.test")
    app = create_app(config, clock=clock)
    rt = app.extensions["crisis"]
    try:
        with rt.sessions() as session:
            playbooks.sync(session, clock=clock)
            spec = playbooks.latest(session, "raid").spec  # type: ignore[union-attr]
            playbooks.create_version(session, "raid", {**spec, "member_updates": {"every": "1m",
                                                                                  "severities": ["sev2"]}},
                                     clock=clock, user_id=None)
            factory = Factory(session, clock)
            tenant = factory.community("lantern")
            alice = factory.staff("alice@example.test", tenant.community, "manager").user  # the raid's liaison
            session.add(ContactMethod(user_id=alice.id, label="webhook", url=receiver.url("alice"),
                                      created_at=clock.now()))
            session.commit()
            incident = lifecycle.open_manual(session, tenant.community, kind="raid", severity="sev2",
                                             title="Raid in #general", description="", clock=clock,
                                             actor=lifecycle.Actor(None, "test"))
            session.commit()  # after commit, the ringer schedules the reminder job on rq
            timer = session.scalar(select(MemberUpdateTimer).where(MemberUpdateTimer.incident_id == incident.id))
            assert timer is not None and timer.due_at is not None
            due = timer.due_at
        assert abs((due - wall).total_seconds() - LEAD) < 1

        queue = Queue(names.REMIND_MEMBER_UPDATES.queue, connection=rt.redis)
        scheduled = [queue.fetch_job(j) for j in queue.scheduled_job_registry.get_job_ids()]
        assert [j.func_name for j in scheduled if j is not None].count(names.REMIND_MEMBER_UPDATES.path) == 1

        env = process_env(config)
        code = "from crisis.jobs.worker import run_worker; run_worker(name='cadence', sweep=False)"
        log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen([sys.executable, "-c", code], cwd=str(ROOT), env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            def reminders() -> list[float]:
                return [m.wall for m in receiver.to("alice") if m.body["title"].startswith("Members are waiting")]

            try:
                [arrived] = wait_for(reminders, timeout=LEAD + 30, interval=0.1, message="the liaison's reminder")
            except AssertionError:
                log.flush()
                raise AssertionError("no reminder; worker log:\n"
                                     + (tmp_path / "worker.log").read_text(errors="replace")[-4000:]) from None
            assert arrived >= due.timestamp() - 0.2, "the reminder came before it was due"
            assert arrived - due.timestamp() < 10
            time.sleep(2)
            assert len(reminders()) == 1
        finally:
            stop_process(worker, 15, 20)
            log.close()
        with rt.sessions() as session:
            timer = session.scalar(select(MemberUpdateTimer).where(MemberUpdateTimer.incident_id == incident.id))
            assert timer is not None and timer.reminders == 1
            assert timer.due_at is not None and timer.due_at >= due + timedelta(seconds=59)  # a period on
    finally:
        runtime.reset()


def test_a_timer_scheduled_between_seconds_is_not_run_before_it_is_due(redis_url: str) -> None:
    # rq scores scheduled jobs in whole seconds, truncated; crisis rounds up, so the job never
    # wakes before its timer is due (and finds nothing to do).
    from redis import Redis

    from crisis.jobs.dispatch import RedisJobs

    redis = Redis.from_url(redis_url)
    due = datetime(2030, 1, 1, 12, 0, 12, 700_000, tzinfo=timezone.utc)
    RedisJobs(redis).enqueue_at(names.REMIND_MEMBER_UPDATES, due)
    registry = Queue(names.REMIND_MEMBER_UPDATES.queue, connection=redis).scheduled_job_registry
    [(_job, score)] = redis.zrange(registry.key, 0, -1, withscores=True)
    assert score == datetime(2030, 1, 1, 12, 0, 13, tzinfo=timezone.utc).timestamp()
