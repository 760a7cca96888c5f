"""The default engine reproduces the committed baselines (tests/baselines/).

Every public capture, every analysis scenario and the demo capture: the normalised JSON
report must equal the baseline. A deliberate change rewrites them with
``python -m tests.baselines.make --update`` and the commit says why.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("skimage", reason="scikit-image supplies the scenario face picture")

from tests.baselines import baseline_path, cases, compute, diff, dumps  # noqa: E402

CASES = cases()


@pytest.fixture(scope="session")
def scenario_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("baseline-scenarios")


def test_every_capture_has_a_baseline() -> None:
    assert len(CASES) >= 40
    missing = [f"{g}/{n}" for g, n in CASES if not baseline_path(g, n).exists()]
    assert not missing, f"no baseline for {missing}: run python -m tests.baselines.make --update"


@pytest.mark.parametrize(("group", "name"), CASES, ids=[f"{g}/{n}" for g, n in CASES])
def test_report_equals_baseline(group: str, name: str, scenario_dir: Path) -> None:
    expected = baseline_path(group, name).read_text(encoding="utf-8")
    actual = dumps(compute(group, name, scenario_dir))
    if actual != expected:
        pytest.fail(
            "report differs from the baseline (python -m tests.baselines.make --update after "
            "a deliberate change):\n" + diff(expected, actual, f"{group}/{name}"),
            pytrace=False,
        )
