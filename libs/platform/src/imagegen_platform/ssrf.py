"""Which addresses a request to a URL someone else chose may reach (an SSRF guard).

Storage fetches training images from customers' URLs and the gateway posts webhooks to customers'
endpoints; neither may be steered at the cluster's own services or the cloud's metadata endpoint.
Callers resolve the host here, then connect to the address that was checked (not the name again),
so a DNS answer that changes between check and connect (rebinding) cannot reach an internal address.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def is_public(address: IpAddress) -> bool:
    """Globally routable unicast: not loopback, private, link-local (cloud metadata at
    169.254.169.254 and fd00:ec2::254 included), shared, reserved or multicast."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast


class HostUnresolvable(Exception):
    """The host name has no address."""


class AddressNotAllowed(Exception):
    """The host is, or resolves to, an address that is neither public nor in an allowed network."""

    def __init__(self, host: str, refused: list[str]) -> None:
        super().__init__(f"{host} resolves to an address that is not public")
        self.host = host
        self.refused = refused


class AddressGuard:
    """Public addresses, plus the networks configuration allows (loopback for a local stack)."""

    def __init__(self, allowed_networks: Iterable[str] = ()) -> None:
        self.allowed_networks: list[IpNetwork] = [
            ipaddress.ip_network(network, strict=False) for network in allowed_networks
        ]

    def allowed(self, address: IpAddress) -> bool:
        return is_public(address) or any(address in network for network in self.allowed_networks)

    async def resolve(self, host: str, port: int) -> IpAddress:
        """The address to connect to, after checking every address the name resolves to."""
        try:
            literal: IpAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as error:
                raise HostUnresolvable(f"cannot resolve {host}") from error
            addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        refused = [str(address) for address in addresses if not self.allowed(address)]
        if refused or not addresses:
            raise AddressNotAllowed(host, refused)
        return addresses[0]
