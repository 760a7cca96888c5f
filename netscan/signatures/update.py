"""``netscan signatures update`` and ``netscan signatures rollback``.

An update fetches the source's HEAD, refuses anything that is not a fast-forward of the
installed commit, optionally requires a good signature on the new commit, checks the
new commit out into a fresh worktree, validates and tests the pack there, and only then
makes it live with one atomic symlink switch (see ``netscan.signatures.store``). Any
failure leaves the installed pack untouched and is reported in one line with a
non-zero exit status.

Signed updates (``--require-signed``, or ``git config netscan.requireSigned true`` in the
pack's working copy) run ``git verify-commit`` on the new commit. Trusted keys are the
user's GnuPG keyring, or the SSH allowed-signers file set as ``gpg.ssh.allowedSignersFile``
in the working copy, or the file given with ``--trusted-keys`` (an allowed-signers file,
or an exported OpenPGP public key / keyring, which is then the only trusted key set).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from netscan.signatures.store import (
    BRANCH,
    CFG_BUNDLED,
    FETCH_TIMEOUT,
    REF_CURRENT,
    REF_FETCHED,
    REF_PREVIOUS,
    Store,
    StoreError,
    one_line,
)

CFG_REQUIRE_SIGNED = "netscan.requireSigned"

# Transports accepted for --from: local paths and these URL schemes.
_SCHEMES = ("https://", "http://", "ssh://", "git://", "file://")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:[^:]")


class UpdateError(Exception):
    """An update or rollback was refused; the message says why in one line."""


class UpdateUsageError(UpdateError):
    """The update was asked for wrongly (bad or missing source, missing key file): exit 2."""


# --- changes between two packs ---------------------------------------------------


@dataclasses.dataclass
class Changes:
    added: list[str] = dataclasses.field(default_factory=list)
    removed: list[str] = dataclasses.field(default_factory=list)
    modified: list[str] = dataclasses.field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for label, ids in (
            ("added", self.added),
            ("removed", self.removed),
            ("modified", self.modified),
        ):
            if ids:
                out.append(f"  {label} ({len(ids)}): {', '.join(ids)}")
        return out or ["  no signature changes"]


# Where a signature sits in its file is not part of what it means.
_POSITION_FIELDS = frozenset({"file", "line"})


def _canonical(value: Any) -> Any:
    """A JSON-able, order-independent form of one signature, for comparison."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {
            f.name: getattr(value, f.name)
            for f in dataclasses.fields(value)
            if f.name not in _POSITION_FIELDS
        }
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(v) for v in value), key=repr)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    pattern = getattr(value, "pattern", None)  # compiled regular expressions
    if isinstance(pattern, (str, bytes)):
        return repr(pattern)
    return repr(value)


def _signature_items(pack: Any) -> Iterable[Any]:
    sigs = getattr(pack, "signatures", pack)
    if isinstance(sigs, Mapping):
        return sigs.values()
    return sigs if isinstance(sigs, Iterable) else ()


def signature_index(pack: Any) -> dict[str, str]:
    """Signature id → canonical JSON of the signature, for any pack shape we know."""
    index: dict[str, str] = {}
    if pack is None:
        return index
    for sig in _signature_items(pack):
        sig_id = sig.get("id") if isinstance(sig, Mapping) else getattr(sig, "id", None)
        if sig_id is None:
            continue
        index[str(sig_id)] = json.dumps(_canonical(sig), sort_keys=True, default=repr)
    return index


def diff_packs(old: Any, new: Any) -> Changes:
    before, after = signature_index(old), signature_index(new)
    return Changes(
        added=sorted(set(after) - set(before)),
        removed=sorted(set(before) - set(after)),
        modified=sorted(k for k in set(before) & set(after) if before[k] != after[k]),
    )


# --- pack checks (the pack module is imported lazily) -------------------------------


def _reason(exc: BaseException) -> str:
    """One line describing ``exc``: its message, else its type."""
    return one_line(str(exc)) or type(exc).__name__


