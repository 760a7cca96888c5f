"""Signature pack updates through git, end to end with real git repositories.

Each test gets its own world under ``tmp_path``: ``XDG_DATA_HOME`` (where the user's
pack lives), an empty git global config and GnuPG home, a bare repository acting as the
update source and a clone of it that pushes new commits. The base content is the
repository's own ``signatures/`` pack plus one small category file of test signatures
that the commits below add to, change and break.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from netscan.signatures import store as store_mod
from netscan.signatures import update as update_mod
from netscan.signatures.store import Store
from netscan.signatures.update import add_update_parsers

ROOT = Path(__file__).resolve().parents[2]
BASE_PACK = ROOT / "signatures"
TEST_FILE = "face-cloud/zz-update-test.yaml"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def sig(name: str, host: str, confidence: float = 0.8) -> dict[str, object]:
    """One face-cloud signature matching the DNS name ``host``, with a passing example."""
    return {
        "id": f"face-cloud.update-test-{name}",
        "name": f"Update test {name}",
        "category": "face-cloud",
        "vendor": "Example",
        "jurisdiction": "US",
        "match": {"dns_name": [host]},
        "confidence": confidence,
        "sources": ["https://example.org/docs"],
        "examples": [{"dns_name": host}],
        "near_misses": [{"dns_name": "unrelated.example.org"}],
    }


def write_sigs(path: Path, sigs: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"signatures": sigs}, sort_keys=False))


def run_git(*args: str, cwd: Path) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


class Upstream:
    """A bare repository and a working clone that pushes to it."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "upstream.git"
        self.work = root / "upstream-work"
        run_git("init", "--quiet", "--bare", str(self.bare), cwd=root)
        run_git("clone", "--quiet", str(self.bare), str(self.work), cwd=root)
        shutil.copytree(BASE_PACK, self.work, dirs_exist_ok=True)
        write_sigs(
            self.work / TEST_FILE,
            [sig("a", "a.update-test.example"), sig("b", "b.update-test.example")],
        )
        self.commit("Base pack")

    def commit(self, message: str, *, sign_with: Path | None = None) -> str:
        run_git("add", "--all", cwd=self.work)
        args = ["commit", "--quiet", "--allow-empty", "-m", message]
        if sign_with is not None:
            args = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={sign_with}", *args, "-S"]
        run_git(*args, cwd=self.work)
        run_git("push", "--quiet", "--force", "origin", "HEAD:refs/heads/main", cwd=self.work)
        return self.head()

    def head(self) -> str:
        return run_git("rev-parse", "HEAD", cwd=self.work)

    def set_sigs(self, sigs: list[dict[str, object]]) -> None:
        write_sigs(self.work / TEST_FILE, sigs)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Upstream]:
    if not (BASE_PACK / "PACK.yaml").is_file():
        pytest.skip("the repository's signatures/ pack is not there yet")
    pytest.importorskip("netscan.signatures.pack")
    home = tmp_path / "home"
    home.mkdir()
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Pack Maintainer\n\temail = maintainer@example.org\n"
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgSign = false\n"
    )
    # gpg-agent's socket path must stay short: keep GnuPG homes directly under /tmp
    gnupg = Path(tempfile.mkdtemp(prefix="nsg-"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GNUPGHOME", str(gnupg))
    # The bundled copy the store starts from: the repository pack as it is now.
    bundled = tmp_path / "bundled"
    shutil.copytree(BASE_PACK, bundled)
    monkeypatch.setattr(store_mod, "bundled_pack_dir", lambda: bundled)
    yield Upstream(tmp_path)
    subprocess.run(["gpgconf", "--homedir", str(gnupg), "--kill", "all"], capture_output=True)
    shutil.rmtree(gnupg, ignore_errors=True)


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="netscan signatures")
    sub = parser.add_subparsers(dest="command", required=True)
    add_update_parsers(sub)
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def live() -> Path:
    return Store.default().link


def live_head() -> str:
    return run_git("rev-parse", "HEAD", cwd=live())


def live_ids() -> set[str]:
    path = live() / TEST_FILE
    if not path.exists():
        return set()
    return {s["id"] for s in yaml.safe_load(path.read_text())["signatures"]}


def trees() -> list[str]:
    return sorted(p.name for p in Store.default().trees.iterdir())


def first_update(world: Upstream, capsys: pytest.CaptureFixture[str]) -> str:
    assert cli("update", "--from", str(world.bare)) == 0
    capsys.readouterr()
    assert live_head() == world.head()
    return world.head()


def keypair(tmp_path: Path, name: str) -> Path:
    key = tmp_path / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return key


def allowed_signers(tmp_path: Path, key: Path) -> Path:
    path = tmp_path / "allowed_signers"
    path.write_text(f"maintainer@example.org {key.with_suffix('.pub').read_text()}")
    return path


# --- first use and plain updates ------------------------------------------------------


def test_first_update_installs_the_source_and_remembers_it(
    world: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("update", "--from", str(world.bare)) == 0
    out = capsys.readouterr().out
    assert "signature pack updated" in out
    assert "added (2): face-cloud.update-test-a, face-cloud.update-test-b" in out
    link = live()
    assert link.is_symlink()
    assert link == Path(os.environ["XDG_DATA_HOME"]) / "netscan" / "signatures"
    assert live_head() == world.head()
    assert (link / "PACK.yaml").read_text() == (BASE_PACK / "PACK.yaml").read_text()
    # The source is remembered as remote "origin" of the working copy.
    assert run_git("config", "remote.origin.url", cwd=link) == str(world.bare.resolve())
    assert run_git("status", "--porcelain", cwd=link) == ""


def test_fast_forward_update_lists_added_removed_modified(
    world: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    first_update(world, capsys)
    world.set_sigs(
        [sig("b", "b.update-test.example", confidence=0.6), sig("c", "c.update-test.example")]
    )
    new = world.commit("Drop a, retune b, add c")
    assert cli("update") == 0  # no --from: the remembered source
    out = capsys.readouterr().out
    assert "added (1): face-cloud.update-test-c" in out
    assert "removed (1): face-cloud.update-test-a" in out
    assert "modified (1): face-cloud.update-test-b" in out
    assert live_head() == new
    assert live_ids() == {"face-cloud.update-test-b", "face-cloud.update-test-c"}


def test_moved_signature_is_not_reported_as_modified(
    world: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    first_update(world, capsys)
    world.set_sigs(
        [
            sig("c", "c.update-test.example"),
            sig("a", "a.update-test.example"),
            sig("b", "b.update-test.example"),
        ]
    )
    world.commit("Insert c first; a and b move down")
    assert cli("update") == 0
    out = capsys.readouterr().out
    assert "added (1): face-cloud.update-test-c" in out
    assert "modified" not in out
    assert "removed" not in out


def test_already_up_to_date(world: Upstream, capsys: pytest.CaptureFixture[str]) -> None:
    head = first_update(world, capsys)
    assert cli("update") == 0
    assert "already up to date" in capsys.readouterr().out
    assert live_head() == head


def test_no_source_configured(world: Upstream, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("update") == 2  # bad usage
    err = capsys.readouterr().err
    assert "no update source configured" in err
    assert len(err.strip().splitlines()) == 1
    # the failed first update leaves no user copy: the bundled pack stays in charge
    assert not live().is_symlink() and not live().exists()


def test_missing_source_is_refused(world: Upstream, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("update", "--from", str(world.bare.parent / "nowhere.git")) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not live().is_symlink()


# --- refusals leave the old pack in place -----------------------------------------------


def assert_refused(capsys: pytest.CaptureFixture[str], head: str, words: str) -> None:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert words in err
    assert len(err.splitlines()) == 1, err
    assert live_head() == head
    assert run_git("status", "--porcelain", cwd=live()) == ""
    assert live_ids() == {"face-cloud.update-test-a", "face-cloud.update-test-b"}


def test_rewritten_history_is_refused(world: Upstream, capsys: pytest.CaptureFixture[str]) -> None:
    head = first_update(world, capsys)
    run_git("commit", "--quiet", "--amend", "-m", "Base pack, rewritten", cwd=world.work)
    world.set_sigs([sig("evil", "evil.update-test.example")])
    world.commit("Force-pushed on top of a rewritten base")
    assert cli("update") == 1
    assert_refused(capsys, head, "not a fast-forward")


def test_source_behind_the_installed_pack_is_refused(
    world: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    base = first_update(world, capsys)
    world.set_sigs([sig("a", "a.update-test.example"), sig("b", "b.update-test.example", 0.7)])
    world.commit("Newer")
    assert cli("update") == 0
    capsys.readouterr()
    newer = live_head()
    run_git("push", "--quiet", "--force", "origin", f"{base}:refs/heads/main", cwd=world.work)
    assert cli("update") == 1
    err = capsys.readouterr().err
    assert "behind the installed pack" in err
    assert live_head() == newer


def test_invalid_pack_is_refused(world: Upstream, capsys: pytest.CaptureFixture[str]) -> None:
    head = first_update(world, capsys)
    broken = sig("c", "c.update-test.example")
    del broken["match"]
    broken["confidence"] = "very high"
    world.set_sigs([sig("a", "a.update-test.example"), sig("b", "b.update-test.example"), broken])
    world.commit("Schema error")
    before = trees()
    assert cli("update") == 1
    assert_refused(capsys, head, "does not validate")
    assert trees() == before  # the rejected checkout is gone


def test_failing_example_is_refused(world: Upstream, capsys: pytest.CaptureFixture[str]) -> None:
    head = first_update(world, capsys)
    wrong = sig("c", "c.update-test.example")
    wrong["examples"] = [{"dns_name": "something-else.example.net"}]
    world.set_sigs([sig("a", "a.update-test.example"), sig("b", "b.update-test.example"), wrong])
    world.commit("Example that does not match")
    before = trees()
    assert cli("update") == 1
    assert_refused(capsys, head, "fails its examples")
    assert trees() == before


def test_interrupted_update_never_switches(
    world: Upstream, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    head = first_update(world, capsys)
    world.set_sigs([sig("c", "c.update-test.example")])
    world.commit("Next")

    def interrupted(tree: Path) -> None:
        raise KeyboardInterrupt

    before = trees()  # the live tree and the previous one
    assert len(before) == 2
    with monkeypatch.context() as patch:
        patch.setattr(update_mod, "check_pack", interrupted)
        with pytest.raises(KeyboardInterrupt):
            cli("update")
    assert live_head() == head
    assert trees() == before
    # A checkout left behind by a harder stop (no cleanup at all) is removed next time.
    Store.default().checkout(world.head())
    assert len(trees()) == 3
    assert cli("update") == 0
    assert live_head() == world.head()
    assert len(trees()) == 2


# --- signatures ----------------------------------------------------------------------


def test_unsigned_commit_is_refused_when_signatures_are_required(
    world: Upstream, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    head = first_update(world, capsys)
    world.set_sigs([sig("a", "a.update-test.example"), sig("b", "b.update-test.example", 0.5)])
    world.commit("Unsigned")
    assert cli("update", "--require-signed") == 1
    err = capsys.readouterr().err
    assert "is not signed" in err
    assert live_head() == head
    signers = allowed_signers(tmp_path, keypair(tmp_path, "maintainer"))
    assert cli("update", "--trusted-keys", str(signers)) == 1
    assert "is not signed" in capsys.readouterr().err
    assert live_head() == head


def test_ssh_signed_commit_is_accepted_with_allowed_signers(
    world: Upstream, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first_update(world, capsys)
    key = keypair(tmp_path, "maintainer")
    signers = allowed_signers(tmp_path, key)
    world.set_sigs([sig("a", "a.update-test.example"), sig("c", "c.update-test.example")])
    new = world.commit("Signed release", sign_with=key)
    assert cli("update", "--require-signed", "--trusted-keys", str(signers)) == 0
    out = capsys.readouterr().out
    assert "added (1): face-cloud.update-test-c" in out
    assert live_head() == new


def test_allowed_signers_configured_in_the_working_copy(
    world: Upstream, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first_update(world, capsys)
    key = keypair(tmp_path, "maintainer")
    signers = allowed_signers(tmp_path, key)
    run_git("config", "gpg.ssh.allowedSignersFile", str(signers), cwd=live())
    new = world.commit("Signed, no content change", sign_with=key)
    assert cli("update", "--require-signed") == 0
    assert "no signature changes" in capsys.readouterr().out
    assert live_head() == new


def test_commit_signed_by_an_untrusted_key_is_refused(
    world: Upstream, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    head = first_update(world, capsys)
    signers = allowed_signers(tmp_path, keypair(tmp_path, "maintainer"))
    intruder = keypair(tmp_path, "intruder")
    world.set_sigs([sig("evil", "evil.update-test.example")])
    world.commit("Signed by someone else", sign_with=intruder)
    assert cli("update", "--require-signed", "--trusted-keys", str(signers)) == 1
    err = capsys.readouterr().err
    assert "not trusted" in err
    assert live_head() == head
    # Without any trusted keys configured an SSH signature cannot verify either.
    assert cli("update", "--require-signed") == 1
    assert "not trusted" in capsys.readouterr().err
    assert live_head() == head


@pytest.fixture
def gpg_maintainer(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A separate GnuPG home holding the maintainer's signing key, and its fingerprint."""
    if shutil.which("gpg") is None:
        pytest.skip("gpg not installed")
    home = Path(tempfile.mkdtemp(prefix="nsm-"))
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(
        ["gpg", "--batch", "--quiet", "--passphrase", "", "--quick-gen-key"]
        + ["Pack Maintainer <maintainer@example.org>", "ed25519", "sign", "never"],
        env=env,
        check=True,
        capture_output=True,
    )
    listing = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--list-secret-keys"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    try:
        yield home, fpr
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def test_openpgp_signed_commit_with_exported_key(
    world: Upstream,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    gpg_maintainer: tuple[Path, str],
) -> None:
    head = first_update(world, capsys)
    home, fpr = gpg_maintainer
    world.set_sigs([sig("a", "a.update-test.example"), sig("c", "c.update-test.example")])
    run_git("add", "--all", cwd=world.work)
    subprocess.run(
        ["git", "-c", "gpg.format=openpgp", "-c", f"user.signingkey={fpr}"]
        + ["commit", "--quiet", "-S", "-m", "OpenPGP-signed release"],
        cwd=world.work,
        env={**os.environ, "GNUPGHOME": str(home)},
        check=True,
        capture_output=True,
    )
    run_git("push", "--quiet", "origin", "HEAD:refs/heads/main", cwd=world.work)
    # The user's own (empty) keyring does not know the key.
    assert cli("update", "--require-signed") == 1
    assert "not trusted" in capsys.readouterr().err
    assert live_head() == head
    exported = subprocess.run(
        ["gpg", "--batch", "--armor", "--export", fpr],
        env={**os.environ, "GNUPGHOME": str(home)},
        check=True,
        capture_output=True,
    ).stdout
    keyfile = tmp_path / "maintainer.asc"
    keyfile.write_bytes(exported)
    assert cli("update", "--trusted-keys", str(keyfile)) == 0
    assert "added (1): face-cloud.update-test-c" in capsys.readouterr().out
    assert live_head() == world.head()


# --- rollback ------------------------------------------------------------------------


def test_rollback_returns_to_the_previous_commit(
    world: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("rollback") == 1
    assert "no signature pack" in capsys.readouterr().err
    first = first_update(world, capsys)
    assert cli("rollback") == 0  # back to the bundled pack the store started from
    assert "removed (2)" in capsys.readouterr().out
    assert cli("update") == 0
    capsys.readouterr()
    assert live_head() == first
    world.set_sigs([sig("a", "a.update-test.example"), sig("c", "c.update-test.example")])
    second = world.commit("Second")
    assert cli("update") == 0
    capsys.readouterr()
    assert cli("rollback") == 0
    out = capsys.readouterr().out
    assert "rolled back" in out
    assert "added (1): face-cloud.update-test-b" in out
    assert "removed (1): face-cloud.update-test-c" in out
    assert live_head() == first
    assert live_ids() == {"face-cloud.update-test-a", "face-cloud.update-test-b"}
    # Rolling back again undoes the rollback.
    assert cli("rollback") == 0
    capsys.readouterr()
    assert live_head() == second


def test_rollback_recreates_a_missing_previous_tree(
    world: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    first = first_update(world, capsys)
    world.set_sigs([sig("c", "c.update-test.example")])
    world.commit("Second")
    assert cli("update") == 0
    capsys.readouterr()
    store = Store.default()
    old_tree = store.tree_for(first)
    assert old_tree is not None
    store.discard(old_tree)
    assert cli("rollback") == 0
    assert live_head() == first
