"""The README's example message, generated from the code (`alarm-callback example-message`):
the seed metric sample through the same normalize and encode steps the receiver runs, at a
fixed receive time, as the first notification of its episode, with `data.raw` shortened."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from .. import samples
from ..core.build import episode_of
from ..core.episodes import advance
from ..core.identity import dedup_key
from ..core.message import encode
from ..core.normalize import normalize
from ..core.times import load_timezone

RECEIVED_AT = datetime(2026, 11, 28, 12, 18, 29, 881393, tzinfo=timezone.utc)


def example_message() -> str:
    body = json.loads(samples.load()["metric"])
    key = dedup_key(body)
    alarm = normalize(body, key, load_timezone("Asia/Shanghai"), RECEIVED_AT)
    first = alarm.first_occur_time.timestamp() if alarm.first_occur_time else None
    mark, _ = advance(None, alarm.fingerprint, key, alarm.status, RECEIVED_AT.timestamp(), 259200, first)
    alarm = alarm.model_copy(update={"episode": episode_of(mark)})  # the first firing: sequence 1
    event = json.loads(encode(alarm, "alarm-callback").body)
    event["data"]["raw"] = {
        "sessionId": body["sessionId"],
        "alarmStatus": body["alarmStatus"],
        "...": "the body exactly as received",
    }
    return json.dumps(event, indent=2, ensure_ascii=False)
