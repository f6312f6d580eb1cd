"""AWS Lambda, SQS event source: post each alarm message to a chat robot (examples/robots).

Returns SQS's partial batch response, ``{"batchItemFailures": [{"itemIdentifier":
<messageId>}, ...]}`` (the event source mapping needs ``FunctionResponseTypes:
[ReportBatchItemFailures]``): SQS deletes the records that went through and makes only the
failed ones visible again, so one bad record or one robot hiccup does not send the whole
batch to the chat twice. After the queue's ``maxReceiveCount`` a failing record moves to
the dead-letter queue.

On a FIFO queue, records after the first failure are reported failed too, without being
tried: they are retried in order behind it.
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
log = logging.getLogger("sqs_robot")

_robot: robots.Robot | None = None
_recent = robots.RecentIds()


def robot() -> robots.Robot:
    """Read from the environment on the first invocation (a bad setting fails the batch,
    visibly, instead of the import)."""
    global _robot
    if _robot is None:
        _robot = robots.Robot.from_env()
    return _robot


def handler(event: dict[str, Any], context: Any = None) -> dict[str, list[dict[str, str]]]:
    records = event.get("Records") or []
    target = robot()
    failures: list[dict[str, str]] = []
    for record in records:
        message_id = str(record.get("messageId", ""))
        if failures and str(record.get("eventSourceARN", "")).endswith(".fifo"):
            failures.append({"itemIdentifier": message_id})  # keep the group's order
            continue
        try:
            robots.notify(target, record.get("body", ""), _recent)
        except robots.BadMessage as exc:
            log.error("record %s is not an alarm message (it will reach the DLQ): %s", message_id, exc)
            failures.append({"itemIdentifier": message_id})
        except robots.RobotError as exc:
            log.error("record %s not posted: %s", message_id, exc)
            failures.append({"itemIdentifier": message_id})
    if failures:
        log.warning("%d of %d records failed", len(failures), len(records))
    return {"batchItemFailures": failures}
