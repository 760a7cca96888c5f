"""What the reports say of a capture that missed part of the TCP traffic (the report's
``summary.capture_loss``): a verdict on a capture with gaps is a verdict on what was seen."""

from __future__ import annotations

import ipaddress
from typing import Any

from netscan import i18n
from netscan.engine import loss
from netscan.i18n import _, ngettext

# the share of the TCP bytes missed from which the verdict says so (the live capture's
# line uses the same)
NOTABLE_SHARE = 0.001


def share_text(missed: int, payload: int) -> str:
    """The share of the TCP bytes missed, for the reader ("2.17 %", "< 0.01 %")."""
    share = missed / (missed + payload) * 100 if missed + payload else 0.0
    return f"{i18n.number(share, 2)} %" if share >= 0.01 else "< 0.01 %"


def capture_note(capture_loss: dict[str, Any] | None) -> str | None:
    """The sentence for the verdict, in the current language; None when the capture missed
    less than ``NOTABLE_SHARE`` of the TCP bytes (or cannot tell)."""
    if not isinstance(capture_loss, dict) or not capture_loss:
        return None
    missed = loss.count_of(capture_loss, "tcp_missed_bytes")
    payload = loss.count_of(capture_loss, "tcp_payload_bytes")
    if not missed or missed < NOTABLE_SHARE * (missed + payload):
        return None
    conns = loss.count_of(capture_loss, "tcp_connections")
    where = ngettext("{n} connection", "{n} connections", conns).format(n=i18n.number(conns))
    if "tcp_gaps" not in capture_loss:  # Zeek's count: no gaps
        return _(
            "The capture missed {share} of the TCP bytes ({missed} bytes in {conns}): what "
            "was sent in them is not in this evidence, and the volumes are lower bounds."
        ).format(share=share_text(missed, payload), missed=i18n.number(missed), conns=where)
    gaps = loss.count_of(capture_loss, "tcp_gaps")
    return _(
        "The capture missed {share} of the TCP bytes ({missed} bytes in {gaps} of "
        "{conns}): what was sent in them is not in this evidence, and the volumes are lower "
        "bounds."
    ).format(
        share=share_text(missed, payload),
        missed=i18n.number(missed),
        gaps=ngettext("{n} gap", "{n} gaps", gaps).format(n=i18n.number(gaps)),
        conns=where,
    )


def finding_note(capture_missed: dict[str, Any] | None) -> str | None:
    """The sentence for a finding whose conversations the capture missed bytes of
    (``Finding.capture_missed``), in the current language; None when it missed none."""
    if not capture_missed:
        return None
    up = loss.count_of(capture_missed, "bytes_up")
    down = loss.count_of(capture_missed, "bytes_down")
    if not up and not down:
        return None
    return _(
        "The capture missed {up} bytes of what the device sent in these connections and "
        "{down} of what came back: the volumes are lower bounds, and what was sent in the "
        "gaps is not in this evidence."
    ).format(up=i18n.number(up), down=i18n.number(down))


def host_drops_note(statistics: list[dict[str, Any] | None]) -> str | None:
    """The sentence for the verdict when the inputs' interface statistics (pcapng ISBs,
    one dict or None per input) record packets the capturing host dropped; None otherwise."""
    dropped = files = 0
    for s in statistics:
        n = loss.dropped(s)
        if n > 0:
            dropped += n
            files += 1
    if not dropped:
        return None
    packets = ngettext("{n} packet", "{n} packets", dropped).format(n=i18n.number(dropped))
    if files == 1:
        return _(
            "The capture file's own statistics record {packets} that the capturing host "
            "dropped: what they held is not in this evidence."
        ).format(packets=packets)
    return _(
        "The capture files' own statistics record {packets} that the capturing host "
        "dropped, in {files} of them: what they held is not in this evidence."
    ).format(packets=packets, files=i18n.number(files))


def live_drops_note(drops: dict[str, Any] | None) -> str | None:
    """The sentence for the verdict when a live capture lost packets before they reached
    its ring files (its report's ``capture.drops``); None otherwise."""
    lost = loss.live_dropped(drops)
    if not lost:
        return None
    packets = ngettext("{n} packet", "{n} packets", lost).format(n=i18n.number(lost))
    return _(
        "The live capture lost {packets} before they reached its files (dropped by the "
        "kernel, the interface or dumpcap, or still buffered at the stop): what they held "
        "is not in this evidence."
    ).format(packets=packets)


