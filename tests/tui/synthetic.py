"""A synthetic premises of any size, for TUI load tests."""

from __future__ import annotations

from netscan.analysis.finding import findings_from_json
from netscan.analyze import InputInfo, Options, Result
from netscan.inventory.enrich import Premises
from netscan.inventory.inventory import Inventory
from netscan.inventory.model import Conversation, Device, Endpoint

T0 = 1_772_442_000.0
ROLES = ("camera", "nvr", "computer", "phone", "printer", "iot", "unknown")
VENDORS = ("Hangzhou Hikvision", "Zhejiang Dahua", "Dell Inc.", "Apple, Inc.", "Intel Corporate")


def mac(i: int) -> str:
    return "02:" + ":".join(f"{(i >> s) & 0xFF:02x}" for s in (32, 24, 16, 8, 0))


def synthetic_result(devices: int, flows: int, endpoints: int = 2000) -> Result:
    inv = Inventory(Premises(None), None, files=["synthetic.pcapng"])
    for i in range(endpoints):
        ip = f"203.{(i >> 8) & 0xFF}.{i & 0xFF}.{i % 7 + 1}"
        inv.endpoints[ip] = Endpoint(
            ip=ip,
            names={f"host{i}.example.net": "dns"},
            country=("CN", "US", "DE", "SG")[i % 4],
            provider=("FaceCloud" if i % 50 == 0 else None),
            category=("face-cloud" if i % 50 == 0 else None),
        )
    eps = list(inv.endpoints)
    keys = []
    for i in range(devices):
        key = mac(i + 1)
        dev = Device(key=key, mac=key, first_ts=T0 + i % 600, last_ts=T0 + 600)
        dev.vendor = VENDORS[i % len(VENDORS)]
        dev.role = ROLES[i % len(ROLES)]
        dev.role_confidence = 0.5
        dev.ips = {f"10.{(i >> 16) & 0xFF}.{(i >> 8) & 0xFF}.{i & 0xFF}": [T0, T0 + 600]}
        dev.model = f"MODEL-{i % 97}"
        inv.devices[key] = dev
        keys.append(key)
    convs = []
    for j in range(flows):
        dkey = keys[j % devices]
        ip = eps[j % len(eps)]
        start = T0 + (j * 7) % 600
        convs.append(
            Conversation(device=dkey, peer_ip=ip, transport="tcp", port=443, bytes_up=1000 + j,
                         bytes_down=500, packets_up=10, packets_down=5, first_ts=start,
                         last_ts=start + 5, flows=1, bursts=[[start, start + 1, 1000.0 + j, 3.0]])
        )  # fmt: skip
    findings = findings_from_json([
        {
            "id": f"F-syn{i}",
            "kind": "face-upload",
            "level": ("confirmed", "likely", "possible")[i % 3],
            "device_mac": keys[i],
            "path": [{"label": keys[i]}, {"label": eps[0]}],
            "destination": {
                "ip": eps[0],
                "names": ["host0.example.net"],
                "provider": "FaceCloud",
                "operator_country": "CN",
                "ip_country": "CN",
                "asn": None,
                "org": None,
            },
            "bytes_up": 10_000 * (i + 1),
            "bursts": [[T0 + 10 * k, T0 + 10 * k + 1, 500.0, 2.0] for k in range(20)],
            "first_ts": T0,
            "last_ts": T0 + 200,
            "reason": "synthetic",
            "evidence": [
                {"frame": 1 + k, "file": "synthetic.pcapng", "what": "x"} for k in range(3)
            ],
            "cross_border": True,
            "provisions": [],
        }  # fmt: skip
        for i in range(min(30, devices))
    ])  # fmt: skip
    return Result(
        options=Options(),
        inputs=[InputInfo(path="synthetic.pcapng", sha256="0" * 64, size=0, packets=flows * 10)],
        inventory=inv,
        conversations=convs,
        findings=findings,
        pack={"commit": "synthetic", "count": 0},
        engine="core",
        packets=flows * 10,
        warnings=[],
        dissector_errors={},
    )
