"""Section 2: warm cost per callback, in-memory store and publisher (the handler's own CPU).

The child process (``python -m benchmarks.warm``) runs, round after round, one batch per
subject in rotating order: our handler through the AWS adapter (`entry.lambda_handler`,
HTTP API event), through the SCF adapter (`entry.main_handler`, API gateway event), the
Powertools baseline on the same HTTP API events, and the floor (issue 14): what no design
can skip, `pydantic_core.from_json` of the body, `TencentCallback.model_validate_json` of
it and one `AlarmEvent.model_dump_json` of an equivalent event (built beforehand from the
same sample by the real `normalize` + `to_event`). Every callback has a new sessionId.
Per batch: p50/p99 of the per-call wall time and the CPU time per callback (immune to the
preemption a shared machine adds to wall times). Ratios compare batches of the same round.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

from .common import ROOT, Section, env_without_ours, median, percentile, ratios, run_json, spread, timed_batch

GOAL_RATIO = 2.0  # adapter CPU per callback: at least this many times less than Powertools
GOAL_FLOOR = 1.9  # ... and at most this many times the floor's
FLOOR_EVENT = "_bench_floor_event"  # where a floor event carries its prebuilt AlarmEvent

_BACKENDS = {
    "ALARM_CALLBACK_STORE_URL": "memory://",
    "ALARM_CALLBACK_QUEUE_URL": "memory://",
    "ALARM_CALLBACK_QUARANTINE_URL": "memory://",
}


def _subjects(n: int, round_no: int) -> list[tuple[str, Callable[[Any, Any], Any], list[Any], Any]]:
    """(name, handler, events, context) for this round; each event has a fresh sessionId."""
    from . import events

    bodies = events.bodies()

    def batch(prefix: str, wrap: Callable[[bytes], Any]) -> list[Any]:
        return [wrap(events.distinct(bodies[i % len(bodies)], f"{prefix}-{round_no}-{i}")) for i in range(n)]

    found: list[tuple[str, Callable[[Any, Any], Any], list[Any], Any]] = []
    have_entry = (ROOT / "alarm_callback" / "edges" / "entry.py").exists()
    if have_entry and (ROOT / "alarm_callback" / "edges" / "aws.py").exists():
        from alarm_callback.edges import entry

        found.append(("aws", entry.lambda_handler, batch("aws", events.http_api), None))
        found.append(("aws-nolog", entry.lambda_handler, batch("aws-nolog", events.http_api), None))
    if have_entry and (ROOT / "alarm_callback" / "edges" / "scf.py").exists():
        from alarm_callback.edges import entry

        found.append(("scf", entry.main_handler, batch("scf", events.scf_api_gateway), None))
    if not found:  # no adapters yet: the receiver itself
        from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine, MemoryStore
        from alarm_callback.core.http import Request
        from alarm_callback.core.receiver import Receiver

        receiver = Receiver(MemoryStore(), MemoryPublisher(), MemoryQuarantine())

        def handle(request: Request, context: Any) -> Any:
            return receiver.handle(request)

        found.append(
            ("receiver", handle, batch("rcv", lambda b: Request("POST", f"/callback/{events.TOKEN}", b)), None)
        )
    found.append(("floor", _floor_handler(), _floor_batch(bodies, n, round_no), None))
    try:
        from .baselines import powertools_app
    except ImportError:
        pass
    else:
        found.append(
            ("powertools", powertools_app.lambda_handler, batch("pt", events.http_api), events.LambdaContext())
        )
    return found


def _floor_batch(bodies: list[dict[str, Any]], n: int, round_no: int) -> list[Any]:
    """HTTP API events, each with the AlarmEvent its body normalizes to (built here, not timed)."""
    from datetime import datetime, timezone

    from alarm_callback.core.message import to_event
    from alarm_callback.core.normalize import normalize

    from . import events

    now = datetime.now(timezone.utc)
    prebuilt = [to_event(normalize(body, f"floor-{i}", timezone.utc, now)) for i, body in enumerate(bodies)]
    batch = []
    for i in range(n):
        event = events.http_api(events.distinct(bodies[i % len(bodies)], f"floor-{round_no}-{i}"))
        event[FLOOR_EVENT] = prebuilt[i % len(bodies)]
        batch.append(event)
    return batch


def _floor_handler() -> Callable[[Any, Any], Any]:
    from pydantic_core import from_json

    from alarm_callback.core.models.callback import TencentCallback

    validate = TencentCallback.model_validate_json

    def floor(event: dict[str, Any], context: Any) -> dict[str, Any]:
        body = event["body"]
        from_json(body)
        validate(body)
        return {"statusCode": 200, "body": event[FLOOR_EVENT].model_dump_json()}

    return floor


def child(n: int, rounds: int, profile: bool) -> dict[str, Any]:
    os.environ.update(_BACKENDS)
    os.environ["ALARM_CALLBACK_TOKEN"] = "bench-token-0123456789"
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the log lines: written, not kept
    results: dict[str, dict[str, list[float]]] = {}
    package_logger = logging.getLogger("alarm_callback")
    for round_no in range(rounds + 1):  # round 0 warms up (first calls build the receiver)
        subjects = _subjects(n if round_no else min(n, 50), round_no)
        order = subjects[round_no % len(subjects) :] + subjects[: round_no % len(subjects)]
        for name, handler, batch, context in order:
            package_logger.disabled = name.endswith("-nolog")
            times, cpu = timed_batch(name, handler, batch, context)
            package_logger.disabled = False
            if not round_no:
                continue
            entry = results.setdefault(name, {"p50": [], "p99": [], "cpu": []})
            entry["p50"].append(percentile(times, 0.5) / 1000)
            entry["p99"].append(percentile(times, 0.99) / 1000)
            entry["cpu"].append(cpu / 1000)
    out: dict[str, Any] = {"results": results, "n": n, "rounds": rounds}
    if profile:
        out["profile"] = _profile(n)
    return out


def _profile(n: int) -> str:
    """A pyinstrument tree of the AWS path (or the receiver), when pyinstrument is installed."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return "pyinstrument is not installed (pip install pyinstrument) - no profile"
    name, handler, batch, context = _subjects(max(n, 2000), 99)[0]
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for event in batch:
        handler(event, context)
    profiler.stop()
    text = profiler.output_text(unicode=False, color=False)
    return f"pyinstrument, {len(batch)} callbacks through `{name}`:\n" + "\n".join(text.splitlines()[:70])


