"""A signature pack is regular files: links, devices and FIFOs inside it are refused with a
one-line error naming the file and never showing what it points at; sizes are capped; the
pack root itself may be reached through a link (the bundled pack is)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from netscan.signatures import pack as pack_mod
from netscan.signatures.pack import PackError, load_pack, validate_pack
from tests.signatures.helpers import BUNDLED, make_pack, sig_yaml

ROOT = Path(__file__).resolve().parents[2]

GOOD = "signatures:\n" + sig_yaml(
    "face-cloud.files-test", "dns_name: [files-test.example.org]",
    examples="[{dns_name: files-test.example.org}]",
)  # fmt: skip


def small_pack(tmp_path: Path) -> Path:
    return make_pack(tmp_path, {"face-cloud/ok.yaml": GOOD})


def netscan(*args: str, limit_as: int | None = None) -> subprocess.CompletedProcess[str]:
    def limits() -> None:
        if limit_as is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))

    return subprocess.run([sys.executable, "-m", "netscan", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=120, preexec_fn=limits)  # fmt: skip


def one_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_symlinked_yaml_outside_the_pack_is_refused_without_its_content(tmp_path: Path) -> None:
    pack = small_pack(tmp_path)
    outside = tmp_path / "outside.yaml"
    outside.write_text(textwrap.dedent("""\
        signatures:
          - id: SECRET-CONTENT-OF-THE-TARGET
        """))  # fmt: skip
    (pack / "vendor-cloud").mkdir()
    link = pack / "vendor-cloud" / "elsewhere.yaml"
    link.symlink_to(outside)
    with pytest.raises(PackError) as err:
        load_pack(pack)
    msg = str(err.value)
    assert "\n" not in msg and str(link) in msg and "is a symbolic link" in msg
    assert "SECRET" not in msg
    # the command line: exit 2 for analyze, one line, no content
    proc = netscan("analyze", str(ROOT / "pcaps" / "demo_sales_office.pcapng"), "-q",
                   "--signatures", str(pack))  # fmt: skip
    assert proc.returncode == 2
    line = one_error(proc)
    assert "elsewhere.yaml" in line and "symbolic link" in line and "SECRET" not in line


def test_link_to_etc_passwd_leaks_nothing(tmp_path: Path) -> None:
    pack = small_pack(tmp_path)
    (pack / "device.yaml").symlink_to("/etc/passwd")
    problems = validate_pack(pack)
    assert problems == [f"{pack / 'device.yaml'}:1: is a symbolic link; a pack holds regular "
                        "files only"]  # fmt: skip
    proc = netscan("signatures", "--signatures", str(pack), "validate")
    assert proc.returncode != 0
    assert "root:" not in proc.stderr + proc.stdout
    assert "device.yaml" in proc.stderr


def test_link_to_dev_zero_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    pack = small_pack(tmp_path)
    (pack / "protocol").mkdir()
    (pack / "protocol" / "zero.yaml").symlink_to("/dev/zero")
    (pack / "device.yaml").symlink_to("/dev/zero")
    # reading /dev/zero whole would need unbounded memory: 1 GiB of address space is
    # far more than loading a pack needs, and far less than following the link takes
    proc = netscan("signatures", "--signatures", str(pack), "info", limit_as=1 << 30)
    line = one_error(proc)
    assert proc.returncode != 0 and "is a symbolic link" in line and "device.yaml" in line
    assert "MemoryError" not in proc.stderr


def test_devices_and_fifos_are_refused_without_blocking(tmp_path: Path) -> None:
    pack = small_pack(tmp_path)
    os.mkfifo(pack / "protocol.yaml")  # opening it for reading would wait for a writer
    problems = validate_pack(pack)
    assert problems == [f"{pack / 'protocol.yaml'}:1: is a FIFO; a pack holds regular files only"]
    if os.geteuid() == 0:
        os.unlink(pack / "protocol.yaml")
        os.mknod(pack / "protocol.yaml", 0o600 | 0o020000, os.makedev(1, 5))  # /dev/zero's
        assert validate_pack(pack) == [
            f"{pack / 'protocol.yaml'}:1: is a device; a pack holds regular files only"
        ]


def test_linked_category_folder_is_refused(tmp_path: Path) -> None:
    pack = small_pack(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.yaml").write_text(GOOD)
    (pack / "device").symlink_to(elsewhere, target_is_directory=True)
    assert validate_pack(pack) == [
        f"{pack / 'device'}:1: is a symbolic link; a pack holds regular files only"
    ]


def test_oversized_yaml_is_refused(tmp_path: Path) -> None:
    pack = small_pack(tmp_path)
    big = pack / "face-cloud" / "big.yaml"
    big.write_text("# padding\n" * 500_000)  # 5 MB of comments: valid YAML, too big
    problems = validate_pack(pack)
    assert len(problems) == 1
    assert problems[0] == f"{big}:1: is 5,000,000 bytes, above the 4 MiB limit for a pack file"


def test_whole_pack_size_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pack = small_pack(tmp_path)
    for i in range(3):
        text = GOOD.replace("files-test", f"files-pad{i}") + "# padding\n" * 4000
        (pack / "face-cloud" / f"pad{i}.yaml").write_text(text)
    monkeypatch.setattr(pack_mod, "MAX_PACK_BYTES", 100_000)
    problems = validate_pack(pack)
    assert problems and all("exceeds 100,000 bytes in total; not read" in p for p in problems)
    monkeypatch.setattr(pack_mod, "MAX_PACK_BYTES", 64 << 20)
    assert validate_pack(pack) == []


def test_pack_root_reached_through_a_link_loads(tmp_path: Path) -> None:
    pack = small_pack(tmp_path)
    link = tmp_path / "current"
    link.symlink_to(pack, target_is_directory=True)
    loaded = load_pack(link)
    assert [s.id for s in loaded.signatures] == ["face-cloud.files-test"]
    assert loaded.version.source_dir == pack.resolve()
    # the bundled pack is a link in the package (netscan/_bundled_signatures -> ../signatures)
    bundled_link = ROOT / "netscan" / "_bundled_signatures"
    assert bundled_link.is_symlink()
    assert len(load_pack(bundled_link).signatures) == len(load_pack(BUNDLED).signatures)