def _summary(problems: list[str], what: str) -> str:
    first = one_line(str(problems[0]), 200) if problems else ""
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{what}: {first}{more}"


def check_pack(tree: Path) -> Any:
    """Validate and test the pack in ``tree``; return the loaded pack or raise."""
    try:
        from netscan.signatures import pack as pack_mod
    except ImportError as exc:
        raise UpdateError(f"signature pack support is unavailable: {exc}") from exc
    try:
        errors = list(pack_mod.validate_pack(tree))
    except Exception as exc:  # a crash on bad input is still a refusal, not a traceback
        raise UpdateError(f"new pack does not validate: {_reason(exc)}") from exc
    if errors:
        raise UpdateError(_summary(errors, "new pack does not validate"))
    try:
        loaded = pack_mod.load_pack(tree)
        failures = list(pack_mod.run_examples(loaded))
    except Exception as exc:
        raise UpdateError(f"new pack cannot be tested: {_reason(exc)}") from exc
    if failures:
        raise UpdateError(_summary(failures, "new pack fails its examples"))
    return loaded


def _load_quietly(tree: Path | None) -> Any:
    """The pack in ``tree`` for the change listing, or None if it does not load."""
    if tree is None:
        return None
    try:
        from netscan.signatures import pack as pack_mod

        return pack_mod.load_pack(tree)
    except Exception:
        return None


# --- sources and signatures ------------------------------------------------------


def normalize_source(source: str) -> str:
    """An absolute path for a local source, the URL unchanged otherwise."""
    source = source.strip()
    if not source or source.startswith("-") or "::" in source or "\n" in source:
        raise UpdateUsageError(f"unsupported update source {source!r}")
    if source.startswith(_SCHEMES) or _SCP_LIKE.match(source):
        return source
    if "://" in source:
        raise UpdateUsageError(f"unsupported transport in update source {source!r}")
    path = Path(source).expanduser()
    if not path.exists():
        raise UpdateUsageError(f"update source {source} does not exist")
    return str(path.resolve())