def run(smoke: bool = False, profile: bool = True) -> Section:
    section = Section("warm")
    n, rounds = (40, 2) if smoke else (2000, 7)
    args = [sys.executable, "-m", "benchmarks.warm", "--n", str(n), "--rounds", str(rounds)]
    if profile and not smoke:
        args.append("--profile")
    out = run_json(args, env_without_ours(), timeout=900)
    results: dict[str, dict[str, list[float]]] = out["results"]
    section.data = out
    base = results.get("powertools")
    labels = {
        "aws": "AWS adapter (HTTP API event)",
        "aws-nolog": "AWS adapter, log line off (info)",
        "scf": "SCF adapter (API gateway event)",
        "receiver": "Receiver.handle (no adapters yet)",
    }
    floor = results.get("floor")
    for name, label in labels.items():
        if name not in results:
            continue
        figures = results[name]
        goal = not name.endswith("-nolog")
        row_ratio = ""
        ok = None
        if base:
            cpu_ratio = ratios(base["cpu"], figures["cpu"])
            p50_ratio = ratios(base["p50"], figures["p50"])
            row_ratio = f"{spread(cpu_ratio, '{:.2f}')}x CPU, {median(p50_ratio):.2f}x p50"
            ok = median(cpu_ratio) >= GOAL_RATIO if goal else None
        section.add(
            f"warm: {label}",
            f"p50 {spread(figures['p50'])} us, p99 {spread(figures['p99'])} us, CPU {spread(figures['cpu'])} us/callback",
            "Powertools" if base else "",
            row_ratio,
            f">= {GOAL_RATIO:.1f}x faster" if ok is not None else "",
            ok,
        )
        if floor:
            over = ratios(figures["cpu"], floor["cpu"])
            section.add(
                f"warm: {label} vs the floor",
                f"CPU {spread(figures['cpu'])} us/callback",
                f"floor {spread(floor['cpu'])} us",
                f"{spread(over, '{:.2f}')}x the floor",
                f"<= {GOAL_FLOOR:.1f}x floor" if goal else "",
                median(over) <= GOAL_FLOOR if goal else None,
            )
    if floor:
        section.add(
            "warm: floor (from_json + TencentCallback.model_validate_json + AlarmEvent.model_dump_json)",
            f"p50 {spread(floor['p50'])} us, p99 {spread(floor['p99'])} us, CPU {spread(floor['cpu'])} us/callback",
            note="what any design must do per callback; the event is prebuilt per sample",
        )
    if base:
        section.add(
            "warm: Powertools baseline (event handler + pydantic + idempotency)",
            f"p50 {spread(base['p50'])} us, p99 {spread(base['p99'])} us, CPU {spread(base['cpu'])} us/callback",
            note=f"{rounds} rounds x {n} callbacks",
        )
    else:
        section.add("warm: Powertools baseline", "not available (pip install aws-lambda-powertools)")
    if out.get("profile"):
        section.details.append(out["profile"])
    return section


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    try:
        print(json.dumps(child(args.n, args.rounds, args.profile)))
    except Exception:
        print(traceback.format_exc())
        sys.exit(1)


if __name__ == "__main__":
    main()
