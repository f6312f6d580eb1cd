"""The real tooling: `serverless package` + cfn-lint on what it produced, the Lambda
artifact's contents, and `serverless offline` running the real handler against moto."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alarm_callback.backends.aws.dynamodb import table_definition
from alarm_callback.core.identity import dedup_key
from tests.conftest import IN_CI, free_port
from tests.test_aws_backends import REGION
from tests.test_aws_moto_server import ACCOUNT, Deployment, MotoServer, deployment, moto_server  # noqa: F401

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
SERVERLESS = ROOT / "node_modules" / ".bin" / "serverless"
ARTIFACT = ROOT / "build" / "aws" / "alarm-callback.zip"
TOKEN = "offline-t0k-0123456789"


def require(condition: bool, message: str) -> None:
    """Skip locally, fail under CI=true (conftest's rule for servers, applied to tools)."""
    if condition:
        return
    if IN_CI:
        pytest.fail(message + "; CI=true, so integration tests may not skip")
    pytest.skip(message)


def tool_env(**extra: str) -> dict[str, str]:
    """Dummy credentials, no telemetry or prompts, nothing from a real AWS profile."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ALARM_CALLBACK_"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        SLS_TELEMETRY_DISABLED="1",
        SLS_NOTIFICATIONS_MODE="off",
        SLS_INTERACTIVE_SETUP_DISABLE="1",
        CI="true",  # Serverless: never prompt
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def artifact() -> Path:
    """The deployment zip (`make aws-artifact`, a `make test` prerequisite; built here if missing)."""
    if not ARTIFACT.exists():
        built = subprocess.run(["make", "-s", "aws-artifact"], cwd=ROOT, capture_output=True, text=True, timeout=600)
        require(built.returncode == 0, f"`make aws-artifact` failed: {built.stderr[-2000:]}")
    return ARTIFACT


@pytest.fixture(scope="module")
def packaged(artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    require(SERVERLESS.exists(), "node_modules/.bin/serverless is missing (run `npm ci`)")
    out = tmp_path_factory.mktemp("serverless-package")
    run = subprocess.run(
        [str(SERVERLESS), "package", "--stage", "prod", "--region", "eu-west-1", "--package", str(out)],
        cwd=ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    template = out / "cloudformation-template-update-stack.json"
    return {"path": template, "template": json.loads(template.read_text())}


def resources_of(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_cfn_lint_reports_no_errors(packaged: dict[str, Any]) -> None:
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(packaged["path"])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in lint.stdout.splitlines() if line[:1] == "E"]
    # cfn-lint's exit code is a bit mask: 2 = errors (4 = warnings, 8 = informational).
    assert not lint.returncode & 2 and not errors, lint.stdout + lint.stderr


def test_functions_routes_and_schedule(packaged: dict[str, Any]) -> None:
    template = packaged["template"]
    functions = resources_of(template, "AWS::Lambda::Function")
    assert {f["Properties"]["Handler"] for f in functions.values()} == {
        "handler.lambda_handler",
        "handler.sweep_handler",
    }
    for function in functions.values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.12" and props["Architectures"] == ["x86_64"]
        assert props["Code"]["S3Key"].endswith("/alarm-callback.zip")
        env = props["Environment"]["Variables"]
        assert env["ALARM_CALLBACK_TOKEN"] == "{{resolve:ssm:/alarm-callback/prod/token}}"
        table_url = {"Fn::Join": ["", ["dynamodb://", {"Ref": "OutboxTable"}]]}
        assert env["ALARM_CALLBACK_STORE_URL"] == env["ALARM_CALLBACK_QUARANTINE_URL"] == table_url
        assert env["ALARM_CALLBACK_MAX_BODY_BYTES"] == "122880"
    routes = {r["Properties"]["RouteKey"] for r in resources_of(template, "AWS::ApiGatewayV2::Route").values()}
    assert routes == {"POST /callback/{token}", "POST /callback"}
    [rule] = resources_of(template, "AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 minute)"


def test_table_matches_the_store_layout(packaged: dict[str, Any]) -> None:
    [table] = resources_of(packaged["template"], "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    expected = table_definition(props["TableName"])
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    for field in ("KeySchema", "GlobalSecondaryIndexes"):
        assert props[field] == expected[field]
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(expected["AttributeDefinitions"], key=str)
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}


def test_queue_has_a_dead_letter_queue_and_iam_is_least_privilege(packaged: dict[str, Any]) -> None:
    template = packaged["template"]
    queues = resources_of(template, "AWS::SQS::Queue")
    redrive = queues["AlarmQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["AlarmDeadLetterQueue", "Arn"]}
    assert resources_of(template, "AWS::SNS::Topic")["AlarmTopic"]["Condition"] == "CreateTopic"
    role = template["Resources"]["IamRoleLambdaExecution"]["Properties"]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    actions = {a for s in statements for a in s["Action"]}
    assert actions == {
        "logs:CreateLogStream",
        "logs:CreateLogGroup",
        "logs:TagResource",
        "logs:PutLogEvents",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "sqs:SendMessage",
        "sns:Publish",
    }
    ours = [s for s in statements if not s["Action"][0].startswith("logs:")]  # Serverless's own: log groups
    assert len(ours) == 4 and all("*" not in json.dumps(s["Resource"]) for s in ours)


def test_artifact_holds_only_what_runs(artifact: Path) -> None:
    names = zipfile.ZipFile(artifact).namelist()
    assert "handler.py" in names and any(n.startswith("alarm_callback/core/receiver.") for n in names)
    assert "pydantic_core/_pydantic_core.cpython-312-x86_64-linux-gnu.so" in names
    assert any(n.startswith("pydantic_settings/") for n in names)
    tops = {n.split("/")[0] for n in names}
    assert not tops & {"tests", "benchmarks", "boto3", "botocore", "moto", "node_modules", "docs", ".venv"}
    assert not [n for n in names if n.startswith("alarm_callback/testing/")]  # test machinery never ships
    # bytecode only for the Lambda's CPython 3.12 (precompiled when the build found one)
    assert not [n for n in names if n.endswith(".pyc") and ".cpython-312." not in n]
    assert artifact.stat().st_size < 10 * 1024 * 1024


def python312() -> str | None:
    """A CPython 3.12 to run the Linux artifact with, as Lambda's python3.12 runtime would."""
    candidates = [os.environ.get("PYTHON312", ""), shutil.which("python3.12") or ""]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")), reverse=True)
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-S", "-c", "import sys; print(sys.version_info[:2])"], capture_output=True)
        if probe.returncode == 0 and probe.stdout.strip() == b"(3, 12)":
            return candidate
    return None


def test_artifact_runs_on_python_3_12_with_nothing_else(artifact: Path, tmp_path: Path) -> None:
    """Unzipped like /var/task and run by a bare CPython 3.12 (-S: no site-packages), the
    artifact answers a callback: its pydantic-core wheel and everything else it needs are
    inside (boto3 is not: memory backends need none)."""
    interpreter = python312()
    require(interpreter is not None, "no CPython 3.12 found (set PYTHON312=/path/to/python3.12)")
    assert interpreter is not None
    task = tmp_path / "task"
    zipfile.ZipFile(artifact).extractall(task)
    event = (Path(__file__).parent / "fixtures" / "aws" / "http-api-token-in-path.json").read_text()
    script = (
        "import json, sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter(); import handler; "
        "reply = handler.lambda_handler(json.loads(sys.stdin.read()), None); "
        "print(json.dumps({'reply': reply, 'import_s': time.perf_counter() - t, 'boto3': 'boto3' in sys.modules}))"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "ALARM_CALLBACK_TOKEN": "s3cr3t-token-0123456789",
        "ALARM_CALLBACK_STORE_URL": "memory://",
        "ALARM_CALLBACK_QUEUE_URL": "memory://",
        "ALARM_CALLBACK_QUARANTINE_URL": "memory://",
    }
    run = subprocess.run(
        [interpreter, "-S", "-c", script, str(task)], input=event, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["reply"]["statusCode"] == 200 and json.loads(result["reply"]["body"])["retCode"] == 0
    assert result["boto3"] is False  # the adapters and the core import no SDK


# -- serverless offline ----------------------------------------------------------------------


@pytest.fixture
def offline(deployment: Deployment) -> Iterator[str]:  # noqa: F811 - the imported fixture
    require(SERVERLESS.exists(), "node_modules/.bin/serverless is missing (run `npm ci`)")
    http_port, lambda_port = free_port(), free_port()
    venv = Path(sys.executable).parent.parent
    env = tool_env(
        # serverless-offline runs `python3` from $VIRTUAL_ENV/bin first: this virtualenv.
        VIRTUAL_ENV=str(venv),
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        AWS_ENDPOINT_URL=deployment.server.endpoint,
        AWS_REGION=REGION,
        **{f"ALARM_CALLBACK_{k.upper()}": v for k, v in deployment.urls.items()},
    )
    log = (Path(os.environ.get("TMPDIR", "/tmp")) / f"sls-offline-{http_port}.log").open("w+")
    process = subprocess.Popen(
        [
            str(SERVERLESS),
            "offline",
            "start",
            "--stage",
            "offline",
            "--region",
            REGION,
            f"--param=token={TOKEN}",
            "--param=runtime=python3.11",
            "--host",
            "127.0.0.1",
            "--httpPort",
            str(http_port),
            "--lambdaPort",
            str(lambda_port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its python workers are ended with it
    )
    try:
        base = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                urllib.request.urlopen(f"{base}/callback", timeout=1)
            except urllib.error.HTTPError:
                break  # answering (404/405 for GET): up
            except OSError:
                time.sleep(0.5)
        log.seek(0)
        assert process.poll() is None, "serverless offline exited:\n" + log.read()[-4000:]
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()
        Path(log.name).unlink(missing_ok=True)


def post(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, body, {"content-type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_offline_end_to_end(offline: str, deployment: Deployment, seed_samples: dict[str, bytes]) -> None:  # noqa: F811
    names = ["metric", "event", "event-cvm", "metric-tencentdb-for-redis"]
    for name in names:
        status, reply = post(f"{offline}/callback/{TOKEN}", seed_samples[name])
        assert status == 200, (name, reply)
        assert reply == {"sessionId": json.loads(seed_samples[name])["sessionId"], "retCode": 0}
    # Tencent resends one (no ack seen in time): acked, not published again.
    status, reply = post(f"{offline}/callback/{TOKEN}", seed_samples["metric"])
    assert status == 200 and reply["retCode"] == 0
    assert post(f"{offline}/callback/wrong", seed_samples["metric"])[0] == 401
    messages = deployment.drain()
    expected = sorted(dedup_key(json.loads(seed_samples[name])) for name in names)
    assert sorted(json.loads(m["Body"])["id"] for m in messages) == expected
    assert {json.loads(m["Body"])["specversion"] for m in messages} == {"1.0"}
    assert ACCOUNT in deployment.https_queue_url
