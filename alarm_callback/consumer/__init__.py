"""For consumers: turn a queue message back into the typed `AlarmEvent`.

Accepts the CloudEvent JSON itself, and the wrappers it commonly arrives in: an SNS
notification (``{"Type": "Notification", "Message": "..."}``, when an SQS queue
subscribes to the topic without raw delivery) and a Lambda SQS record (``{"body": ...}``).
Consumers should drop repeats by ``event.id`` (delivery is at-least-once).

CloudEvents lets producers add extension attributes; `decode` drops top-level attributes
the model does not know (a newer producer's), so this consumer keeps decoding newer
messages. The alarm itself (``data``) is still validated strictly.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.models.alarm import AlarmEvent


def decode(message: str | bytes | dict[str, Any]) -> AlarmEvent:
    payload: Any = json.loads(message) if isinstance(message, (str, bytes)) else message
    for _ in range(3):  # peel at most SQS record -> SNS notification -> event
        if not isinstance(payload, dict) or "specversion" in payload:
            break
        if payload.get("Type") == "Notification" and isinstance(payload.get("Message"), str):
            payload = json.loads(payload["Message"])
        elif isinstance(payload.get("body"), str):
            payload = json.loads(payload["body"])
        else:
            break
    if isinstance(payload, dict):
        known = AlarmEvent.model_fields
        payload = {name: value for name, value in payload.items() if name in known}
    return AlarmEvent.model_validate(payload)
