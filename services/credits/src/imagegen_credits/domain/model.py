"""Credit accounts: amounts are integer hundredths of a credit, and balances never go negative.

Available credits have two parts: the plan's monthly allocation, which expires at the end of its
billing period, and bonus credits (top-ups), which do not. Spending draws on the allocation first,
so bonus credits last; `bonus_hundredths` is the bonus part of `available_hundredths`.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from imagegen_platform.errors import FailedPrecondition, InvalidArgument


class Plan(Enum):
    FREE = "free"
    BASIC = "basic"
    PRO = "pro"
    ENTERPRISE = "enterprise"


@dataclass(frozen=True)
class PlanLimits:
    monthly_allocation_hundredths: int
    max_concurrent_jobs: int


# The seed's plan table: credits per month and jobs running at once.
PLAN_LIMITS = {
    Plan.FREE: PlanLimits(0, 0),
    Plan.BASIC: PlanLimits(500_00, 1),
    Plan.PRO: PlanLimits(2_000_00, 3),
    Plan.ENTERPRISE: PlanLimits(10_000_00, 10),
}

# Stripe subscription states in which the team no longer pays: it keeps what it has reserved,
# but new work gets the free plan's limits.
UNPAID_SUBSCRIPTION_STATES = frozenset({"canceled", "unpaid", "incomplete_expired"})


class LedgerKind(Enum):
    ALLOCATION = "allocation"
    BONUS = "bonus"
    RESERVE = "reserve"
    CAPTURE = "capture"
    RELEASE = "release"
    EXPIRY = "expiry"
    ADJUSTMENT = "adjustment"


class Billing(Enum):
    # Renewed by the credits service itself at each period's end (teams made by the admin CLI).
    MANUAL = "manual"
    # Renewed by Stripe's invoice.payment_succeeded.
    STRIPE = "stripe"


class InsufficientCredits(FailedPrecondition):
    def __init__(self, needed: int, available: int) -> None:
        super().__init__(
            "insufficient_credits",
            f"this needs {needed / 100:.2f} credits and {available / 100:.2f} are available",
            {"neededCredits": f"{needed / 100:.2f}", "availableCredits": f"{available / 100:.2f}"},
        )


class ReservationState(Enum):
    HELD = "held"
    CAPTURED = "captured"
    RELEASED = "released"


@dataclass(frozen=True)
class Reservation:
    """Credits held for one job, keyed by the job's idempotency key; settled once."""

    team_id: str
    amount_hundredths: int
    bonus_hundredths: int
    state: ReservationState
    captured_hundredths: int
    released_hundredths: int


@dataclass(frozen=True)
class Movement:
    """What one operation did to the pools, for its ledger row."""

    amount: int
    bonus: int = 0


@dataclass
class Account:
    team_id: str
    plan: Plan
    available_hundredths: int
    reserved_hundredths: int
    bonus_hundredths: int
    total_allocated_hundredths: int
    period_start: datetime
    next_replenishment_at: datetime
    billing: Billing = Billing.MANUAL
    subscription_status: str | None = None
    low_balance_threshold_hundredths: int | None = None
    below_low_balance: bool = False

    @property
    def effective_plan(self) -> Plan:
        """The plan whose limits apply to new work."""
        if self.subscription_status in UNPAID_SUBSCRIPTION_STATES:
            return Plan.FREE
        return self.plan

    @property
    def allocation_hundredths(self) -> int:
        """The expiring part of available credits."""
        return self.available_hundredths - self.bonus_hundredths

    def reserve(self, amount: int) -> Movement:
        if amount <= 0:
            raise InvalidArgument("invalid_amount", "a reservation must be positive")
        if amount > self.available_hundredths:
            raise InsufficientCredits(amount, self.available_hundredths)
        from_bonus = max(0, amount - self.allocation_hundredths)
        self.available_hundredths -= amount
        self.bonus_hundredths -= from_bonus
        self.reserved_hundredths += amount
        return Movement(amount, from_bonus)

    def settle(self, reserved: int, reserved_bonus: int, charge: int) -> tuple[Movement, Movement]:
        """Spend `charge` of a reservation and return the rest; returns (capture, release).

        The charge consumes the reservation's allocation part first, so the release gives back
        bonus credits before allocation ones.
        """
        if not 0 <= charge <= reserved:
            raise InvalidArgument(
                "invalid_capture",
                f"a capture must be between 0 and the reserved {reserved / 100:.2f} credits",
            )
        released = reserved - charge
        released_bonus = min(reserved_bonus, released)
        self.reserved_hundredths -= reserved
        self.available_hundredths += released
        self.bonus_hundredths += released_bonus
        return Movement(charge, reserved_bonus - released_bonus), Movement(released, released_bonus)

    def allocate(self, amount: int) -> Movement:
        self.available_hundredths += amount
        self.total_allocated_hundredths += amount
        return Movement(amount)

    def grant_bonus(self, amount: int) -> Movement:
        if amount <= 0:
            raise InvalidArgument("invalid_amount", "a bonus must be positive")
        self.available_hundredths += amount
        self.bonus_hundredths += amount
        self.total_allocated_hundredths += amount
        return Movement(amount, amount)

    def expire_allocation(self) -> Movement:
        """Unused monthly allocation lapses; bonus credits and reserved work are untouched."""
        amount = self.allocation_hundredths
        self.available_hundredths -= amount
        return Movement(amount)

    def adjust(self, delta: int) -> Movement:
        """A manual correction; a debit takes allocation credits before bonus ones."""
        if delta == 0:
            raise InvalidArgument("invalid_amount", "an adjustment must not be zero")
        if self.available_hundredths + delta < 0:
            raise InsufficientCredits(-delta, self.available_hundredths)
        bonus_change = -max(0, -delta - self.allocation_hundredths) if delta < 0 else 0
        self.available_hundredths += delta
        self.bonus_hundredths += bonus_change
        return Movement(delta, bonus_change)

    def start_period(self, start: datetime, end: datetime) -> None:
        self.period_start = start
        self.next_replenishment_at = end


def month_after(moment: datetime) -> datetime:
    """The first instant of the month after `moment`'s (UTC): when a manual period ends."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)
