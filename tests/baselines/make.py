"""Write (``--update``) or check the engine baselines.

python -m tests.baselines.make            # check: print a diff for every case that differs
python -m tests.baselines.make --update   # rewrite every baseline (a deliberate change)
python -m tests.baselines.make --engine tshark NAME...   # only some cases, another engine
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tests.baselines import baseline_path, cases, compute, diff, dumps


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.baselines.make")
    ap.add_argument("--update", action="store_true", help="rewrite the baselines")
    ap.add_argument("--engine", default=None, help="default: the default engine")
    ap.add_argument("names", nargs="*", help="only these cases (file or scenario names)")
    args = ap.parse_args(argv)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for group, name in cases():
            if args.names and name not in args.names:
                continue
            text = dumps(compute(group, name, Path(tmp), engine=args.engine))
            target = baseline_path(group, name)
            if args.update:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
                print(f"wrote {group}/{target.name}")
                continue
            old = target.read_text(encoding="utf-8") if target.exists() else ""
            if old != text:
                failed += 1
                print(diff(old, text, f"{group}/{name}"))
            else:
                print(f"ok {group}/{name}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