# the remote-mirror encapsulations by the report's names (``summary.tunnels``), as named
# in every language
MIRRORS = {"erspan": "ERSPAN", "gre_ethernet": "GRE bridging", "vxlan": "VXLAN",
           "geneve": "GENEVE"}  # fmt: skip


MIRROR_SESSIONS_SAID = 4  # mirror sessions the verdict names, at most


def _address(value: Any) -> str | None:
    """An IP address of a report read back, as text; None for anything else (a damaged or
    hostile report's value is never written into a sentence)."""
    try:
        return str(ipaddress.ip_address(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def _sessions_text(sessions: Any) -> str | None:
    """The mirror sessions (the report's ``summary.mirror_sessions``), the first few."""
    said = []
    for s in sessions if isinstance(sessions, list) else []:
        if not isinstance(s, dict):
            continue
        src, dst = _address(s.get("source")), _address(s.get("destination"))
        name, n = MIRRORS.get(str(s.get("kind"))), loss.count_of(s, "frames")
        if src and dst and name and n:
            frames = ngettext("{n} frame", "{n} frames", n).format(n=i18n.number(n))
            said.append(f"{src} → {dst} ({name}, {frames})")
    if not said:
        return None
    more = len(said) - MIRROR_SESSIONS_SAID
    text = "; ".join(said[:MIRROR_SESSIONS_SAID])
    if more > 0:
        text += "; " + ngettext("{n} more", "{n} more", more).format(n=i18n.number(more))
    return _("Mirror sessions: {sessions}.").format(sessions=text)


def mirror_note(tunnels: dict[str, Any] | None, sessions: Any = None) -> str | None:
    """The sentence for the verdict when frames came inside a remote mirror's
    encapsulation (the report's ``summary.tunnels``), with the sessions they came in
    (``summary.mirror_sessions``); None otherwise."""
    counts = [(MIRRORS[k], loss.count_of(tunnels, k)) for k in MIRRORS]
    counts = [(name, n) for name, n in counts if n]
    if not counts:
        return None
    total = sum(n for _name, n in counts)
    said = _(
        "{frames} came through a remote mirror ({kinds}) and were analysed as the frames "
        "they carry: the devices, conversations and volumes are those inside."
    ).format(
        frames=ngettext("{n} frame", "{n} frames", total).format(n=i18n.number(total)),
        kinds=", ".join(f"{name} {i18n.number(n)}" for name, n in counts),
    )
    listed = _sessions_text(sessions)
    return f"{said} {listed}" if listed else said


def verdict_notes(
    capture_loss: dict[str, Any] | None,
    statistics: list[dict[str, Any] | None],
    live_drops: dict[str, Any] | None = None,
    tunnels: dict[str, Any] | None = None,
    mirror_sessions: Any = None,
) -> list[str]:
    """What the verdict says of the capture: the TCP bytes it missed (``capture_note``),
    the packets the capturing host recorded dropping (``host_drops_note``), those a live
    capture lost (``live_drops_note``) and the frames that came through a remote mirror
    (``mirror_note``), those that apply."""
    notes = (capture_note(capture_loss), host_drops_note(statistics),
             live_drops_note(live_drops), mirror_note(tunnels, mirror_sessions))  # fmt: skip
    return [n for n in notes if n]


def report_notes(report: dict[str, Any]) -> list[str]:
    """``verdict_notes`` for a report read back (whose parts may be damaged or hostile)."""
    summary = report.get("summary")
    inputs = report.get("inputs")
    capture = report.get("capture")
    return verdict_notes(
        summary.get("capture_loss") if isinstance(summary, dict) else None,
        [i.get("interface_statistics") for i in inputs if isinstance(i, dict)]
        if isinstance(inputs, list) else [],
        capture.get("drops") if isinstance(capture, dict) else None,
        summary.get("tunnels") if isinstance(summary, dict) else None,
        summary.get("mirror_sessions") if isinstance(summary, dict) else None,
    )  # fmt: skip


def missed_by_peer(flows: Any) -> dict[str, int]:
    """The bytes the capture missed of the report's conversations (``flows`` rows, both
    ways) with each off-site address, those with some: the destinations tables' column."""
    out: dict[str, int] = {}
    for fl in flows if isinstance(flows, list) else []:
        if not isinstance(fl, dict) or not isinstance(ip := fl.get("ip"), str):
            continue
        if fl.get("peer_device"):
            continue
        n = loss.count_of(fl, "missed_bytes_up") + loss.count_of(fl, "missed_bytes_down")
        if n:
            out[ip] = out.get(ip, 0) + n
    return out
