"""Offline enrichment: MAC vendors (IEEE registry via netaddr), country and AS (geoip2fast),
registered domains (public suffix list), and the premises/off-site decision."""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

DEFAULT_PREMISES = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "127.0.0.0/8",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
)
# never off-site, whatever the premises settings say
LOCAL_SCOPE = (
    "0.0.0.0/8",
    "224.0.0.0/4",
    "255.255.255.255/32",
    "169.254.0.0/16",
    "fe80::/10",
    "ff00::/8",
    "::/128",
)


def _net_int(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[int, int, int]:
    return (net.max_prefixlen // 8, int(net.network_address), int(net.netmask))


class Premises:
    """Decides whether an address is on the premises, local-scope, or off-site."""

    def __init__(self, cidrs: list[str] | None = None, inference: Any = None) -> None:
        self.cidrs = list(cidrs) if cidrs else list(DEFAULT_PREMISES)
        # what the link showed (netscan.inventory.linkscope.Inference), once decided
        self.inference = inference
        self._nets = [ipaddress.ip_network(c, strict=False) for c in self.cidrs]
        self._local = [ipaddress.ip_network(c) for c in LOCAL_SCOPE]
        # the same networks as (address length in bytes, network, mask) integers: a
        # membership test is one AND and one comparison, no ipaddress object per address
        self._nets_int = [_net_int(n) for n in self._nets]
        self._local_int = [_net_int(n) for n in self._local]
        self._cache: dict[str, int] = {}

    def _classify(self, ip: str) -> int:
        # the strict text forms (dotted quad, RFC 4291 text) the C parser reads; anything
        # else (a zone index, say) goes through ipaddress as before
        try:
            raw = socket.inet_pton(socket.AF_INET6 if ":" in ip else socket.AF_INET, ip)
        except (OSError, ValueError):
            try:
                raw = ipaddress.ip_address(ip).packed
            except ValueError:
                return 1
        n, size = int.from_bytes(raw, "big"), len(raw)
        for sz, net, mask in self._nets_int:
            if sz == size and n & mask == net:
                return 0
        for sz, net, mask in self._local_int:
            if sz == size and n & mask == net:
                return 1
        return 2

    def scope(self, ip: str) -> int:
        """0 premises, 1 local scope (multicast, broadcast, link-local), 2 off-site."""
        s = self._cache.get(ip)
        if s is None:
            s = self._classify(ip)
            if len(self._cache) < 1_000_000:
                self._cache[ip] = s
        return s

    def is_premises(self, ip: str) -> bool:
        return self.scope(ip) == 0

    def is_offsite(self, ip: str) -> bool:
        return bool(ip) and self.scope(ip) == 2


# MAC registrants (MA-L, MA-M, MA-S) live in netscan.inventory.oui
from netscan.inventory.oui import oui_vendor  # noqa: E402, F401


def is_locally_administered(mac: str) -> bool:
    try:
        return bool(int(mac[:2], 16) & 0x02)
    except ValueError:
        return False


@dataclass(slots=True)
class GeoInfo:
    country: str | None
    asn: int | None
    org: str | None


class Geo:
    """Country and AS organisation from the database geoip2fast ships (no network)."""

    def __init__(self) -> None:
        self._db = None
        self._has_v6 = False
        self._cache: dict[str, GeoInfo] = {}

    def _load(self, ipv6: bool = True):  # type: ignore[no-untyped-def]
        """The database: IPv4 only when no IPv6 address needs it (a third less memory)."""
        if self._db is None or (ipv6 and not self._has_v6):
            import geoip2fast
            from geoip2fast import GeoIP2Fast

            base = os.path.dirname(geoip2fast.__file__)
            names = ["geoip2fast-asn-ipv6.dat.gz"] if ipv6 else []
            names.append("geoip2fast-asn.dat.gz")
            path = next((os.path.join(base, n) for n in names
                         if os.path.exists(os.path.join(base, n))), None)  # fmt: skip
            self._db = None  # let the smaller one go before the larger one loads
            self._db = GeoIP2Fast(geoip2fast_data_file=path, verbose=False)
            self._has_v6 = path is not None and "ipv6" in path
        return self._db

    def prepare(self, ips: list[str]) -> None:
        """Load the database once, sized for the addresses about to be looked up."""
        self._load(ipv6=any(":" in ip for ip in ips))

    def lookup(self, ip: str) -> GeoInfo:
        hit = self._cache.get(ip)
        if hit is not None:
            return hit
        try:
            r = self._load(ipv6=":" in ip).lookup(ip)
            country = r.country_code or None
            if country in ("--", ""):
                country = None
            org = getattr(r, "asn_name", "") or None
            info = GeoInfo(country, None, org)
        except Exception:
            info = GeoInfo(None, None, None)
        self._cache[ip] = info
        return info


@lru_cache(maxsize=65536)
def registered_domain(name: str) -> str:
    """The registrable domain of a host name (public suffix list snapshot bundled offline)."""
    try:
        psl = _psl()
        return psl.privatesuffix(name) or name
    except Exception:
        parts = name.split(".")
        return ".".join(parts[-2:])


@lru_cache(maxsize=1)
def _psl():  # type: ignore[no-untyped-def]
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()
