"""When a failed delivery is tried again: pure functions of the attempt count and the answer."""

from __future__ import annotations

import datetime as dt
import email.utils
import random

RETRY_DELAYS = (
    dt.timedelta(seconds=5),
    dt.timedelta(seconds=30),
    dt.timedelta(minutes=2),
    dt.timedelta(minutes=10),
    dt.timedelta(hours=1),
)
LATER_DELAY = dt.timedelta(hours=4)
# A delivery is given up, and an endpoint failing this long disabled, after this.
GIVE_UP_AFTER = dt.timedelta(days=5)
# A Retry-After is honoured within these bounds: no hammering, no waiting past the window.
RETRY_AFTER_BOUNDS = (dt.timedelta(seconds=1), dt.timedelta(days=1))
_jitter = random.Random()  # noqa: S311 (timing, not secrecy)


def retry_delay(failed_attempts: int, rng: random.Random = _jitter) -> dt.timedelta:
    """About 5 s, 30 s, 2 min, 10 min, 1 h after the 1st..5th failure, then every 4 h; each
    from 80% to 120% of that, so endpoints that failed together do not retry together."""
    index = failed_attempts - 1
    base = RETRY_DELAYS[index] if 0 <= index < len(RETRY_DELAYS) else LATER_DELAY
    return base * (0.8 + 0.4 * rng.random())


def retry_after(value: str | None, now: dt.datetime) -> dt.timedelta | None:
    """The wait a Retry-After header asks for (seconds or an HTTP date), bounded; None if absent
    or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        wanted = dt.timedelta(seconds=int(text[:9]))
    else:
        try:
            wanted = email.utils.parsedate_to_datetime(text) - now
        except (TypeError, ValueError):
            return None
    low, high = RETRY_AFTER_BOUNDS
    return min(max(wanted, low), high)


def next_attempt(
    *,
    failed_attempts: int,
    retry_after_header: str | None,
    created_at: dt.datetime,
    now: dt.datetime,
) -> dt.datetime | None:
    """When to try again, or None: the delivery is then given up (5 days after it was made)."""
    delay = retry_after(retry_after_header, now) or retry_delay(failed_attempts)
    due = now + delay
    return due if due <= created_at + GIVE_UP_AFTER else None
