"""End to end: the real server (uvicorn on a free port) driven by `alarm-callback send`,
and the other CLI commands against what it wrote."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alarm_callback import samples
from tests.conftest import free_port, local_env
from tests.test_episodes import lifecycle_bodies

CLI = [sys.executable, "-m", "alarm_callback"]
TOKEN = "t0k-" + "e" * 20


@pytest.fixture
def extra_env() -> dict[str, str]:
    """More settings for one test (`@pytest.mark.parametrize("extra_env", [...])`)."""
    return {}


@pytest.fixture
def env(tmp_path: Path, extra_env: dict[str, str]) -> dict[str, str]:
    """`local_env` plus `extra_env`, where ``{data}`` stands for the test's data folder."""
    return {**local_env(tmp_path, TOKEN), **{k: v.replace("{data}", str(tmp_path)) for k, v in extra_env.items()}}


# The outbox and the local queue in one file: each alarm is one SQLite transaction.
ONE_FILE = {"ALARM_CALLBACK_QUEUE_URL": "sqlite:///{data}/store.db"}


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as reply:
                assert json.load(reply) == {"status": "ok"}
            break
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("server did not start:\n" + (tmp_path / "server.log").read_text())
            time.sleep(0.1)
    yield base
    proc.terminate()
    proc.wait(10)
    log.close()


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)


