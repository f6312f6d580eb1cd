"""The command line (issue 13): serve, tail, settings errors, quarantine delete/purge,
replay of platform envelopes, the README's example message, and the Makefile's help and
smoke targets against the real local server."""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from alarm_callback import samples
from alarm_callback.core.ports import Quarantined
from alarm_callback.ops.example import example_message
from tests.conftest import IN_CI, free_port, local_env

ROOT = Path(__file__).resolve().parent.parent
_SCRIPT = Path(sys.executable).parent / "alarm-callback"
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "alarm_callback"]
TOKEN = "cli-" + "f" * 20


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return local_env(tmp_path / ".data", TOKEN)


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """`alarm-callback serve` on a free port, on a temporary .data directory."""
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1):
                    break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    pytest.fail("server did not start:\n" + log_path.read_text())
                time.sleep(0.1)
        try:
            yield base
        finally:
            proc.terminate()
            proc.wait(10)
    banner = log_path.read_text()
    assert TOKEN not in banner and "/callback/***" in banner


# -- make ------------------------------------------------------------------------------------


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("make") is None:
        if IN_CI:
            pytest.fail("make is not installed; CI=true, so these tests may not skip")
        pytest.skip("make is not installed")
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_make_smoke_posts_every_sample_to_the_local_server(server: str, env: dict[str, str]) -> None:
    cli = " ".join(CLI)
    ok = _make("smoke", f"URL={server}/callback/{TOKEN}", "SMOKE_PREREQS=", f"SMOKE_CLI={cli}")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"{len(samples.load())} acked, 0 not acked" in ok.stdout
    bad = _make("smoke", f"URL={server}/callback/wrong-token-0123456789", "SMOKE_PREREQS=", f"SMOKE_CLI={cli}")
    assert bad.returncode != 0 and "NOT ACKED" in bad.stdout and "HTTP 401" in bad.stdout
    assert _make("smoke", "SMOKE_PREREQS=").returncode != 0  # no URL: a clear refusal


def test_make_help_lists_every_target() -> None:
    listed = _make("help").stdout
    phony = set()
    for path in [ROOT / "Makefile", *sorted((ROOT / "mk").glob("*.mk"))]:
        for line in path.read_text().splitlines():
            if line.startswith(".PHONY:"):
                phony.update(line.split(":", 1)[1].split())
    shown = set(re.findall(r"^  make (\S+)", listed, re.M))
    assert phony <= shown and {"smoke", "clean-data", "run"} <= shown
    clean = _make("-n", "clean").stdout
    assert ".data" not in clean and "rm -rf .venv build .serverless node_modules" in clean


# -- serve -----------------------------------------------------------------------------------


def test_serve_help_shows_defaults(env: dict[str, str]) -> None:
    text = run(env, "serve", "--help").stdout
    assert "(default: 8080)" in text and "(default: 127.0.0.1)" in text


