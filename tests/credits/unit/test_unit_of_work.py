import pytest
from imagegen_credits.domain.model import InsufficientCredits
from imagegen_credits.service_layer.unit_of_work import ConnectionLost, retried_once_on_lost_connection
from imagegen_platform.errors import Unavailable


def handler_failing_with(*failures: Exception):
    """A handler that raises the given errors on its first calls, then returns its call count."""
    calls = 0

    @retried_once_on_lost_connection
    async def handler() -> int:
        nonlocal calls
        calls += 1
        if calls <= len(failures):
            raise failures[calls - 1]
        return calls

    return handler


async def test_a_lost_connection_is_retried_once():
    assert await handler_failing_with(ConnectionLost("closed"))() == 2


async def test_losing_the_connection_twice_is_unavailable():
    with pytest.raises(Unavailable):
        await handler_failing_with(ConnectionLost("closed"), ConnectionLost("closed"))()


async def test_postgres_refusing_connections_is_unavailable():
    with pytest.raises(Unavailable):
        await handler_failing_with(ConnectionRefusedError("refused"))()


async def test_other_failures_are_not_retried():
    with pytest.raises(InsufficientCredits):
        await handler_failing_with(InsufficientCredits(10, 0))()
