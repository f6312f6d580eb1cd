"""The example consumers (examples/): each robot's request checked by a local stand-in that
validates it as the vendor documents it and answers like the vendor does, for a firing, a
repeat and a resolved message; the SQS handler's partial batch response; the SCF handler
with a CMQ trigger event.

The messages are real ones: tests/fixtures/messages/ was produced by the project's own
normalize + encode from alarm_callback/samples (see the README there).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import html
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from alarm_callback.consumer import decode
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
MESSAGES = Path(__file__).resolve().parent / "fixtures" / "messages"
sys.path.insert(0, str(EXAMPLES / "robots"))

import robots  # noqa: E402  (examples/robots/robots.py, as the handlers import it)

SECRET = "SEC0123456789abcdef-test-secret"


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


sqs_robot = load_module("sqs_robot", EXAMPLES / "sqs-robot-lambda" / "sqs_robot.py")
cmq_robot = load_module("cmq_robot", EXAMPLES / "cmq-robot-scf" / "cmq_robot.py")


# -- messages ------------------------------------------------------------------------------


def message(name: str) -> dict[str, Any]:
    return json.loads((MESSAGES / f"{name}.json").read_text())  # type: ignore[no-any-return]


def with_episode(body: dict[str, Any], sequence: int, *, where: str = "both") -> dict[str, Any]:
    """The CloudEvents extension attributes the producer adds since schema 1.1 (``episode``,
    ``sequence``) and/or ``data.episode``: the consumer must read them when present."""
    body = copy.deepcopy(body)
    if where in ("both", "extension"):
        body["episode"] = f"{body['fingerprint']}-1"
        body["sequence"] = sequence
    if where in ("both", "data"):
        body["data"]["episode"] = {
            "id": f"{body['fingerprint']}-1",
            "sequence": sequence,
            "opened_at": body["data"]["first_occur_time"],
            "state": "open",
        }
    return body


CASES = {
    "firing": (message("firing"), ["🔥 FIRING", "test", "CPU utilization", "ins-o9p3rg3m", "100%", "> 90%"]),
    "repeat": (with_episode(message("repeat"), 3), ["🔁 REPEAT #3", "test", "CPU utilization", "97.5%", "> 90%"]),
    "resolved": (message("resolved"), ["✅ RESOLVED", "test", "CPU utilization", "ins-o9p3rg3m", "after 50m"]),
}


# -- a stand-in for each robot ------------------------------------------------------------------


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    errors: list[str] = field(default_factory=list)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


ROBOT_PATHS = {
    "wecom": "/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa",
    "dingtalk": "/robot/send?access_token=0123abcd",
    "feishu": "/open-apis/bot/v2/hook/0123-abcd",
    "slack": "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
}


def check_request(kind: str, secret: str, got: Received) -> list[str]:
    """The vendor's documented request, checked independently of examples/robots."""
    errors: list[str] = []
    if not got.headers.get("content-type", "").startswith("application/json"):
        errors.append(f"content-type {got.headers.get('content-type')!r}")
    try:
        body = got.json
    except ValueError:
        return [*errors, "body is not JSON"]
    if not isinstance(body, dict):
        return [*errors, "body is not a JSON object"]
    expected_path = urllib.parse.urlsplit(ROBOT_PATHS[kind]).path
    if got.path != expected_path:
        errors.append(f"path {got.path!r}")
    now = time.time()

    if kind == "wecom":
        # https://developer.work.weixin.qq.com/document/path/91770: markdown, content <= 4096 bytes
        if body.get("msgtype") != "markdown" or set(body) != {"msgtype", "markdown"}:
            errors.append(f"wecom shape {sorted(body)}")
        content = (body.get("markdown") or {}).get("content")
        if not isinstance(content, str) or not content or len(content.encode()) > 4096:
            errors.append("wecom markdown.content missing or over 4096 bytes")
        if got.query.get("key") != ["693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"]:
            errors.append("wecom key lost")
    elif kind == "dingtalk":
        # open.dingtalk.com custom robot: markdown {title, text}; 加签 in the query string
        markdown = body.get("markdown") or {}
        if body.get("msgtype") != "markdown" or not markdown.get("title") or not isinstance(markdown.get("text"), str):
            errors.append(f"dingtalk shape {body}")
        if got.query.get("access_token") != ["0123abcd"]:
            errors.append("dingtalk access_token lost")
        if secret:
            timestamp = (got.query.get("timestamp") or [""])[0]
            sign = (got.query.get("sign") or [""])[0]
            digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
            if not timestamp.isdigit() or abs(int(timestamp) / 1000 - now) > 3600:
                errors.append(f"dingtalk timestamp {timestamp!r} (milliseconds, within an hour)")
            elif sign != base64.b64encode(digest).decode():
                errors.append("dingtalk sign does not match")
        elif "sign" in got.query or "timestamp" in got.query:
            errors.append("dingtalk signed without a secret")
    elif kind == "feishu":
        # open.feishu.cn custom bot: msg_type + content/card; 签名校验 in the body
        msg_type = body.get("msg_type")
        if msg_type == "text":
            if not isinstance((body.get("content") or {}).get("text"), str):
                errors.append("feishu text without content.text")
        elif msg_type == "post":
            post = (body.get("content") or {}).get("post") or {}
            lang: dict[str, Any] = next(iter(post.values()), {}) if post else {}
            rows = lang.get("content")
            if not post or not lang.get("title") or not isinstance(rows, list):
                errors.append("feishu post without content.post.<lang>.title/content")
            elif not all(isinstance(row, list) and all("tag" in item for item in row) for row in rows):
                errors.append("feishu post rows must be lists of tagged elements")
        elif msg_type == "interactive":
            card = body.get("card") or {}
            if not isinstance(card.get("elements"), list) or not card.get("header", {}).get("title", {}).get("content"):
                errors.append("feishu interactive without card.header.title / card.elements")
        else:
            errors.append(f"feishu msg_type {msg_type!r}")
        if secret:
            stamp = body.get("timestamp")
            digest = hmac.new(f"{stamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
            if not isinstance(stamp, str) or not stamp.isdigit() or abs(int(stamp) - now) > 3600:
                errors.append(f"feishu timestamp {stamp!r} (seconds, a string, within an hour)")
            elif body.get("sign") != base64.b64encode(digest).decode():
                errors.append("feishu sign does not match")
        elif "sign" in body or "timestamp" in body:
            errors.append("feishu signed without a secret")
    elif kind == "slack":
        # api.slack.com incoming webhooks: text (fallback) and optional blocks
        if not isinstance(body.get("text"), str) or not body["text"]:
            errors.append("slack text missing")
        for block in body.get("blocks", []):
            text = block.get("text", {})
            if block.get("type") == "header" and (text.get("type") != "plain_text" or len(text.get("text", "")) > 150):
                errors.append("slack header must be plain_text of at most 150 characters")
            if block.get("type") == "section" and len(text.get("text", "")) > 3000:
                errors.append("slack section text over 3000 characters")
    return errors


def vendor_answer(kind: str, errors: list[str]) -> tuple[int, str, str]:
    """Status, content type and body as the vendor answers: HTTP 200 with an error code."""
    if kind == "slack":
        return (200, "text/plain", "ok") if not errors else (400, "text/plain", "invalid_payload")
    if kind == "feishu":
        if not errors:
            return 200, "application/json", json.dumps({"code": 0, "msg": "success", "data": {}})
        code = 19021 if any("sign" in e or "timestamp" in e for e in errors) else 9499
        return 200, "application/json", json.dumps({"code": code, "msg": "; ".join(errors), "data": {}})
    if not errors:
        return 200, "application/json", json.dumps({"errcode": 0, "errmsg": "ok"})
    code = 310000 if kind == "dingtalk" else 40058
    return 200, "application/json", json.dumps({"errcode": code, "errmsg": "; ".join(errors)})


class RobotServer:
    def __init__(self, kind: str, secret: str = "") -> None:
        self.kind = kind
        self.secret = secret
        self.received: list[Received] = []
        self.delay = 0.0
        self.status_override: int | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                split = urllib.parse.urlsplit(self.path)
                got = Received(
                    path=split.path,
                    query=urllib.parse.parse_qs(split.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(int(self.headers.get("Content-Length") or 0)),
                )
                got.errors = check_request(server.kind, server.secret, got)
                server.received.append(got)
                time.sleep(server.delay)
                status, content_type, answer = vendor_answer(server.kind, got.errors)
                if server.status_override is not None:
                    status, answer = server.status_override, "upstream trouble"
                payload = answer.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out first
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{ROBOT_PATHS[kind]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def texts(self) -> str:
        """Everything the robot would show, for content assertions."""
        return "\n".join(r.body.decode() for r in self.received)


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[RobotServer] = []

    def start(kind: str, secret: str = "") -> RobotServer:
        server = RobotServer(kind, secret)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def robot_for(server: RobotServer, secret: str | None = None, fmt: str = "", timeout: float = 5.0) -> robots.Robot:
    return robots.Robot(
        kind=server.kind,
        url=server.url,
        secret=server.secret if secret is None else secret,
        format=fmt,
        timeout=timeout,
    )


def shown(server: RobotServer) -> str:
    """The text of the last request as a person would read it (JSON and Slack's &gt; unescaped)."""
    return html.unescape(json.dumps(server.received[-1].json, ensure_ascii=False))


# -- every robot, every kind of message ---------------------------------------------------------

VARIANTS = [
    ("wecom", "", ""),
    ("dingtalk", "", ""),
    ("dingtalk", SECRET, ""),
    ("feishu", "", "interactive"),
    ("feishu", SECRET, "interactive"),
    ("feishu", SECRET, "post"),
    ("feishu", "", "text"),
    ("slack", "", "blocks"),
    ("slack", "", "text"),
]


@pytest.mark.parametrize(
    ("kind", "secret", "fmt"),
    VARIANTS,
    ids=[f"{k}-{'signed' if s else 'plain'}-{f or 'default'}" for k, s, f in VARIANTS],
)
@pytest.mark.parametrize("case", list(CASES))
def test_robot_request_matches_the_vendor_format(serve: Any, kind: str, secret: str, fmt: str, case: str) -> None:
    server = serve(kind, secret)
    body, expected = CASES[case]
    assert robots.notify(robot_for(server, fmt=fmt), json.dumps(body)) == "sent"
    assert len(server.received) == 1
    assert server.received[0].errors == []
    text = shown(server)
    for part in expected:
        assert part in text, f"{part!r} missing from {text}"


@pytest.mark.parametrize(("kind", "fmt"), [("dingtalk", ""), ("feishu", "interactive")])
def test_a_wrong_secret_is_refused_and_reported(serve: Any, kind: str, fmt: str) -> None:
    server = serve(kind, SECRET)
    with pytest.raises(robots.RobotError, match=r"error (310000|19021)"):
        robots.notify(robot_for(server, secret="SECwrong", fmt=fmt), json.dumps(message("firing")))
    assert server.received[0].errors  # the stand-in did check, and refused


def test_http_errors_and_timeouts_are_failures(serve: Any) -> None:
    server = serve("wecom")
    server.status_override = 502
    with pytest.raises(robots.RobotError, match="HTTP 502"):
        robots.notify(robot_for(server), json.dumps(message("firing")))
    server.status_override = None
    server.delay = 1.0
    with pytest.raises(robots.RobotError, match="timed out"):
        robots.notify(robot_for(server, timeout=0.3), json.dumps(message("firing")))


def test_a_refused_slack_payload_is_a_failure() -> None:
    with pytest.raises(robots.RobotError, match="invalid_payload"):
        robots.check_response("slack", 400, "invalid_payload")


# -- the template ----------------------------------------------------------------------------


def summary_of(body: dict[str, Any]) -> robots.Summary:
    event, raw = robots.load(json.dumps(body))
    return robots.summarize(event, raw)


@pytest.mark.parametrize("where", ["both", "extension", "data"])
def test_repeat_number_comes_from_either_episode_attribute(where: str) -> None:
    summary = summary_of(with_episode(message("repeat"), 4, where=where))
    assert summary.state == "repeat"
    assert summary.title.startswith("🔁 REPEAT #4 test · CPU utilization on ins-o9p3rg3m")


def test_without_episode_attributes_a_later_notification_is_plain_firing() -> None:
    summary = summary_of(message("repeat"))
    assert summary.state == "firing"
    assert summary.title == "🔥 FIRING test · CPU utilization on ins-o9p3rg3m: 97.5% (> 90%)"
    assert ("Firing for", "13m20s") in summary.facts
    # sequence 1 is the episode's first notification: FIRING, not REPEAT #1
    assert summary_of(with_episode(message("firing"), 1)).state == "firing"


def test_unknown_extension_attributes_do_not_break_an_older_decode() -> None:
    body = with_episode(message("repeat"), 2)
    assert decode(body).sequence == 2  # schema 1.1 knows them
    body["futureattr"] = "from a newer producer"
    assert decode(body).id == "sess-repeat-0002"  # decode drops extensions it does not know
    event, raw = robots.load(json.dumps(body))
    assert event.id == "sess-repeat-0002" and raw["sequence"] == 2


def test_resolved_duration_falls_back_to_recover_minus_first_occur() -> None:
    body = message("resolved")
    body["data"]["duration_seconds"] = None
    assert summary_of(body).title.endswith("after 50m")  # 23:50 - 23:00
    body["data"]["recover_time"] = None
    assert summary_of(body).title == "✅ RESOLVED test · CPU utilization on ins-o9p3rg3m"


def test_event_alarm_names_the_event() -> None:
    summary = summary_of(message("event-firing"))
    assert summary.title == "🔥 FIRING teset · ping unreachable on ins-pftdvqa2"


def test_wecom_markdown_is_cut_to_4096_bytes() -> None:
    summary = robots.Summary(state="firing", title="🔥 " + "告警" * 3000)
    content = robots.wecom_payload(summary)["markdown"]["content"]
    assert len(content.encode()) <= 4096


def test_settings_are_checked() -> None:
    env = {"ROBOT_KIND": "lark", "ROBOT_URL": "https://open.feishu.cn/open-apis/bot/v2/hook/x", "ROBOT_FORMAT": "post"}
    assert robots.Robot.from_env(env).kind == "feishu"
    with pytest.raises(ValueError, match="ROBOT_KIND"):
        robots.Robot.from_env({"ROBOT_KIND": "teams", "ROBOT_URL": "https://x"})
    with pytest.raises(ValueError, match="ROBOT_URL"):
        robots.Robot.from_env({"ROBOT_KIND": "slack", "ROBOT_URL": ""})
    with pytest.raises(ValueError, match="ROBOT_FORMAT"):
        robots.Robot.from_env({"ROBOT_KIND": "wecom", "ROBOT_URL": "https://x", "ROBOT_FORMAT": "post"})


def test_not_an_alarm_is_a_bad_message() -> None:
    for body in ("{not json", "[1, 2]", json.dumps({"specversion": "1.0", "id": "x"})):
        with pytest.raises(robots.BadMessage):
            robots.load(body)


# -- the SQS Lambda ------------------------------------------------------------------------------


@pytest.fixture
def lambda_robot(serve: Any, monkeypatch: pytest.MonkeyPatch) -> RobotServer:
    server: RobotServer = serve("dingtalk", SECRET)
    monkeypatch.setenv("ROBOT_KIND", "dingtalk")
    monkeypatch.setenv("ROBOT_URL", server.url)
    monkeypatch.setenv("ROBOT_SECRET", SECRET)
    for module in (sqs_robot, cmq_robot):
        monkeypatch.setattr(module, "_robot", None)
        monkeypatch.setattr(module, "_recent", robots.RecentIds())
    return server


def sqs_record(message_id: str, body: str, queue: str = "alarms") -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
        "messageAttributes": {"status": {"stringValue": "firing", "dataType": "String"}},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:ap-east-1:123456789012:{queue}",
        "awsRegion": "ap-east-1",
    }


def test_sqs_batch_reports_only_the_failed_records(lambda_robot: RobotServer) -> None:
    event = {
        "Records": [
            sqs_record("m-1", json.dumps(message("firing"))),
            sqs_record("m-2", "{not json"),
            sqs_record("m-3", json.dumps(with_episode(message("repeat"), 2))),
            sqs_record("m-4", json.dumps({"specversion": "1.0", "id": "no-data"})),
            sqs_record("m-5", json.dumps(message("resolved"))),
        ]
    }
    assert sqs_robot.handler(event, None) == {
        "batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-4"}]
    }
    assert [r.errors for r in lambda_robot.received] == [[], [], []]
    assert "🔥 FIRING" in lambda_robot.texts() and "REPEAT #2" in lambda_robot.texts()
    assert "✅ RESOLVED" in lambda_robot.texts()


