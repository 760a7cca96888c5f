"""``netscan signatures update`` and ``netscan signatures rollback``.

An update fetches the source's HEAD, refuses anything that is not a fast-forward of the
installed commit, optionally requires a good signature on the new commit, checks the
new commit out into a fresh worktree, validates and tests the pack there, and only then
makes it live with one atomic symlink switch (see ``netscan.signatures.store``). Any
failure leaves the installed pack untouched and is reported in one line with a
non-zero exit status.

Signed updates (``--require-signed``, ``git config netscan.requireSigned true`` in the
pack's working copy, or any trusted key named) run ``git verify-commit`` on the new
commit against the keys the user named and no others: ``--trusted-key`` (repeatable: an
OpenPGP public key file, the full fingerprint of a key in the user's GnuPG keyring, an SSH
public key or an allowed-signers file), ``netscan.trustedKey`` (same values, multi-valued)
and ``gpg.ssh.allowedSignersFile`` in the working copy's own configuration. They go into a
throw-away GnuPG home and allowed-signers file; an OpenPGP signature's VALIDSIG fingerprint
must be one of the named keys'. A key merely present in the user's keyring is not trusted.

Before anything is checked out, the new commit's tree must hold regular files only (no
symbolic links, no submodules), each and all of them within size limits
(``Store.tree_problems``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import shutil
import stat
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
    """The update was asked for wrongly (bad or missing source, no such key): exit 2."""


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
    from netscan.signatures import pack as pack_mod

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


def _is_openpgp_key(head: bytes) -> bool:
    if head.lstrip().startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"):
        return True
    # Binary transferable public key: an old- or new-format public-key packet (tag 6).
    return bool(head) and head[0] in (0x98, 0x99, 0x9A, 0xC6)


def _commit_signature_kind(store: Store, commit: str) -> str | None:
    """``openpgp``, ``ssh`` or ``x509`` for a signed commit, None for an unsigned one."""
    raw = store.git(["cat-file", "commit", commit]).stdout
    header = raw.split("\n\n", 1)[0]
    for line in header.splitlines():
        if line.startswith(("gpgsig ", "gpgsig-sha256 ")):
            if "BEGIN SSH SIGNATURE" in line:
                return "ssh"
            if "BEGIN PGP SIGNATURE" in line:
                return "openpgp"
            return "x509"
    return None


def _commit_is_signed(store: Store, commit: str) -> bool:
    return _commit_signature_kind(store, commit) is not None


def _verify_reason(stderr: str) -> str:
    """Why ``git verify-commit`` failed, in a few words."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if any("No principal matched" in line for line in lines):
        key = re.search(r"(SHA256:[A-Za-z0-9+/=]+)", stderr)
        return f"signed by a key that is not trusted ({key.group(1) if key else 'unknown key'})"
    if any(line.startswith("[GNUPG:] NO_PUBKEY") or line.startswith("[GNUPG:] ERRSIG")
           for line in lines):  # fmt: skip
        return "signed by a key that is not one of the named trusted keys"
    if any(line.startswith("[GNUPG:] BADSIG") for line in lines):
        return "bad signature"
    plain = [line for line in lines if not line.startswith("[GNUPG:]")]
    return one_line(plain[-1]) if plain else "bad or untrusted signature"


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


# --- the keys the user trusts -------------------------------------------------------

CFG_TRUSTED_KEY = "netscan.trustedKey"  # multi-valued: key files or OpenPGP fingerprints
MAX_KEY_FILE = 1 << 20
_FINGERPRINT = re.compile(r"^(?:0x)?([0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$")
_SSH_KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-", "sk-ssh-ed25519",
                  "sk-ecdsa-sha2-")  # fmt: skip
SSH_PRINCIPAL = "netscan-trusted-key"


