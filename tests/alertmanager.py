"""A real Prometheus Alertmanager for tests, with a webhook receiver that records what it sends.

    with running(resolve_timeout="3s") as am:
        am.post_alerts([make_alert("DiskFull", {"instance": "ins-1"})])
        am.wait_for(lambda: am.find_notification("firing", alertname="DiskFull"))

Each `Alertmanager` runs the binary of the Debian package ``prometheus-alertmanager``
(``.ci/alertmanager.sh`` installs it) on a free port of 127.0.0.1, with its own temporary
storage dir, clustering off, and a config whose only receiver is a local webhook (an
http.server thread on another free port) that records every notification body. The
timings are short so a test sees a notification within about a second.

`stop()` / `start()` take Alertmanager down and bring it back on the same port and storage
dir (to test a publisher against an outage). Alertmanager keeps alerts in memory only: after
a restart the alerts are gone until clients send them again; silences and the notification
log survive in the storage dir.

No binary: `require_binary()` skips the test locally and fails it under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.conftest import IN_CI, free_port

T = TypeVar("T")

BINARY_NAMES = ("alertmanager", "prometheus-alertmanager")
DEBIAN_BINARY = "/usr/bin/prometheus-alertmanager"
WEBHOOK_PATH = "/alertmanager-webhook"


def find_binary() -> str | None:
    """$ALERTMANAGER_BIN, else `alertmanager` / `prometheus-alertmanager` on PATH, else Debian's path."""
    configured = os.environ.get("ALERTMANAGER_BIN")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in BINARY_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return DEBIAN_BINARY if os.access(DEBIAN_BINARY, os.X_OK) else None


def require_binary() -> str:
    """The binary, or skip (locally) / fail (CI=true), as tests/conftest.py's require_server does for servers."""
    binary = find_binary()
    if binary:
        return binary
    message = "Alertmanager is not installed (run .ci/alertmanager.sh, or set ALERTMANAGER_BIN)"
    if IN_CI:
        pytest.fail(message + "; CI=true, so integration tests may not skip")
    pytest.skip(message)


