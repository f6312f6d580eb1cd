"""Build an example consumer's code package: its handler, the shared examples/robots/robots.py
(copied, so the robot code exists once in the repository), the project's alarm_callback/
package (for ``alarm_callback.consumer.decode``) and requirements.txt's dependencies as
Linux x86_64 CPython wheels for the function's runtime.

    python examples/package.py sqs-robot-lambda   # -> examples/sqs-robot-lambda/build/sqs-robot-lambda.zip
    python examples/package.py cmq-robot-scf      # -> examples/cmq-robot-scf/build/src/ (+ .zip)

``--no-deps`` leaves the dependencies out (for a quick look, or a runtime layer that has them).
pydantic-core is compiled, so pip is told the target platform (``--platform
manylinux2014_x86_64 --only-binary=:all:``), as mk/aws.mk and deploy/tencent/package.py do.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
ROOT = EXAMPLES.parent
PLATFORM = "manylinux2014_x86_64"
ZIP_TIME = (2024, 1, 1, 0, 0, 0)  # fixed timestamps: the same tree gives the same zip


@dataclass(frozen=True)
class Target:
    handler: str
    python: str  # the function runtime's CPython version


TARGETS = {
    "sqs-robot-lambda": Target(handler="sqs_robot.py", python="3.12"),  # Lambda python3.12
    "cmq-robot-scf": Target(handler="cmq_robot.py", python="3.10"),  # SCF Python3.10
}


def build(name: str, out: Path, deps: bool = True) -> Path:
    """Lay the package out in `out` (emptied first) and zip it next to it; returns the zip."""
    target = TARGETS[name]
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copy2(EXAMPLES / name / target.handler, out / target.handler)
    shutil.copy2(EXAMPLES / "robots" / "robots.py", out / "robots.py")
    shutil.copytree(ROOT / "alarm_callback", out / "alarm_callback", ignore=shutil.ignore_patterns("__pycache__"))
    if deps:
        subprocess.run(  # noqa: S603 (pip, with our own arguments)
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",
                "--only-binary=:all:",
                f"--platform={PLATFORM}",
                "--implementation=cp",
                f"--python-version={target.python}",
                f"--target={out}",
                "-r",
                str(ROOT / "requirements.txt"),
            ],
            check=True,
        )
        shutil.rmtree(out / "bin", ignore_errors=True)
    archive = out.parent / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in out.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            info = zipfile.ZipInfo(str(path.relative_to(out)), ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("example", choices=sorted(TARGETS))
    parser.add_argument("--out", type=Path, help="package tree (default: examples/<example>/build/src)")
    parser.add_argument("--no-deps", action="store_true", help="leave requirements.txt's dependencies out")
    args = parser.parse_args(argv)
    out = args.out or EXAMPLES / args.example / "build" / "src"
    archive = build(args.example, out, deps=not args.no_deps)
    print(f"{out}/ and {archive} ({archive.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
