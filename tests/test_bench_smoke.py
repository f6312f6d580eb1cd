"""The `make bench` harness at tiny sizes, so it cannot rot. No timing is asserted: the
figures of a smoke run mean nothing. What is checked: every section runs, prints its rows,
and the functional checks inside the harness hold (every callback acked, one queue message
per distinct alarm, no SDK of the other cloud imported)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_smoke_runs_every_section(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| what |" in proc.stdout
    report = json.loads(out.read_text())
    rows = report["rows"]
    sections = {row["section"] for row in rows}
    assert sections == {"cold", "warm", "sdk", "server", "size", "memory", "cost", "handshake"}, rows
    failed = [row for row in rows if row["value"].startswith("FAILED")]
    assert not failed, failed
    by_what = {row["what"]: row for row in rows}
    # functional checks (not timings): the queue and the SDK isolation
    queue = by_what["local server: errors; one message per distinct alarm"]
    assert queue["ok"] is True, queue
    for row in rows:
        if row["what"].endswith("SDK isolation"):
            assert row["ok"] is True, row
        if row["what"].startswith("cold start") and "first callback" in row["what"]:
            assert "replies [200]" in row["value"], row
    # the warm section measures the adapters and the floor, not the bare receiver
    assert "warm: AWS adapter (HTTP API event) vs the floor" in by_what, sorted(by_what)
    assert any(what.startswith("warm: floor") for what in by_what), sorted(by_what)
    assert by_what["cost: DynamoDB write units per new alarm (table + GSI)"]["goal"] == "<= 4"
    # both handlers ran against moto's server (the child raises on any reply but 200)
    sdk = by_what["warm with real SDK clients (boto3 against moto's server): CPU per callback, episodes on"]
    assert sdk["goal"] == "<= 1.0x Powertools" and sdk["value"].startswith("CPU "), sdk
    # the Redis handshake is counted, not timed: the smoke run's figure is the real one
    handshake = by_what["Redis: round trips before a container's first claim (db 0 / db 1)"]
    assert handshake["ok"] is True and handshake["value"].startswith("0 / 1 "), handshake


def test_dynamodb_item_size_follows_the_aws_rules() -> None:
    from benchmarks.cost import item_size, number_size, units

    # names count; strings are UTF-8 bytes; numbers 1 byte per 2 significant digits + 1
    assert item_size({"pk": {"S": "abc"}}) == 2 + 3
    assert item_size({"s": {"S": "\u00e9"}}) == 1 + 2
    assert number_size("1701780810.456") == 7 + 1  # 13 digits
    assert number_size("100") == 1 + 1  # trailing zeros trimmed
    assert number_size("0.0001") == 1 + 1
    assert item_size({"b": {"BOOL": True}, "n": {"NULL": True}}) == 2 + 2
    # a map: 3 bytes + 1 per element + its names and values
    assert item_size({"m": {"M": {"a": {"S": "xy"}}}}) == 1 + 3 + 1 + 1 + 2
    assert [units(1024), units(1025)] == [1, 2]