def http_post(url: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


@pytest.mark.parametrize("extra_env", [{}, ONE_FILE], ids=["two-files", "one-file"])
def test_send_seed_samples_ack_dedup_and_tail(server: str, env: dict[str, str], tmp_path: Path) -> None:
    url = f"{server}/callback/{TOKEN}"
    sent = run(env, "send", url, "--json")
    assert sent.returncode == 0, sent.stderr
    deliveries = [json.loads(line) for line in sent.stdout.splitlines()]
    assert len(deliveries) == len(samples.load())
    assert all(d["acked"] and len(d["attempts"]) == 1 for d in deliveries)
    metric = next(d for d in deliveries if d["name"] == "metric")
    assert json.loads(metric["attempts"][0]["body"]) == {"sessionId": "xxxxxxxx", "retCode": 0}

    # Tencent resends the metric sample: same ack, no second message
    metric_file = tmp_path / "metric.json"
    metric_file.write_bytes(samples.load()["metric"])
    again = run(env, "send", url, str(metric_file))
    assert again.returncode == 0 and "acked" in again.stdout

    tail = run(env, "tail", "--json", "--all")
    events = [json.loads(line) for line in tail.stdout.splitlines()]
    assert sorted(e["id"] for e in events) == sorted(d["sessionId"] for d in deliveries)
    assert [e["id"] for e in events].count("xxxxxxxx") == 1
    human = run(env, "tail", "--all")
    assert "xxxxxxxx" in human.stdout and "cpu_usage" in human.stdout
    swept = run(env, "sweep", "--json")
    assert swept.returncode == 0 and json.loads(swept.stdout)["found"] == 0, swept.stderr


def test_bad_json_is_400_quarantined_and_replayable(server: str, env: dict[str, str]) -> None:
    url = f"{server}/callback/{TOKEN}"
    status, payload = http_post(url, b"{not json")
    assert status == 400 and payload["error"] == "invalid_json"
    listed = run(env, "quarantine", "--json")
    [item] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert item["body"] == "{not json" and item["reason"] == "invalid_json"
    # replay keeps what is still bad
    replay = run(env, "replay", "--json")
    assert json.loads(replay.stdout.splitlines()[0])["status"] == 400
    assert len(run(env, "quarantine", "--json").stdout.splitlines()) == 1


def test_wrong_token_and_unknown_route(server: str) -> None:
    status, payload = http_post(f"{server}/callback/wrong", samples.load()["metric"])
    assert status == 401 and payload["error"] == "unauthorized"
    status, payload = http_post(f"{server}/elsewhere", b"{}")
    assert status == 404 and payload["error"] == "not_found"


def test_send_reports_a_missing_ack_after_tencents_resends(env: dict[str, str]) -> None:
    port = free_port()  # nothing listens here
    result = run(env, "send", f"http://127.0.0.1:{port}/callback", "--json", "--timeout", "0.5")
    assert result.returncode == 1
    first = json.loads(result.stdout.splitlines()[0])
    assert first["acked"] is False and len(first["attempts"]) == 4  # 1 try + 3 resends
    assert first["attempts"][0]["error"]


def test_replay_accepts_a_fixed_body(env: dict[str, str], tmp_path: Path) -> None:
    from alarm_callback.backends.sqlite.quarantine import SQLiteQuarantine
    from alarm_callback.core.ports import Quarantined

    SQLiteQuarantine(str(tmp_path / "quarantine.db")).put(
        Quarantined("q1", time.time(), "invalid_json", "was cut", samples.load()["metric"], "asgi")
    )
    replay = run(env, "replay", "--json")
    assert json.loads(replay.stdout) == {"id": "q1", "status": 200, "outcome": "published", "reason": None}
    assert run(env, "quarantine", "--json").stdout == ""
    assert json.loads(run(env, "tail", "--json").stdout)["id"] == "xxxxxxxx"
    sweep = run(env, "sweep", "--json")
    assert json.loads(sweep.stdout) == {"found": 0, "published": 0, "failed": 0, "purged": 0, "undeliverable": 0}


def queued(env: dict[str, str]) -> list[dict[str, Any]]:
    tail = run(env, "tail", "--json", "--all")
    assert tail.returncode == 0, tail.stderr
    return [json.loads(line) for line in tail.stdout.splitlines()]


def post_all(server: str, bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        status, ack = http_post(f"{server}/callback/{TOKEN}", json.dumps(body).encode())
        assert (status, ack) == (200, {"sessionId": body["sessionId"], "retCode": 0})


def test_issue_15_done_when_episodes_over_http(server: str, env: dict[str, str], metric_sample: dict[str, Any]) -> None:
    """Posting to the local server (as `make run` serves it) a firing alarm, two repeat
    notifications (new sessionIds; same policy, object and metric; continuousAlarm) and its
    recovery gives four messages of one episode, sequence 1-4; a second object under the
    same policy gets another episode."""
    bodies = lifecycle_bodies(metric_sample)
    assert {b["alarmPolicyInfo"]["conditions"]["alarmNotifyType"] for b in bodies} == {"continuousAlarm"}
    post_all(server, bodies + lifecycle_bodies(metric_sample, "ins-other", "o")[:2])
    events = queued(env)
    first, other = events[:4], events[4:]
    assert [e["alarmstatus"] for e in first] == ["firing", "firing", "firing", "resolved"]
    assert [e["sequence"] for e in first] == [1, 2, 3, 4]
    assert len({e["episode"] for e in first}) == 1 and first[0]["episode"]
    assert [e["data"]["episode"]["state"] for e in first] == ["open", "open", "open", "closed"]
    assert [e["sequence"] for e in other] == [1, 2]
    assert other[0]["episode"] == other[1]["episode"] != first[0]["episode"]


QUIET_REPEATS = [{"name": "quiet-repeats", "match": {"status": "firing", "sequence": ">2"}, "to": "drop://"}]


@pytest.mark.parametrize("extra_env", [{"ALARM_CALLBACK_ROUTES": json.dumps(QUIET_REPEATS)}])
def test_routes_from_the_environment_over_http(
    server: str, env: dict[str, str], tmp_path: Path, metric_sample: dict[str, Any]
) -> None:
    post_all(server, lifecycle_bodies(metric_sample))
    assert [e["sequence"] for e in queued(env)] == [1, 2, 4]
    lines = [json.loads(line) for line in (tmp_path / "server.log").read_text().splitlines() if line.startswith("{")]
    [dropped] = [line for line in lines if line.get("message") == "routed to drop://"]
    assert (dropped["route"], dropped["dropped"], dropped["dedup_key"]) == ("quiet-repeats", True, "s2")


@pytest.mark.parametrize("extra_env", [{"ALARM_CALLBACK_ROUTES": '[{"match": {"sequence": "3rd"}, "to": "drop://"}]'}])
def test_a_bad_route_stops_the_command_with_one_line(env: dict[str, str]) -> None:
    result = run(env, "sweep")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "alarm-callback: configuration error: ALARM_CALLBACK_ROUTES: ROUTES rule 1 ('rule-1'): match.sequence "
        "must be a number, a list of numbers or a comparison like '>3' (>, >=, <, <=, =)"
    )


def test_serve_runs_on_uvloop_and_httptools() -> None:
    """The `local` extra (uvicorn[standard], in requirements-dev.txt) is the served stack."""
    from alarm_callback.ops.serve import served_stack

    assert served_stack() == ("uvloop", "httptools")
