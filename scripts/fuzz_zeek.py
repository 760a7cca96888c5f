#!/usr/bin/env python3
"""Mutation fuzzing of ``netscan analyze --zeek``: damaged Zeek log directories, by seed.

A Zeek log holds what the network sent (host names, URIs, user agents, certificate
subjects), so it is as hostile as a capture. The seed directories are the public Zeek
baselines in ../shared/zeek (each a directory of TSV logs). Each mutant copies one of them
and damages its logs line by line: values replaced by hostile ones (control characters,
terminal escapes, markup, overlong text, undecodable bytes, numbers too large, negative
or not numbers, wrong addresses and ports), fields added or removed, header lines
(``#fields``, ``#types``, ``#separator``) that lie, lines cut or repeated, JSON lines. The
analysis and its three reports must follow, or one clear refusal; anything else is a crash,
kept as a reproducer directory under ``OUT``.

    python scripts/fuzz_zeek.py --iterations 500 --seed 3
    python scripts/fuzz_zeek.py --seed 3 --only 17          # rebuild and run one mutant

Exit status: 0 no crash, 1 crashes found (reproducers written), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "zeek"

HOSTILE_VALUES: tuple[bytes, ...] = (
    b"",
    b"-",
    b"(empty)",
    b"\x1b[31mred\x1b[0m",
    b"\x1b]0;title\x07",
    b"[bold]markup[/bold]",
    b"<script>alert(1)</script>",
    b"**md** | table |",
    b"\x00\x01\x02\x7f",
    b"\xff\xfe\xfd",
    b"\xe2\x80\xae\xe2\x80\x8b",  # right-to-left override, zero width space
    b"99999999999999999999999999",
    b"-1",
    b"1e308",
    b"nan",
    b"inf",
    b"0x10",
    b"256.256.256.256",
    b"::ffff:1.2.3.4",
    b"fe80::1%eth0",
    b"65536",
    b"a,b,c,d,e,f",
    b"\\x09tab\\x0a",
    b"A" * 70000,
    b"face" * 5000,
)


_MASKED_TIME = re.compile(rb"X{10}\.X{6}")


@dataclass
class Mutant:
    seed: int
    index: int
    source: str
    files: dict[str, bytes]
    notes: list[str] = field(default_factory=list)


def seed_dirs() -> list[Path]:
    if not SHARED.is_dir():
        return []
    return sorted(d for d in SHARED.iterdir() if d.is_dir() and any(d.glob("*.log")))


def _mutate_line(rng: random.Random, line: bytes, sep: bytes, notes: list[str]) -> bytes:
    fields = line.split(sep)
    how = rng.randrange(7)
    if how == 0 and fields:
        i = rng.randrange(len(fields))
        value = rng.choice(HOSTILE_VALUES)
        fields[i] = value
        notes.append(f"field {i} = {value[:24]!r}")
    elif how == 1 and fields:
        del fields[rng.randrange(len(fields))]
        notes.append("field removed")
    elif how == 2:
        fields.insert(rng.randrange(len(fields) + 1), rng.choice(HOSTILE_VALUES))
        notes.append("field inserted")
    elif how == 3 and line:
        data = bytearray(line)
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        notes.append("bit flips")
        return bytes(data)
    elif how == 4 and line:
        notes.append("line cut")
        return line[: rng.randrange(len(line))]
    elif how == 5:
        notes.append("set separators")
        fields = [f.replace(b".", b",") if rng.random() < 0.3 else f for f in fields]
    else:
        notes.append("json line")
        return json.dumps({"ts": rng.choice(["x", 1e300, None, -5]), "uid": "C1",
                           "id.orig_h": "10.0.0.1", "host": "\x1b[2J" * 3}).encode()  # fmt: skip
    return sep.join(fields)


def _mutate_log(rng: random.Random, data: bytes, notes: list[str]) -> bytes:
    lines = data.split(b"\n")
    sep = b"\t"
    body = [i for i, ln in enumerate(lines) if ln and not ln.startswith(b"#")]
    heads = [i for i, ln in enumerate(lines) if ln.startswith(b"#")]
    for _ in range(rng.randrange(1, 5)):
        pick = rng.random()
        if pick < 0.15 and heads:
            i = rng.choice(heads)
            lines[i] = _mutate_line(rng, lines[i], sep, notes)
            notes.append(f"header line {i}")
        elif pick < 0.2:
            lines.insert(rng.randrange(len(lines) + 1),
                         rng.choice([b"#separator ,", b"#separator \\x", b"#fields\tts",
                                     b"#types\tcount", b"#unset_field\t", b"#path\t../x"]))  # fmt: skip
            notes.append("lying header inserted")
        elif pick < 0.25 and body:
            i = rng.choice(body)
            lines[i:i] = [lines[i]] * rng.randrange(2, 50)
            notes.append("line repeated")
        elif pick < 0.3:
            cut = rng.randrange(len(data) + 1)
            notes.append(f"file cut at {cut}")
            return b"\n".join(lines)[:cut]
        elif body:
            i = rng.choice(body)
            lines[i] = _mutate_line(rng, lines[i], sep, notes)
    return b"\n".join(lines)


def _unmask(data: bytes) -> bytes:
    count = iter(range(10**9))
    return _MASKED_TIME.sub(lambda _m: b"%d.%06d" % (1_600_000_000 + next(count), 0), data)


def make_mutant(dirs: list[Path], seed: int, index: int) -> Mutant:
    rng = random.Random(seed * 1_000_003 + index)
    src = rng.choice(dirs)
    # the baselines' times are masked by btest (XXXXXXXXXX.XXXXXX): given back, in order, so
    # that the records reach the analysis rather than stop at an unparsable time
    files = {p.name: _unmask(p.read_bytes()) for p in sorted(src.glob("*.log"))}
    m = Mutant(seed, index, src.name, files)
    names = sorted(files)
    for name in rng.sample(names, rng.randrange(1, len(names) + 1)):
        notes: list[str] = []
        files[name] = _mutate_log(rng, files[name], notes)
        m.notes.append(f"{name}: " + "; ".join(notes[:12]))
    return m


def run_one(analyzer: object, directory: Path) -> str | None:
    """None when the analysis gave its reports or refused in one line, else the crash."""
    from netscan.report import html_report, json_report, markdown_report
    from netscan.sources.zeek import analyze_zeek

    try:
        result = analyze_zeek(analyzer, directory)
        report = json_report.build(result)
        json.dumps(report)
        html_report.render(report)
        markdown_report.render(report)
    except FileNotFoundError as exc:  # the CLI's one-line refusal (no log netscan reads)
        line = str(exc)
        return None if line and "\n" not in line else f"refusal is not one line: {line!r}"
    except Exception:  # the point of fuzzing: anything else is a crash
        return traceback.format_exc()
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", "-n", type=int, default=300, help="mutants to run (300)")
    ap.add_argument("--seed", "-s", type=int, default=1, help="random seed (1)")
    ap.add_argument("--only", type=int, metavar="N", help="run only mutant N of the seed")
    ap.add_argument("--out", type=Path, default=Path("fuzz-crashes"),
                    help="where reproducers go (fuzz-crashes/)")  # fmt: skip
    args = ap.parse_args(argv)
    if args.iterations < 1:
        ap.error("--iterations must be positive")
    dirs = seed_dirs()
    if not dirs:
        ap.error(f"no Zeek log directories under {SHARED}")
    from netscan.analyze import Analyzer, Options

    analyzer = Analyzer(Options())
    indices = [args.only] if args.only is not None else range(args.iterations)
    crashes = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="netscan-fuzz-zeek-") as tmp:
        for n, i in enumerate(indices, 1):
            m = make_mutant(dirs, args.seed, i)
            work = Path(tmp) / f"m{i}"
            work.mkdir()
            for name, data in m.files.items():
                (work / name).write_bytes(data)
            crash = run_one(analyzer, work)
            if crash is not None:
                crashes += 1
                keep = args.out / f"zeek-crash-{args.seed}-{i}"
                shutil.rmtree(keep, ignore_errors=True)
                shutil.copytree(work, keep)
                (args.out / f"zeek-crash-{args.seed}-{i}.txt").write_text(
                    f"netscan zeek fuzz crash: seed {args.seed}, mutant {i}, from {m.source}\n"
                    + "".join(f"  - {x}\n" for x in m.notes)
                    + f"replay: python -m netscan analyze --zeek {keep}\n"
                    + f"rebuild: python {Path(__file__).resolve()} --seed {args.seed} --only {i}\n\n"
                    + crash,
                    encoding="utf-8",
                )
                print(f"CRASH mutant {i} ({m.source}) -> {keep}", file=sys.stderr)
            shutil.rmtree(work)
            if n % 100 == 0:
                print(f"fuzz-zeek: {n} mutants, {crashes} crashes, "
                      f"{time.monotonic() - started:.0f} s", file=sys.stderr)  # fmt: skip
    print(f"fuzz-zeek: {len(indices)} mutants, {crashes} crashes", file=sys.stderr)
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
