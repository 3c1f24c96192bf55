"""The served schema against the shared API contract, with the tool the contract ships."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from schema.api import build_schema, export_sdl
from tests.conftest import REPO

CHECK = REPO.parent / "shared" / "tools" / "check_contract.py"
PENDING = REPO / "tests" / "contract_pending.txt"


def test_the_served_schema_keeps_the_contract(tmp_path: Path) -> None:
    """Every difference is either built or listed as pending for a later issue; none else."""
    served = tmp_path / "served.graphql"
    served.write_text(export_sdl(build_schema()))
    result = subprocess.run(
        [sys.executable, str(CHECK), str(served), "--pending", str(PENDING)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("contract check: ")
