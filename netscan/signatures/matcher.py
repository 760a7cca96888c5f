"""Fast signature lookups.

`Matcher(pack)` compiles a pack once into index structures whose cost per lookup depends
on the length of the input, not on the number of signatures:

* MAC OUIs: one dict keyed by 6, 7 and 9 hex-digit prefixes (MA-L, MA-M, MA-S): three probes.
* Host names (DNS, SNI, HTTP Host, certificate SANs): a trie of reversed labels, walked once
  per label; ``*`` labels add at most one extra branch per pattern level.
* IP addresses: per family, sorted elementary intervals searched with bisect.
* Exact fields (DHCP PRL, mDNS service type, JA3/JA4, ports, ASNs, vendor discovery): dicts.
* Prefix fields (HTTP path, RTSP path): a character trie walked along the input.
* Substring fields (banners, names): an Aho-Corasick automaton per field.
* Content markers in payloads: one RE2 set of all markers over Latin-1 text, one pass.
* Regex entries: one RE2 set per field when the ``re2`` module is available (linear time);
  otherwise each validated pattern runs on input cut to ``REGEX_INPUT_LIMIT`` characters.

`probes` counts index steps (dict probes, trie steps, automaton transitions) so tests can
check that the work per lookup does not grow with the pack size.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import re2 as _re2  # type: ignore[import-not-found]  # linear-time regular expressions

from netscan import events as ev
from netscan.observations import Observation, observe
from netscan.signatures.pack import (
    DOMAIN_FIELDS,
    FIELD_MODES,
    MATCH_FIELDS,
    REGEX_INPUT_LIMIT,
    Entry,
    Pack,
    Signature,
    _parse_domain_pattern,
    normalize_mac_hex,
    normalize_mdns_service,
    normalize_name,
    normalize_port,
    normalize_prl,
)
from netscan.util import packed_ip

BODY_SCAN_LIMIT = 64 * 1024  # bytes of an HTTP body searched for content markers
TEXT_LIMIT = 4096  # characters of any other text field searched
MAX_LABELS = 64


@dataclass(frozen=True, slots=True)
class SigMatch:
    """One signature hit. `field`/`value` describe the observed input that matched."""

    sig_id: str
    category: str
    name: str
    vendor: str
    jurisdiction: str
    role: str | None
    confidence: float
    field: str
    value: str
    subject: int = 0  # whom the matched value describes (netscan.observations.Subject)
    # content markers: the protocol that carries them and the part that holds the image
    protocol: str | None = None
    image_field: str | None = None


@dataclass(frozen=True, slots=True)
class _Ref:
    sig: Signature
    entry: Entry
    all_clause: bool  # True when the entry belongs to match_all


# --- index structures ------------------------------------------------------------------


class _AhoCorasick:
    """Multi-pattern substring search over str (bytes are handled as latin-1 text)."""

    def __init__(self) -> None:
        self._goto: list[dict[str, int]] = [{}]
        self._fail: list[int] = [0]
        self._out: list[list[_Ref]] = [[]]
        self._built = False

    def add(self, pattern: str, ref: _Ref) -> None:
        state = 0
        for ch in pattern:
            nxt = self._goto[state].get(ch)
            if nxt is None:
                nxt = len(self._goto)
                self._goto.append({})
                self._fail.append(0)
                self._out.append([])
                self._goto[state][ch] = nxt
            state = nxt
        self._out[state].append(ref)

    def build(self) -> None:
        queue: deque[int] = deque(self._goto[0].values())
        while queue:
            s = queue.popleft()
            for ch, t in self._goto[s].items():
                queue.append(t)
                f = self._fail[s]
                while f and ch not in self._goto[f]:
                    f = self._fail[f]
                cand = self._goto[f].get(ch, 0)
                self._fail[t] = cand if cand != t else 0
                self._out[t] = self._out[t] + self._out[self._fail[t]]
        self._built = True

    def search(self, text: str, counter: list[int]) -> list[_Ref]:
        goto, fail, out = self._goto, self._fail, self._out
        state = 0
        found: list[_Ref] = []
        steps = 0
        for ch in text:
            while True:
                steps += 1
                nxt = goto[state].get(ch)
                if nxt is not None:
                    state = nxt
                    break
                if state == 0:
                    break
                state = fail[state]
            if out[state]:
                found.extend(out[state])
        counter[0] += steps
        return found


class _PrefixTrie:
    """Character trie: every stored prefix of the input, found in one walk."""

    def __init__(self) -> None:
        self._root: dict[str, Any] = {}

    def add(self, prefix: str, ref: _Ref) -> None:
        node = self._root
        for ch in prefix:
            node = node.setdefault(ch, {})
        node.setdefault("", []).append(ref)

    def search(self, text: str, counter: list[int]) -> list[_Ref]:
        node = self._root
        found: list[_Ref] = []
        for ch in text:
            counter[0] += 1
            node = node.get(ch)  # type: ignore[assignment]
            if node is None:
                break
            refs = node.get("")
            if refs:
                found.extend(refs)
        return found


class _DomainNode:
    __slots__ = ("children", "exact", "below", "suffix")

    def __init__(self) -> None:
        self.children: dict[str, _DomainNode] = {}
        self.exact: list[_Ref] = []  # the name itself
        self.below: list[_Ref] = []  # names with one or more extra labels
        self.suffix: list[_Ref] = []  # the name itself and every name below it


class _DomainTrie:
    """Reversed-label trie for exact, ``.suffix`` and ``*.`` wildcard name patterns."""

    def __init__(self) -> None:
        self._root = _DomainNode()

    def add(self, pattern: str, ref: _Ref) -> None:
        kind, labels = _parse_domain_pattern(pattern)
        node = self._root
        for lab in reversed(labels):
            node = node.children.setdefault(lab, _DomainNode())
        getattr(node, kind).append(ref)

    def search(self, name: str, counter: list[int]) -> list[_Ref]:
        labels = name.split(".")[-MAX_LABELS:]
        labels.reverse()
        frontier = [self._root]
        found: list[_Ref] = []
        for lab in labels:
            nxt: list[_DomainNode] = []
            for node in frontier:
                if node is not self._root:  # more labels follow this node
                    found.extend(node.below)
                    found.extend(node.suffix)
                for key in (lab, "*"):
                    counter[0] += 1
                    child = node.children.get(key)
                    if child is not None:
                        nxt.append(child)
            frontier = nxt
            if not frontier:
                return found
        for node in frontier:
            found.extend(node.exact)
            found.extend(node.suffix)
        return found


class _IntervalIndex:
    """Elementary intervals over integer addresses, searched with bisect."""

    def __init__(self) -> None:
        self._items: list[tuple[int, int, _Ref]] = []
        self._starts: list[int] = []
        self._refs: list[tuple[_Ref, ...]] = []

    def add(self, start: int, end: int, ref: _Ref) -> None:
        self._items.append((start, end, ref))

    def build(self) -> None:
        points = sorted({p for s, e, _ in self._items for p in (s, e + 1)})
        opens: dict[int, list[_Ref]] = {}
        closes: dict[int, list[_Ref]] = {}
        for s, e, ref in self._items:
            opens.setdefault(s, []).append(ref)
            closes.setdefault(e + 1, []).append(ref)
        active: list[_Ref] = []
        for p in points:
            for ref in closes.get(p, ()):
                active.remove(ref)
            active.extend(opens.get(p, ()))
            self._starts.append(p)
            self._refs.append(tuple(active))

    def search(self, value: int, counter: list[int]) -> tuple[_Ref, ...]:
        counter[0] += 1
        k = bisect_right(self._starts, value) - 1
        return self._refs[k] if k >= 0 else ()


class _RegexSet:
    """All regex entries of one field, matched together when RE2 is available."""

    def __init__(self) -> None:
        self._patterns: list[tuple[str, _Ref]] = []
        self._set: Any = None
        self._compiled: list[re.Pattern[str]] = []

    def add(self, pattern: str, ref: _Ref) -> None:
        self._patterns.append((pattern, ref))

    def build(self) -> None:
        if not self._patterns:
            return
        if _re2 is not None:
            opts = _re2.Options()
            opts.case_sensitive = False
            rset = _re2.Set.SearchSet(opts)
            for pattern, _ in self._patterns:
                rset.Add(pattern)
            rset.Compile()
            self._set = rset
        else:
            self._compiled = [re.compile(p, re.IGNORECASE) for p, _ in self._patterns]

    def search(self, text: str, counter: list[int]) -> list[_Ref]:
        text = text[:REGEX_INPUT_LIMIT]
        counter[0] += 1
        if self._set is not None:
            return [self._patterns[i][1] for i in self._set.Match(text) or ()]
        return [self._patterns[i][1] for i, rx in enumerate(self._compiled) if rx.search(text)]


# --- the matcher ----------------------------------------------------------------------------


CACHE_LIMIT = 100_000  # remembered lookups per kind; cleared when full
# ... and at most this many characters of the observed values in their keys (the values
# are network text: 100,000 paths of 16 KiB each would otherwise stay alive in a cache)
CACHE_CHARS = 8_000_000


class _Memo(dict[Any, Any]):
    """A lookup cache bounded by its entries and by the characters of the observed values
    its keys hold; cleared when either bound is reached. Looked up as a plain dict."""

    __slots__ = ("chars",)

    def __init__(self) -> None:
        super().__init__()
        self.chars = 0

    def put(self, key: Any, value: Any, chars: int) -> None:
        if len(self) >= CACHE_LIMIT or self.chars + chars > CACHE_CHARS:
            self.clear()
            self.chars = 0
        self[key] = value
        self.chars += chars


def _chars(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes) else 0


class Matcher:
    """Signature lookups for one pack. Build once, query many times."""

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        self._counter = [0]
        self._oui: dict[str, list[_Ref]] = {}
        self._names = _DomainTrie()
        self._v4 = _IntervalIndex()
        self._v6 = _IntervalIndex()
        self._exact: dict[str, dict[str, list[_Ref]]] = {}
        self._prefix: dict[str, _PrefixTrie] = {}
        self._contains: dict[str, _AhoCorasick] = {}
        self._regex: dict[str, _RegexSet] = {}
        self._marker_refs: dict[bytes, list[_Ref]] = {}  # lower-cased text or raw bytes
        self._name_cache = _Memo()  # (name, layer) -> refs
        self._text_cache = _Memo()  # (field, value) -> refs
        # the hit of one ref on one observed value (hits are immutable): built once
        self._hit_cache = _Memo()  # (ref, field, value, subject) -> SigMatch
        # the hits of one set of observations that holds no payload (when there are any)
        self._obs_cache = _Memo()  # observations -> their hits
        for sig in pack.signatures:
            for entry in sig.match:
                self._add(_Ref(sig, entry, False))
            for entry in sig.match_all:
                self._add(_Ref(sig, entry, True))
        for ac in self._contains.values():
            ac.build()
        for rs in self._regex.values():
            rs.build()
        self._build_marker_scan()
        self._v4.build()
        self._v6.build()
        # one lookup per field of the pack vocabulary (and the observation-only alias
        # ``tls_cert_san``: a certificate's names, matched as TLS names)
        self._lookup: dict[str, Any] = {f: self._lookup_for(f) for f in FIELD_MODES}
        self._lookup["tls_cert_san"] = self._lookup["tls_sni"]

    # -- building

    def _add(self, ref: _Ref) -> None:
        e = ref.entry
        if e.mode == "regex":
            self._regex.setdefault(e.key_space, _RegexSet()).add(e.value, ref)
        elif e.mode == "domain":
            self._names.add(e.value, ref)
        elif e.mode == "oui":
            self._oui.setdefault(e.value, []).append(ref)
        elif e.mode == "cidr":
            net = ipaddress.ip_network(e.value)
            index = self._v4 if net.version == 4 else self._v6
            index.add(int(net.network_address), int(net.broadcast_address), ref)
        elif e.mode in ("exact", "port", "asn"):
            self._exact.setdefault(e.key_space, {}).setdefault(e.value, []).append(ref)
        elif e.mode == "prefix":
            self._prefix.setdefault(e.field, _PrefixTrie()).add(e.value, ref)
        elif e.mode == "contains":
            self._contains.setdefault(e.field, _AhoCorasick()).add(e.value, ref)
        elif e.mode == "marker":
            key = bytes.fromhex(e.value) if e.binary else e.value.encode("utf-8")
            self._marker_refs.setdefault(key, []).append(ref)

    # -- probe accounting

    @property
    def probes(self) -> int:
        """Index steps taken since the last `reset_probes()`."""
        return self._counter[0]

    def reset_probes(self) -> None:
        self._counter[0] = 0

    # -- raw lookups returning refs

    def _name_refs(self, name: str, ctx: str | None) -> list[_Ref]:
        # names repeat endlessly in real traffic: remember the answer per (name, layer)
        key = (name, ctx)
        hit = self._name_cache.get(key)
        if hit is None:
            hit = self._name_refs_uncached(name, ctx)
            self._name_cache.put(key, hit, len(name))
        return list(hit)

    def _name_refs_uncached(self, name: str, ctx: str | None) -> list[_Ref]:
        n = normalize_name(name)
        if not n:
            return []
        refs = self._names.search(n, self._counter)
        rs = self._regex.get("name")
        if rs is not None:
            refs = refs + rs.search(n, self._counter)
        if ctx is None:
            return refs
        allowed = {"dns_name", ctx}
        return [r for r in refs if r.entry.field in allowed]

    def _text_refs(self, field_name: str, value: str) -> list[_Ref]:
        key = (field_name, value)
        hit = self._text_cache.get(key)
        if hit is None:
            hit = self._text_refs_uncached(field_name, value)
            self._text_cache.put(key, hit, len(value))
        return list(hit)

    def _text_refs_uncached(self, field_name: str, value: str) -> list[_Ref]:
        if field_name == "dhcp_prl":
            try:
                v = normalize_prl(value)
            except ValueError:
                return []
        elif field_name == "mdns_service":
            v = normalize_mdns_service(value)
        else:
            v = value.strip().lower()[:TEXT_LIMIT]
        refs: list[_Ref] = []
        exact = self._exact.get(field_name)
        if exact is not None:
            self._counter[0] += 1
            refs.extend(exact.get(v, ()))
        trie = self._prefix.get(field_name)
        if trie is not None:
            refs.extend(trie.search(v, self._counter))
        ac = self._contains.get(field_name)
        if ac is not None:
            refs.extend(ac.search(v, self._counter))
        rs = self._regex.get(field_name)
        if rs is not None:
            refs.extend(rs.search(value.strip(), self._counter))
        return refs

    def _mac_refs(self, mac: str) -> list[_Ref]:
        hexed = normalize_mac_hex(mac)
        refs: list[_Ref] = []
        for n in (6, 7, 9):
            if len(hexed) >= n:
                self._counter[0] += 1
                refs.extend(self._oui.get(hexed[:n], ()))
        return refs

    def _ip_refs(self, ip: str) -> tuple[_Ref, ...]:
        text = ip.strip().split("%", 1)[0]
        raw = packed_ip(text)
        if raw is None:
            return ()
        index = self._v4 if len(raw) == 4 else self._v6
        return index.search(int.from_bytes(raw, "big"), self._counter)

    def _port_refs(self, transport: str, port: int) -> list[_Ref]:
        table = self._exact.get("port")
        if table is None:
            return []
        self._counter[0] += 1
        return list(table.get(f"{transport.strip().lower()}/{int(port)}", ()))

    def _asn_refs(self, asn: int | str) -> list[_Ref]:
        table = self._exact.get("asn")
        if table is None:
            return []
        self._counter[0] += 1
        try:
            return list(table.get(str(int(asn)), ()))
        except (TypeError, ValueError):
            return []

    def _build_marker_scan(self) -> None:
        """The body's markers, found in one pass: a marker is found when it occurs anywhere
        in the body (text markers in any ASCII case, byte markers as they are). All markers
        go into one RE2 set over Latin-1 text (each byte one character; a text marker's
        letters as ``[aA]`` classes, which is what searching the ASCII-lower-cased body
        means), matched in linear time whatever the body holds. The literal set's
        automaton has no more states than the markers have characters."""
        text = sorted({m for m, refs in self._marker_refs.items() if not refs[0].entry.binary},
                      key=len, reverse=True)  # fmt: skip
        raw = sorted({m for m, refs in self._marker_refs.items() if refs[0].entry.binary},
                     key=len, reverse=True)  # fmt: skip
        # lower-cased marker -> the marker (markers equal but for case share one entry)
        self._text_markers: list[tuple[bytes, bytes]] = list({m.lower(): m for m in text}.items())
        self._raw_markers: list[bytes] = raw
        self._marker_order: list[bytes] = []
        self._marker_match: Any = None
        if _re2 is None or not (self._text_markers or self._raw_markers):
            return  # (without RE2: each marker searched on its own, as C substring search)
        opts = _re2.Options()
        opts.encoding = _re2.Options.Encoding.LATIN1
        opts.case_sensitive = True
        rset = _re2.Set.SearchSet(opts)
        for low, m in self._text_markers:
            rset.Add(_latin1_literal(low, fold=True))
            self._marker_order.append(m)
        for m in self._raw_markers:
            rset.Add(_latin1_literal(m, fold=False))
            self._marker_order.append(m)
        rset.Compile()
        self._marker_match = rset.Match

    def _body_refs(self, body: bytes) -> list[_Ref]:
        head = body[:BODY_SCAN_LIMIT]
        self._counter[0] += len(head)  # linear in the body, whatever it holds
        match = self._marker_match
        if match is None:
            return self._body_refs_each(head)
        hits = match(head)
        if not hits:
            return []
        order = self._marker_order
        marker_refs = self._marker_refs
        if len(hits) == 1:
            return list(marker_refs[order[hits[0]]])
        refs: list[_Ref] = []
        for m in sorted({order[i] for i in hits}):
            refs.extend(marker_refs[m])
        return refs

    def _body_refs_each(self, head: bytes) -> list[_Ref]:
        found: set[bytes] = set()
        if self._text_markers:
            low = head.lower()
            found.update(m for lm, m in self._text_markers if lm in low)
        found.update(m for m in self._raw_markers if m in head)
        refs: list[_Ref] = []
        for m in sorted(found):
            refs.extend(self._marker_refs.get(m, ()))
        return refs

    # -- result assembly

    def _assemble(self, items: Iterable[tuple[Any, ...]]) -> list[SigMatch]:
        """Turn (observed field, observed value, refs[, subject]) into de-duplicated hits.

        match entries fire on their own; match_all entries fire only when every field of
        the signature's match_all block was hit by the same set of inputs.
        """
        out: dict[tuple[str, str, str, int], SigMatch] = {}
        pending: dict[str, dict[str, tuple[str, str, _Ref, int]]] = {}
        hit_cache = self._hit_cache
        for item in items:
            obs_field, obs_value, refs = item[0], item[1], item[2]
            subject = item[3] if len(item) > 3 else 0
            for ref in refs:
                if ref.all_clause:
                    pending.setdefault(ref.sig.id, {}).setdefault(
                        ref.entry.field, (obs_field, obs_value, ref, subject)
                    )
                    continue
                ckey = (id(ref), obs_field, obs_value, subject)
                hit = hit_cache.get(ckey)
                if hit is None:
                    entry = ref.entry
                    hit = _hit(ref.sig, entry.confidence, obs_field, obs_value, subject, entry)
                    hit_cache.put(ckey, hit, _chars(obs_value))
                key = (hit.sig_id, obs_field, obs_value, subject)
                prev = out.get(key)
                if prev is None or hit.confidence > prev.confidence:
                    out[key] = hit
        for hits in pending.values():
            sig = next(iter(hits.values()))[2].sig
            if set(hits) != sig.all_fields:
                continue
            confs = [r.entry.confidence for _, _, r, _ in hits.values() if r.entry.confidence]
            conf = min([sig.confidence, *confs])
            for obs_field, obs_value, ref, subject in hits.values():
                key = (sig.id, obs_field, obs_value, subject)
                if key not in out:
                    out[key] = _hit(sig, conf, obs_field, obs_value, subject, ref.entry)
        if len(out) < 2:
            return list(out.values())
        return sorted(out.values(), key=_hit_order)

    # -- public API

    def match_mac(self, mac: str, oui_org: str | None = None) -> list[SigMatch]:
        """Signatures for a MAC address (OUI prefix) and its registry organisation name."""
        items: list[tuple[str, str, Iterable[_Ref]]] = [("oui_prefix", mac, self._mac_refs(mac))]
        if oui_org:
            items.append(("oui_vendor", oui_org, self._text_refs("oui_vendor", oui_org)))
        return self._assemble(items)

    def match_name(self, name: str, field: str | None = None) -> list[SigMatch]:
        """Signatures for a host name seen in DNS, TLS SNI or an HTTP Host header.

        With `field` set to ``dns_name``, ``tls_sni`` or ``http_host`` only entries valid
        for that layer are used (``dns_name`` entries apply to every layer).
        """
        if field is not None and field not in DOMAIN_FIELDS:
            raise ValueError(f"not a host-name field: {field}")
        return self._assemble([(field or "dns_name", name, self._name_refs(name, field))])

    def match_ip(self, ip: str, asn: int | None = None) -> list[SigMatch]:
        """Signatures for an IPv4/IPv6 address and, optionally, its origin AS number."""
        items: list[tuple[str, str, Iterable[_Ref]]] = [("ip_cidr", ip, self._ip_refs(ip))]
        if asn is not None:
            items.append(("asn", str(asn), self._asn_refs(asn)))
        return self._assemble(items)

    def marker_ports(self, transport: str) -> frozenset[int]:
        """The ports (of ``transport``) named by signatures that also have content markers:
        the engines hand the payload heads of those ports' flows over for the marker scan
        (``events.PayloadEvent``). The pack decides the ports, not the code."""
        out: set[int] = set()
        for sig in self.pack.signatures:
            entries = (*sig.match, *sig.match_all)
            if not any(e.mode == "marker" for e in entries):
                continue
            for e in entries:
                t, _, num = e.value.partition("/")
                if e.mode == "port" and t == transport and num.isdigit():
                    out.add(int(num))
        return frozenset(out)

    def match_port(self, transport: str, port: int) -> list[SigMatch]:
        """Signatures for a transport port, e.g. ("udp", 32100)."""
        value = f"{transport.lower()}/{port}"
        return self._assemble([("port", value, self._port_refs(transport, port))])

    def match_fields(self, fields: Mapping[str, Any]) -> list[SigMatch]:
        """Match a mapping in the pack vocabulary, e.g. ``{"dns_name": "x.example"}``.

        All fields are taken as one observation, so match_all signatures can fire.
        Raises ValueError for a field outside the vocabulary.
        """
        items: list[tuple[str, str, Iterable[_Ref]]] = []
        for fname, raw in fields.items():
            if fname not in FIELD_MODES:
                raise ValueError(f"unknown field {fname!r} (known: {', '.join(MATCH_FIELDS)})")
            items.append((fname, str(raw), self._field_refs(fname, raw)))
        return self._assemble(items)

    def match_facts(self, facts: Iterable[tuple[str, Any]]) -> list[SigMatch]:
        """Match many ``(field, value)`` facts, several per field allowed, as one
        observation: a match_all signature fires when each of its fields is hit by one of
        the facts. Role rules see everything known of one device this way."""
        items: list[tuple[str, str, Iterable[_Ref]]] = []
        for fname, raw in facts:
            if fname not in FIELD_MODES:
                raise ValueError(f"unknown field {fname!r} (known: {', '.join(MATCH_FIELDS)})")
            shown = f"<{len(raw)} bytes>" if isinstance(raw, bytes) else str(raw)
            items.append((fname, shown, self._field_refs(fname, raw)))
        return self._assemble(items)

    def _lookup_for(self, fname: str) -> Any:
        """The function that finds the refs of one observed value of ``fname``. Names and
        text values are answered from the caches without a copy: the caller only reads."""
        if fname in DOMAIN_FIELDS:
            names, find_name = self._name_cache, self._name_refs_uncached

            def name_lookup(raw: Any) -> list[_Ref]:
                key = (raw, fname)
                hit = names.get(key)
                if hit is None:
                    hit = find_name(str(raw), fname)
                    names.put(key, hit, _chars(raw))
                return hit

            return name_lookup
        if fname == "oui_prefix":
            return lambda raw: self._mac_refs(str(raw))
        if fname == "ip_cidr":
            return lambda raw: self._ip_refs(str(raw))
        if fname == "content_marker":
            return self._marker_refs_of
        if fname == "port":
            return self._port_value_refs
        if fname == "asn":
            return self._asn_refs
        texts, find_text = self._text_cache, self._text_refs_uncached

        def text_lookup(raw: Any) -> list[_Ref]:
            key = (fname, raw)
            hit = texts.get(key)
            if hit is None:
                hit = find_text(fname, str(raw))
                texts.put(key, hit, _chars(raw))
            return hit

        return text_lookup

    def _marker_refs_of(self, raw: Any) -> list[_Ref]:
        return self._body_refs(raw if isinstance(raw, bytes) else str(raw).encode("utf-8"))

    def _port_value_refs(self, raw: Any) -> list[_Ref]:
        try:
            transport, _, num = normalize_port(str(raw)).partition("/")
        except ValueError:
            return []
        return self._port_refs(transport, int(num))

    def _field_refs(self, fname: str, raw: Any) -> list[_Ref]:
        if fname in DOMAIN_FIELDS:
            return self._name_refs(str(raw), fname)
        if fname == "oui_prefix":
            return self._mac_refs(str(raw))
        if fname == "ip_cidr":
            return list(self._ip_refs(str(raw)))
        if fname == "asn":
            return self._asn_refs(raw)
        if fname == "port":
            try:
                transport, _, num = normalize_port(str(raw)).partition("/")
            except ValueError:
                return []
            return self._port_refs(transport, int(num))
        if fname == "content_marker":
            body = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
            return self._body_refs(body)
        return self._text_refs(fname, str(raw))

    def match_observations(self, observations: Iterable[Observation]) -> list[SigMatch]:
        """Match what events, flows and addresses contribute (``netscan.observations``):
        ``(field, value, subject)`` triples, taken together as one observation so that
        match_all signatures can fire. Each hit carries the subject of the value it matched.
        """
        obs = tuple(observations)
        if not obs:
            return []
        for _f, raw, _s in obs:
            if isinstance(raw, bytes):  # payloads: seldom the same twice, and large
                return self._match_observations(obs)
        cache = self._obs_cache
        try:
            hit = cache.get(obs)
        except TypeError:  # a value that cannot be a key (not from netscan.observations)
            return self._match_observations(obs)
        if hit is not None:
            return list(hit)
        result = self._match_observations(obs)
        if result:  # (the many sets that hit nothing are answered from the lookups' caches)
            cache.put(obs, result, sum(_chars(raw) for _f, raw, _s in obs))
            return list(result)
        return result

    def _match_observations(self, observations: tuple[Observation, ...]) -> list[SigMatch]:
        items: list[tuple[str, str, Iterable[_Ref], int]] = []
        lookup = self._lookup
        for fname, raw, subject in observations:
            fn = lookup.get(fname)
            if fn is None:
                raise ValueError(f"unknown field {fname!r} (known: {', '.join(MATCH_FIELDS)})")
            refs = fn(raw)
            if refs:
                shown = f"<{len(raw)} bytes>" if isinstance(raw, bytes) else raw
                items.append((fname, shown, refs, subject))
        if not items:
            return []
        return self._assemble(items)

    def match_event(self, event: ev.Event) -> list[SigMatch]:
        """Signatures for one protocol event: its observations (``observations.observe``)."""
        return self.match_observations(observe(event))


def _hit_order(m: SigMatch) -> tuple[float, str, str, str]:
    return (-m.confidence, m.sig_id, m.field, m.value)


def _latin1_literal(marker: bytes, fold: bool) -> bytes:
    """An RE2 pattern (for Latin-1 text) that matches ``marker`` literally; with ``fold``,
    each ASCII letter in either case (as ``bytes.lower`` folds: ASCII only)."""
    out: list[str] = []
    for b in marker:
        if fold and 0x61 <= b <= 0x7A:
            out.append(f"[{chr(b)}{chr(b - 0x20)}]")
        elif fold and 0x41 <= b <= 0x5A:
            out.append(f"[{chr(b + 0x20)}{chr(b)}]")
        else:
            out.append(f"\\x{{{b:02x}}}")
    return "".join(out).encode("ascii")


def _hit(
    sig: Signature,
    conf: float | None,
    field_name: str,
    value: str,
    subject: int = 0,
    entry: Entry | None = None,
) -> SigMatch:
    return SigMatch(
        sig_id=sig.id,
        category=sig.category,
        name=sig.name,
        vendor=sig.vendor,
        jurisdiction=sig.jurisdiction,
        role=sig.role,
        confidence=sig.confidence if conf is None else conf,
        field=field_name,
        value=value,
        subject=subject,
        protocol=entry.protocol if entry is not None else None,
        image_field=entry.image_field if entry is not None else None,
    )
