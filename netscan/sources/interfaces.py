"""What can be captured on: dumpcap's interface list, or the kernel's network devices."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SYS_NET = Path("/sys/class/net")
_DUMPCAP_LINE = re.compile(r"^\s*(\d+)\.\s+(\S+)(?:\s+\((.*)\))?\s*$")


@dataclass
class CaptureInterface:
    name: str
    description: str = ""
    mac: str | None = None
    state: str | None = None  # operstate: up, down, unknown
    kind: str = ""  # ethernet, loopback, wireless, virtual, other
    source: str = ""  # dumpcap or sysfs


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _sysfs_facts(name: str, sys_net: Path = SYS_NET) -> dict[str, str | None]:
    base = sys_net / name
    if not base.exists():
        return {"mac": None, "state": None, "kind": ""}
    kind = "other"
    if (base / "wireless").exists() or (base / "phy80211").exists():
        kind = "wireless"
    elif _read(base / "type") == "772":
        kind = "loopback"
    elif not (base / "device").exists():
        kind = "virtual"
    elif _read(base / "type") == "1":
        kind = "ethernet"
    mac = _read(base / "address")
    return {"mac": mac if mac and mac != "00:00:00:00:00:00" else None,
            "state": _read(base / "operstate"), "kind": kind}  # fmt: skip


def parse_dumpcap_list(text: str) -> list[tuple[str, str]]:
    """``dumpcap -D`` output → (name, description) pairs."""
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        m = _DUMPCAP_LINE.match(line)
        if m:
            out.append((m.group(2), m.group(3) or ""))
    return out


def list_interfaces(use_dumpcap: bool = True, sys_net: Path = SYS_NET) -> list[CaptureInterface]:
    """Interfaces to capture on: dumpcap's list when it works, else /sys/class/net."""
    if use_dumpcap and shutil.which("dumpcap"):
        try:
            proc = subprocess.run(["dumpcap", "-D"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            proc = None
        if proc is not None and proc.returncode == 0:
            pairs = parse_dumpcap_list(proc.stdout)
            if pairs:
                result = []
                for name, desc in pairs:
                    facts = _sysfs_facts(name, sys_net)
                    result.append(CaptureInterface(name=name, description=desc, mac=facts["mac"],
                                                   state=facts["state"], kind=facts["kind"] or "",
                                                   source="dumpcap"))  # fmt: skip
                return result
    try:
        names = sorted(p.name for p in sys_net.iterdir())
    except OSError:
        return []
    result = []
    for name in names:
        facts = _sysfs_facts(name, sys_net)
        result.append(CaptureInterface(name=name, mac=facts["mac"], state=facts["state"],
                                       kind=facts["kind"] or "", source="sysfs"))  # fmt: skip
    return result
