"""A contract's terms and renewal window: pure functions of its dates (contract README).

A term runs from `starts_on` to `expires_on` inclusive. The next one starts the day after,
`renews_on`, and ends `term_months` calendar months later, less a day. The renewal window opens
`window_days` before `renews_on` and closes with the term.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from services.purchases.pricing import add_months

ONE_DAY = dt.timedelta(days=1)


class ContractStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"


@dataclass(frozen=True)
class Term:
    starts_on: dt.date
    expires_on: dt.date


def term_from(starts_on: dt.date, term_months: int) -> Term:
    """The term starting on `starts_on`: `term_months` months, less a day."""
    return Term(starts_on, add_months(starts_on, term_months) - ONE_DAY)


def next_term(expires_on: dt.date, term_months: int) -> Term:
    """The term after the one ending on `expires_on`."""
    return term_from(expires_on + ONE_DAY, term_months)


def has_ended(*, auto_renews: bool, expires_on: dt.date, today: dt.date) -> bool:
    """From the day after the last term of a contract that does not renew.

    A renewing contract never ends: its due renewals are applied before it is read.
    """
    return not auto_renews and expires_on < today


def status(*, auto_renews: bool, expires_on: dt.date, today: dt.date) -> ContractStatus:
    ended = has_ended(auto_renews=auto_renews, expires_on=expires_on, today=today)
    return ContractStatus.ENDED if ended else ContractStatus.ACTIVE


@dataclass(frozen=True)
class RenewalWindow:
    renews_on: dt.date
    next_term_expires_on: dt.date
    opens_on: dt.date
    closes_on: dt.date  # the current term's last day

    def is_open(self, today: dt.date) -> bool:
        return self.opens_on <= today <= self.closes_on


def renewal_window(*, expires_on: dt.date, term_months: int, window_days: int) -> RenewalWindow:
    following = next_term(expires_on, term_months)
    return RenewalWindow(
        renews_on=following.starts_on,
        next_term_expires_on=following.expires_on,
        opens_on=following.starts_on - dt.timedelta(days=window_days),
        closes_on=expires_on,
    )
