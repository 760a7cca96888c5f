"""Offline enrichment: MAC vendors (IEEE registry via netaddr), country and AS (geoip2fast),
registered domains (public suffix list), and the premises/off-site decision."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from netscan.util import packed_ip

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
        raw = packed_ip(ip)
        if raw is None:
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
    """Country and AS organisation from the database geoip2fast ships (no network), read
    through a compact index of it (``netscan.inventory.geodb``) only when an off-site
    address needs them."""

    def __init__(self) -> None:
        self._table: Any = None
        self._loaded = False
        self._has_v6 = False
        self._cache: dict[str, GeoInfo] = {}

    def _load(self, ipv6: bool = True) -> Any:
        """The database: IPv4 only when no IPv6 address needs it (a third less to read)."""
        if not self._loaded or (ipv6 and not self._has_v6):
            from netscan.inventory import geodb

            self._loaded = True
            self._table = geodb.table(ipv6)
            self._has_v6 = self._table is not None and geodb.FILE_V6 in self._table.source
        return self._table

    def prepare(self, ips: list[str]) -> None:
        """Load the database once, sized for the addresses about to be looked up."""
        self._load(ipv6=any(":" in ip for ip in ips))

    def lookup(self, ip: str) -> GeoInfo:
        hit = self._cache.get(ip)
        if hit is not None:
            return hit
        try:
            country, asn_name = self._load(ipv6=":" in ip).lookup(ip)
            info = GeoInfo(None if country in ("--", "") else country, None, asn_name or None)
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
    """The bundled public suffix list, parsed once. The library adds the punycode form of
    every rule through Python's IDNA codec (most of its 0.2-0.4 s parse); a rule in ASCII
    is its own punycode form, so only the few hundred others are encoded, once per list
    (kept in the cache directory, ``netscan.datacache``), handed over as rules of their
    own, and the codec pass is skipped: the same rules either way."""
    from pathlib import Path

    import publicsuffixlist as psl_mod
    from publicsuffixlist import PublicSuffixList

    from netscan import datacache

    try:
        path = Path(psl_mod.PSLFILE)
        lines = path.read_bytes().split(b"\n")

        def build() -> dict[str, bytes]:
            extra = _idn_rules(lines, psl_mod.encode_idn)
            return {"ok": b"1" if extra is not None else b"", "rules": b"\n".join(extra or [])}

        parts = datacache.load("psl", 1, path, build)
        ok, rules = bytes(parts["ok"]), bytes(parts["rules"])
    except Exception:  # anything unexpected: the library's own parse decides
        ok, rules = b"", b""
    if not ok:
        return PublicSuffixList()
    return PublicSuffixList(lines + (rules.split(b"\n") if rules else []), accept_encoded_idn=False)


def _idn_rules(lines: list[bytes], encode_idn: Any) -> list[bytes] | None:
    """The punycode forms of the non-ASCII rules among ``lines`` (None: a rule the IDNA
    codec would refuse or change in shape, left to the library)."""
    extra: list[bytes] = []
    for line in lines:
        rule = line.decode("utf8", "surrogateescape").lower().split(" ")[0].rstrip()
        if not rule or rule.startswith("//"):
            continue
        bare = rule.lstrip("!")
        if bare.isascii():
            labels = bare.split(".")
            if any(not 0 < len(x) < 64 for x in labels[:-1]) or len(labels[-1]) >= 64:
                return None  # the codec raises for these
            continue
        enc = encode_idn(bare)
        if enc.count(".") != rule.count("."):
            return None
        extra.append(("!" + enc if rule[0] == "!" else enc).encode("ascii"))
    return extra
