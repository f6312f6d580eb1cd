"""The folders show the design, and the rules that keep it so are checked here.

The import-linter contracts (`lint-imports`, in `make lint`) forbid the imports; these tests
check what a contract cannot: what importing the core actually loads, and the shape of the
package."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parents[1] / "alarm_callback"
HEAVY = ("pydantic_settings", "dotenv", "boto3", "botocore", "tencentcloud", "redis", "pika", "uvicorn")


def loaded_by(statement: str) -> set[str]:
    """Top-level modules a fresh interpreter has loaded after `statement`."""
    probe = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in json.loads(result.stdout)}


def test_the_core_receiver_loads_no_sdk_and_no_settings() -> None:
    loaded = loaded_by("import alarm_callback.core.receiver")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    assert "asyncio" not in loaded


def test_adapters_load_no_sdk_either() -> None:
    loaded = loaded_by("import alarm_callback.edges.aws, alarm_callback.edges.scf")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


# Built only where needed: a known callback's message is written from a dict, and most
# deployments set no ROUTES. Each is a share of a cold start (benchmarks/RESULTS.md).
COLD_PATH_SKIPS = ("alarm_callback.core.models.alarm", "alarm_callback.core.routing")
FIRST_CALLBACK = """
import json, os, sys
os.environ.update(ALARM_CALLBACK_STORE_URL="memory://", ALARM_CALLBACK_QUEUE_URL="memory://",
                  ALARM_CALLBACK_QUARANTINE_URL="memory://", ALARM_CALLBACK_TOKEN=events.TOKEN)
import handler
reply = handler.lambda_handler(events.http_api(BODY), None)
print(json.dumps({"status": reply["statusCode"], "modules": sorted(sys.modules)}))
"""


def first_callback(body: bytes) -> dict[str, Any]:
    """A fresh interpreter's reply to its first callback, and the modules it loaded."""
    probe = "from benchmarks import events\nBODY = " + repr(body) + FIRST_CALLBACK
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALARM_CALLBACK_")}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=PACKAGE.parent, env=env
    )
    reply: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return reply


def test_a_known_callback_is_served_without_the_alarm_models_or_the_router() -> None:
    from benchmarks import events

    known = first_callback(events.distinct(events.bodies()[0], "layout-known"))
    assert known["status"] == 200
    assert not set(COLD_PATH_SKIPS) & set(known["modules"])
    # The body that is no callback takes the path that builds the model, and is served too.
    unknown = first_callback(b'{"sessionId": "layout-unknown", "alarmObjInfo": "not an object"}')
    assert unknown["status"] == 200
    assert "alarm_callback.core.models.alarm" in unknown["modules"]


def test_the_package_top_level_holds_only_subpackages() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert modules == ["__init__.py", "__main__.py"]
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert folders == ["backends", "config", "consumer", "core", "edges", "ops", "reconcile", "samples", "testing"]


def test_no_module_is_long_without_saying_why() -> None:
    """~300 lines at most, unless the module's docstring says why it is longer."""
    for path in PACKAGE.rglob("*.py"):
        lines = path.read_text().count("\n")
        if lines > 320:
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            assert "longer" in doc.lower(), f"{path.relative_to(PACKAGE)} has {lines} lines and no reason given"


def test_no_private_api_of_cpython_pydantic_or_the_sdks() -> None:
    private = ("c_make_encoder", "__pydantic_validator__", "__pydantic_serializer__", "._serialize(")
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        used = [name for name in private if name in text]
        assert not used, f"{path.relative_to(PACKAGE)} uses {used}"
