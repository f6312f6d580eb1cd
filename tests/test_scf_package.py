"""The SCF code package: built for real (pip, Linux x86_64 CPython 3.10 wheels) into a
temporary directory, then its contents checked."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

import handler
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "deploy" / "tencent" / "package.py"

pytestmark = pytest.mark.integration


def package_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scf_package", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("scf") / "scf.zip"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result.stdout


@pytest.fixture(scope="module")
def names(built: tuple[Path, str]) -> list[str]:
    with zipfile.ZipFile(built[0]) as archive:
        assert archive.testzip() is None
        return archive.namelist()


def test_size_is_printed(built: tuple[Path, str]) -> None:
    out, stdout = built
    assert f"{out}: {out.stat().st_size} bytes" in stdout
    assert out.stat().st_size < 20 * 1024 * 1024  # far below SCF's 50 MB zip upload limit


def test_handler_and_package_at_the_root(names: list[str]) -> None:
    assert "handler.py" in names
    for module in (
        "edges/entry.py",
        "edges/scf.py",
        "backends/redis/store.py",
        "backends/tencent/cmq.py",
        "backends/amqp.py",
    ):
        assert f"alarm_callback/{module}" in names
    tops = {n.split("/")[0] for n in names}
    assert not tops & {"tests", "benchmarks"}
    assert not [n for n in names if n.startswith("alarm_callback/testing/")]  # test machinery never ships
    assert "alarm_callback/samples/metric.json" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_binary_wheels_are_for_scf_python_310_x86_64(names: list[str]) -> None:
    compiled = [n for n in names if n.endswith(".so")]
    assert "pydantic_core/_pydantic_core.cpython-310-x86_64-linux-gnu.so" in compiled
    assert all("cpython-310-x86_64-linux-gnu" in n or "abi3" in n for n in compiled), compiled


def test_dependencies_are_the_slim_ones(names: list[str]) -> None:
    tops = {n.split("/")[0] for n in names}
    assert {"pydantic", "pydantic_settings", "redis", "async_timeout", "pika", "tencentcloud", "requests"} <= tops
    assert "tencentcloud/tdmq/v20200217/tdmq_client.py" in names
    assert "tencentcloud/common/abstract_client.py" in names
    products = {n.split("/")[1] for n in names if n.startswith("tencentcloud/")}
    assert products <= {"__init__.py", "common", "tdmq", "monitor"}  # monitor: the alarm-history reconciler
    assert not tops & {"boto3", "botocore", "s3transfer", "moto", "tests", "pytest", "uvicorn"}


def test_check_refuses_what_must_not_ship() -> None:
    check = package_module().check
    assert check(["handler.py", "tencentcloud/tdmq/x.py", "tencentcloud/common/y.py"]) == []
    bad = ["boto3/__init__.py", "botocore-1.0.dist-info/METADATA", "tencentcloud/cvm/v20170312/m.py", "tests/t.py"]
    assert check(bad) == bad


def _instance(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())  # type: ignore[no-any-return]


def test_serverless_config_deploys_callback_sweeper_and_reconciler() -> None:
    """The three `component: scf` instances: handlers that exist, Python3.10, the package
    `make package-scf` leaves in build/scf, the triggers and the 5 s budget."""
    callback_yml = ROOT / "deploy" / "tencent" / "serverless.yml"
    sweeper_yml = ROOT / "deploy" / "tencent" / "sweeper" / "serverless.yml"
    reconcile_yml = ROOT / "deploy" / "tencent" / "reconcile" / "serverless.yml"
    callback, sweeper, reconcile = _instance(callback_yml), _instance(sweeper_yml), _instance(reconcile_yml)
    for config, path, handler_name in (
        (callback, callback_yml, "main_handler"),
        (sweeper, sweeper_yml, "sweep_handler"),
        (reconcile, reconcile_yml, "reconcile_handler"),
    ):
        assert config["component"] == "scf" and config["app"] == "alarm-callback"
        inputs = config["inputs"]
        assert inputs["runtime"] == "Python3.10"
        assert inputs["handler"] == f"handler.{handler_name}" and hasattr(handler, handler_name)
        assert (path.parent / inputs["src"]["src"]).resolve() == ROOT / "build" / "scf"
        assert "ALARM_CALLBACK_STORE_URL" in inputs["environment"]["variables"]
    assert callback["inputs"]["timeout"] <= 5
    [apigw] = [e["apigw"] for e in callback["inputs"]["events"] if "apigw" in e]
    endpoints = apigw["parameters"]["endpoints"]
    assert {e["path"] for e in endpoints} == {"/callback", "/callback/{token}"}
    assert all(e["method"] == "POST" and e["function"]["isIntegratedResponse"] is True for e in endpoints)
    assert all(e["serviceTimeout"] <= 5 for e in endpoints)
    assert callback["inputs"]["environment"]["variables"]["ALARM_CALLBACK_SCF_RESPONSE"] == "integration"
    [timer] = [e["timer"] for e in sweeper["inputs"]["events"]]
    assert timer["parameters"]["cronExpression"].split()[:2] == ["0", "*/1"]  # every minute
    [timer] = [e["timer"] for e in reconcile["inputs"]["events"]]
    assert timer["parameters"]["cronExpression"].split()[:2] == ["0", "*/10"]
    for config in (callback, sweeper, reconcile):  # markers on every instance, or the reconciler misfires
        assert "ALARM_CALLBACK_RECORD_OCCURRENCES" in config["inputs"]["environment"]["variables"]


def python310() -> str:
    """SCF's interpreter version, to run the package as SCF would (skipped locally without
    one, failing under CI=true like every integration prerequisite)."""
    candidates = [*sorted(Path.home().glob(".pyenv/versions/3.10.*/bin/python3.10")), shutil.which("python3.10")]
    for candidate in filter(None, candidates):
        check = [str(candidate), "-c", "import sys; assert sys.version_info[:2] == (3, 10)"]
        if subprocess.run(check, capture_output=True, check=False, timeout=30).returncode == 0:
            return str(candidate)
    message = "no working python3.10 to run the SCF package with"
    if IN_CI:
        pytest.fail(message + "; CI=true, so integration tests may not skip")
    pytest.skip(message)


SMOKE = """
import json, os, sys
os.environ.update({
    "ALARM_CALLBACK_TOKEN": "t0k-0123456789abcdef", "ALARM_CALLBACK_STORE_URL": "memory://",
    "ALARM_CALLBACK_QUEUE_URL": "memory://", "ALARM_CALLBACK_QUARANTINE_URL": "memory://",
})
import handler
import alarm_callback.backends.redis.store, alarm_callback.backends.tencent.cmq, alarm_callback.backends.amqp
event = json.load(open(sys.argv[1]))
event["path"] = "/callback/t0k-0123456789abcdef"
reply = handler.main_handler(event, {"function_name": "alarm-callback", "tencentcloud_region": "ap-guangzhou"})
print(json.dumps({"reply": reply, "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore"))}))
"""


def test_package_runs_on_python_310(built: tuple[Path, str], tmp_path: Path) -> None:
    """Unpacked and run by a bare CPython 3.10 (no venv, nothing else on the path): the
    compiled wheels load, the Tencent backends import, an API gateway event is acked."""
    with zipfile.ZipFile(built[0]) as archive:
        archive.extractall(tmp_path / "code")
    event = ROOT / "tests" / "fixtures" / "scf" / "api-gateway-token-in-path.json"
    result = subprocess.run(
        [
            python310(),
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(tmp_path / 'code')!r}); exec({SMOKE!r})",
            str(event),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["reply"]["statusCode"] == 200
    assert json.loads(outcome["reply"]["body"]) == {"sessionId": "xxxxxxxx", "retCode": 0}
    assert outcome["modules"] == []  # no boto3 imported on SCF
