"""Every background job crisis enqueues: its dotted path (what rq stores in Redis), its
queue and its time limit. The one place these are spelled; callers pass a Job, never a
string. A path written here is a contract with jobs already queued: moving an entry
point means keeping the old path importable (crisis.jobs.__getattr__)."""
from __future__ import annotations

from dataclasses import dataclass

DETECT_QUEUE = "detect"
NOTIFY_QUEUE = "notify"
DEFAULT_QUEUE = "default"
QUEUES = (DETECT_QUEUE, NOTIFY_QUEUE, DEFAULT_QUEUE)


@dataclass(frozen=True)
class Job:
    path: str
    queue: str
    timeout: int  # seconds: rq kills a job that runs longer


DETECT = Job("crisis.jobs.entrypoints.detect", DETECT_QUEUE, 300)
DELIVER_NOTIFICATION = Job("crisis.jobs.entrypoints.deliver_notification", NOTIFY_QUEUE, 120)
FIRE_ESCALATIONS = Job("crisis.jobs.entrypoints.fire_escalations", DEFAULT_QUEUE, 300)
SWEEP = Job("crisis.jobs.entrypoints.sweep", DEFAULT_QUEUE, 300)
# On the notify queue: a lockdown is as urgent as the page about the raid.
RUN_CONTAINMENT = Job("crisis.jobs.entrypoints.run_containment", NOTIFY_QUEUE, 240)
# Both stop well inside their limit (a time budget each) and re-ring themselves to go on.
ENFORCE_RETENTION = Job("crisis.jobs.entrypoints.enforce_retention", DEFAULT_QUEUE, 300)
RUN_ERASURE = Job("crisis.jobs.entrypoints.run_erasure", DEFAULT_QUEUE, 300)

# Answers to members through the bridge (a complainant's case, a penalty and its appeal).
SEND_MEMBER_MESSAGE = Job("crisis.jobs.entrypoints.send_member_message", NOTIFY_QUEUE, 120)

# Scheduled at a member-update timer's due time (crisis.publicstatus.cadence).
REMIND_MEMBER_UPDATES = Job("crisis.jobs.entrypoints.remind_member_updates", DEFAULT_QUEUE, 300)

ALL = (DETECT, DELIVER_NOTIFICATION, FIRE_ESCALATIONS, SWEEP, RUN_CONTAINMENT, ENFORCE_RETENTION, RUN_ERASURE,
       SEND_MEMBER_MESSAGE, REMIND_MEMBER_UPDATES)

# Paths that jobs queued by crisis before 2026-12 carry: crisis.jobs resolves them to the
# entry points above, so an upgrade with jobs in flight loses none.
LEGACY = {"detect": DETECT, "deliver_notification": DELIVER_NOTIFICATION,
          "fire_escalations": FIRE_ESCALATIONS, "sweep": SWEEP}


def detect_bell(community_id: int) -> str:
    return f"detect:{community_id}"


def notify_bell(notification_id: int) -> str:
    return f"notify:{notification_id}"


def containment_bell(action_id: int) -> str:
    return f"contain:{action_id}"


def retention_bell(community_id: int) -> str:
    return f"retention:{community_id}"


def erasure_bell(erasure_id: int) -> str:
    return f"erase:{erasure_id}"


def member_message_bell(message_id: int) -> str:
    return f"member-message:{message_id}"
