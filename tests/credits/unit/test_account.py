from datetime import UTC, datetime

import pytest
from imagegen_credits.domain.model import Account, InsufficientCredits, Movement, Plan, month_after
from imagegen_platform.errors import InvalidArgument

START = datetime(2026, 11, 1, tzinfo=UTC)


def account(allocation: int = 500_00, bonus: int = 0) -> Account:
    acct = Account("team", Plan.BASIC, 0, 0, 0, 0, START, month_after(START))
    acct.allocate(allocation)
    if bonus:
        acct.grant_bonus(bonus)
    return acct


def pools(acct: Account) -> tuple[int, int, int]:
    return acct.available_hundredths, acct.bonus_hundredths, acct.reserved_hundredths


def test_reserve_moves_available_to_reserved():
    acct = account()
    assert acct.reserve(27_00) == Movement(27_00, 0)
    assert pools(acct) == (473_00, 0, 27_00)


def test_reserving_more_than_available_is_refused_and_changes_nothing():
    acct = account(10_00)
    with pytest.raises(InsufficientCredits) as caught:
        acct.reserve(10_01)
    assert caught.value.reason == "insufficient_credits"
    assert caught.value.details == {"neededCredits": "10.01", "availableCredits": "10.00"}
    assert pools(acct) == (10_00, 0, 0)


@pytest.mark.parametrize("amount", [0, -1])
def test_reservations_must_be_positive(amount):
    with pytest.raises(InvalidArgument):
        account().reserve(amount)


def test_spending_draws_on_the_allocation_before_bonus_credits():
    acct = account(allocation=20_00, bonus=50_00)
    assert acct.reserve(30_00) == Movement(30_00, 10_00)
    assert pools(acct) == (40_00, 40_00, 30_00)


def test_settle_spends_the_charge_and_returns_the_rest_bonus_first():
    acct = account(allocation=20_00, bonus=50_00)
    acct.reserve(30_00)  # 20 allocation + 10 bonus
    captured, released = acct.settle(30_00, 10_00, 25_00)
    assert captured == Movement(25_00, 5_00)
    assert released == Movement(5_00, 5_00)
    assert pools(acct) == (45_00, 45_00, 0)


def test_a_charge_above_the_reservation_is_refused():
    acct = account()
    acct.reserve(30_00)
    with pytest.raises(InvalidArgument):
        acct.settle(30_00, 0, 30_01)
    assert acct.reserved_hundredths == 30_00


def test_expiry_removes_only_the_unused_allocation():
    acct = account(allocation=100_00, bonus=40_00)
    acct.reserve(30_00)
    assert acct.expire_allocation() == Movement(70_00)
    assert pools(acct) == (40_00, 40_00, 30_00)


def test_a_debit_adjustment_takes_allocation_before_bonus():
    acct = account(allocation=10_00, bonus=40_00)
    assert acct.adjust(-15_00) == Movement(-15_00, -5_00)
    assert pools(acct) == (35_00, 35_00, 0)
    with pytest.raises(InsufficientCredits):
        acct.adjust(-35_01)


def test_unpaid_subscriptions_get_the_free_plans_limits():
    acct = account()
    acct.plan = Plan.PRO
    acct.subscription_status = "past_due"
    assert acct.effective_plan is Plan.PRO
    acct.subscription_status = "canceled"
    assert acct.effective_plan is Plan.FREE


def test_manual_periods_end_at_the_next_month():
    assert month_after(datetime(2026, 12, 15, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
