"""The shared SSRF guard: only public addresses, plus networks configuration allows."""

import ipaddress

import pytest
from imagegen_platform.ssrf import AddressGuard, AddressNotAllowed, is_public


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "100.64.0.1",
        "169.254.169.254",
        "fd00:ec2::254",
        "0.0.0.0",
        "224.0.0.1",
        "::ffff:10.0.0.1",
        "2002:0a00:0001::1",
    ],
)
def test_loopback_private_shared_link_local_and_multicast_addresses_are_not_public(address):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_globally_routable_unicast_addresses_are_public(address):
    assert is_public(ipaddress.ip_address(address))


async def test_a_guard_resolves_to_the_checked_address_and_names_what_it_refuses():
    guard = AddressGuard(["127.0.0.0/8"])
    assert await guard.resolve("127.0.0.5", 80) == ipaddress.ip_address("127.0.0.5")
    assert await guard.resolve("8.8.8.8", 443) == ipaddress.ip_address("8.8.8.8")
    with pytest.raises(AddressNotAllowed) as refused:
        await guard.resolve("169.254.169.254", 80)
    assert refused.value.refused == ["169.254.169.254"]
    assert "not public" in str(refused.value)
