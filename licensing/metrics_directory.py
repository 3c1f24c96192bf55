"""The directory where the workers of one service start keep their metrics.

Apart from licensing/metrics.py because it must be set before prometheus_client is imported:
the library picks its single- or multi-process mode on import.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


class MetricsDirectoryError(ValueError):
    """PROMETHEUS_MULTIPROC_DIR names something that is not a directory."""


def prepare() -> tuple[Path, bool]:
    """The metrics directory of this service start, without the files of an earlier start, in
    the environment of the workers; and whether it was made here (then `remove` it at stop).

    An operator's PROMETHEUS_MULTIPROC_DIR (a mounted volume, say) is kept: only the metric
    files directly in it (`*.db`) are deleted. Without one, a temporary directory is made.
    """
    given = os.environ.get(DIRECTORY_VARIABLE)
    if not given:
        directory = Path(tempfile.mkdtemp(prefix="licensing-metrics-"))
        os.environ[DIRECTORY_VARIABLE] = str(directory)
        return directory, True
    directory = Path(given)
    if directory.exists() and not directory.is_dir():
        raise MetricsDirectoryError(
            f"PROMETHEUS_MULTIPROC_DIR={given} is not a directory: name a directory the "
            "service may write to (or unset it for a temporary one)."
        )
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)
    return directory, False


def remove(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def multiprocess_directory() -> Path | None:
    given = os.environ.get(DIRECTORY_VARIABLE)
    return Path(given) if given else None
