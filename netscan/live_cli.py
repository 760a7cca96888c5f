"""``netscan interfaces`` and ``netscan capture``: live capture from a mirror port or interface."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from datetime import datetime
from types import FrameType
from typing import Any, TextIO

from netscan import reasons
from netscan.analysis.finding import Finding
from netscan.untrusted import TEXT_LIMIT, display, join

BEHIND_PACKETS = 20_000  # warn when the analysis is this many packets behind the capture
BEHIND_BYTES = 16_000_000


def add_parser(sub: Any) -> None:
    from netscan.cliargs import add_keep_duplicates
    from netscan.cliargs import cidr as _cidr
    from netscan.cliargs import country as _country

    it = sub.add_parser("interfaces", help="list the interfaces netscan can capture on",
                        description="List the interfaces to capture on (dumpcap -D, or "
                                    "/sys/class/net without dumpcap).")  # fmt: skip
    it.add_argument("--json", action="store_true", help="machine-readable list on stdout")
    it.set_defaults(handler=cmd_interfaces)

    cp = sub.add_parser("capture", help="capture live and analyse as packets arrive",
                        description="Capture on an interface into a pcapng ring of evidence "
                        "files (hashed into manifest.jsonl), analyse the packets as they are "
                        "written, print new devices and findings, and on stop (Ctrl-C or "
                        "--duration) write the report.")  # fmt: skip
    cp.add_argument("-i", "--interface", required=True, metavar="IFACE", dest="iface",
                    help="interface to capture on (see 'netscan interfaces')")  # fmt: skip
    cp.add_argument("--bpf", metavar="FILTER", help="capture filter (BPF syntax)")
    cp.add_argument("--evidence", metavar="DIR",
                    help="directory for the ring files and manifest "
                    "(default: evidence-<date>-<time>)")  # fmt: skip
    cp.add_argument("--json", metavar="OUT", help="write the JSON report to OUT on stop")
    cp.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    cp.add_argument("--premises", action="append", type=_cidr, metavar="CIDR",
                    help="premises network (repeatable); default: private, link-local and ULA")  # fmt: skip
    add_keep_duplicates(cp)
    cp.add_argument("--no-premises-inference", dest="infer_premises", action="store_false",
                    help="do not add the premises ranges the link shows (Router Advertisement "
                         "and DHCPv6 prefixes, addresses of MACs on the local link); only "
                         "report them")  # fmt: skip
    cp.add_argument("--country", metavar="CC", type=_country,
                    help="ISO 3166-1 alpha-2 code of the premises country (e.g. CN)")  # fmt: skip
    cp.add_argument("--signatures", metavar="DIR", help="signature pack directory to use")
    cp.add_argument("--ring-size", type=float, default=100.0, metavar="MB",
                    help="start a new ring file at this size (default 100 MB)")  # fmt: skip
    cp.add_argument("--ring-files", type=int, default=0, metavar="N",
                    help="keep only the newest N ring files (default 0: keep all)")  # fmt: skip
    cp.add_argument("--backend", choices=("auto", "dumpcap", "scapy"), default="auto",
                    help="capture with dumpcap (default when installed) or scapy (root)")  # fmt: skip
    cp.add_argument("--netns", metavar="NAME",
                    help="run dumpcap inside this network namespace (ip netns exec)")  # fmt: skip
    cp.add_argument("--quiet", "-q", action="store_true",
                    help="no live lines and no summary on the terminal")  # fmt: skip
    from netscan.cliargs import add_lang_option

    add_lang_option(cp, "summary")
    cp.set_defaults(handler=cmd_capture)


def cmd_interfaces(args: argparse.Namespace) -> int:
    from netscan.sources.interfaces import list_interfaces

    ifaces = list_interfaces()
    if args.json:
        sys.stdout.write(json.dumps([i.__dict__ for i in ifaces], indent=2) + "\n")
        return 0
    if not ifaces:
        print("netscan: no interfaces found", file=sys.stderr)
        return 2
    # names and descriptions come from the system (a driver, a VPN, a USB gadget may set
    # them): one safe line each, like every other outside string
    names = [display(i.name) for i in ifaces]
    width = max(len(n) for n in names)
    for name, i in zip(names, ifaces, strict=True):
        facts = display(" ".join(x for x in (i.kind, i.state or "", i.mac or "") if x))
        desc = f"  ({display(i.description, TEXT_LIMIT)})" if i.description else ""
        print(f"{name:<{width}}  {facts}{desc}")
    return 0


def _label(dev: Any) -> str:
    """A new device in one safe line (every part came from the network)."""
    ips = sorted(dev.ips, key=lambda ip: (":" in ip, ip)) if dev.ips else []
    parts = [display(dev.key)]
    if dev.vendor:
        parts.append(display(dev.vendor))
    if ips:
        parts.append(display(ips[0]))
    if dev.hostnames:
        parts.append(display(sorted(dev.hostnames)[0]))
    return "  ".join(parts)


def device_line(stamp: str, dev: Any) -> str:
    return f"{stamp} device    {_label(dev)}"


def endpoint_line(stamp: str, ep: Any) -> str:
    names = join(sorted(ep.names)[:2])
    return (f"{stamp} {display(ep.category, 20):<9} {display(ep.ip)}  "
            f"{display(ep.provider or '')}  {names}").rstrip()  # fmt: skip


def finding_line(stamp: str, f: Finding) -> str:
    dest = f.destination
    where = join(dest.names[:2]) or display(dest.ip or "")
    return (f"{stamp} FINDING   {display(f.level.value.upper(), 12)}  "
            f"{display(f.device_label or f.device)} → {where}"
            f"  {display(reasons.reason_text(f), TEXT_LIMIT)}").rstrip()  # fmt: skip


class _Printer:
    """The live lines: new devices, cloud endpoints, findings, and backlog warnings."""

    def __init__(self, live: Any, out: TextIO, err: TextIO, quiet: bool) -> None:
        self.live = live
        self.out = out
        self.err = err
        self.quiet = quiet
        self.next_findings = 0.0
        self.last_behind = 0.0
        self.max_pending_packets = 0
        self.max_pending_bytes = 0
        from netscan.engine import loss
        from netscan.report.completeness import NOTABLE_SHARE

        self.loss = loss  # (imported here: the CLI's start stays light)
        self.notable = NOTABLE_SHARE
        self.last_loss = -loss.LIVE_EVERY
        self.loss_said = 0  # missed TCP bytes last said

    def tick(self) -> None:
        st = self.live.status()
        self.max_pending_bytes = max(self.max_pending_bytes, st.pending_bytes)
        self.max_pending_packets = max(self.max_pending_packets, st.pending_packets_est or 0)
        now = time.monotonic()
        behind = (st.pending_packets_est or 0) >= BEHIND_PACKETS or st.pending_bytes >= BEHIND_BYTES
        if behind and now - self.last_behind >= 5.0:
            self.last_behind = now
            est = st.pending_packets_est
            pk = f"about {est} packets, " if est is not None else ""
            print(f"netscan: analysis is behind the capture by {pk}"
                  f"{st.pending_bytes / 1e6:.1f} MB (kept on disk, nothing dropped)",
                  file=self.err, flush=True)  # fmt: skip
        loss = self.loss
        missed, gaps, conns, payload = self.live.missed_so_far()
        if (
            missed > self.loss_said
            and now - self.last_loss >= loss.LIVE_EVERY
            and missed >= self.notable * (missed + payload)
        ):
            self.last_loss, self.loss_said = now, missed
            print(
                f"netscan: {loss.live_line(missed, gaps, conns, payload)}",
                file=self.err,
                flush=True,
            )
        if self.quiet:
            return
        want_findings = now >= self.next_findings
        started = time.monotonic()
        news = self.live.news(findings=want_findings)
        if want_findings:  # findings cost a snapshot: at most ~10 % of the time
            self.next_findings = now + max(2.0, 10 * (time.monotonic() - started))
        stamp = datetime.now().strftime("%H:%M:%S")
        for dev in news.devices:
            print(device_line(stamp, dev), file=self.out)
        for ep in news.endpoints:
            print(endpoint_line(stamp, ep), file=self.out)
        for f in news.findings:
            print(finding_line(stamp, f), file=self.out)
        self.out.flush()


def cmd_capture(args: argparse.Namespace) -> int:
    from netscan.analyze import Options
    from netscan.cliargs import UsageError
    from netscan.live_analysis import LiveAnalysis
    from netscan.report import json_report
    from netscan.sources.live import LiveCapture

    if args.duration is not None and args.duration <= 0:
        raise UsageError("--duration must be positive")
    if args.ring_size <= 0:
        raise UsageError("--ring-size must be positive")
    if args.ring_files < 0 or args.ring_files == 1:
        raise UsageError("--ring-files must be 0 (keep all) or at least 2")
    evidence = args.evidence or datetime.now().strftime("evidence-%Y%m%d-%H%M%S")
    options = Options(premises=args.premises, signatures=args.signatures,
                      country=args.country, analyst=getattr(args, "analyst", None),
                      infer_premises=args.infer_premises,
                      keep_duplicates=args.keep_duplicates)  # fmt: skip
    capture = LiveCapture(args.iface, bpf=args.bpf, evidence_dir=evidence,
                          ring_size_mb=args.ring_size, ring_files=args.ring_files,
                          backend=args.backend, netns=args.netns)  # fmt: skip
    live = LiveAnalysis(options, capture)
    quiet = args.quiet or args.json == "-"
    printer = _Printer(live, sys.stdout if args.json != "-" else sys.stderr, sys.stderr, quiet)

    interrupts = 0

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:
            raise KeyboardInterrupt
        capture.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    timer: threading.Timer | None = None
    try:
        capture.start()
        print(f"netscan: capturing on {args.iface} into {evidence} ({capture.backend}); "
              "Ctrl-C to stop", file=sys.stderr, flush=True)  # fmt: skip
        if args.duration is not None:
            timer = threading.Timer(args.duration, capture.stop)
            timer.daemon = True
            timer.start()
        result = live.run(tick=printer.tick, tick_interval=0.5)
    finally:
        if timer is not None:
            timer.cancel()
        capture.close()
        for s, h in previous.items():
            signal.signal(s, h)
    st = capture.status()
    result.live_drops = {k: v for k, v in st.drops.__dict__.items() if isinstance(v, int)}
    report = json_report.build(result)
    report["capture"] = {
        "iface": args.iface,
        "bpf": args.bpf,
        "backend": capture.backend,
        "evidence_dir": str(capture.evidence_dir),
        "started_at": capture.started_at,
        "stopped_at": capture.stopped_at,
        "packets_captured": st.packets_captured,
        "packets_analysed": st.packets_read,
        "drops": {k: v for k, v in st.drops.__dict__.items()},
        "max_pending_packets": printer.max_pending_packets,
        "max_pending_bytes": printer.max_pending_bytes,
    }
    if args.json:  # the report first: nothing displayed afterwards can lose it
        json_report.emit(report, args.json)
    for w in result.warnings:
        print(f"netscan: warning: {display(w, TEXT_LIMIT)}", file=sys.stderr)
    print(f"netscan: stopped; {st.packets_read} packets analysed in {st.files} ring file(s) "
          f"in {capture.evidence_dir} (manifest.jsonl); dropped by the capture: "
          f"{st.drops.total}; most behind: {printer.max_pending_packets} packets, "
          f"{printer.max_pending_bytes / 1e6:.1f} MB", file=sys.stderr)  # fmt: skip
    if not quiet:
        from netscan import i18n
        from netscan.cliargs import langs_of
        from netscan.output.summary import print_summary

        with i18n.use(langs_of(args)[0]):
            print_summary(result)
    return 0
