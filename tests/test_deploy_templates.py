"""The deployable AWS stack as CloudFormation sees it: `serverless package` with the defaults
and with `--param reconcile=true`, then checkov (accepted findings in .checkov.yaml, each with
its reason), cfn-lint, and the properties a production stack must keep: retained table and
queues, a throttled HTTP API, reserved concurrency, a failure queue for the schedules, and the
reconciler only when asked for, in its own artifact with the Tencent SDK."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_aws_serverless import (  # noqa: F401 - `artifact` is a fixture used here
    ARTIFACT,
    ROOT,
    SERVERLESS,
    artifact,
    python312,
    require,
    resources_of,
    tool_env,
)

RECONCILE_ARTIFACT = ROOT / "build" / "aws" / "reconcile.zip"
SKIP_FILE = ROOT / ".checkov.yaml"
CHECKOV = Path(sys.executable).parent.parent / "tools" / "checkov" / "bin" / "checkov"
STATEFUL = ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SNS::Topic")


def statements_of(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    policies = template["Resources"][role]["Properties"]["Policies"]
    return [statement for policy in policies for statement in policy["PolicyDocument"]["Statement"]]


def accepted_findings() -> dict[str, str]:
    """`- CKV_ID  # reason` lines of the skip file."""
    found: dict[str, str] = {}
    for line in SKIP_FILE.read_text().splitlines():
        match = re.match(r"\s*-\s*(CKV2?_[A-Z]+_\d+)\s*(?:#\s*(.*))?$", line)
        if match:
            assert match.group(1) not in found, f"{match.group(1)} listed twice"
            found[match.group(1)] = (match.group(2) or "").strip()
    return found


def test_every_accepted_finding_has_a_reason() -> None:
    findings = accepted_findings()
    assert findings, "no skip-check entries found in .checkov.yaml"
    assert sorted(yaml.safe_load(SKIP_FILE.read_text())["skip-check"]) == sorted(findings)
    for check, reason in findings.items():
        assert len(reason.split()) >= 8, f"{check}: give the reason this finding is accepted"


def test_serverless_params_size_the_callback() -> None:
    """The capacity parameters exist with positive defaults (the numbers docs/aws.md explains)."""
    params = yaml.safe_load((ROOT / "serverless.yml").read_text())["params"]
    defaults = params["default"]
    for name in ("throttleRateLimit", "throttleBurstLimit", "callbackConcurrency"):
        assert int(defaults[name]) > 0
    assert int(defaults["throttleBurstLimit"]) >= int(defaults["throttleRateLimit"])
    assert defaults["reconcile"] == "false"
    assert "resolve:ssm" not in str(params["offline"]["token"])  # offline never gets the SSM text


def test_callback_timeout_is_within_the_claim_lease() -> None:
    """A resend or the sweeper takes a pending claim over once its lease has run out. The
    callback function's timeout must end the request first, so no takeover ever races a
    hand-off still in flight (the chaos run counts a hand-off that outlives its lease as
    unrecorded for this reason)."""
    from alarm_callback.config.settings import Settings

    aws = yaml.safe_load((ROOT / "serverless.yml").read_text())
    lease = float(aws["params"]["default"]["claimLeaseSeconds"])
    assert aws["functions"]["callback"]["timeout"] <= lease
    scf = yaml.safe_load((ROOT / "deploy" / "tencent" / "serverless.yml").read_text())
    assert scf["inputs"]["timeout"] <= Settings.model_fields["claim_lease_seconds"].default


def make_dry_run(*args: str) -> str:
    run = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_deploy_scf_takes_the_stage_from_env_unless_given() -> None:
    env = {k: v for k, v in os.environ.items() if k != "STAGE"}
    plain = subprocess.run(["make", "-n", "deploy-scf"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr
    deploys = [line for line in plain.stdout.splitlines() if "scf deploy" in line]
    assert len(deploys) >= 2 and not any("STAGE=" in line for line in deploys)  # .env's STAGE wins
    given = [line for line in make_dry_run("deploy-scf", "STAGE=qa").splitlines() if "scf deploy" in line]
    assert given and all("STAGE=qa" in line for line in given)


def test_deploy_aws_rebuilds_then_deploys() -> None:
    out = make_dry_run("deploy-aws", "STAGE=qa", "REGION=eu-west-1")
    assert out.index("rm -f build/aws/alarm-callback.zip") < out.index("serverless deploy")
    assert "deploy --stage qa --region eu-west-1" in out and "reconcile=true" not in out
    out = make_dry_run("deploy-aws", "STAGE=qa", "RECONCILE=true")
    assert "build/aws/reconcile.zip" in out and "--param=reconcile=true" in out


# -- the packaged templates -----------------------------------------------------------------


@pytest.fixture(scope="module")
def reconcile_artifact(artifact: Path) -> Path:  # noqa: F811 - the imported fixture
    if not RECONCILE_ARTIFACT.exists() or RECONCILE_ARTIFACT.stat().st_mtime < artifact.stat().st_mtime:
        built = subprocess.run(
            ["make", "-s", "reconcile-artifact"], cwd=ROOT, capture_output=True, text=True, timeout=600
        )
        require(built.returncode == 0, f"`make reconcile-artifact` failed: {built.stderr[-2000:]}")
    return RECONCILE_ARTIFACT


def package(out: Path, *params: str) -> dict[str, Any]:
    require(SERVERLESS.exists(), "node_modules/.bin/serverless is missing (run `npm ci`)")
    run = subprocess.run(
        [str(SERVERLESS), "package", "--stage", "prod", "--region", "eu-west-1", "--package", str(out)]
        + [f"--param={p}" for p in params],
        cwd=ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    path = out / "cloudformation-template-update-stack.json"
    return {"path": path, "template": json.loads(path.read_text())}


@pytest.fixture(scope="module")
def templates(reconcile_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return {
        "default": package(tmp_path_factory.mktemp("sls-default")),
        "reconcile": package(tmp_path_factory.mktemp("sls-reconcile"), "reconcile=true"),
    }


@pytest.fixture(scope="module")
def checkov() -> str:
    if not CHECKOV.exists():
        found = shutil.which("checkov")
        if found:
            return found
        built = subprocess.run(["make", "-s", "checkov-tool"], cwd=ROOT, capture_output=True, text=True, timeout=900)
        require(built.returncode == 0, f"`make checkov-tool` failed: {built.stderr[-2000:]}")
    return str(CHECKOV)


@pytest.mark.integration
@pytest.mark.parametrize("variant", ["default", "reconcile"])
def test_checkov_finds_nothing_but_the_accepted(
    variant: str, templates: dict[str, dict[str, Any]], checkov: str
) -> None:
    command = [checkov, "-f", str(templates[variant]["path"]), "--framework", "cloudformation"]
    command += ["--skip-check", ",".join(accepted_findings()), "--skip-download", "--quiet", "-o", "json"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ, "LOG_LEVEL": "ERROR"})
    report = json.loads(run.stdout)
    failed = [
        (c["check_id"], c["resource"], c["check_name"]) for c in report.get("results", {}).get("failed_checks", [])
    ]
    assert report["summary"]["failed"] == 0 and not failed, failed
    assert report["summary"]["parsing_errors"] == 0 and report["summary"]["passed"] > 20


@pytest.mark.integration
@pytest.mark.parametrize("variant", ["default", "reconcile"])
def test_cfn_lint_reports_no_errors(variant: str, templates: dict[str, dict[str, Any]]) -> None:
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(templates[variant]["path"])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in lint.stdout.splitlines() if line[:1] == "E"]
    assert not lint.returncode & 2 and not errors, lint.stdout + lint.stderr


@pytest.mark.integration
@pytest.mark.parametrize("variant", ["default", "reconcile"])
def test_table_queues_and_topic_survive_remove_and_replacement(
    variant: str, templates: dict[str, dict[str, Any]]
) -> None:
    template = templates[variant]["template"]
    stateful = {name: r for kind in STATEFUL for name, r in resources_of(template, kind).items()}
    assert {"OutboxTable", "AlarmQueue", "AlarmDeadLetterQueue", "ScheduleFailureQueue", "AlarmTopic"} <= set(stateful)
    for name, resource in stateful.items():
        assert resource.get("DeletionPolicy") == "Retain", name
        assert resource.get("UpdateReplacePolicy") == "Retain", name


@pytest.mark.integration
def test_http_api_is_throttled_and_logs_no_token(templates: dict[str, dict[str, Any]]) -> None:
    defaults = yaml.safe_load((ROOT / "serverless.yml").read_text())["params"]["default"]
    [stage] = resources_of(templates["default"]["template"], "AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["DefaultRouteSettings"]
    assert int(settings["ThrottlingRateLimit"]) == int(defaults["throttleRateLimit"]) > 0
    assert int(settings["ThrottlingBurstLimit"]) == int(defaults["throttleBurstLimit"]) > 0
    access_log = stage["Properties"]["AccessLogSettings"]["Format"]
    assert "$context.status" in access_log and "$context.path" not in access_log  # the path holds the token


@pytest.mark.integration
def test_callback_has_reserved_concurrency_and_a_role_without_query(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["default"]["template"]
    defaults = yaml.safe_load((ROOT / "serverless.yml").read_text())["params"]["default"]
    callback = template["Resources"]["CallbackLambdaFunction"]["Properties"]
    assert int(callback["ReservedConcurrentExecutions"]) == int(defaults["callbackConcurrency"]) > 0
    assert callback["Role"] == {"Fn::GetAtt": ["CallbackRole", "Arn"]}
    statements = statements_of(template, "CallbackRole")
    actions = {a for s in statements for a in s["Action"]}
    assert "dynamodb:Query" not in actions and {"dynamodb:PutItem", "sqs:SendMessage"} <= actions
    assert all("*" not in json.dumps(s["Resource"]) for s in statements)
    assert "ReservedConcurrentExecutions" in template["Resources"]["SweeperLambdaFunction"]["Properties"]
    assert not resources_of(template, "AWS::Lambda::Url")  # the Function URL is opt-in (no throttling)


@pytest.mark.integration
@pytest.mark.parametrize("variant", ["default", "reconcile"])
def test_failed_schedule_runs_land_in_a_queue(variant: str, templates: dict[str, dict[str, Any]]) -> None:
    template = templates[variant]["template"]
    scheduled = [
        name for name, r in resources_of(template, "AWS::Lambda::Function").items() if name != "CallbackLambdaFunction"
    ]
    failure_queue = {"Fn::GetAtt": ["ScheduleFailureQueue", "Arn"]}
    for name in scheduled:
        assert template["Resources"][name]["Properties"]["DeadLetterConfig"]["TargetArn"] == failure_queue, name
        role_ref = template["Resources"][name]["Properties"]["Role"]["Fn::GetAtt"][0]
        statements = statements_of(template, role_ref)
        senders = [s for s in statements if "sqs:SendMessage" in s["Action"]]
        assert any(
            failure_queue in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]) for s in senders
        )
    configs = resources_of(template, "AWS::Lambda::EventInvokeConfig")
    assert len(configs) == len(scheduled) and all(
        c["Properties"]["MaximumRetryAttempts"] == 0 for c in configs.values()
    )


def functions_by_handler(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f["Properties"]["Handler"]: f["Properties"] for f in resources_of(template, "AWS::Lambda::Function").values()
    }


@pytest.mark.integration
def test_reconciler_is_absent_by_default(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["default"]["template"]
    functions = functions_by_handler(template)
    assert set(functions) == {"handler.lambda_handler", "handler.sweep_handler"}
    assert "ReconcileRole" not in template["Resources"]
    assert "tencent-secret" not in json.dumps(template) and "ALARM_CALLBACK_TENCENT_" not in json.dumps(template)
    for function in functions.values():
        assert function["Environment"]["Variables"]["ALARM_CALLBACK_RECORD_OCCURRENCES"] == "false"


@pytest.mark.integration
def test_reconciler_with_the_parameter_on(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["reconcile"]["template"]
    functions = functions_by_handler(template)
    reconcile = functions["handler.reconcile_handler"]
    assert reconcile["Code"]["S3Key"].endswith("/reconcile.zip")
    assert functions["handler.lambda_handler"]["Code"]["S3Key"].endswith("/alarm-callback.zip")
    assert reconcile["Role"] == {"Fn::GetAtt": ["ReconcileRole", "Arn"]}
    env = reconcile["Environment"]["Variables"]
    assert env["ALARM_CALLBACK_TENCENT_SECRET_ID"] == "{{resolve:ssm:/alarm-callback/prod/tencent-secret-id}}"
    assert env["ALARM_CALLBACK_TENCENT_SECRET_KEY"] == "{{resolve:ssm:/alarm-callback/prod/tencent-secret-key}}"
    assert env["ALARM_CALLBACK_TENCENT_REGION"]
    for handler_name, function in functions.items():  # markers everywhere, Tencent keys only there
        variables = function["Environment"]["Variables"]
        assert variables["ALARM_CALLBACK_RECORD_OCCURRENCES"] == "true", handler_name
        if handler_name != "handler.reconcile_handler":
            assert not [k for k in variables if k.startswith("ALARM_CALLBACK_TENCENT_")], handler_name
    rules = {r["Properties"]["ScheduleExpression"]: r for r in resources_of(template, "AWS::Events::Rule").values()}
    target = rules["rate(5 minutes)"]["Properties"]["Targets"][0]["Arn"]
    assert target == {"Fn::GetAtt": ["ReconcileLambdaFunction", "Arn"]}
    statements = statements_of(template, "ReconcileRole")
    assert "dynamodb:Query" not in {a for s in statements for a in s["Action"]}


@pytest.mark.integration
def test_reconcile_artifact_adds_only_the_monitor_sdk(artifact: Path, reconcile_artifact: Path) -> None:  # noqa: F811
    callback = set(zipfile.ZipFile(artifact).namelist())
    reconcile = set(zipfile.ZipFile(reconcile_artifact).namelist())
    assert callback < reconcile
    assert not [n for n in callback if n.startswith("tencentcloud/")]
    tencent_products = {n.split("/")[1] for n in reconcile if n.startswith("tencentcloud/") and n.count("/") > 1}
    assert tencent_products - {"__pycache__"} == {"common", "monitor"}
    assert "tencentcloud/monitor/v20180724/monitor_client.py" in reconcile
    assert not [n for n in reconcile if n.startswith(("boto3/", "botocore/", "tencentcloud/tdmq/"))]


@pytest.mark.integration
def test_reconcile_artifact_imports_on_python_3_12(reconcile_artifact: Path, tmp_path: Path) -> None:
    """Unzipped like /var/task, a bare CPython 3.12 imports the history client and its SDK."""
    interpreter = python312()
    require(interpreter is not None, "no CPython 3.12 found (set PYTHON312=/path/to/python3.12)")
    assert interpreter is not None
    zipfile.ZipFile(reconcile_artifact).extractall(tmp_path / "task")
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import handler; "
        "from alarm_callback.backends.tencent.history import TencentHistory; "
        "from tencentcloud.monitor.v20180724.monitor_client import MonitorClient; print('ok')"
    )
    run = subprocess.run(
        [interpreter, "-S", "-c", script, str(tmp_path / "task")],
        env={"PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-3000:]
    assert ARTIFACT.exists()
