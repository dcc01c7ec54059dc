"""Client IP addresses as the per-IP limits count them: one spelling per client.

An attacker who can choose how the client address is written would otherwise get a fresh
counter per spelling. So every address is reduced to the network it is counted by:

- an IPv4 address embedded in IPv6 counts as that IPv4 address: IPv4-mapped
  (``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``), NAT64 (``64:ff9b::a.b.c.d``),
  6to4 (``2002:AABB:CCDD::``) and Teredo (the client's obfuscated address);
- IPv6 addresses are counted by their /64 (one customer's LAN), IPv4 by the whole address
  (both prefix lengths are settings);
- zone ids (``fe80::1%eth0``) mean nothing outside one host and are refused;
- case, leading zeros of groups and ``::`` compression do not matter (``ipaddress``
  prints one canonical form; leading zeros in IPv4 octets are refused by it).
"""
from __future__ import annotations

import ipaddress

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    value = int(address)
    if address in _NAT64 or (value >> 32 == 0 and value > 1):  # NAT64, or ::a.b.c.d (not :: or ::1)
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    return None


def client_network(text: str, ipv4_prefix: int = 32, ipv6_prefix: int = 64) -> str:
    """The network ``text`` is counted under, as a string; ValueError for a zone id or junk."""
    address = ipaddress.ip_address(text)
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            raise ValueError("zone ids (%...) are not accepted")
        address = _embedded_ipv4(address) or address
    prefix = ipv4_prefix if address.version == 4 else ipv6_prefix
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
