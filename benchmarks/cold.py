"""Section 1: cold start. A fresh interpreter imports `handler` and serves its first callback,
with the AWS backends (DynamoDB + SQS on moto's server) and with the Tencent backends (Redis +
CMQ against a local endpoint), against a floor in the same kind of fresh interpreter: import
the same SDKs, build the same clients (same settings) and make the same service calls.

On AWS a third child runs a Powertools-style handler (`baselines/powertools_dynamodb_app`:
APIGatewayHttpResolver + parser + idempotency on DynamoDB + boto3 SQS) against the same moto
table and queue, timed the same way: issue 14 wants ours at most 0.9x of its cold start.

Times are taken inside the child from its first line (interpreter start-up, the same for
all, is left out). The children of a round run in a rotating order. The modules each
subject imports are listed from a `sys.modules` diff and checked: no Tencent SDK on the AWS
path, no boto3 / botocore on the Tencent path. `BENCH_COLD_ROUNDS` sets the number of
counted rounds (default 7; run 0 only fills the bytecode caches).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from contextlib import ExitStack
from typing import Any

from . import events, fakes
from .common import (
    NOT_AVAILABLE,
    Section,
    child_cwd,
    env_without_ours,
    median,
    module_exists,
    ratios,
    run_json,
    spread,
)

# Issue 14: ours / the bare-SDK floor, per cloud (the Tencent SDK floor is lighter, so the fixed
# cost of pydantic and our models weighs more there), and ours / the Powertools-style handler.
GOALS = {"aws": 1.25, "tencent": 1.6}
POWERTOOLS_GOAL = 0.9
POWERTOOLS_MODULE = "benchmarks.baselines.powertools_dynamodb_app"
# Variables outside ALARM_CALLBACK_* that the deploy config gives the function and that change
# how its interpreter starts: the subject runs with them as deployed (read from the measured
# tree's own config, so a BENCH_CODE_ROOT run of an older tree gets that tree's values).
DEPLOY_CONFIG = {"aws": "serverless.yml", "tencent": "deploy/tencent/serverless.yml"}
DEPLOYED_VARIABLES = ("PYDANTIC_DISABLE_PLUGINS",)

SUBJECT = r"""
import time
t0 = time.perf_counter()
import sys
before = set(sys.modules)
import handler
t1 = time.perf_counter()
import json, os
reply = getattr(handler, os.environ["BENCH_ENTRY"])(json.loads(os.environ["BENCH_EVENT"]), None)
t2 = time.perf_counter()
mods = sorted(m for m in set(sys.modules) - before if "." not in m)
ours = sorted(m for m in set(sys.modules) - before if m.startswith("alarm_callback."))
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "total": t2 - t0, "reply": reply, "top_modules": mods,
                  "ours": ours, "count": len(set(sys.modules) - before)}))
"""

AWS_FLOOR = r"""
import time
t0 = time.perf_counter()
import sys
before = set(sys.modules)
import boto3
from botocore.config import Config
config = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=0.5, read_timeout=1.0, tcp_keepalive=True)
dynamodb = boto3.session.Session().client("dynamodb", config=config)
sqs = boto3.session.Session().client("sqs", region_name="us-east-1", config=config)
t1 = time.perf_counter()
import json, os
key, now = os.environ["BENCH_KEY"] + "-floor", str(time.time())
table = os.environ["BENCH_TABLE"]
dynamodb.put_item(TableName=table, Item={"pk": {"S": key}, "status": {"S": "pending"}, "message": {"S": os.environ["BENCH_BODY"]}, "updated_at": {"N": now}},
                  ConditionExpression="attribute_not_exists(pk)")
sqs.send_message(QueueUrl=os.environ["BENCH_QUEUE_URL"], MessageBody=os.environ["BENCH_BODY"])
dynamodb.update_item(TableName=table, Key={"pk": {"S": key}}, UpdateExpression="SET #s = :p",
                     ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":p": {"S": "published"}})
