"""The import contracts of pyproject.toml hold, and `lint-imports` fails on each violation.

Each violation is one import line added to a module (new or existing) of a copy of the package
in a temporary directory, checked with the project's own configuration: the real tree is never
touched.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache", str(root / "pyproject.toml")],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_contracts_hold_today() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "imports", "contract"),
    [
        ("billing/domain/_violation.py", "billing.db.pool", "The domain imports nothing of ours"),
        ("billing/api/_violation.py", "billing.sync.runner", "The API and the sync never import"),
        ("billing/sync/_violation.py", "billing.api.app", "The API and the sync never import"),
        ("billing/db/_violation.py", "billing.sync.runner", "The repositories never import"),
        ("billing/db/_violation.py", "billing.api.problems", "The repositories never import"),
        ("billing/db/records.py", "billing.smartcar.records", "never import the Smartcar"),
        ("billing/smartcar_sim/_violation.py", "billing.domain.window", "The Smartcar simulator"),
        ("billing/smartcar_sim/_violation.py", "billing.smartcar.errors", "The Smartcar simulator"),
        ("billing/api/_violation.py", "billing.smartcar_sim", "Only the CLI and the demo import"),
        ("billing/sync/_violation.py", "billing.smartcar_sim.wire", "Only the CLI and the demo"),
        # an arrow back up inside the simulator, and one between two handlers of one layer
        ("billing/smartcar_sim/wire.py", "billing.smartcar_sim.simulator", "The simulator's"),
        ("billing/smartcar_sim/oauth.py", "billing.smartcar_sim.api", "The simulator's modules"),
        # sync imports smartcar already: the reverse arrow is a circle between packages
        ("billing/smartcar/_violation.py", "billing.sync.runner", "No import circle"),
    ],
)
def test_lint_imports_fails_on_a_violation(
    tmp_path: Path, module: str, imports: str, contract: str
) -> None:
    shutil.copytree(ROOT / "billing", tmp_path / "billing", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    before = target.read_text() if target.exists() else ""
    target.write_text(f"{before}import {imports}\n")
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken
    # the offending import is named (a circle is named by its package-level arrow)
    importer = module.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> {imports}" in broken or ".smartcar -> .sync" in broken
