"""What follows a failed delivery attempt: pure functions of the attempt and the endpoint's
history. Retried about 5 s, 30 s, 2 min, 10 min, 1 h later, then every 4 h, for 5 days."""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from dataclasses import dataclass

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
# The longest Retry-After honoured: no wait past the delivery's window.
LONGEST_RETRY_AFTER = dt.timedelta(days=1)
# A delivery's first attempt follows its creation within this (the sender polls every second).
FIRST_ATTEMPT_SLACK = dt.timedelta(minutes=5)
_jitter = random.Random()  # noqa: S311 (timing, not secrecy)


def retry_delay(
    failed_attempts: int, rng: random.Random = _jitter, scale: float = 1.0
) -> dt.timedelta:
    """The schedule's wait after the n-th failure, from 80% to 120% of it, so endpoints that
    failed together do not retry together. `scale` shortens it for tests."""
    index = failed_attempts - 1
    base = RETRY_DELAYS[index] if 0 <= index < len(RETRY_DELAYS) else LATER_DELAY
    return base * scale * (0.8 + 0.4 * rng.random())


def retry_after(value: str | None, now: dt.datetime) -> dt.timedelta | None:
    """The wait a Retry-After header asks for (seconds or an HTTP date), at most a day; None if
    absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        wanted = dt.timedelta(seconds=int(text[:9]))
    else:
        try:
            wanted = email.utils.parsedate_to_datetime(text) - now
        except (TypeError, ValueError, IndexError):
            return None
    return min(max(wanted, dt.timedelta()), LONGEST_RETRY_AFTER)


@dataclass(frozen=True)
class Failure:
    """One failed attempt, with what the verdict depends on."""

    status: int | None  # the HTTP status, None without an answer
    described: str  # "HTTP 503", "No answer within 10 seconds"...
    retry_after: str | None
    failed_attempts: int  # this one included
    created_at: dt.datetime  # the delivery's
    failing_since: dt.datetime  # the endpoint's first failure since its last success


@dataclass(frozen=True)
class Verdict:
    next_attempt_at: dt.datetime | None  # None: the delivery is given up
    disable_because: str | None = None  # the endpoint is disabled, for this reason


def after_failure(failure: Failure, now: dt.datetime, scale: float = 1.0) -> Verdict:
    """Retry (never sooner than a Retry-After asks), or give up; a 410 or 5 days of nothing but
    failures disables the endpoint."""
    if failure.status == 410:
        return Verdict(None, "The endpoint answered 410 Gone: it asked to receive no webhooks.")
    delay = max(
        retry_delay(failure.failed_attempts, scale=scale),
        retry_after(failure.retry_after, now) or dt.timedelta(),
    )
    due = now + delay
    given_up = due > failure.created_at + GIVE_UP_AFTER
    # Failing since this delivery was made, and it is given up: 5 days of nothing but failures
    # (also when no later event keeps the endpoint being tried).
    failed_throughout = given_up and failure.failing_since <= (
        failure.created_at + FIRST_ATTEMPT_SLACK
    )
    if now - failure.failing_since >= GIVE_UP_AFTER or failed_throughout:
        return Verdict(
            None,
            f"Every delivery failed for 5 days (since {failure.failing_since:%Y-%m-%d %H:%M} "
            f"UTC); the last: {failure.described}.",
        )
    return Verdict(None if given_up else due)
