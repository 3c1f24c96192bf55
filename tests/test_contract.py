"""The served schema against the shared API contract, with the tool the contract ships."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from schema.api import build_schema, export_sdl
from tests.conftest import REPO

SHARED = REPO.parent / "shared"
# The same files, kept in the repository for checkouts without ../shared beside them.
COPY = REPO / "tests" / "shared_copy"
FILES = ("tools/check_contract.py", "contract/schema.graphql")
PENDING = REPO / "tests" / "contract_pending.txt"


def _contract_folder() -> Path:
    """../shared when it is there (and then the copy must match it), else the copy."""
    if not SHARED.is_dir():
        return COPY
    for name in FILES:
        assert (COPY / name).read_text() == (SHARED / name).read_text(), (
            f"tests/shared_copy/{name} differs from ../shared/{name}: copy it again"
        )
    return SHARED


def test_the_served_schema_keeps_the_contract(tmp_path: Path) -> None:
    """Every difference is either built or listed as pending for a later issue; none else."""
    served = tmp_path / "served.graphql"
    served.write_text(export_sdl(build_schema()))
    checker = _contract_folder() / "tools" / "check_contract.py"
    result = subprocess.run(
        [sys.executable, str(checker), str(served), "--pending", str(PENDING)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("contract check: ")