def test_busy_port_is_one_line_and_exit_1(env: dict[str, str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(env, "serve", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "cannot listen" in result.stderr
    assert "listening" not in result.stderr + result.stdout


def test_serve_applies_the_token_rules_to_a_set_token(env: dict[str, str]) -> None:
    result = run({**env, "ALARM_CALLBACK_TOKEN": "callback"}, "serve", "--port", str(free_port()))
    assert result.returncode == 2 and "segment of the route" in result.stderr


# -- tail and settings -----------------------------------------------------------------------


def test_tail_shows_the_newest_and_names_its_file(server: str, env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "send", f"{server}/callback/{TOKEN}").returncode == 0
    everything = [json.loads(line)["id"] for line in run(env, "tail", "--all", "--json").stdout.splitlines()]
    assert len(everything) == len(samples.load())
    newest = run(env, "tail", "-n", "3", "--json")
    assert [json.loads(line)["id"] for line in newest.stdout.splitlines()] == everything[-3:]
    assert f"reading {tmp_path}/.data/queue.db" in newest.stderr
    assert len(run(env, "tail").stdout.splitlines()) == 20
    piped = subprocess.run(
        f"{' '.join(CLI)} tail --all | head -1", shell=True, env=env, capture_output=True, text=True, timeout=60
    )
    assert piped.stdout.count("\n") == 1 and "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr


def test_tail_refuses_a_missing_queue_file(env: dict[str, str], tmp_path: Path) -> None:
    result = run(env, "tail")
    assert result.returncode == 2 and "no queue file" in result.stderr
    assert not (tmp_path / ".data" / "queue.db").exists()


def test_bad_setting_is_one_line_naming_the_variable(env: dict[str, str]) -> None:
    result = run({**env, "ALARM_CALLBACK_MAX_BODY_BYTES": "500"}, "tail")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert "ALARM_CALLBACK_MAX_BODY_BYTES=500" in line and "1024" in line


# -- quarantine and replay -------------------------------------------------------------------


def _quarantine(tmp_path: Path, *items: Quarantined) -> None:
    from alarm_callback.backends.sqlite.quarantine import SQLiteQuarantine

    store = SQLiteQuarantine(str(tmp_path / ".data" / "quarantine.db"))
    for item in items:
        store.put(item)


def test_quarantine_json_delete_and_purge(env: dict[str, str], tmp_path: Path) -> None:
    metric = samples.load()["metric"]
    now = time.time()
    _quarantine(
        tmp_path,
        Quarantined("old", now - 8 * 86400, "invalid_json", "x", b"{", "asgi"),
        Quarantined("cut", now, "body_too_large", "too big", metric[:100], "asgi", truncated=True),
        Quarantined("gone", now, "invalid_json", "x", b"{", "asgi"),
    )
    items = [json.loads(line) for line in run(env, "quarantine", "--json").stdout.splitlines()]
    assert [i["id"] for i in items] == ["old", "cut", "gone"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", i["received_at"]) for i in items)
    assert "truncated to 100 bytes" in run(env, "quarantine").stdout

    deleted = run(env, "quarantine", "delete", "gone", "--json")
    assert deleted.returncode == 0 and json.loads(deleted.stdout) == {"id": "gone", "deleted": True}
    assert run(env, "quarantine", "delete", "nope").returncode == 1
    purged = run(env, "quarantine", "purge", "--older-than", "7d", "--json")
    assert json.loads(purged.stdout)["purged"] == 1
    assert [json.loads(line)["id"] for line in run(env, "quarantine", "--json").stdout.splitlines()] == ["cut"]

    replay = run(env, "replay", "--json")
    assert json.loads(replay.stdout) == {
        "id": "cut",
        "status": None,
        "outcome": "kept",
        "reason": "truncated: only the first 100 bytes were kept",
    }


def test_replay_unwraps_quarantined_platform_envelopes(env: dict[str, str], tmp_path: Path) -> None:
    bodies = samples.load()
    names = sorted(bodies)[:2]
    encoded = {"body": base64.b64encode(bodies[names[0]]).decode(), "isBase64Encoded": True, "weird": 1}
    plain = {"body": bodies[names[1]].decode(), "isBase64Encoded": False, "requestContext": {"x": 1}}
    _quarantine(
        tmp_path,
        Quarantined("env1", time.time(), "unknown_event", "no adapter", json.dumps(encoded).encode(), "aws-entry"),
        Quarantined("env2", time.time(), "bad_event", "unreadable", json.dumps(plain).encode(), "scf-api"),
        Quarantined("env3", time.time(), "unknown_event", "no adapter", b'{"nobody": 1}', "aws-entry"),
    )
    results = {r["id"]: r for r in map(json.loads, run(env, "replay", "--json").stdout.splitlines())}
    assert results["env1"]["status"] == 200 and results["env2"]["status"] == 200
    assert results["env3"] == {
        "id": "env3",
        "status": None,
        "outcome": "kept",
        "reason": "platform event has no body field",
    }
    published = {json.loads(line)["id"] for line in run(env, "tail", "--all", "--json").stdout.splitlines()}
    assert published == {json.loads(bodies[n])["sessionId"] for n in names}


# -- README ----------------------------------------------------------------------------------


def test_readme_example_message_is_the_generated_one(env: dict[str, str]) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## The message consumers get") :]
    block = section[section.index("```json\n") + len("```json\n") :]
    block = block[: block.index("```")]
    assert block == example_message() + "\n"
    assert run(env, "example-message").stdout == block
