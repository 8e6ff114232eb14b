"""A notification row's states and the moves between them. Pure: no I/O.

pending → sending is the claim (a conditional UPDATE: one worker wins); sending ends sent,
failed, or back to pending for a retry; the sweeper moves a row left in sending by a dead
worker back to pending (at-least-once). A send that outlived the sweeper's patience ends on
the row the sweeper revived, so pending may end sent, failed or pending too: the outcome of
a send that happened is recorded, never refused."""
from __future__ import annotations

from enum import StrEnum

from crisis.statemachine import Machine


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


N = NotificationStatus
NOTIFICATION = Machine("a notification", NotificationStatus, {
    N.PENDING: frozenset({N.SENDING, N.SENT, N.FAILED, N.PENDING}),
    N.SENDING: frozenset({N.SENT, N.FAILED, N.PENDING}),
    N.SENT: frozenset(),
    N.FAILED: frozenset(),
})