def rfc3339(moment: datetime | None = None) -> str:
    """UTC, millisecond precision, ``Z`` suffix: what Alertmanager's API takes and returns."""
    moment = (moment or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(value: str) -> datetime:
    """An RFC 3339 time from Alertmanager (``Z``, up to nanoseconds) as an aware datetime."""
    match = re.fullmatch(r"(.+?T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", value)
    if not match:
        raise ValueError(f"not an RFC 3339 time: {value!r}")
    whole, fraction, zone = match.groups()
    micros = (fraction or "").ljust(6, "0")[:6]
    return datetime.fromisoformat(f"{whole}.{micros}{'+00:00' if zone == 'Z' else zone}")


def make_alert(
    alertname: str,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    *,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    generator_url: str | None = None,
) -> dict[str, Any]:
    """One postable alert (API v2): labels identify it, everything else is optional."""
    alert: dict[str, Any] = {"labels": {"alertname": alertname, **(labels or {})}}
    if annotations:
        alert["annotations"] = dict(annotations)
    if starts_at is not None:
        alert["startsAt"] = rfc3339(starts_at)
    if ends_at is not None:
        alert["endsAt"] = rfc3339(ends_at)
    if generator_url is not None:
        alert["generatorURL"] = generator_url
    return alert


def labels_match(labels: dict[str, str], wanted: dict[str, str]) -> bool:
    return all(labels.get(name) == value for name, value in wanted.items())


class WebhookRecorder:
    """An http.server thread that answers 200 to every POST and keeps the JSON bodies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bodies: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"unparsable": raw.decode("utf-8", "replace")}
                with recorder._lock:
                    recorder._bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="am-webhook", daemon=True
        )
        self._thread.start()

    @property
    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._bodies)

    def clear(self) -> None:
        with self._lock:
            self._bodies.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def config_yaml(
    webhook_url: str,
    *,
    group_wait: str,
    group_interval: str,
    repeat_interval: str,
    resolve_timeout: str,
    group_by: tuple[str, ...],
) -> str:
    # JSON is YAML: no YAML library needed, and no quoting surprises.
    config = {
        "global": {"resolve_timeout": resolve_timeout},
        "route": {
            "receiver": "recorder",
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [
            {
                "name": "recorder",
                "webhook_configs": [{"url": webhook_url, "send_resolved": True, "max_alerts": 0}],
            }
        ],
    }
    return json.dumps(config, indent=2) + "\n"


class Alertmanager:
    """One Alertmanager process plus its recording webhook. Use `running()` to get one."""

    def __init__(
        self,
        binary: str,
        workdir: Path,
        *,
        group_wait: str = "0s",
        group_interval: str = "1s",
        repeat_interval: str = "1h",
        resolve_timeout: str = "5m",
        group_by: tuple[str, ...] = ("...",),
        ready_timeout: float = 20.0,
    ) -> None:
        self.binary = binary
        self.workdir = workdir
        self.storage = workdir / "data"
        self.storage.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "alertmanager.log"
        self.ready_timeout = ready_timeout
        self.webhook = WebhookRecorder()
        self.config_path = workdir / "alertmanager.yml"
        self.config_path.write_text(
            config_yaml(
                self.webhook.url,
                group_wait=group_wait,
                group_interval=group_interval,
                repeat_interval=repeat_interval,
                resolve_timeout=resolve_timeout,
                group_by=group_by,
            )
        )
        self.host = "127.0.0.1"
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        """``HOST:PORT``, as in an ``alertmanager://HOST:PORT`` publisher URL."""
        return f"{self.host}:{self.port}"

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start (again) on the same port and storage dir, and wait until /-/ready answers 200."""
        if self.is_running:
            return
        command = [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.path={self.storage}",
            f"--web.listen-address={self.address}",
            "--cluster.listen-address=",  # no gossip port: instances must not meet each other
            "--log.level=debug",
        ]
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"alertmanager exited with {self._process.returncode}:\n{self.log_tail()}")
            if self._ready():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"alertmanager not ready on {self.url} after {self.ready_timeout}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the process (SIGTERM, then SIGKILL) and wait until the port is closed."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)

    def close(self) -> None:
        self.stop()
        self.webhook.close()

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1.0) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- API v2 ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None, timeout: float = 5.0) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise AssertionError(f"{method} {path} -> HTTP {exc.code}: {detail}") from exc
        return json.loads(payload) if payload.strip() else None

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """POST /api/v2/alerts (a JSON array of postable alerts); raises on anything but 200."""
        self._request("POST", "/api/v2/alerts", alerts)

    def alerts(self, *filters: str, active: bool = True, silenced: bool = True, inhibited: bool = True) -> list[Any]:
        """GET /api/v2/alerts: the alerts Alertmanager holds that have not ended.
        `filters` are matchers such as ``'alertname="DiskFull"'``."""
        query = [
            ("active", str(active).lower()),
            ("silenced", str(silenced).lower()),
            ("inhibited", str(inhibited).lower()),
        ]
        query += [("filter", matcher) for matcher in filters]
        result = self._request("GET", "/api/v2/alerts?" + urllib.parse.urlencode(query))
        return list(result or [])

    def find_alert(self, **labels: str) -> dict[str, Any] | None:
        """The first held alert whose labels include `labels`."""
        return next((a for a in self.alerts() if labels_match(a.get("labels", {}), labels)), None)

    # -- the webhook -------------------------------------------------------------------------

    @property
    def notifications(self) -> list[dict[str, Any]]:
        """Every webhook body received so far (version 4 payload), oldest first."""
        return self.webhook.bodies

    def clear_notifications(self) -> None:
        self.webhook.clear()

    def find_notification(self, status: str, **labels: str) -> dict[str, Any] | None:
        """The latest notified alert (an element of a body's ``alerts``) with this status
        (``firing``/``resolved``) whose labels include `labels`."""
        for body in reversed(self.notifications):
            for alert in body.get("alerts", []):
                if alert.get("status") == status and labels_match(alert.get("labels", {}), labels):
                    return dict(alert)
        return None

    # -- waiting -----------------------------------------------------------------------------

    @staticmethod
    def wait_for(
        predicate: Callable[[], T | None],
        timeout: float = 10.0,
        interval: float = 0.1,
        message: str = "condition",
    ) -> T:
        """Call `predicate` until it returns something truthy, and return that; fail after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {message}")
            time.sleep(interval)


@contextmanager
def running(binary: str | None = None, **options: Any) -> Iterator[Alertmanager]:
    """A started Alertmanager (see `Alertmanager` for the options); stopped and its temp dir
    removed on exit. Without `binary`, `require_binary()` finds it or skips/fails the test."""
    workdir = Path(tempfile.mkdtemp(prefix="alertmanager-"))
    instance = Alertmanager(binary or require_binary(), workdir, **options)
    try:
        instance.start()
        yield instance
    finally:
        instance.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def alertmanager() -> Iterator[Alertmanager]:
    """An Alertmanager with the default test timings. Use it from a test module with
    ``from tests.alertmanager import alertmanager`` or wrap `running(...)` in your own fixture."""
    with running() as instance:
        yield instance
