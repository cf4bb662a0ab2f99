from datetime import UTC, datetime

import pytest
from imagegen_credits.domain.model import Account, InsufficientCredits, Plan
from imagegen_platform.errors import InvalidArgument


def account(available: int = 500_00) -> Account:
    return Account("team", Plan.BASIC, available, 0, 0, available, datetime(2026, 12, 1, tzinfo=UTC))


def test_reserve_moves_available_to_reserved():
    acct = account()
    acct.reserve(27_00)
    assert (acct.available_hundredths, acct.reserved_hundredths) == (473_00, 27_00)


def test_reserving_more_than_available_is_refused_and_changes_nothing():
    acct = account(10_00)
    with pytest.raises(InsufficientCredits) as caught:
        acct.reserve(10_01)
    assert caught.value.reason == "insufficient_credits"
    assert caught.value.details == {"neededCredits": "10.01", "availableCredits": "10.00"}
    assert (acct.available_hundredths, acct.reserved_hundredths) == (10_00, 0)


@pytest.mark.parametrize("amount", [0, -1])
def test_reservations_must_be_positive(amount):
    with pytest.raises(InvalidArgument):
        account().reserve(amount)


def test_settle_spends_the_charge_and_returns_the_rest():
    acct = account()
    acct.reserve(30_00)
    released = acct.settle(30_00, 27_00)
    assert released == 3_00
    assert (acct.available_hundredths, acct.reserved_hundredths) == (473_00, 0)


def test_a_charge_above_the_reservation_is_refused():
    acct = account()
    acct.reserve(30_00)
    with pytest.raises(InvalidArgument):
        acct.settle(30_00, 30_01)
    assert acct.reserved_hundredths == 30_00