t2 = time.perf_counter()
mods = sorted(m for m in set(sys.modules) - before if "." not in m)
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "total": t2 - t0, "top_modules": mods, "count": len(set(sys.modules) - before)}))
"""

TENCENT_FLOOR = r"""
import time
t0 = time.perf_counter()
import sys
before = set(sys.modules)
import os
import redis
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.tdmq.v20200217 import models, tdmq_client
r = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"], socket_timeout=1.0, socket_connect_timeout=0.5)
endpoint = os.environ["BENCH_CMQ_ENDPOINT"]
profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=endpoint.split("://", 1)[1], reqTimeout=1.5, keepAlive=True), language="en-US")
client = tdmq_client.TdmqClient(credential.Credential("id", "key"), "ap-guangzhou", profile)
t1 = time.perf_counter()
import json
key = os.environ["BENCH_KEY"] + "-floor"
r.set("bench:" + key, os.environ["BENCH_BODY"], nx=True, ex=86400)
request = models.SendCmqMsgRequest()
request.from_json_string(json.dumps({"QueueName": "bench-alarms", "MsgContent": os.environ["BENCH_BODY"], "DelaySeconds": 0}))
client.SendCmqMsg(request)
r.set("bench:" + key, "published", xx=True, ex=86400)
t2 = time.perf_counter()
mods = sorted(m for m in set(sys.modules) - before if "." not in m)
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "total": t2 - t0, "top_modules": mods, "count": len(set(sys.modules) - before)}))
"""

FORBIDDEN = {"aws": ("tencentcloud",), "tencent": ("boto3", "botocore")}


def _paths(stack: ExitStack) -> dict[str, dict[str, Any] | str]:
    """path -> settings for the subject and floor, or the reason it cannot run."""
    found: dict[str, dict[str, Any] | str] = {}
    needed = ["edges/aws.py", "backends/aws/dynamodb.py", "backends/aws/sqs.py", "backends/aws/clients.py"]
    missing = [name for name in needed if not module_exists(name)]
    if missing:
        found["aws"] = f"{NOT_AVAILABLE} (missing alarm_callback/{', '.join(missing)})"
    else:
        aws = stack.enter_context(fakes.moto_aws())
        found["aws"] = (
            aws
            if isinstance(aws, str)
            else {"env": aws, "entry": "lambda_handler", "event": events.http_api, "floor": AWS_FLOOR}
        )
    needed = ["edges/scf.py", "backends/redis/store.py", "backends/tencent/cmq.py", "backends/tencent/clients.py"]
    missing = [name for name in needed if not module_exists(name)]
    if missing:
        found["tencent"] = f"{NOT_AVAILABLE} (missing alarm_callback/{', '.join(missing)})"
    else:
        port = stack.enter_context(fakes.redis_server())
        if isinstance(port, str):
            found["tencent"] = port
        else:
            endpoint = stack.enter_context(fakes.cmq_endpoint())
            env = {
                "ALARM_CALLBACK_STORE_URL": f"redis://127.0.0.1:{port}/0",
                "ALARM_CALLBACK_QUEUE_URL": f"cmq://bench-alarms?region=ap-guangzhou&endpoint={endpoint}",
                "ALARM_CALLBACK_QUARANTINE_URL": "memory://",
                "TENCENTCLOUD_SECRETID": "bench-id",
                "TENCENTCLOUD_SECRETKEY": "bench-key",
                "TENCENTCLOUD_SESSIONTOKEN": "bench-token",
                "TENCENTCLOUD_REGION": "ap-guangzhou",
                "BENCH_REDIS_URL": f"redis://127.0.0.1:{port}/0",
                "BENCH_CMQ_ENDPOINT": endpoint,
            }
            found["tencent"] = {
                "env": env,
                "entry": "main_handler",
                "event": events.scf_api_gateway,
                "floor": TENCENT_FLOOR,
            }
    return found


def deployed_env(path: str) -> dict[str, str]:
    """`DEPLOYED_VARIABLES` as the deploy config of `path` sets them (plain `NAME: value` lines)."""
    config = child_cwd() / DEPLOY_CONFIG[path]
    text = config.read_text() if config.exists() else ""
    found = {}
    for name in DEPLOYED_VARIABLES:
        match = re.search(rf"^\s+{name}:\s*\"?([^\"#\s]+)", text, re.MULTILINE)
        if match:
            found[name] = match.group(1)
    return found


def _subject(module: str) -> str:
    """The subject's child script, importing `module` (it must have the platform's entry)."""
    return SUBJECT.replace("import handler\n", f"import {module} as handler\n")


def _children(path: str, setup: dict[str, Any]) -> list[tuple[str, list[str], dict[str, str]]]:
    """name, command line and extra environment of each child of a round. Only ours gets the
    deployed variables: the floor imports no pydantic, and the Powertools-style handler runs
    as such a function is usually deployed (no extra variables)."""
    children = [
        ("subject", [sys.executable, "-c", SUBJECT], deployed_env(path)),
        ("floor", [sys.executable, "-c", setup["floor"]], {}),
    ]
    if path == "aws" and importlib.util.find_spec("aws_lambda_powertools") is not None:
        children.append(("powertools", [sys.executable, "-c", _subject(POWERTOOLS_MODULE)], {}))
    return children


def run(smoke: bool = False) -> Section:
    section = Section("cold")
    runs = 1 if smoke else int(os.environ.get("BENCH_COLD_ROUNDS", "7"))
    bodies = events.bodies()
    with ExitStack() as stack:
        for path, setup in _paths(stack).items():
            if isinstance(setup, str):
                section.add(f"cold start, {path} backends", setup)
                continue
            results: dict[str, list[dict[str, Any]]] = {}
            children = _children(path, setup)
            for i in range(runs + 1):  # run 0 fills the bytecode caches; not counted
                key = f"cold-{path}-{i}-{id(section)}"
                body = events.distinct(bodies[i % len(bodies)], key)
                env = env_without_ours(
                    ALARM_CALLBACK_TOKEN=events.TOKEN,
                    BENCH_ENTRY=setup["entry"],
                    BENCH_EVENT=json.dumps(setup["event"](body)),
                    BENCH_KEY=key,
                    BENCH_BODY=body.decode(),
                    **setup["env"],
                )
                shift = i % len(children)
                for name, args, extra in children[shift:] + children[:shift]:
                    out = run_json(args, {**env, **extra}, timeout=120)
                    if i:
                        results.setdefault(name, []).append(out)
            _report(section, path, results["subject"], results["floor"])
            if "powertools" in results:
                _report_powertools(section, results["subject"], results["powertools"])
            section.data[path] = results
    return section


def _report(section: Section, path: str, subject: list[dict[str, Any]], floor: list[dict[str, Any]]) -> None:
    ms = 1000.0
    replies = [run["reply"] for run in subject]
    statuses = {r.get("statusCode", 200) if isinstance(r, dict) else 200 for r in replies}
    s_total = [r["total"] * ms for r in subject]
    f_total = [r["total"] * ms for r in floor]
    f_import = [r["import"] * ms for r in floor]
    s_import = [r["import"] * ms for r in subject]
    ratio = ratios(s_total, f_total)
    ratio_no_io = ratios(s_total, f_import)
    goal = GOALS[path]
    ok = median(ratio) <= goal and statuses == {200}
    section.add(
        f"cold start, {path} backends: import handler + first callback",
        f"{spread(s_total)} ms (import {median(s_import):.0f} ms, first callback "
        f"{median([r['first'] * ms for r in subject]):.0f} ms; replies {sorted(statuses)})",
        f"floor {spread(f_total)} ms",
        f"{spread(ratio, '{:.2f}')}x",
        f"<= {goal}x floor",
        ok,
        note=f"floor = import SDK + same clients {median(f_import):.0f} ms + claim, publish, mark (3 calls; "
        "ours makes 2 more with episodes on: the episode record's read and swap); "
        f"vs import+clients alone: {median(ratio_no_io):.2f}x; deployed env: "
        + (", ".join(f"{k}={v}" for k, v in deployed_env(path).items()) or "none"),
    )
    modules = set(subject[0]["top_modules"]) if subject else set()
    bad = sorted(m for m in modules if m.startswith(FORBIDDEN[path]))
    section.add(
        f"cold start, {path} backends: SDK isolation",
        "no " + "/".join(FORBIDDEN[path]) + " imported" if not bad else "imports " + ", ".join(bad),
        goal="none imported",
        ok=not bad,
        note=f"{subject[0]['count']} modules imported; floor imports {floor[0]['count']}" if subject else "",
    )
    floor_mods = set(floor[0]["top_modules"]) if floor else set()
    section.details.append(
        f"cold start, {path}: top-level modules the handler imports beyond the floor's: "
        + ", ".join(sorted(modules - floor_mods))
        + "\nour modules on this path: "
        + (", ".join(m.removeprefix("alarm_callback.") for m in subject[0].get("ours", [])) if subject else "")
    )


def _report_powertools(section: Section, subject: list[dict[str, Any]], powertools: list[dict[str, Any]]) -> None:
    ms = 1000.0
    statuses = {r["reply"].get("statusCode") if isinstance(r["reply"], dict) else None for r in powertools}
    p_total = [r["total"] * ms for r in powertools]
    s_total = [r["total"] * ms for r in subject]
    ratio = ratios(s_total, p_total)
    section.add(
        "cold start, aws backends: ours vs a Powertools-style handler",
        f"{spread(s_total)} ms (ours, the rounds above)",
        f"Powertools-style {spread(p_total)} ms (import {median([r['import'] * ms for r in powertools]):.0f} ms, "
        f"first callback {median([r['first'] * ms for r in powertools]):.0f} ms; replies {sorted(map(str, statuses))})",
        f"{spread(ratio, '{:.2f}')}x",
        f"<= {POWERTOOLS_GOAL}x Powertools",
        median(ratio) <= POWERTOOLS_GOAL and statuses == {200},
        note="baselines/powertools_dynamodb_app.py: APIGatewayHttpResolver + parser + idempotency on DynamoDB "
        f"+ boto3 SQS, same moto table and queue, 3 calls like the floor's; imports {powertools[0]['count']} modules"
        if powertools
        else "",
    )
