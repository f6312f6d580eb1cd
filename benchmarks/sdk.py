"""Section: warm CPU per callback with the real SDK clients, against moto's server (issue 14).

The warm section measures the handler's own work on in-memory backends; here the backends
are the deployed ones, DynamoDB and SQS through boto3, talking HTTP to moto's server (in the
parent process, so its CPU is not counted). A child (``python -m benchmarks.sdk``) runs,
round after round in rotating order, one batch of new alarms (each a fresh sessionId)
through our `entry.lambda_handler` (HTTP API events) and one through the Powertools-style
handler of the cold-start section (`baselines/powertools_dynamodb_app`: APIGatewayHttpResolver
+ parser + idempotency on DynamoDB + boto3 SQS), on the same moto table and queue. Per batch:
the child's CPU time per callback (what the function is billed for besides waiting), and
the wall p50. A second child runs the same with episodes off (``EPISODE_TTL_SECONDS=0``):
the outbox alone makes the same three calls as Powertools' idempotency (conditional put,
send, update); episodes add the record's read and swap.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from . import events, fakes
from .common import Section, env_without_ours, median, percentile, ratios, run_json, spread, timed_batch

GOAL = 1.0  # our CPU per callback at most the Powertools-style handler's
POWERTOOLS_MODULE = "benchmarks.baselines.powertools_dynamodb_app"


def _subjects(n: int, round_no: int) -> list[tuple[str, Callable[[Any, Any], Any], list[Any], Any]]:
    from alarm_callback.edges import entry

    from .baselines import powertools_dynamodb_app as powertools

    bodies = events.bodies()

    def batch(prefix: str) -> list[Any]:
        return [events.http_api(events.distinct(bodies[i % len(bodies)], f"{prefix}-{round_no}-{i}")) for i in range(n)]

    return [
        ("ours", entry.lambda_handler, batch(f"sdk-ours-{os.getpid()}"), None),
        ("powertools", powertools.lambda_handler, batch(f"sdk-pt-{os.getpid()}"), events.LambdaContext()),
    ]


def child(n: int, rounds: int) -> dict[str, Any]:
    os.environ["ALARM_CALLBACK_TOKEN"] = events.TOKEN
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the log lines: written, not kept
    results: dict[str, dict[str, list[float]]] = {}
    for round_no in range(rounds + 1):  # round 0 warms up (clients, connections, receiver)
        subjects = _subjects(n if round_no else min(n, 10), round_no)
        order = subjects[round_no % len(subjects) :] + subjects[: round_no % len(subjects)]
        for name, handler, batch, context in order:
            times, cpu = timed_batch(name, handler, batch, context)
            if not round_no:
                continue
            entry = results.setdefault(name, {"p50": [], "cpu": []})
            entry["p50"].append(percentile(times, 0.5) / 1000)
            entry["cpu"].append(cpu / 1000)
    return {"results": results, "n": n, "rounds": rounds}


def run(smoke: bool = False) -> Section:
    section = Section("sdk")
    what = "warm with real SDK clients (boto3 against moto's server): CPU per callback"
    if importlib.util.find_spec("aws_lambda_powertools") is None:
        section.add(what, "not available (pip install aws-lambda-powertools: the baseline)")
        return section
    n, rounds = (5, 1) if smoke else (150, 5)
    with ExitStack() as stack:
        aws = stack.enter_context(fakes.moto_aws())
        if isinstance(aws, str):
            section.add(what, f"not available ({aws})")
            return section
        runs = {}
        for label, extra in (("on", {}), ("off", {"ALARM_CALLBACK_EPISODE_TTL_SECONDS": "0"})):
            args = [sys.executable, "-m", "benchmarks.sdk", "--n", str(n), "--rounds", str(rounds)]
            runs[label] = run_json(args, env_without_ours(**aws, **extra), timeout=900)
    section.data = runs
    for label, out in runs.items():
        ours, theirs = out["results"]["ours"], out["results"]["powertools"]
        over = ratios(ours["cpu"], theirs["cpu"])
        goal = label == "on"
        calls = "5 calls: the episode record's read and swap, claim, send, mark" if goal else "3 calls each"
        section.add(
            f"{what}, episodes {label}" + ("" if goal else " (EPISODE_TTL_SECONDS=0)"),
            f"CPU {spread(ours['cpu'])} us, p50 {spread(ours['p50'], '{:.0f}')} us",
            f"Powertools-style CPU {spread(theirs['cpu'])} us, p50 {median(theirs['p50']):.0f} us",
            f"{spread(over, '{:.2f}')}x Powertools' CPU",
            f"<= {GOAL:.1f}x Powertools" if goal else "",
            median(over) <= GOAL if goal else None,
            note=f"{calls} (Powertools-style: 3: conditional put, send, update); {rounds} rounds x {n} new alarms, "
            "rotating order; moto's server in the parent process (its CPU not counted)",
        )
    return section


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    try:
        print(json.dumps(child(args.n, args.rounds)))
    except Exception:
        print(traceback.format_exc())
        sys.exit(1)


if __name__ == "__main__":
    main()
