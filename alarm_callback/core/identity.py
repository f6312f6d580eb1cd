"""Alarm identity: the dedup key of one push, the fingerprint of one alarm, the key of one
occurrence. The receiver, the sweeper and the reconciler all derive ids here, so a callback
and an alarm-history record of the same alarm meet under the same keys.

* dedup key: ``alertId`` (graded policies: ``<sessionId>_<Level>``), else ``sessionId``:
  Tencent's resends of one push share it; a repeat notification or a recovery gets a new one.
* fingerprint: policy + metric/event + object, the same across firing, repeats, recovery.
* occurrence key: fingerprint + first occurrence + state, what the reconciler matches on.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from pydantic_core import to_json

MAX_ID_LENGTH = 256
_ID_OK = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces

# Dimension keys that name the instance, best first. Products name it differently.
_ID_KEYS = (
    "unInstanceId",
    "uInstanceId",
    "uinstanceid",
    "InstanceId",
    "instanceId",
    "instance_id",
    "redis_uuid",
    "uniq_nat_id",
    "vpnconnid",
    "peeringconnectionid",
    "directconnectconnid",
    "directconnectgatewayid",
    "directconnectid",
    "netdetectid",
    "netgroup",
    "objId",
)
# Display-only dimensions: they may change between firing and recovery (IPs, names), so
# they are not part of the alarm identity.
_DISPLAY_KEYS = frozenset({"objname", "objdetail", "devicename"})


class MissingId(ValueError):
    """The body names no sessionId, alertId or id."""


class InvalidId(ValueError):
    """The id is too long or has characters a queue attribute cannot carry."""


def dedup_key(body: dict[str, Any]) -> str:
    """alertId (graded policies: `<sessionId>_<Level>`, so levels stay distinct), else
    sessionId, else a foreign shape's `id`. Ids are strings or integers: a float (NaN,
    Infinity, 1e9) is refused, since it has no exact text and could not be echoed in a
    strict-JSON ack."""
    for field in ("alertId", "sessionId", "id"):
        value = body.get(field)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, float):
            raise InvalidId(f"{field} must be a string or an integer, not a number like {value!r}")
        if isinstance(value, int):
            value = str(value)
        if isinstance(value, str) and value.strip():
            key = value.strip()
            if len(key) > MAX_ID_LENGTH:
                raise InvalidId(f"{field} is longer than {MAX_ID_LENGTH} characters")
            if not _ID_OK.match(key):
                raise InvalidId(f"{field} may only contain printable ASCII without spaces")
            return key
    raise MissingId("body has no sessionId, alertId or id")


def object_id_of(dimensions: dict[str, Any]) -> str | None:
    for key in _ID_KEYS:
        value = dimensions.get(key)
        if value not in (None, ""):
            return str(value).strip() or None
    return None


def fingerprint(policy: str, subject: str, object_id: str | None, dimensions: dict[str, Any]) -> str:
    """Stable alarm identity: policy + metric/event + object.

    The object is its best instance id when one is present, so the identity is the same
    whether it comes from a callback or from the alarm history API (whose dimensions and
    namespace spellings differ). The metric/event name is compared case- and
    underscore-blind: policies say `cpu_usage`, the history API `CpuUsage`. Without an id,
    the identity dimensions are used: the non-display, non-empty ones, compared as text
    (`443` and `"443"` are one port)."""
    subject = subject.lower().replace("_", "")
    if object_id:
        identity: object = object_id
    else:
        identity = sorted(
            (key, str(value).strip())
            for key, value in dimensions.items()
            if key.lower() not in _DISPLAY_KEYS and value not in (None, "") and not isinstance(value, (dict, list))
        )
    return hashlib.sha256(to_json([policy, subject, identity])).hexdigest()[:32]


def occurrence_key(fingerprint: str, first_occur_time: datetime | None, status: str) -> str | None:
    """One occurrence of an alarm in one state: what the alarm-history reconciler matches on.
    Repeat notifications share it with the first firing; the recovery has its own."""
    if first_occur_time is None or status not in ("firing", "resolved"):
        return None
    return f"occ:{fingerprint}:{int(first_occur_time.timestamp())}:{status}"


def policy_key(policy_id: str | None, policy_type: str | None, policy_name: str | None) -> str:
    """The policy's id; the type and name stand in when a payload omits it."""
    return policy_id or f"{policy_type or ''}/{policy_name or ''}"
