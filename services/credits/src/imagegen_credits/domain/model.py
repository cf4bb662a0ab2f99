"""Credit accounts: amounts are integer hundredths of a credit, and balances never go negative."""

from dataclasses import dataclass
from datetime import datetime
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


@dataclass
class Account:
    team_id: str
    plan: Plan
    available_hundredths: int
    reserved_hundredths: int
    bonus_hundredths: int
    total_allocated_hundredths: int
    next_replenishment_at: datetime

    def reserve(self, amount: int) -> None:
        if amount <= 0:
            raise InvalidArgument("invalid_amount", "a reservation must be positive")
        if amount > self.available_hundredths:
            raise InsufficientCredits(amount, self.available_hundredths)
        self.available_hundredths -= amount
        self.reserved_hundredths += amount

    def settle(self, reserved: int, charge: int) -> int:
        """Spend `charge` of a reservation and return the rest to available; returns the rest."""
        if not 0 <= charge <= reserved:
            raise InvalidArgument(
                "invalid_capture",
                f"a capture must be between 0 and the reserved {reserved / 100:.2f} credits",
            )
        released = reserved - charge
        self.reserved_hundredths -= reserved
        self.available_hundredths += released
        return released
