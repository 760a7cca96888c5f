"""Scenario captures are generated into a temporary directory once per test session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("cv2", reason="opencv-python-headless is needed for face detection")
pytest.importorskip("skimage", reason="scikit-image supplies the test face picture")

from netscan.analyze import Analyzer, Options, Result  # noqa: E402
from tests.analysis.scenarios.build import SCENARIOS  # noqa: E402


@pytest.fixture(scope="session")
def scenario_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scenarios")


@pytest.fixture(scope="session")
def scenario(scenario_dir: Path) -> Callable[[str], Path]:
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = SCENARIOS[name](scenario_dir)
        return made[name]

    return get


@pytest.fixture(scope="session")
def analyse(scenario: Callable[[str], Path]) -> Callable[..., Result]:
    cache: dict[tuple[str, str | None], Result] = {}

    def run(name: str, country: str | None = "CN", **kw: Any) -> Result:
        key = (name, country)
        if kw or key not in cache:
            res = Analyzer(Options(country=country, **kw)).run([str(scenario(name))])
            if kw:
                return res
            cache[key] = res
        return cache[key]

    return run
