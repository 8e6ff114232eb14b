"""Job names are a contract with Redis: every path crisis enqueues resolves as rq resolves
it, and jobs queued before the package was re-filed (`crisis.jobs.<name>`) still run."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from redis import Redis
from rq import Queue
from rq.utils import import_attribute
from sqlalchemy.orm import Session

from crisis import runtime
from crisis.clock import FixedClock
from crisis.config import Config
from crisis.ingest import backlog
from crisis.ingest.store import store_events
from crisis.ingest.validate import validate_batch
from crisis.jobs import entrypoints, names
from tests.conftest import Factory
from tests.live import WorkerProcess, wait_for


@pytest.mark.parametrize("job", names.ALL, ids=lambda job: job.path)
def test_every_job_path_resolves_to_its_entry_point(job: names.Job) -> None:
    function = import_attribute(job.path)
    assert callable(function) and function.__module__ == "crisis.jobs.entrypoints"
    assert job.queue in names.QUEUES


@pytest.mark.parametrize("legacy", sorted(names.LEGACY))
def test_a_path_queued_before_the_refiling_resolves_to_todays_entry_point(legacy: str) -> None:
    assert import_attribute(f"crisis.jobs.{legacy}") is getattr(entrypoints, legacy)


def test_an_unknown_name_under_crisis_jobs_is_refused() -> None:
    import crisis.jobs

    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        crisis.jobs.nothing  # noqa: B018
    with pytest.raises(ValueError):  # what an rq worker reports for a job it cannot run
        import_attribute("crisis.jobs.nothing")


@pytest.mark.redis
def test_a_detect_job_queued_by_the_previous_layout_runs_in_todays_worker(
        redis_config: Config, factory: Factory, session: Session) -> None:
    tenant = factory.community("lantern")
    now = datetime.now(timezone.utc)
    raw = [{"id": f"old{i}", "type": "message.create", "ts": now.isoformat(), "actor": {"id": f"u{i}"},
            "channel": "general", "content": "hello"} for i in range(20)]
    valid, errors = validate_batch(raw, "lantern", now)
    assert not errors
    store_events(session, tenant.community, valid, clock=FixedClock(now))
    session.commit()
    # What a web process of the previous release left in Redis: the old dotted path.
    redis = Redis.from_url(redis_config.redis_url)
    Queue(names.DETECT_QUEUE, connection=redis).enqueue("crisis.jobs.detect", tenant.community.id)
    rt = runtime.configure(redis_config)
    with WorkerProcess(redis_config, CRISIS_SWEEP_INTERVAL="3600") as worker:  # no sweeper rescue

        def consumed() -> bool:
            with rt.sessions() as s:
                return backlog.consumed_count(s) == 20

        wait_for(consumed, timeout=30, message=f"the legacy job to run; worker log:\n{worker.log()}")
    runtime.reset()
