"""The values every message carries, apart from the models that check them.

The receiver writes a known callback's message from a dict (`normalize.alarm_fields`,
`message.encode_data`) and never builds the `Alarm` models; it imports these names and not
`models.alarm`, whose eight pydantic models cost about a tenth of a Tencent cold start to
build. `models.alarm` imports them from here, so there is one definition of each.
"""

from __future__ import annotations

from typing import Literal

SCHEMA_VERSION = "1.1"
SCHEMA_URI = f"urn:alarm-callback:schema:alarm-event:{SCHEMA_VERSION}"
EVENT_TYPE_PREFIX = "com.tencentcloud.monitor.alarm."

Status = Literal["firing", "resolved", "unknown"]
Kind = Literal["metric", "event", "unknown"]
