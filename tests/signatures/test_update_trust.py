"""Hostile updates: a fetched commit may hold regular files only, and ``--require-signed``
trusts only the keys the user named, never a key merely present in the GnuPG keyring.

Real git repositories and real GnuPG / SSH keys, as in ``test_update.py`` (whose world
and key fixtures these tests share).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.signatures import test_update as base
from tests.signatures.test_update import (
    Upstream,
    assert_refused,
    cli,
    first_update,
    keypair,
    live,
    live_head,
    run_git,
    sig,
    trees,
)

# the fixtures of test_update.py, shared
world = base.world
gpg_maintainer = base.gpg_maintainer


def commit_openpgp(world: Upstream, home: Path, fpr: str, message: str) -> str:
    run_git("add", "--all", cwd=world.work)
    subprocess.run(
        ["git", "-c", "gpg.format=openpgp", "-c", f"user.signingkey={fpr}"]
        + ["commit", "--quiet", "--allow-empty", "-S", "-m", message],
        cwd=world.work,
        env={**os.environ, "GNUPGHOME": str(home)},
        check=True,
        capture_output=True,
    )
    run_git("push", "--quiet", "origin", "HEAD:refs/heads/main", cwd=world.work)
    return world.head()


def into_user_keyring(home: Path, fpr: str) -> None:
    """Put the maintainer's public key into the user's own keyring ($GNUPGHOME of the test
    world), with no trust assigned: present, not vouched for."""
    exported = subprocess.run(
        ["gpg", "--batch", "--export", fpr],
        env={**os.environ, "GNUPGHOME": str(home)},
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["gpg", "--batch", "--quiet", "--import"], input=exported, check=True,
                   capture_output=True)  # fmt: skip


# --- trust -----------------------------------------------------------------------------


def test_key_in_the_keyring_is_not_trusted_unless_named(
    world: Upstream,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    gpg_maintainer: tuple[Path, str],
) -> None:
    head = first_update(world, capsys)
    home, fpr = gpg_maintainer
    into_user_keyring(home, fpr)
    listing = subprocess.run(["gpg", "--batch", "--with-colons", "--list-keys", fpr],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert fpr in listing  # in the user's keyring, no trust assigned
    world.set_sigs([sig("a", "a.update-test.example"), sig("b", "b.update-test.example", 0.5)])
    new = commit_openpgp(world, home, fpr, "Signed by a key the user has but did not name")
    # --require-signed alone: the keyring at large is not a trust anchor
    assert cli("update", "--require-signed") == 1
    err = capsys.readouterr().err.strip()
    assert "not trusted" in err and "no trusted key is named" in err
    assert len(err.splitlines()) == 1
    assert live_head() == head
    # another key named: the keyring's key still does not count
    other = keypair(tmp_path, "someone-else")
    assert cli("update", "--trusted-key", str(other.with_suffix(".pub"))) == 1
    err = capsys.readouterr().err.strip()
    assert "not trusted" in err and len(err.splitlines()) == 1
    assert live_head() == head
    # the same key named explicitly, by fingerprint: accepted
    assert cli("update", "--require-signed", "--trusted-key", fpr) == 0
    assert "modified (1): face-cloud.update-test-b" in capsys.readouterr().out
    assert live_head() == new


def test_openpgp_key_other_than_the_named_one_is_refused(
    world: Upstream,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    gpg_maintainer: tuple[Path, str],
) -> None:
    head = first_update(world, capsys)
    home, fpr = gpg_maintainer
    # a second key in the maintainer's home signs; the file named holds only the first key
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--quiet", "--passphrase", "", "--quick-gen-key",
                    "Intruder <intruder@example.org>", "ed25519", "sign", "never"],
                   env=env, check=True, capture_output=True)  # fmt: skip
    listing = subprocess.run(["gpg", "--batch", "--with-colons", "--list-secret-keys",
                              "intruder@example.org"], env=env, check=True, capture_output=True,
                             text=True).stdout  # fmt: skip
    intruder = next(ln.split(":")[9] for ln in listing.splitlines() if ln.startswith("fpr:"))
    named = tmp_path / "maintainer.asc"
    named.write_bytes(subprocess.run(["gpg", "--batch", "--armor", "--export", fpr], env=env,
                                     check=True, capture_output=True).stdout)  # fmt: skip
    world.set_sigs([sig("evil", "evil.update-test.example")])
    commit_openpgp(world, home, intruder, "Signed by another key")
    assert cli("update", "--trusted-key", str(named)) == 1
    assert_refused(capsys, head, "not trusted")


def test_trusted_key_configured_in_the_pack_repository(
    world: Upstream,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    first_update(world, capsys)
    key = keypair(tmp_path, "maintainer")
    # a bare SSH public key named in the repository's config: trusted, and required
    run_git("config", "--add", "netscan.trustedKey", str(key.with_suffix(".pub")), cwd=live())
    unsigned = world.commit("Unsigned")
    assert cli("update") == 1
    assert "is not signed" in capsys.readouterr().err
    assert live_head() != unsigned
    new = world.commit("Signed", sign_with=key)
    assert cli("update") == 0
    assert live_head() == new


# --- the tree of a fetched commit -------------------------------------------------------


def test_signed_commit_holding_a_symlink_is_refused(
    world: Upstream, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    head = first_update(world, capsys)
    key = keypair(tmp_path, "maintainer")
    outside = tmp_path / "outside.yaml"  # content the signature does not cover
    outside.write_text("signatures: []\n")
    (world.work / "vendor-cloud" / "zz-outside.yaml").symlink_to(outside)
    world.commit("Signed, but one file points outside the pack", sign_with=key)
    before = trees()
    assert cli("update", "--trusted-key", str(key.with_suffix(".pub"))) == 1
    err = capsys.readouterr().err
    assert "vendor-cloud/zz-outside.yaml is a symbolic link" in err
    assert "signatures: []" not in err
    assert live_head() == head and trees() == before


def test_commit_holding_a_submodule_or_an_oversized_file_is_refused(
    world: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    head = first_update(world, capsys)
    blob = run_git("rev-parse", "HEAD", cwd=world.work)
    run_git("update-index", "--add", "--cacheinfo", f"160000,{blob},device/sub",
            cwd=world.work)  # fmt: skip
    run_git("commit", "--quiet", "-m", "A submodule", cwd=world.work)
    run_git("push", "--quiet", "origin", "HEAD:refs/heads/main", cwd=world.work)
    assert cli("update") == 1
    assert_refused(capsys, head, "device/sub is a submodule")
    run_git("rm", "--quiet", "--cached", "device/sub", cwd=world.work)
    big = world.work / "device" / "zz-big.yaml"
    big.write_text("# padding\n" * 500_000)  # 5 MB
    world.commit("An oversized file")
    assert cli("update") == 1
    assert_refused(capsys, head, "device/zz-big.yaml is 5,000,000 bytes")


def test_malformed_tree_is_refused_at_fetch(
    world: Upstream, capsys: pytest.CaptureFixture[str]
) -> None:
    head = first_update(world, capsys)
    blob = run_git("hash-object", "-w", "PACK.yaml", cwd=world.work)
    listing = run_git("ls-tree", "HEAD", cwd=world.work)
    tree = subprocess.run(["git", "mktree"], cwd=world.work, check=True, capture_output=True,
                          text=True, input=f"{listing}\n100644 blob {blob}\t.git\n")  # fmt: skip
    commit = run_git("commit-tree", tree.stdout.strip(), "-p", "HEAD", "-m", "A .git entry",
                     cwd=world.work)  # fmt: skip
    run_git("push", "--quiet", "origin", f"{commit}:refs/heads/main", cwd=world.work)
    assert cli("update") == 1
    assert_refused(capsys, head, "contains '.git'")