def _is_openpgp_keyfile(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(64)
    if head.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"):
        return True
    # Binary transferable public key: an old- or new-format public-key packet (tag 6).
    return bool(head) and head[0] in (0x98, 0x99, 0x9A, 0xC6)


def _commit_is_signed(store: Store, commit: str) -> bool:
    raw = store.git(["cat-file", "commit", commit]).stdout
    header = raw.split("\n\n", 1)[0]
    return any(line.startswith(("gpgsig ", "gpgsig-sha256 ")) for line in header.splitlines())


def _verify_reason(stderr: str) -> str:
    """Why ``git verify-commit`` failed, in a few words."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if any("No principal matched" in line for line in lines):
        key = re.search(r"(SHA256:[A-Za-z0-9+/=]+)", stderr)
        return f"signed by a key that is not trusted ({key.group(1) if key else 'unknown key'})"
    return one_line(lines[-1]) if lines else "bad or untrusted signature"


def _stop_gpg_daemons(home: str) -> None:
    """Stop any agent gpg started for the temporary home before it is deleted."""
    if shutil.which("gpgconf") is None:
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            ["gpgconf", "--homedir", home, "--kill", "all"],
            capture_output=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )


def verify_signature(store: Store, commit: str, trusted_keys: Path | None) -> None:
    """Raise unless ``commit`` carries a good signature by a trusted key."""
    if not _commit_is_signed(store, commit):
        raise UpdateError(f"commit {commit[:12]} is not signed")
    extra: list[str] = []
    env: dict[str, str] = {}
    gnupg_home: str | None = None
    try:
        if trusted_keys is not None:
            if not trusted_keys.is_file():
                raise UpdateUsageError(f"trusted keys file {trusted_keys} does not exist")
            if _is_openpgp_keyfile(trusted_keys):
                gnupg_home = tempfile.mkdtemp(prefix="netscan-gpg-")
                proc = subprocess.run(
                    ["gpg", "--batch", "--quiet", "--homedir", gnupg_home, "--import"]
                    + [str(trusted_keys)],
                    capture_output=True,
                    text=True,
                    timeout=60,
                    stdin=subprocess.DEVNULL,
                )
                if proc.returncode != 0:
                    raise UpdateError(f"cannot import trusted keys: {one_line(proc.stderr)}")
                env["GNUPGHOME"] = gnupg_home
            else:
                extra = ["-c", f"gpg.ssh.allowedSignersFile={trusted_keys.resolve()}"]
        proc = store.git([*extra, "verify-commit", commit], env=env, check=False)
        if proc.returncode != 0:
            reason = _verify_reason(proc.stderr)
            raise UpdateError(f"signature of commit {commit[:12]} is not trusted: {reason}")
    except (OSError, subprocess.SubprocessError) as exc:
        raise UpdateError(f"cannot verify the signature: {exc}") from exc
    finally:
        if gnupg_home is not None:
            _stop_gpg_daemons(gnupg_home)
            shutil.rmtree(gnupg_home, ignore_errors=True)


# --- update and rollback -----------------------------------------------------------


def _is_ancestor(store: Store, old: str, new: str) -> bool:
    return store.git(["merge-base", "--is-ancestor", old, new], check=False).returncode == 0


def _set_origin(store: Store, source: str) -> None:
    if store.config_get("remote.origin.url") is None:
        store.git(["remote", "add", "origin", source])
    else:
        store.git(["remote", "set-url", "origin", source])


def _make_live(store: Store, tree: Path, commit: str, old: str, old_tree: Path | None) -> None:
    store.git(["update-ref", REF_PREVIOUS, old])
    store.switch_to(tree)
    store.git(["update-ref", REF_CURRENT, commit])
    store.git(["update-ref", f"refs/heads/{BRANCH}", commit])
    store.prune(keep=[p for p in (tree, old_tree) if p is not None])


@contextlib.contextmanager
def _removed_unless_installed(store: Store) -> Iterator[None]:
    """Around an update: when it makes the store (the first update) and then fails, the
    store is removed again rather than left on the commit made from the bundled copy."""
    first = not store.exists()
    try:
        yield
    except BaseException:
        if first:
            store.remove()
        raise


def update(
    store: Store,
    source: str | None = None,
    require_signed: bool = False,
    trusted_keys: Path | None = None,
) -> tuple[str, str, Changes]:
    """Run one update; return (old commit, new commit, changes). Raises on refusal.

    The first update makes the user's copy from the bundled pack; when that update fails,
    the copy is removed again, so the bundled pack (which newer netscan versions update)
    stays in charge instead of a frozen copy of it."""
    with store.locked(), _removed_unless_installed(store):
        store.ensure()
        old = store.current()
        old_tree = store.current_tree()
        if old is None or old_tree is None:
            raise UpdateError(f"{store.link} is not a usable signature pack")
        prev = store.previous()
        store.prune(keep=[p for p in (old_tree, store.tree_for(prev) if prev else None) if p])

        from_arg = source is not None
        source = normalize_source(source) if source is not None else store.source()
        if source is None:
            raise UpdateUsageError("no update source configured; use --from URL|PATH")
        store.git(
            [
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                source,
                f"+HEAD:{REF_FETCHED}",
            ],
            timeout=FETCH_TIMEOUT,
        )
        new = store.rev(REF_FETCHED)
        if new is None:
            raise UpdateError(f"nothing fetched from {source}")
        if from_arg:
            _set_origin(store, source)
        if new == old:
            return old, new, Changes()

        if not _is_ancestor(store, old, new):
            if _is_ancestor(store, new, old):
                raise UpdateError(
                    f"source is behind the installed pack ({new[:12]} is older than {old[:12]})"
                )
            if old != store.config_get(CFG_BUNDLED):
                raise UpdateError(
                    f"{new[:12]} is not a fast-forward of the installed {old[:12]}"
                    " (history was rewritten); refusing"
                )
            # Still on the commit made from the bundled copy: adopt the source's history.

        configured = (store.config_get(CFG_REQUIRE_SIGNED) or "").lower() in ("true", "yes", "1")
        if require_signed or configured or trusted_keys is not None:
            verify_signature(store, new, trusted_keys)

        tree = store.checkout(new)
        try:
            new_pack = check_pack(tree)
            changes = diff_packs(_load_quietly(old_tree), new_pack)
            _make_live(store, tree, new, old, old_tree)
        except BaseException:
            if store.current_tree() != tree.resolve():
                store.discard(tree)
            raise
        return old, new, changes


def rollback(store: Store) -> tuple[str, str, Changes]:
    """Return to the previous commit; return (old commit, restored commit, changes)."""
    with store.locked():
        if not store.exists():
            raise UpdateError("no signature pack has been installed by an update yet")
        old = store.current()
        old_tree = store.current_tree()
        prev = store.previous()
        if old is None or old_tree is None:
            raise UpdateError(f"{store.link} is not a usable signature pack")
        if prev is None or prev == old:
            raise UpdateError("there is no previous signature pack to roll back to")
        tree = store.tree_for(prev)
        created = tree is None
        if tree is None:
            tree = store.checkout(prev)
        try:
            restored = check_pack(tree) if created else _load_quietly(tree)
            changes = diff_packs(_load_quietly(old_tree), restored)
            _make_live(store, tree, prev, old, old_tree)
        except BaseException:
            if created and store.current_tree() != tree.resolve():
                store.discard(tree)
            raise
        return old, prev, changes


# --- command line ----------------------------------------------------------------


def add_update_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``update`` and ``rollback`` to the ``netscan signatures`` subcommand group."""
    p_update = sub.add_parser(
        "update",
        help="fetch, check and install a new signature pack (fast-forward only)",
        description=(
            "Fetch the configured source (git), refuse anything but a fast-forward, "
            "validate and test the new pack in a separate checkout, then switch to it "
            "atomically. The previous version is kept for 'rollback'."
        ),
    )
    p_update.add_argument(
        "--from",
        dest="from_source",
        metavar="URL|PATH",
        help="git URL or local path to update from; remembered as remote 'origin'",
    )
    p_update.add_argument(
        "--require-signed",
        action="store_true",
        help="refuse the update unless its commit has a good signature by a trusted key",
    )
    p_update.add_argument(
        "--trusted-keys",
        metavar="FILE",
        type=Path,
        help="SSH allowed-signers file or OpenPGP public key file to trust (implies "
        "--require-signed); default: gpg.ssh.allowedSignersFile or the GnuPG keyring",
    )
    p_update.set_defaults(func=run_update)

    p_rollback = sub.add_parser(
        "rollback",
        help="return to the signature pack that was installed before the last update",
    )
    p_rollback.set_defaults(func=run_rollback)


def _fail(command: str, exc: BaseException) -> int:
    print(f"netscan signatures {command}: error: {_reason(exc)}", file=sys.stderr)
    return 2 if isinstance(exc, UpdateUsageError) else 1


def run_update(args: argparse.Namespace) -> int:
    store = Store.default()
    keys = getattr(args, "trusted_keys", None)
    if keys is not None and not keys.is_file():  # before anything is fetched or made
        return _fail("update", UpdateUsageError(f"trusted keys file {keys} does not exist"))
    try:
        old, new, changes = update(
            store,
            source=getattr(args, "from_source", None),
            require_signed=bool(getattr(args, "require_signed", False)),
            trusted_keys=getattr(args, "trusted_keys", None),
        )
    except (UpdateError, StoreError, OSError) as exc:
        return _fail("update", exc)
    if old == new:
        print(f"signature pack already up to date at {new[:12]} ({store.link})")
        return 0
    print(f"signature pack updated {old[:12]} -> {new[:12]} ({store.link})")
    for line in changes.lines():
        print(line)
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    store = Store.default()
    try:
        old, restored, changes = rollback(store)
    except (UpdateError, StoreError, OSError) as exc:
        return _fail("rollback", exc)
    print(f"signature pack rolled back {old[:12]} -> {restored[:12]} ({store.link})")
    for line in changes.lines():
        print(line)
    return 0