def test_sqs_robot_down_fails_the_records_for_redelivery(lambda_robot: RobotServer) -> None:
    lambda_robot.status_override = 503
    event = {
        "Records": [
            sqs_record("m-1", json.dumps(message("firing"))),
            sqs_record("m-2", json.dumps(message("resolved"))),
        ]
    }
    assert sqs_robot.handler(event) == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]}
    lambda_robot.status_override = None
    assert sqs_robot.handler(event) == {"batchItemFailures": []}  # the redelivery goes through


def test_sqs_all_good_and_a_repeated_id_is_posted_once(lambda_robot: RobotServer) -> None:
    body = json.dumps(message("firing"))
    event = {"Records": [sqs_record("m-1", body), sqs_record("m-2", body)]}  # at-least-once: same event twice
    assert sqs_robot.handler(event) == {"batchItemFailures": []}
    assert len(lambda_robot.received) == 1


def test_sqs_body_from_an_sns_subscription_without_raw_delivery(lambda_robot: RobotServer) -> None:
    envelope = {"Type": "Notification", "MessageId": "sns-1", "Message": json.dumps(message("resolved"))}
    assert sqs_robot.handler({"Records": [sqs_record("m-1", json.dumps(envelope))]}) == {"batchItemFailures": []}
    assert "✅ RESOLVED" in lambda_robot.texts()


