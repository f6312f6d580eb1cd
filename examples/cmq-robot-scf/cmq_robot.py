"""Tencent SCF, CMQ trigger: post each alarm message to a chat robot (examples/robots).

The trigger's event (Tencent's "CMQ Topic trigger" event structure)::

    {"Records": [{"CMQ": {"type": "topic", "topicOwner": 1250000000, "topicName": "alarms",
                          "subscriptionName": "...", "publishTime": "2019-08-16T10:48:49Z",
                          "msgId": "...", "requestId": "...",
                          "msgBody": "<the CloudEvent JSON>", "msgTag": ["firing", "metric"]}}]}

``Records`` may hold several messages; ``msgTag`` is a list or a comma-separated string
depending on the source, and is not needed here. SCF invokes the function asynchronously:
an exception makes SCF retry the whole invocation (then the dead-letter queue, when one is
configured), and returning normally acknowledges every record. So the function posts every
record it can and raises at the end if any failed: the failed ones are retried, and, when
one invocation carried several messages, the ones already posted are posted again (the
robot sees a repeat, never a loss).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

try:
    import robots  # packaged next to this file (examples/package.py)
except ImportError:  # run from the repository: the shared module is examples/robots/robots.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "robots"))
    import robots

logging.getLogger().setLevel(logging.INFO)
log = logging.getLogger("cmq_robot")

_robot: robots.Robot | None = None
_recent = robots.RecentIds()


class DeliveryFailed(RuntimeError):
    """Some records were not posted: raised so SCF retries the invocation."""


def robot() -> robots.Robot:
    global _robot
    if _robot is None:
        _robot = robots.Robot.from_env()
    return _robot


def main_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    records = event.get("Records") or []
    target = robot()
    outcomes: dict[str, int] = {"sent": 0, "duplicate": 0}
    failed: list[str] = []
    for record in records:
        cmq = record.get("CMQ") if isinstance(record, dict) else None
        if not isinstance(cmq, dict):
            log.warning("record without CMQ section skipped: %.200r", record)
            continue
        message_id = str(cmq.get("msgId", ""))
        try:
            outcomes[robots.notify(target, cmq.get("msgBody") or "", _recent)] += 1
        except (robots.BadMessage, robots.RobotError) as exc:
            log.error("message %s not posted: %s", message_id, exc)
            failed.append(message_id)
    if failed:
        raise DeliveryFailed(f"{len(failed)} of {len(records)} messages not posted: {', '.join(failed)}")
    return {"records": len(records), **outcomes}
