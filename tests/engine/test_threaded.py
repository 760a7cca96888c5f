"""--jobs 2: the packet core run ahead in a worker thread (netscan.engine.threaded) gives
exactly one job's report, fails with a clear error, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import netscan.engine.core as core_engine
from netscan import cli
from netscan.analyze import Analyzer, Options
from netscan.engine import EngineError
from netscan.engine.threaded import ThreadedEngine
from netscan.report.json_report import build
from tests.baselines import COUNTRY, capture_path, cases
from tests.conftest import PCAPS, realworld

ROOT = Path(__file__).resolve().parents[2]


def _report(paths: list[str], jobs: int) -> dict[str, Any]:
    result = Analyzer(Options(country=COUNTRY, jobs=jobs)).run(paths)
    rep = build(result)
    rep.pop("generated_at")
    return json.loads(json.dumps(rep))


@pytest.fixture
def threaded_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Small batches (so that even small captures take many, and the worker runs ahead);
    returns the records of every threaded run (proof that the thread ran)."""
    monkeypatch.setattr(core_engine, "BATCH", 97)
    runs: list[int] = []
    run = ThreadedEngine.run_files

    def counted(self: ThreadedEngine, *a: Any, **k: Any) -> int:
        n = run(self, *a, **k)
        runs.append(n)
        return n

    monkeypatch.setattr(ThreadedEngine, "run_files", counted)
    return runs


@pytest.fixture(scope="module")
def scenario_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("threaded-scenarios")


@pytest.mark.parametrize(("group", "name"), cases(), ids=[f"{g}/{n}" for g, n in cases()])
def test_jobs_2_report_identical_to_one_job(
    group: str, name: str, scenario_dir: Path, threaded_runs: list[int]
) -> None:
    """Every baseline case (public captures, scenarios, the demo): the same report, byte
    for byte but for the time it was made (no list sorted: same facts in the same order)."""
    if group == "scenarios":
        pytest.importorskip("skimage", reason="scikit-image supplies the scenario face picture")
    path = str(capture_path(group, name, scenario_dir))
    try:
        single = _report([path], 1)
    except Exception as exc:  # noqa: BLE001 - an unreadable capture: the same error
        with pytest.raises(type(exc)) as info:
            _report([path], 2)
        assert str(info.value) == str(exc)
        return
    assert _report([path], 2) == single
    assert threaded_runs  # the threaded engine ran (every pass)


