"""Section 4: deployment size. The AWS package (`make package-aws`: the artifact that
`serverless package` ships, build/aws/alarm-callback.zip) and the SCF zip (`make
package-scf`: build/scf.zip), each with its largest top-level entries."""

from __future__ import annotations

import subprocess
import zipfile
from collections import Counter
from pathlib import Path

from .common import NOT_AVAILABLE, ROOT, Section

MIB = 1024 * 1024
TARGETS = (
    # (name, make target, the file that needs to exist for it, artifact candidates, goal MiB)
    ("AWS package (serverless)", "package-aws", "mk/aws.mk", ("build/aws/alarm-callback.zip", ".serverless/*.zip"), 5),
    ("SCF zip", "package-scf", "mk/tencent.mk", ("build/scf.zip",), 10),
)


def _artifact(candidates: tuple[str, ...]) -> Path | None:
    for pattern in candidates:
        found = sorted(ROOT.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
        if found:
            return found[0]
    return None


def _largest(path: Path, count: int = 5) -> str:
    sizes: Counter[str] = Counter()
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            sizes[info.filename.split("/", 1)[0]] += info.compress_size
    return ", ".join(f"{name} {size / MIB:.2f}" for name, size in sizes.most_common(count))


def run(smoke: bool = False) -> Section:
    section = Section("size")
    for name, target, needs, candidates, goal in TARGETS:
        if not (ROOT / needs).exists():
            section.add(f"size: {name}", f"{NOT_AVAILABLE} ({needs} missing)")
            continue
        note = ""
        if not smoke:  # building downloads wheels and runs node: not in smoke runs
            proc = subprocess.run(
                ["make", "-s", target], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
            )
            if proc.returncode != 0:
                note = f"`make {target}` failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-300:]}"
        path = _artifact(candidates)
        if path is None:
            section.add(f"size: {name}", "not available" + (" (smoke run: not built)" if smoke else ""), note=note)
            continue
        size = path.stat().st_size
        with zipfile.ZipFile(path) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
        section.add(
            f"size: {name}",
            f"{size / MIB:.2f} MiB zipped, {unzipped / MIB:.1f} MiB unzipped",
            goal=f"< {goal} MiB",
            ok=size < goal * MIB,
            note=(note + "; " if note else "")
            + f"{path.relative_to(ROOT)}; largest (MiB): {_largest(path)}"
            + (" (existing artifact, smoke run)" if smoke else ""),
        )
    return section
