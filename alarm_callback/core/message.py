"""The unit a publisher sends: one CloudEvent body plus what a broker filters on.

`Message` is what the outbox stores and what every publisher receives. It carries the
serialized CloudEvent (`body`) and the few attributes brokers route on (SQS/SNS message
attributes, CMQ tags, AMQP routing keys), so no publisher has to parse the body again.
The attributes are also CloudEvents extension attributes inside the body, which lets the
sweeper rebuild a `Message` from a stored body alone (`Message.from_body`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic_core import to_json

from .identity import occurrence_key
from .models.names import EVENT_TYPE_PREFIX, SCHEMA_URI

if TYPE_CHECKING:  # imported where used: a known callback's message is written without them
    from .models.alarm import Alarm, AlarmEvent

DEFAULT_SOURCE = "alarm-callback"


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    body: str
    fingerprint: str = ""  # alarm identity; also the ordering group (SQS FIFO MessageGroupId)
    attributes: dict[str, str] = field(default_factory=dict)
    occurrence: str | None = None  # normalize.occurrence_key, for the reconciler; not sent

    @property
    def routing_key(self) -> str:
        """``alarm.<status>.<kind>``: the AMQP routing key and the CMQ topic route."""
        return f"alarm.{self.attributes.get('status', 'unknown')}.{self.attributes.get('kind', 'unknown')}"

    @classmethod
    def from_body(cls, body: str) -> Message:
        """Rebuild a message from a serialized CloudEvent (the reconciler's stored messages,
        records from older versions). Read leniently, as plain JSON: a record written by a
        newer or older version (fields added or dropped) still publishes, byte for byte."""
        event = json.loads(body)
        data = _mapping(event.get("data"))
        obj, policy = _mapping(data.get("object")), _mapping(data.get("policy"))
        status = str(event.get("alarmstatus") or data.get("status") or "unknown")
        fingerprint = str(event.get("fingerprint") or data.get("fingerprint") or "")
        found = {
            "status": status,
            "kind": event.get("alarmkind") or data.get("kind"),
            "namespace": obj.get("namespace"),
            "region": obj.get("region"),
            "policy_id": policy.get("id"),
            "dedup": "skipped" if event.get("dedup") == "skipped" else None,
            "recovered": "true" if event.get("recovered") is True else None,
            "episode": event.get("episode"),
            "sequence": event.get("sequence"),
            "flapping": "true" if event.get("flapping") is True else None,
        }
        first = data.get("first_occur_time")
        try:
            first_time = (
                datetime.fromisoformat(first.replace("Z", "+00:00")) if isinstance(first, str) else None
            )  # 3.10: no "Z"
        except ValueError:
            first_time = None
        return cls(
            id=str(event["id"]),
            body=body,
            fingerprint=fingerprint,
            attributes={key: str(value) for key, value in found.items() if value},
            occurrence=occurrence_key(fingerprint, first_time, status) if fingerprint else None,
        )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _attributes(data: dict[str, Any], dedup: str, recovered: bool) -> dict[str, str]:
    """The routing attributes present (non-empty) on the alarm (`data`: its dump), in this
    order. Written as one test per attribute rather than a dict of all ten filtered after: it
    runs per message."""
    found: dict[str, str] = {}
    status = data["status"]
    if status:
        found["status"] = status
    kind = data["kind"]
    if kind:
        found["kind"] = kind
    obj = data["object"]
    if obj["namespace"]:
        found["namespace"] = obj["namespace"]
    if obj["region"]:
        found["region"] = obj["region"]
    policy_id = data["policy"]["id"]
    if policy_id:
        found["policy_id"] = policy_id
    if dedup == "skipped":
        found["dedup"] = "skipped"
    if recovered:
        found["recovered"] = "true"
    episode = data["episode"]
    if episode is not None:
        if episode["id"]:
            found["episode"] = episode["id"]
        found["sequence"] = str(episode["sequence"])
        if episode["flapping"]:
            found["flapping"] = "true"
    return found


def to_event(
    alarm: Alarm,
    source: str = DEFAULT_SOURCE,
    *,
    dedup: Literal["checked", "skipped"] = "checked",
    recovered: bool = False,
) -> AlarmEvent:
    from .models.alarm import AlarmEvent

    return AlarmEvent.model_validate(
        {
            "id": alarm.id,
            "source": source,
            "type": EVENT_TYPE_PREFIX + alarm.status,
            "time": alarm.received_at,
            "subject": alarm.object.id,
            "alarmstatus": alarm.status,
            "alarmkind": alarm.kind,
            "fingerprint": alarm.fingerprint,
            "dedup": dedup,
            "recovered": recovered,
            "episode": alarm.episode.id if alarm.episode else None,
            "sequence": alarm.episode.sequence if alarm.episode else None,
            "orphanresolve": True if alarm.episode and alarm.episode.orphan else None,
            "identityversion": alarm.identity_version,
            "flapping": True if alarm.episode and alarm.episode.flapping else None,
            "data": alarm,
        }
    )


def _envelope(data: dict[str, Any], payload: object, source: str, dedup: str, recovered: bool) -> dict[str, Any]:
    """`to_event`'s envelope as the dict `AlarmEvent.model_dump_json` writes: its fields in
    order, the optional ones left out when absent (`exclude_if`), ``data`` the alarm
    (`payload`: the `Alarm`, or its dump `data`). Skips validating an envelope of values the
    alarm already holds; `tests/test_fast_paths.py` checks it against `AlarmEvent` field by
    field."""
    episode = data["episode"]
    subject = data["object"]["id"]
    status = data["status"]
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": data["id"],
        "source": source,
        "type": EVENT_TYPE_PREFIX + status,
        "time": data["received_at"],
    }
    if subject is not None:
        event["subject"] = subject
    event["datacontenttype"] = "application/json"
    event["dataschema"] = SCHEMA_URI
    event["alarmstatus"] = status
    event["alarmkind"] = data["kind"]
    event["fingerprint"] = data["fingerprint"]
    event["dedup"] = dedup
    event["recovered"] = recovered
    if episode is not None:
        event["episode"] = episode["id"]
        event["sequence"] = episode["sequence"]
        if episode["orphan"]:
            event["orphanresolve"] = True
    event["identityversion"] = data["identity_version"]
    if episode is not None and episode["flapping"]:
        event["flapping"] = True
    event["data"] = payload
    return event


def _message(data: dict[str, Any], payload: object, source: str, dedup: str, recovered: bool) -> Message:
    fingerprint: str = data["fingerprint"]
    status: str = data["status"]
    return Message(
        id=data["id"],
        # `inf_nan_mode="null"`: what a model writes by default, for a NaN inside `raw`
        body=to_json(_envelope(data, payload, source, dedup, recovered), inf_nan_mode="null").decode(),
        fingerprint=fingerprint,
        attributes=_attributes(data, dedup, recovered),
        occurrence=occurrence_key(fingerprint, data["first_occur_time"], status),
    )


def encode(
    alarm: Alarm,
    source: str = DEFAULT_SOURCE,
    *,
    dedup: Literal["checked", "skipped"] = "checked",
    recovered: bool = False,
) -> Message:
    """The message for `alarm`: the CloudEvent serialized once with `pydantic_core.to_json`
    (what the outbox stores and every publisher sends), ``data`` by the `Alarm` model's own
    serializer, and the routing attributes read from the alarm."""
    return _message(alarm.model_dump(), alarm, source, dedup, recovered)


def encode_data(
    data: dict[str, Any],
    source: str = DEFAULT_SOURCE,
    *,
    dedup: Literal["checked", "skipped"] = "checked",
    recovered: bool = False,
) -> Message:
    """`encode` of an alarm given as its dump (`Alarm.model_dump()`, or the receiver's
    `normalize.alarm_fields`), without building the model: ``data`` is written by
    `to_json`'s own inference. That writes what the model writes, except for text it cannot
    encode (a lone surrogate: the model's serializer writes replacement characters where
    inference raises `pydantic_core.PydanticSerializationError`); the caller then encodes the
    validated `Alarm` (`build.MessageBuilder.build`)."""
    return _message(data, data, source, dedup, recovered)


def with_dedup_skipped(message: Message) -> Message:
    """The store-down path: the same message, flagged so consumers know it was not deduplicated."""
    event = json.loads(message.body)
    event["dedup"] = "skipped"
    return Message(
        id=message.id,
        body=json.dumps(event, separators=(",", ":"), ensure_ascii=False),
        fingerprint=message.fingerprint,
        attributes={**message.attributes, "dedup": "skipped"},
        occurrence=message.occurrence,
    )
