"""Fleet site reports in the fleet's language: ``lang`` in fleet.toml, a site.toml or
``--lang``; a changed language redoes the site (its reports change), English runs keep
the fingerprints they had."""

from __future__ import annotations

from pathlib import Path

import pytest

from netscan.fleet.sites import SitesError, load_sites
from netscan.fleet.task import analyse_site, fingerprint, pack_fingerprint

from .conftest import make_sites


def test_lang_defaults_overrides_and_checks(tmp_path: Path) -> None:
    root = tmp_path / "sites"
    a, b = make_sites(root, 2)
    (root / "fleet.toml").write_text('lang = "zh-CN,en"\n')
    (root / b / "site.toml").write_text('lang = ["en"]\n')
    sites = {s.id: s for s in load_sites(root)}
    assert sites[a].lang == ["zh-CN", "en"] and sites[b].lang == ["en"]
    assert load_sites(root, {"lang": ["en"]})[0].lang == ["zh-CN", "en"]  # fleet.toml wins
    (root / b / "site.toml").write_text('lang = "tlh"\n')
    with pytest.raises(SitesError, match=r"lang: unknown language 'tlh'"):
        load_sites(root)


def test_site_reports_in_chinese(tmp_path: Path) -> None:
    root = tmp_path / "sites"
    make_sites(root, 1)
    site = load_sites(root)[0].to_dict()
    english = fingerprint(site, "p")[0]
    site_zh = {**site, "lang": ["zh-CN"]}
    assert fingerprint({**site, "lang": []}, "p")[0] == english  # as before the option
    assert fingerprint(site_zh, "p")[0] != english
    out = tmp_path / "out"
    fp = pack_fingerprint(None)
    assert analyse_site(site_zh, str(out), fp)["status_this_run"] == "done"
    page = (out / "sites" / site["id"] / "report.html").read_text("utf-8")
    md = (out / "sites" / site["id"] / "report.md").read_text("utf-8")
    assert '<html lang="zh-CN">' in page and "设备清单" in page
    assert md.startswith("# 场所网络中的人脸数据\n")
    # back to English: another run, the reports in English again
    assert analyse_site(site, str(out), fp)["status_this_run"] == "done"
    assert "Device inventory" in (out / "sites" / site["id"] / "report.html").read_text("utf-8")
