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


def prepare() -> Path:
    """The metrics directory of this service start, empty, in the environment of the workers.

    An operator's PROMETHEUS_MULTIPROC_DIR is emptied; without one, a new temporary directory
    is made (remove it with `remove` when the service stops).
    """
    given = os.environ.get(DIRECTORY_VARIABLE)
    if given:
        directory = Path(given)
        if directory.is_dir():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
    else:
        directory = Path(tempfile.mkdtemp(prefix="licensing-metrics-"))
        os.environ[DIRECTORY_VARIABLE] = str(directory)
    return directory


def remove(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def multiprocess_directory() -> Path | None:
    given = os.environ.get(DIRECTORY_VARIABLE)
    return Path(given) if given else None
