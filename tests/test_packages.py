"""Top-level names like `schema` and `models` also exist on PyPI: ours must be the ones loaded."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("package", ["licensing", "models", "resolvers", "schema", "services"])
def test_package_is_imported_from_this_repo(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == REPO / package
