"""One analysis run: inputs → engine → inventory → signatures → roles → findings.

Both the CLI and the TUI call ``Analyzer``; each stage lives in its own package.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netscan.inventory.enrich import Premises
from netscan.inventory.inventory import Inventory
from netscan.inventory.model import Conversation
from netscan.sources.merge import merged
from netscan.sources.pcapfile import CaptureError, CaptureFile


@dataclass
class Options:
    premises: list[str] | None = None
    engine: str = "native"
    signatures: str | None = None
    country: str | None = None
    jobs: int = 1
    keep_evidence: str | None = None


@dataclass
class InputInfo:
    path: str
    sha256: str
    size: int
    packets: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    warnings: list[str] = field(default_factory=list)
    format: str = ""
    linktypes: list[int] = field(default_factory=list)


@dataclass
class Result:
    options: Options
    inputs: list[InputInfo]
    inventory: Inventory
    conversations: list[Conversation]
    findings: list[dict[str, Any]]
    pack: dict[str, Any]
    engine: str
    packets: int
    warnings: list[str]
    dissector_errors: dict[str, int]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def load_signatures(directory: str | None) -> tuple[Any, dict[str, Any]]:
    """The active signature pack's matcher and its version facts."""
    from netscan.signatures.matcher import Matcher
    from netscan.signatures.pack import load_pack, resolve_pack_dir

    pack = load_pack(resolve_pack_dir(directory))
    return Matcher(pack), pack_info(pack)


def pack_info(pack: Any) -> dict[str, Any]:
    v = pack.version
    get = v.get if isinstance(v, dict) else lambda k, d=None: getattr(v, k, d)
    return {
        "source": str(get("source", "") or get("path", "") or ""),
        "commit": get("commit", None),
        "date": get("date", None),
        "count": len(pack.signatures),
        "counts": dict(get("counts", {}) or {}),
    }


def open_inputs(paths: list[str]) -> tuple[list[CaptureFile], list[InputInfo]]:
    captures: list[CaptureFile] = []
    infos: list[InputInfo] = []
    for p in paths:
        cap = CaptureFile(p)
        captures.append(cap)
        path = Path(p)
        infos.append(InputInfo(path=str(p), sha256=sha256_file(path), size=path.stat().st_size,
                               format=cap.format))  # fmt: skip
    return captures, infos


class Analyzer:
    """Runs the pipeline; ``progress(done_bytes, total_bytes)`` is called now and then."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.premises = Premises(options.premises)
        self.matcher: Any = None
        self.pack: dict[str, Any] = {
            "source": None,
            "commit": None,
            "date": None,
            "count": 0,
            "counts": {},
        }
        try:
            self.matcher, self.pack = load_signatures(options.signatures)
        except ImportError:
            self.matcher = None

    def run(self, paths: list[str], progress: Callable[[int, int], None] | None = None) -> Result:
        captures, infos = open_inputs(paths)
        inventory = Inventory(self.premises, self.matcher, files=[str(p) for p in paths])
        total = sum(c.size for c in captures)
        warnings: list[str] = []
        try:
            if self.options.engine == "tshark":
                from netscan.engine.tshark import TsharkEngine

                engine: Any = TsharkEngine(inventory)
                engine.run_files(paths, captures)
            else:
                from netscan.engine.native import Engine

                engine = Engine(inventory)
                cb = None
                if progress is not None:

                    def cb(_n: int) -> None:
                        progress(sum(c.position for c in captures), total)

                engine.run(merged(captures), cb)
                engine.finish()
        finally:
            for c in captures:
                c.close()
        for cap, info in zip(captures, infos, strict=True):
            info.warnings = list(cap.warnings)
            if self.options.engine != "tshark" or not info.packets:
                info.packets = cap.frames
                info.first_ts, info.last_ts = cap.first_ts, cap.last_ts
            info.linktypes = sorted(cap.linktypes)
            for w in cap.warnings:
                warnings.append(f"{info.path}: {w}")
        unsupported = getattr(engine, "unsupported_linktypes", set())
        for lt in sorted(unsupported):
            warnings.append(
                f"link type {lt} is not supported; its frames were counted but not decoded"
            )
        convs = inventory.finalize()
        from netscan.analysis.roles import assign_roles

        assign_roles(inventory, convs)
        findings: list[dict[str, Any]] = []
        try:
            from netscan.analysis.findings import find

            findings = find(inventory, convs, self.options)
        except ImportError:
            pass
        if progress is not None:
            progress(total, total)
        return Result(
            options=self.options,
            inputs=infos,
            inventory=inventory,
            conversations=convs,
            findings=findings,
            pack=self.pack,
            engine=self.options.engine,
            packets=sum(i.packets for i in infos),
            warnings=warnings,
            dissector_errors=dict(getattr(engine, "dissector_errors", {})),
        )


__all__ = ["Analyzer", "CaptureError", "Options", "Result"]
