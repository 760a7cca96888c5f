"""Generated fleets: site folders holding the small deterministic scenario captures."""

from __future__ import annotations

import shutil
from functools import lru_cache
from pathlib import Path

# scenarios with a finding, and a benign one; the same Hikvision models recur across sites
SCENARIOS = ("viid_confirmed", "isapi_multipart", "dahua_snapshot", "iclock_attphoto",
             "json_face_api", "likely_face_cloud", "possible_vendor_cloud", "benign_local")  # fmt: skip


@lru_cache(maxsize=1)
def _scenario_dir() -> Path:
    import tempfile

    from tests.analysis.scenarios.build import SCENARIOS as ALL

    d = Path(tempfile.mkdtemp(prefix="netscan-fleet-scenarios-"))
    for name in SCENARIOS:
        ALL[name](d)
    return d


def make_sites(root: Path, n: int) -> list[str]:
    """``n`` site folders site-000.. under ``root``, each with one scenario capture."""
    src = _scenario_dir()
    captures = sorted(src.glob("*.pcap"))
    root.mkdir(parents=True, exist_ok=True)
    ids = []
    for i in range(n):
        sid = f"site-{i:03d}"
        d = root / sid
        d.mkdir()
        cap = captures[i % len(captures)]
        shutil.copy(cap, d / cap.name)
        ids.append(sid)
    return ids
