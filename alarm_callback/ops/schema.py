"""The JSON Schema of the published message, generated from `AlarmEvent`.

`python -m alarm_callback.schema > schema/alarm-event.schema.json` (`make schema`)
rewrites the committed copy; a test fails when the two differ.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.models.alarm import AlarmEvent
from ..core.models.names import SCHEMA_URI


def generate() -> dict[str, Any]:
    schema = AlarmEvent.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_URI, **schema}


def render() -> str:
    return json.dumps(generate(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