def test_several_inputs_and_a_cut_file(tmp_path: Path, threaded_runs: list[int]) -> None:
    """Inputs merged by time, one of them cut mid-record: same report, same warning."""
    data = (PCAPS / "demo_sales_office.pcapng").read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(data[: len(data) * 2 // 3 + 5])
    paths = [str(cut), str(realworld("big_mixed_1kxun_ndpi.pcap"))]
    single = _report(paths, 1)
    assert _report(paths, 2) == single
    assert any("cut.pcapng" in w for w in single["warnings"]), single["warnings"]
    assert threaded_runs


def test_one_long_stream_hashed_by_whichever_thread(
    tmp_path: Path, threaded_runs: list[int]
) -> None:
    """A capture of one media stream (the core's own work, little for the replay), in many
    small batches: the worker hashes the file while it is ahead of the replay and the
    hashing thread while it is not, and the digest is the file's all the same."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import gen_stream

    path = tmp_path / "stream.pcap"
    gen_stream.write(path, 20_000)
    single = _report([str(path)], 1)
    assert _report([str(path)], 2) == single
    want = hashlib.sha256(path.read_bytes()).hexdigest()
    assert [i["sha256"] for i in single["inputs"]] == [want]
    assert threaded_runs == [20_000]


def test_step_by_step_with_jobs(threaded_runs: list[int]) -> None:
    """Steps of a few hundred records (the TUI's partial results), the core in its thread:
    each step ends its thread; the last result is the one-job report."""
    demo = str(PCAPS / "demo_sales_office.pcapng")
    steps = list(Analyzer(Options(country=COUNTRY, jobs=2)).run_incremental([demo], batch=700))
    assert len(steps) > 3 and len(threaded_runs) >= len(steps) - 1
    rep = build(steps[-1].result())
    rep.pop("generated_at")
    assert json.loads(json.dumps(rep)) == _report([demo], 1)


def test_gzip_input(tmp_path: Path, threaded_runs: list[int]) -> None:
    """gzip is read by the core in its thread: same report, same integrity warning."""
    data = bytearray(gzip.compress((PCAPS / "demo_sales_office.pcapng").read_bytes()))
    data[-8] ^= 0xFF  # a CRC-32 mismatch: reported, nothing lost
    p = tmp_path / "demo.pcapng.gz"
    p.write_bytes(bytes(data))
    single = _report([str(p)], 1)
    assert _report([str(p)], 2) == single
    assert any("gzip integrity error: member 1 CRC-32" in w for w in single["warnings"])
    assert threaded_runs


def test_an_error_mid_file(tmp_path: Path, threaded_runs: list[int]) -> None:
    """A record header that makes no sense halfway through a pcap: reading stops there
    with a warning, what came before is analysed, the same with the core in a thread."""
    src = realworld("cam_blink_cloud_headers_tjoconnor.pcap").read_bytes()
    assert src[:4] == b"\xd4\xc3\xb2\xa1"  # little-endian pcap: walk the records
    off, n = 24, 0
    while off + 16 <= len(src) and off < len(src) // 2:
        off += 16 + int.from_bytes(src[off + 8 : off + 12], "little")
        n += 1
    bad = bytearray(src)
    bad[off + 8 : off + 16] = (0x7FFF_FFF0).to_bytes(4, "little") * 2  # absurd lengths
    p = tmp_path / "bad.pcap"
    p.write_bytes(bytes(bad))
    single = _report([str(p)], 1)
    assert single["inputs"][0]["packets"] == n
    assert single["inputs"][0]["warnings"]
    assert _report([str(p)], 2) == single


def _two_wsd_flows(path: Path) -> list[bytes]:
    """Two UDP flows between the same hosts to the WS-Discovery port (a parser that stays
    in Python): the first one's 11th datagram is one its parser fails on, then the second
    flow repeats the first one's datagrams, each just after it. Returns the bodies."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    bodies = [b"FAIL" if i == 10 else b"<probe %d/>" % i for i in range(400)]
    pkts = []
    ts = 1_700_000_000.0
    for i, body in enumerate(bodies):
        for sport in (5000, 5001) if i > 10 else (5000,):
            p = (Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:14")
                 / IP(src="192.168.1.10", dst="192.168.1.20")
                 / UDP(sport=sport, dport=3702) / body)  # fmt: skip
            p.time = ts
            ts += 0.001
            pkts.append(p)
    wrpcap(str(path), pkts)
    return bodies


def test_python_parser_faults_stop_flows_at_the_same_point(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, threaded_runs: list[int]
) -> None:
    """A Python datagram parser that fails stops its flow in the core (Core.stop) a fixed
    number of batches later (STOP_LAG), however far ahead the worker is: what the core
    still does with that flow's datagrams until then (here: remembering them, so that the
    second flow's copies are dropped as repeats) is the same with one job or two."""
    from netscan.dissectors import registry

    seen: list[tuple[int, bytes]] = []

    def flaky(data: bytes, ctx: Any) -> list[Any]:
        seen.append((ctx.sport, data))
        if data == b"FAIL":
            raise ValueError("injected parser fault")
        return []

    table = dict(registry.UDP_PARSERS)
    table[3702] = (table[3702][0], flaky)
    monkeypatch.setattr(core_engine, "UDP_PARSERS", table)
    path = tmp_path / "wsd.pcap"
    bodies = _two_wsd_flows(path)
    single = _report([str(path)], 1)
    calls_single, seen[:] = list(seen), []
    assert _report([str(path)], 2) == single
    assert seen == calls_single
    # the first flow's parser ran up to its fault; the second flow's copies of datagrams
    # the core still took from the first one before the stop were dropped, the rest parsed
    first = [d for port, d in calls_single if port == 5000]
    second = [d for port, d in calls_single if port == 5001]
    assert first == bodies[:11]
    assert 0 < len(second) < len(bodies) - 11
    assert second == bodies[len(bodies) - len(second) :]


def test_a_failing_worker_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A fault of the worker thread outside a packet's own guard: one line, exit 2."""
    monkeypatch.setattr(core_engine, "BATCH", 50)
    monkeypatch.setattr(ThreadedEngine, "fail_after", 3)
    demo = str(PCAPS / "demo_sales_office.pcapng")
    with pytest.raises(EngineError, match="the packet core failed: .*fault injected"):
        _report([demo], 2)
    rc = cli.main(["analyze", demo, "--jobs", "2", "--json", str(tmp_path / "r.json"), "-q"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("netscan: error: the packet core failed:"), err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_ctrl_c_stops_a_threaded_run(tmp_path: Path) -> None:
    """A real SIGINT while the worker runs ahead: 'interrupted', exit 130, no traceback,
    no hang (the main thread waits for batches with the GIL released, looking at signals)."""
    script = (
        "import sys, time\n"
        "import netscan.engine.core as ce\n"
        "from netscan.engine.threaded import ThreadedEngine\n"
        "ce.BATCH = 1\n"  # many small batches: the run lasts
        "orig = ThreadedEngine._replay\n"
        "said = []\n"
        "def slow(self, ops):\n"
        "    if not said:\n"
        "        said.append(1); print('replaying', flush=True)\n"
        "    time.sleep(0.002)\n"
        "    orig(self, ops)\n"
        "ThreadedEngine._replay = slow\n"
        "from netscan import cli\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    big = str(realworld("big_linux_sll2_suricata.pcap"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "analyze", big, "--jobs", "2",
         "--json", str(tmp_path / "r.json"), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "replaying", line
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    try:
        _out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the threaded run did not stop on Ctrl-C")
    assert proc.returncode == 130, err
    assert "netscan: interrupted" in err
    assert "Traceback" not in err
    assert not (tmp_path / "r.json").exists()


class _Alarm(Exception):
    pass


def test_waiting_for_a_batch_looks_at_signals() -> None:
    """The main thread waits for the worker with the GIL released, but a signal handler
    still runs (here: the worker waits for stops that never come, so no batch will), and
    letting go of the core then stops its thread at once."""
    from netscan import _core

    core = _core.Core([], [], [])
    core.open(str(PCAPS / "demo_sales_office.pcapng"))
    core.start(1, None, 1)
    assert core.next_batch() is not None
    with pytest.raises(RuntimeError, match="busy"):
        core.stats()  # the worker holds the core until join
    old = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(_Alarm()))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        t0 = time.monotonic()
        with pytest.raises(_Alarm):
            core.next_batch()  # no stops given for the batch: the worker waits for them
        assert time.monotonic() - t0 < 10
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    core.join()
    assert core.stats()["packets"] == 1  # lag 1: never a batch ahead of the stops


@pytest.mark.parametrize(
    ("cpus", "given", "threaded"),
    [
        ({0, 1}, None, True),
        ({0, 1, 2, 3}, None, True),
        ({0}, None, False),
        ({0}, "auto", False),
        ({0, 1}, "1", False),
        ({0}, "2", True),
    ],
)
def test_jobs_default_to_the_cpus_there_are(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    threaded_runs: list[int],
    cpus: set[int],
    given: str | None,
    threaded: bool,
) -> None:
    """Without --jobs (or with auto) the core runs ahead in its thread where two CPUs are
    available to the process, and not where one is; a number given is taken as it is."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: cpus)
    demo = str(PCAPS / "demo_sales_office.pcapng")
    args = ["analyze", demo, "--country", COUNTRY, "--json", str(tmp_path / "r.json"), "-q"]
    if given is not None:
        args += ["--jobs", given]
    assert cli.main(args) == 0
    assert bool(threaded_runs) == threaded
    # the report is one job's either way
    got = json.loads((tmp_path / "r.json").read_text())
    got.pop("generated_at")
    assert got == _report([demo], 1)


def test_jobs_says_what_it_takes(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("0", "-1", "two", ""):
        with pytest.raises(SystemExit) as exc:
            cli.main(["analyze", str(PCAPS / "demo_sales_office.pcapng"), "--jobs", bad])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "not a positive number or auto" in err and len(err.strip().splitlines()) == 1
