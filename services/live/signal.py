"""How a change tells the subscribers: PostgreSQL's NOTIFY, or a call within the process.

On PostgreSQL the notification is part of the change's transaction (`services/data_version.py`
sends it with the version bump), so it is delivered on commit and never for a rollback. On
SQLite the one process is told at once and reads the committed version (services/live/local.py).
"""

from __future__ import annotations

from collections.abc import Callable

CHANNEL = "licensing_changes"

LocalListener = Callable[[int], None]
_local_listeners: list[LocalListener] = []


def parse(text: str) -> tuple[int, int] | None:
    """(company id, version) of a notification; None for anything else."""
    company, _, version = text.partition(":")
    if not (company.isdigit() and version.isdigit()):
        return None
    return int(company), int(version)


def listen_locally(listener: LocalListener) -> Callable[[], None]:
    """Calls `listener(company_id)` at each change; returns the undo."""
    _local_listeners.append(listener)
    return lambda: _local_listeners.remove(listener)


def changed_locally(company_id: int) -> None:
    for listener in list(_local_listeners):
        listener(company_id)
