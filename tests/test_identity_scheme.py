"""Issue 15, part 4: the fingerprint's fields per namespace (IDENTITY_FIELDS), today's rule
the default, and the scheme's version on every message."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine, MemoryStore
from alarm_callback.config.settings import Settings
from alarm_callback.consumer import decode
from alarm_callback.core.identity import fingerprint
from alarm_callback.core.identity_scheme import IdentityScheme, InvalidScheme
from alarm_callback.core.receiver import Receiver
from tests.conftest import post

RULES = json.dumps({"qce/cvm": ["policy", "subject", "dimensions.objId"]})


def test_default_is_todays_rule() -> None:
    scheme = IdentityScheme.from_json(None)
    assert scheme.version == "1"
    args = ("p", "metric:cpu_usage", "ins-1", {"unInstanceId": "ins-1"})
    assert scheme.fingerprint(*args, namespace="qce/cvm") == fingerprint(*args)


def test_override_applies_to_its_namespace_only() -> None:
    scheme = IdentityScheme.from_json(RULES)
    assert scheme.version.startswith("1+") and scheme.version == IdentityScheme.from_json(RULES).version
    a = scheme.fingerprint("p", "metric:cpu", "ins-1", {"objId": "o1"}, "qce/cvm")
    b = scheme.fingerprint("p", "metric:cpu", "ins-2", {"objId": "o1"}, "qce/cvm")  # instance not in the rule
    c = scheme.fingerprint("p", "metric:cpu", "ins-1", {"objId": "o2"}, "qce/cvm")
    assert a == b != c
    other = ("p", "metric:cpu", "ins-1", {"objId": "o1"})
    assert scheme.fingerprint(*other, namespace="qce/lb") == fingerprint(*other)


@pytest.mark.parametrize(
    "text", ["[]", "{", '{"ns": []}', '{"ns": ["nope"]}', '{"ns": ["dimensions."]}', '{"ns": "policy"}']
)
def test_bad_rules_are_refused(text: str) -> None:
    with pytest.raises(InvalidScheme):
        IdentityScheme.from_json(text)


def test_settings_refuse_bad_rules() -> None:
    with pytest.raises(ValueError, match="IDENTITY_FIELDS"):
        Settings(identity_fields='{"ns": ["nope"]}')
    assert Settings(identity_fields=RULES).identity_fields == RULES


def test_messages_carry_the_scheme_version_and_its_fingerprint(metric_sample: dict[str, Any]) -> None:
    publisher = MemoryPublisher()
    receiver = Receiver(MemoryStore(), publisher, MemoryQuarantine(), identity=IdentityScheme.from_json(RULES))
    post(receiver, metric_sample)
    moved = copy.deepcopy(metric_sample)
    moved["sessionId"] = "other"
    moved["alarmObjInfo"]["dimensions"]["unInstanceId"] = "ins-elsewhere"  # same objId: same alarm
    post(receiver, moved)
    first, second = (decode(m.body) for m in publisher.messages)
    assert first.identityversion == second.identityversion == IdentityScheme.from_json(RULES).version
    assert first.data.identity_version == first.identityversion
    assert first.fingerprint == second.fingerprint and (first.episode, second.sequence) == (second.episode, 2)

    default = MemoryPublisher()
    post(Receiver(MemoryStore(), default, MemoryQuarantine()), metric_sample)
    plain = decode(default.messages[0].body)
    assert plain.identityversion == "1" and plain.fingerprint != first.fingerprint
