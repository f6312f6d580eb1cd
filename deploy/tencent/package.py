"""Build the SCF code package: ``build/scf.zip`` with handler.py, alarm_callback/ and the
runtime dependencies as Linux x86_64 CPython 3.10 wheels (SCF runtime ``Python3.10``).

pydantic-core is compiled, so the dependencies are installed for SCF's platform, not this
machine's: pip picks the manylinux x86_64 cp310 wheels (``--only-binary=:all:``: no sdist
is ever built here), no docker needed. The package carries requirements.txt plus
requirements-scf.txt: the slim Tencent SDK (common + tdmq), redis and pika, and never
boto3 or the whole Tencent SDK (only common, tdmq and monitor). `check` enforces that, so a dependency change that drags
one in fails the build instead of shipping.

    python deploy/tencent/package.py [--out build/scf.zip] [--deps DIR] [--tree build/scf]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ("requirements.txt", "requirements-scf.txt")
SOURCES = ("handler.py", "alarm_callback")
PLATFORM = "manylinux2014_x86_64"
PYTHON_VERSION = "3.10"
# Top-level names that must never be in the package: AWS SDKs, test code, and every
# Tencent SDK product but those we call (tencentcloud/<product>/): tdmq (CMQ publishers)
# and monitor (the alarm-history reconciler).
FORBIDDEN_TOP = ("boto3", "botocore", "s3transfer", "moto", "tests", "benchmarks", "pytest", "_pytest")
# Test machinery inside the package: never shipped (import-linter keeps the rest off it).
NOT_SHIPPED = ("alarm_callback/testing",)
ALLOWED_TENCENT = ("__init__.py", "common", "tdmq", "monitor")
# pip evaluates environment markers against the interpreter running it, not the
# --python-version target, so dependencies behind a marker the target needs are dropped.
# Named here: redis needs async-timeout below Python 3.11.3 (Requires-Dist marker).
TARGET_ONLY = ("async-timeout>=4.0.3",)
ZIP_TIME = (2024, 1, 1, 0, 0, 0)  # fixed timestamps: the same tree gives the same zip


def install_dependencies(target: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--platform", PLATFORM, "--implementation", "cp",
        "--python-version", PYTHON_VERSION, "--abi", "cp" + PYTHON_VERSION.replace(".", ""),
        "--only-binary=:all:", "--no-compile", "--target", str(target),
    ]  # fmt: skip
    for name in REQUIREMENTS:
        command += ["-r", str(ROOT / name)]
    command += TARGET_ONLY
    subprocess.run(command, check=True)  # noqa: S603 - our own interpreter and arguments
    shutil.rmtree(target / "bin", ignore_errors=True)


def copy_sources(stage: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, stage / name, ignore=ignore)
        else:
            shutil.copy2(source, stage / name)
    for name in NOT_SHIPPED:
        shutil.rmtree(stage / name, ignore_errors=True)


def check(names: Iterable[str]) -> list[str]:
    """What must not ship, among the zip's entry names."""

    def forbidden(name: str) -> bool:
        top, _, rest = name.partition("/")
        if top == "tencentcloud":
            return rest.split("/")[0] not in ALLOWED_TENCENT
        return (
            top in FORBIDDEN_TOP
            or top.startswith(("boto3-", "botocore-"))
            or any(name.startswith(f"{path}/") for path in NOT_SHIPPED)
        )

    return [name for name in names if forbidden(name)]


def write_zip(stage: Path, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in stage.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(stage).as_posix(), ZIP_TIME)
            info.external_attr = (0o755 if path.suffix == ".so" else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def build(out: Path, deps: Path | None = None, tree: Path | None = None) -> Path:
    """Build the zip at `out`. `deps` keeps the installed dependencies between builds
    (reinstalled when it holds none); by default they go to a temporary directory. `tree`
    also leaves the unpacked package there (the ``src`` the SCF component zips itself)."""
    with tempfile.TemporaryDirectory(prefix="scf-package-") as tmp:
        stage = Path(tmp) / "stage"
        installed = deps or Path(tmp) / "deps"
        if not (installed / ".installed").exists():
            shutil.rmtree(installed, ignore_errors=True)
            install_dependencies(installed)
            (installed / ".installed").touch()
        shutil.copytree(installed, stage, ignore=shutil.ignore_patterns(".installed", "__pycache__"))
        copy_sources(stage)
        problems = check(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())
        if problems:
            raise SystemExit(f"the SCF package must not contain {problems[:10]}")
        write_zip(stage, out)
        if tree is not None:
            shutil.rmtree(tree, ignore_errors=True)
            shutil.copytree(stage, tree)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "scf.zip")
    parser.add_argument("--deps", type=Path, default=None, help="reuse installed dependencies from here")
    parser.add_argument("--tree", type=Path, default=None, help="also leave the unpacked package here")
    args = parser.parse_args(argv)
    out = build(args.out, args.deps, args.tree)
    size = out.stat().st_size
    print(f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}: {size} bytes ({size / 1048576:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
