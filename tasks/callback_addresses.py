"""Which addresses a callback may reach: globally routable ones only, unless the operator lists
the network in CODESTUDIO_CALLBACK_ALLOWED_NETWORKS. Addresses that carry an IPv4 address
(IPv4-mapped, 6to4, NAT64) are judged by the address they lead to; Teredo tunnels are refused.
Host names are resolved within a time bound, so a slow DNS server never holds a request."""
from __future__ import annotations

import ipaddress
import os
import socket
from concurrent.futures import ThreadPoolExecutor

RESOLVE_SECONDS = 2.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are the IPv4 address
# not globally reachable (IANA special-purpose registries), yet `is_global` to some Python
# versions: IETF protocol assignments, deprecated site-local, local-use NAT64, documentation
NOT_GLOBAL = tuple(ipaddress.ip_network(n) for n in ("192.0.0.0/24", "fec0::/10", "64:ff9b:1::/48", "3fff::/20"))

# getaddrinfo cannot time out by itself: it runs here, and the caller stops waiting at the bound
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="callback-dns")


class CallbackRefused(ValueError):
    """The callback URL or its host is not one we may call."""


def allowed_networks() -> list[IPNetwork]:
    raw = os.environ.get("CODESTUDIO_CALLBACK_ALLOWED_NETWORKS", "")
    return [ipaddress.ip_network(n.strip(), strict=False) for n in raw.split(",") if n.strip()]


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address a connection to `ip` really reaches, for the IPv6 forms that carry one."""
    if ip.version == 4:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """Globally routable, and so is any IPv4 address it carries."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        return is_public(inner)
    if ip.version == 6 and ip.teredo is not None:
        return False  # a tunnel through a relay: where it ends is not ours to judge
    return (ip.is_global and not ip.is_multicast and not ip.is_reserved
            and not any(ip in network for network in NOT_GLOBAL))


def is_allowed(ip: IPAddress, networks: list[IPNetwork]) -> bool:
    """Public, or in a network the operator listed (the address as resolved: a 6to4 or NAT64
    address leads through a relay, not to the listed host)."""
    return is_public(ip) or any(ip in network for network in networks)


def _addresses(host: str, port: int, seconds: float) -> list[IPAddress]:
    future = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=seconds)
    except TimeoutError:
        future.cancel()
        raise CallbackRefused(f"{host} did not resolve within {seconds:g} s") from None
    except (socket.gaierror, UnicodeError) as exc:
        raise CallbackRefused(f"cannot resolve {host}: {exc}") from None
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def resolve_allowed(host: str, port: int, seconds: float = RESOLVE_SECONDS) -> str:
    """The first address of `host` we may connect to; every address must be allowed (a host
    with one private address among public ones is refused: we would not know which one is meant)."""
    networks = allowed_networks()
    addresses = _addresses(host, port, seconds)
    for ip in addresses:
        if not is_allowed(ip, networks):
            raise CallbackRefused(f"{host} resolves to {ip}, which is not a public address")
    return str(addresses[0])