def test_sqs_fifo_stops_at_the_first_failure_to_keep_order(lambda_robot: RobotServer) -> None:
    event = {
        "Records": [
            sqs_record("m-1", json.dumps(message("firing")), "alarms.fifo"),
            sqs_record("m-2", "{not json", "alarms.fifo"),
            sqs_record("m-3", json.dumps(message("resolved")), "alarms.fifo"),
        ]
    }
    assert sqs_robot.handler(event) == {"batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-3"}]}
    assert len(lambda_robot.received) == 1


# -- the SCF function ------------------------------------------------------------------------------


def cmq_record(msg_id: str, body: str, tags: Any) -> dict[str, Any]:
    """Tencent's CMQ trigger record (SCF trigger event structure)."""
    return {
        "CMQ": {
            "type": "topic",
            "topicOwner": 1250000000,
            "topicName": "alarms",
            "subscriptionName": "robot",
            "publishTime": "2026-11-28T12:18:30.000Z",
            "msgId": msg_id,
            "requestId": f"req-{msg_id}",
            "msgBody": body,
            "msgTag": tags,
        }
    }


def test_scf_cmq_event_posts_every_record(lambda_robot: RobotServer) -> None:
    event = {
        "Records": [
            cmq_record("c-1", json.dumps(message("firing")), ["firing", "metric", "firing.metric"]),
            cmq_record("c-2", json.dumps(message("resolved")), "resolved,metric,resolved.metric"),
        ]
    }
    assert cmq_robot.main_handler(event, None) == {"records": 2, "sent": 2, "duplicate": 0}
    assert [r.errors for r in lambda_robot.received] == [[], []]
    assert "🔥 FIRING" in lambda_robot.texts() and "✅ RESOLVED" in lambda_robot.texts()


