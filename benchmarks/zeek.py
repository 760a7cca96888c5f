"""Reading Zeek logs: records per second and peak memory of ``netscan analyze --zeek``.

    python benchmarks/zeek.py                     # 200,000 conn.log + 100,000 dns.log records
    python benchmarks/zeek.py --conn 1000000 --dns 500000

The logs are generated in Zeek's ASCII format (header, tab-separated, sets and vectors):
premises hosts in 192.168.1.0/24 talking TLS to a few hundred off-site addresses, and DNS
answers with a CNAME and an address each. The analysis runs in a child process so its peak
memory (max RSS) and CPU time are its own.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _words(text: str) -> list[str]:
    return text.split()


HDR = ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
       "#path\t{p}\n#fields\t{f}\n#types\t{t}\n")  # fmt: skip
CONN = _words("ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes "
        "resp_bytes conn_state local_orig local_resp missed_bytes history orig_pkts orig_ip_bytes "
        "resp_pkts resp_ip_bytes tunnel_parents")  # fmt: skip
CONN_T = _words("time string addr port addr port enum string interval count count string bool bool "
          "count string count count count count set[string]")  # fmt: skip
DNS = _words("ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto trans_id rtt query qclass "
       "qclass_name qtype qtype_name rcode rcode_name AA TC RD RA Z answers TTLs rejected")  # fmt: skip
DNS_T = _words("time string addr port addr port enum count interval string count string count string "
         "count string bool bool bool bool count vector[string] vector[interval] bool")  # fmt: skip


def generate(d: Path, conn: int, dns: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with (d / "conn.log").open("w") as fh:
        fh.write(HDR.format(p="conn", f="\t".join(CONN), t="\t".join(CONN_T)))
        for i in range(conn):
            dst = rng.choice(["47.97.22.180", "8.8.8.8", "116.62.118.23", f"203.0.113.{i % 250}"])
            fh.write(f"{1700000000 + i * 0.01:.6f}\tC{i:017d}\t192.168.1.{i % 200 + 2}\t"
                     f"{30000 + i % 30000}\t{dst}\t443\ttcp\tssl\t1.5\t{i % 5000}\t{i % 9000}\tSF\t"
                     f"T\tF\t0\tShADadFf\t10\t{i % 5000 + 400}\t12\t{i % 9000 + 500}\t-\n")  # fmt: skip
    with (d / "dns.log").open("w") as fh:
        fh.write(HDR.format(p="dns", f="\t".join(DNS), t="\t".join(DNS_T)))
        for i in range(dns):
            fh.write(f"{1700000000 + i * 0.01:.6f}\tD{i:017d}\t192.168.1.{i % 200 + 2}\t"
                     f"{30000 + i % 30000}\t192.168.1.1\t53\tudp\t{i % 65535}\t0.01\t"
                     f"host{i % 3000}.example.com\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t"
                     f"cdn{i % 300}.example.net,47.97.22.{i % 250}\t60.0,60.0\tF\n")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conn", type=int, default=200_000)
    ap.add_argument("--dns", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="netscan-zeek-bench-") as tmp:
        d = Path(tmp)
        generate(d, args.conn, args.dns)
        size = sum(p.stat().st_size for p in d.iterdir())
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-m", "netscan", "analyze", "--zeek", str(d), "-q",
                        "--json", str(d / "report.json")], check=True)  # fmt: skip
        wall = time.monotonic() - t0
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    records = args.conn + args.dns
    cpu = ru.ru_utime + ru.ru_stime
    print(f"{records:,} records ({size / 1e6:.1f} MB of logs): wall {wall:.1f} s, CPU {cpu:.1f} s, "
          f"{records / cpu:,.0f} records per CPU second, peak RSS {ru.ru_maxrss / 1024:.0f} MB")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