def named_keys(store: Store, cli_keys: Iterable[str | Path] | None) -> list[str]:
    """The keys the user named: ``--trusted-key`` values, then ``netscan.trustedKey`` and
    ``gpg.ssh.allowedSignersFile`` from the pack repository's own configuration (never the
    user's global git configuration, never a keyring as a whole)."""
    keys = [str(k) for k in cli_keys or ()]
    for key in (CFG_TRUSTED_KEY, "gpg.ssh.allowedSignersFile"):
        proc = store.git(["config", "--local", "--get-all", key], check=False)
        if proc.returncode == 0:
            keys.extend(v.strip() for v in proc.stdout.splitlines() if v.strip())
    return keys


def _gpg(home: str, args: list[str], data: bytes | None = None,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:  # fmt: skip
    cmd = ["gpg", "--batch", "--quiet", "--no-tty"]
    if home:
        cmd += ["--homedir", home]
    return subprocess.run(cmd + args, input=data, capture_output=True, timeout=60,
                          env=env)  # fmt: skip


def _read_key_file(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UpdateError(f"trusted key {path}: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UpdateError(f"trusted key {path} is not a regular file")
        data = os.read(fd, MAX_KEY_FILE + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_KEY_FILE:
        raise UpdateError(f"trusted key {path} is larger than {MAX_KEY_FILE >> 20} MiB")
    return data


class TrustedKeys:
    """A throw-away GnuPG home and SSH allowed-signers file holding only the named keys."""

    def __init__(self, keys: list[str]) -> None:
        self.dir = tempfile.mkdtemp(prefix="netscan-gpg-")  # 0700; short: agent sockets
        self.allowed = Path(self.dir) / "allowed_signers"
        self.openpgp: set[str] = set()  # fingerprints (upper-case hex) of the named keys
        self.ssh_lines: list[str] = []
        try:
            for key in keys:
                self._add(key)
            self.allowed.write_text("".join(f"{line}\n" for line in self.ssh_lines))
            os.chmod(self.allowed, 0o600)
            self.openpgp = self._fingerprints()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        _stop_gpg_daemons(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _add(self, key: str) -> None:
        path = Path(key).expanduser()
        fpr = _FINGERPRINT.match(key.replace(" ", ""))
        if fpr and not path.exists():
            # a full fingerprint the user named: that one key from their keyring, no other
            exported = _gpg("", ["--export", fpr.group(1)]).stdout
            if not exported:
                raise UpdateError(f"trusted key {fpr.group(1)} is not in your GnuPG keyring")
            self._import(exported, fpr.group(1))
            return
        if not path.exists():
            raise UpdateUsageError(f"trusted key {key} is neither a file nor a full fingerprint")
        data = _read_key_file(path)
        if _is_openpgp_key(data[:64]):
            self._import(data, str(path))
            return
        lines = []
        for raw in data.decode("utf-8", "replace").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            # a bare public key gets a principal of its own; allowed-signers lines stay
            lines.append(f"{SSH_PRINCIPAL} {line}" if line.startswith(_SSH_KEY_TYPES) else line)
        if not lines:
            raise UpdateError(
                f"trusted key {path} is neither an OpenPGP public key nor an SSH public key "
                "or allowed-signers file"
            )
        self.ssh_lines.extend(lines)

    def _import(self, data: bytes, what: str) -> None:
        proc = _gpg(self.dir, ["--import"], data)
        if proc.returncode != 0:
            reason = one_line(proc.stderr.decode("utf-8", "replace"))
            raise UpdateError(f"cannot import trusted key {what}: {reason}")

    def _fingerprints(self) -> set[str]:
        if shutil.which("gpg") is None:
            return set()
        listing = _gpg(self.dir, ["--with-colons", "--fingerprint", "--list-keys"]).stdout
        out: set[str] = set()
        primary = False
        for line in listing.decode("utf-8", "replace").splitlines():
            fields = line.split(":")
            if fields[0] in ("pub", "sub"):
                primary = fields[0] == "pub"
            elif fields[0] == "fpr" and primary and len(fields) > 9:
                out.add(fields[9].upper())
        return out


def _validsig_primary(status: str) -> str | None:
    """The primary-key fingerprint of a good OpenPGP signature in gpg's status output."""
    for line in status.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[:2] == ["[GNUPG:]", "VALIDSIG"]:
            return (parts[11] if len(parts) > 11 else parts[2]).upper()
    return None


def verify_signature(
    store: Store, commit: str, trusted_keys: Iterable[str | Path] | Path | str | None
) -> None:
    """Raise unless ``commit`` carries a good signature by one of the keys the user named.

    Only named keys count (``--trusted-key``, ``netscan.trustedKey``,
    ``gpg.ssh.allowedSignersFile`` of the pack repository): verification runs against a
    GnuPG home and an allowed-signers file built from them alone, and an OpenPGP
    signature's VALIDSIG fingerprint must be one of theirs. A key that is merely in the
    user's keyring is not trusted.
    """
    kind = _commit_signature_kind(store, commit)
    if kind is None:
        raise UpdateError(f"commit {commit[:12]} is not signed")
    if isinstance(trusted_keys, (str, Path)):
        trusted_keys = [trusted_keys]
    keys = named_keys(store, trusted_keys)
    untrusted = f"signature of commit {commit[:12]} is not trusted"
    if not keys:
        raise UpdateError(
            f"{untrusted}: no trusted key is named (use --trusted-key FILE|FINGERPRINT, or "
            f"git --git-dir {store.repo} config --add {CFG_TRUSTED_KEY} FILE|FINGERPRINT)"
        )
    if kind == "x509":
        raise UpdateError(f"{untrusted}: X.509 signatures are not supported")
    try:
        trusted = TrustedKeys(keys)
        try:
            extra = ["-c", f"gpg.ssh.allowedSignersFile={trusted.allowed}",
                     "-c", "gpg.minTrustLevel=undefined"]  # fmt: skip
            proc = store.git([*extra, "verify-commit", "--raw", commit],
                             env={"GNUPGHOME": trusted.dir}, check=False)  # fmt: skip
            if proc.returncode != 0:
                raise UpdateError(f"{untrusted}: {_verify_reason(proc.stderr)}")
            if kind == "openpgp":
                fpr = _validsig_primary(proc.stderr)
                if fpr is None or fpr not in trusted.openpgp:
                    raise UpdateError(
                        f"{untrusted}: signed by {fpr or 'an unknown key'}, which is not one "
                        "of the named trusted keys"
                    )
        finally:
            trusted.close()
    except (OSError, subprocess.SubprocessError) as exc:
        raise UpdateError(f"cannot verify the signature: {exc}") from exc


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
    trusted_keys: Iterable[str | Path] | Path | str | None = None,
) -> tuple[str, str, Changes]:
    """Run one update; return (old commit, new commit, changes). Raises on refusal.

    The first update makes the user's copy from the bundled pack; when that update fails,
    the copy is removed again, so the bundled pack (which newer netscan versions update)
    stays in charge instead of a frozen copy of it."""
    if isinstance(trusted_keys, (str, Path)):
        trusted_keys = [trusted_keys]
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
                # objects git itself considers malformed (paths with .git or .., odd modes)
                "-c",
                "fetch.fsckObjects=true",
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
        keys_named = bool(trusted_keys) or store.config_get(CFG_TRUSTED_KEY) is not None
        if require_signed or configured or keys_named:
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
        "--trusted-key",
        "--trusted-keys",
        dest="trusted_keys",
        action="append",
        metavar="FILE|FINGERPRINT",
        help="a key to trust (repeatable; implies --require-signed): an OpenPGP public key "
        "file, the full fingerprint of a key in your GnuPG keyring, an SSH public key or an "
        "allowed-signers file. Only named keys are trusted (these, and netscan.trustedKey / "
        "gpg.ssh.allowedSignersFile in the pack repository's config), never a whole keyring",
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
    for key in getattr(args, "trusted_keys", None) or ():  # before anything is fetched or made
        if not Path(key).expanduser().exists() and not _FINGERPRINT.match(key.replace(" ", "")):
            err = UpdateUsageError(f"trusted key {key} is neither a file nor a full fingerprint")
            return _fail("update", err)
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