def test_scf_failure_raises_after_posting_the_rest(lambda_robot: RobotServer) -> None:
    event = {
        "Records": [
            cmq_record("c-1", "{not json", []),
            cmq_record("c-2", json.dumps(message("event-firing")), ["firing"]),
        ]
    }
    with pytest.raises(cmq_robot.DeliveryFailed, match="1 of 2 messages not posted: c-1"):
        cmq_robot.main_handler(event, None)
    assert "ping unreachable" in lambda_robot.texts()


def test_scf_robot_down_raises_so_scf_retries(lambda_robot: RobotServer) -> None:
    lambda_robot.status_override = 500
    with pytest.raises(cmq_robot.DeliveryFailed):
        cmq_robot.main_handler({"Records": [cmq_record("c-1", json.dumps(message("firing")), [])]}, None)


# -- packaging --------------------------------------------------------------------------------


package_py = load_module("examples_package", EXAMPLES / "package.py")


@pytest.mark.parametrize(("example", "entry"), [("sqs-robot-lambda", "sqs_robot"), ("cmq-robot-scf", "cmq_robot")])
def test_package_carries_one_copy_of_the_robot_code(tmp_path: Path, example: str, entry: str) -> None:
    tree = tmp_path / "src"
    archive = package_py.build(example, tree, deps=False)
    names = set(zipfile.ZipFile(archive).namelist())
    assert {f"{entry}.py", "robots.py", "alarm_callback/consumer/__init__.py"} <= names
    assert (tree / "robots.py").read_bytes() == (EXAMPLES / "robots" / "robots.py").read_bytes()
    # Imported from the package, the handler finds robots.py and alarm_callback beside it.
    probe = f"import {entry}, robots, alarm_callback; print({entry}.robots.__file__); print(alarm_callback.__file__)"
    found = subprocess.run([sys.executable, "-c", probe], cwd=tree, capture_output=True, text=True, check=True)
    assert found.stdout.split() == [str(tree / "robots.py"), str(tree / "alarm_callback" / "__init__.py")]


@pytest.mark.integration
def test_sqs_example_serverless_package_and_cfn_lint(tmp_path: Path) -> None:
    """`serverless package` (v3, the project's pinned one) accepts serverless.yml and the
    CloudFormation it writes passes cfn-lint, with the partial batch response turned on."""
    serverless = ROOT / "node_modules" / ".bin" / "serverless"
    if not serverless.exists():
        message = f"{serverless} is missing (npm ci)"
        if IN_CI:
            pytest.fail(message + "; CI=true, so integration tests may not skip")
        pytest.skip(message)
    service = tmp_path / "service"
    service.mkdir()
    shutil.copy2(EXAMPLES / "sqs-robot-lambda" / "serverless.yml", service / "serverless.yml")
    package_py.build("sqs-robot-lambda", service / "build" / "src", deps=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        SLS_TELEMETRY_DISABLED="1",
        SLS_NOTIFICATIONS_MODE="off",
        CI="true",
    )
    done = subprocess.run(
        [str(serverless), "package", "--stage", "prod"],
        cwd=service,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    template_path = service / ".serverless" / "cloudformation-template-update-stack.json"
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(template_path)], capture_output=True, text=True
    )
    assert lint.returncode & 2 == 0, lint.stdout + lint.stderr  # cfn-lint's bit 2: errors
    resources = json.loads(template_path.read_text())["Resources"]
    mapping = next(r for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping")
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    function = resources["RobotLambdaFunction"]["Properties"]
    assert function["Handler"] == "sqs_robot.handler" and function["Runtime"] == "python3.12"
    assert resources["RobotQueue"]["Properties"]["VisibilityTimeout"] >= 6 * function["Timeout"]
    assert resources["RobotSubscription"]["Properties"]["RawMessageDelivery"] is True
