"""The user's signature pack: a git working copy that is switched atomically.

Layout under ``$XDG_DATA_HOME/netscan`` (default ``~/.local/share/netscan``)::

    signatures              -> signatures.d/trees/<commit>-<tag>   (a symlink)
    signatures.d/repo.git   bare repository: objects, refs, config (remote "origin")
    signatures.d/trees/...  linked worktrees, each a complete checkout of one commit
    signatures.d/lock       taken (flock) while an update or rollback runs

``signatures`` is what the scanner reads. It always resolves to a complete git working
copy (``git -C ~/.local/share/netscan/signatures log`` works as usual), because a new
commit is checked out into a *new* linked worktree, validated there, and only then made
live by replacing the symlink with ``rename(2)``, which is atomic. An interruption at
any moment leaves the symlink on either the old or the new complete tree; leftover
half-made trees are removed on the next run. The tree of the previous version is kept,
so a rollback is another symlink swap.

Refs kept in the repository: ``refs/netscan/previous`` (what ``rollback`` returns to),
``refs/netscan/current`` (informational; the symlink is authoritative) and
``refs/netscan/fetched`` (the last commit fetched). Config: ``remote.origin.url`` (the
update source) and ``netscan.bundledCommit`` (the commit made from the bundled copy; a
store still on that commit may adopt an unrelated remote history once).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import netscan
from netscan.untrusted import display

LINK_NAME = "signatures"
STATE_DIR = "signatures.d"
REPO_DIR = "repo.git"
TREES_DIR = "trees"
BRANCH = "main"

REF_PREVIOUS = "refs/netscan/previous"
REF_CURRENT = "refs/netscan/current"
REF_FETCHED = "refs/netscan/fetched"
CFG_BUNDLED = "netscan.bundledCommit"

GIT_TIMEOUT = 120.0
FETCH_TIMEOUT = 600.0

# A pack is small text: bounds on what a fetched commit may hold (the loader has the same).
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_TREE_BYTES = 64 * 1024 * 1024
MAX_TREE_FILES = 10_000

# Settings for every git call: no hooks, no signing of our own commits, no pager/prompts.
_GIT_OPTS = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "commit.gpgSign=false",
    "-c",
    "advice.detachedHead=false",
    "-c",
    "core.quotePath=false",
)
_IDENTITY = {
    "GIT_AUTHOR_NAME": "netscan",
    "GIT_AUTHOR_EMAIL": "netscan@localhost",
    "GIT_COMMITTER_NAME": "netscan",
    "GIT_COMMITTER_EMAIL": "netscan@localhost",
}


class StoreError(Exception):
    """A store operation failed; the message is one line, fit for the user."""


def one_line(text: str, limit: int = 300) -> str:
    """The first non-empty line of ``text`` (git's stderr), shortened, controls escaped."""
    for line in text.splitlines():
        line = line.strip()
        if line:
            return shown(line[:limit])
    return ""


def shown(text: str) -> str:
    """``text`` (a file name from a fetched tree, a line of git's output) as one plain line:
    the project's one rule for untrusted text (``netscan.untrusted``)."""
    return display(text, None)


def git(
    args: Sequence[str],
    *,
    git_dir: Path | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = GIT_TIMEOUT,
    check: bool = True,
    text: bool = True,
) -> subprocess.CompletedProcess[Any]:
    """Run git; raise ``StoreError`` with git's first stderr line when ``check`` fails.
    ``text=False`` gives stdout and stderr as bytes (file names need not be UTF-8)."""
    cmd = ["git", *_GIT_OPTS]
    if git_dir is not None:
        cmd += ["--git-dir", str(git_dir)]
    cmd += list(args)
    full_env = dict(os.environ)
    full_env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_PAGER": "cat"})
    full_env.update(_IDENTITY)
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=text,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise StoreError("git is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise StoreError(f"git {args[0]} timed out after {int(timeout)} s") from exc
    if check and proc.returncode != 0:
        err, out = proc.stderr, proc.stdout
        if isinstance(err, bytes):
            err, out = err.decode("utf-8", "replace"), ""
        reason = one_line(err) or one_line(out) or f"exit {proc.returncode}"
        raise StoreError(f"git {args[0]} failed: {reason}")
    return proc


def data_home() -> Path:
    """``$XDG_DATA_HOME``, or ``~/.local/share`` when unset or not absolute."""
    value = os.environ.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".local" / "share"


def bundled_pack_dir() -> Path | None:
    """The signature pack shipped with netscan (wheel copy, else the source tree's)."""
    package = Path(netscan.__file__).resolve().parent
    for candidate in (package / "_bundled_signatures", package.parent / "signatures"):
        if candidate.is_dir():
            return candidate
    return None


@dataclass(frozen=True)
class Store:
    """Paths of one store; ``Store.default()`` is the user's."""

    base: Path

    @classmethod
    def default(cls) -> Store:
        return cls(data_home() / "netscan")

    @property
    def link(self) -> Path:
        return self.base / LINK_NAME

    @property
    def state(self) -> Path:
        return self.base / STATE_DIR

    @property
    def repo(self) -> Path:
        return self.state / REPO_DIR

    @property
    def trees(self) -> Path:
        return self.state / TREES_DIR

    # --- queries ----------------------------------------------------------------

    def exists(self) -> bool:
        return self.link.is_symlink() and self.repo.is_dir()

    def git(self, args: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[Any]:
        return git(args, git_dir=self.repo, **kwargs)  # type: ignore[arg-type]

    def rev(self, spec: str) -> str | None:
        """Full commit id of ``spec``, or None."""
        proc = self.git(["rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}"], check=False)
        sha = proc.stdout.strip()
        return sha if proc.returncode == 0 and sha else None

    def config_get(self, key: str) -> str | None:
        proc = self.git(["config", "--get", key], check=False)
        value = proc.stdout.strip()
        return value if proc.returncode == 0 and value else None

    def config_set(self, key: str, value: str) -> None:
        self.git(["config", key, value])

    def current_tree(self) -> Path | None:
        """The worktree the symlink points to, when it is one of ours."""
        if not self.link.is_symlink():
            return None
        target = (self.link.parent / os.readlink(self.link)).resolve()
        if target.parent != self.trees.resolve() or not target.is_dir():
            return None
        return target

    def current(self) -> str | None:
        """Commit of the live pack (the HEAD of the tree the symlink points to)."""
        tree = self.current_tree()
        if tree is None:
            return None
        proc = git(["rev-parse", "--verify", "HEAD^{commit}"], cwd=tree, check=False)
        sha = proc.stdout.strip()
        return sha if proc.returncode == 0 and sha else None

    def previous(self) -> str | None:
        return self.rev(REF_PREVIOUS)

    def source(self) -> str | None:
        return self.config_get("remote.origin.url")

    # --- locking -----------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive lock for updates and rollbacks; fails at once if held."""
        self.state.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise StoreError("another signature update or rollback is running") from exc
            yield
        finally:
            os.close(fd)

    # --- creation ----------------------------------------------------------------

    def ensure(self) -> None:
        """Create the store from the bundled pack if it does not exist yet.

        Call with the lock held. The symlink is created last, so a store interrupted
        half-way is simply created again.
        """
        if self.exists() and self.current() is not None:
            return
        if self.link.exists() and not self.link.is_symlink():
            raise StoreError(
                f"{self.link} exists and is not managed by netscan; move it away and retry"
            )
        if not (self.repo / "HEAD").is_file():
            if self.repo.exists():
                shutil.rmtree(self.repo)
            self.repo.parent.mkdir(parents=True, exist_ok=True)
            git(["init", "--quiet", "--bare", f"--initial-branch={BRANCH}", str(self.repo)])
        commit = self.rev(f"refs/heads/{BRANCH}")
        if commit is None:
            commit = self._commit_bundled()
        tree = self.checkout(commit)
        self.switch_to(tree)
        self.git(["update-ref", REF_CURRENT, commit])

    def _commit_bundled(self) -> str:
        """Commit the bundled pack (or an empty tree) as the root commit of ``main``."""
        bundled = bundled_pack_dir()
        index = self.state / f"index.{secrets.token_hex(4)}"
        try:
            env = {"GIT_INDEX_FILE": str(index)}
            if bundled is not None:
                root = str(bundled.resolve())  # the bundled root may itself be a link
                self.git(["--work-tree", root, "add", "--all", "--force", "."], env=env)
            tree = self.git(["write-tree"], env=env).stdout.strip()
        finally:
            index.unlink(missing_ok=True)
        message = f"Bundled signature pack of netscan {netscan.__version__}"
        commit = self.git(["commit-tree", tree, "-m", message]).stdout.strip()
        self.git(["update-ref", f"refs/heads/{BRANCH}", commit])
        self.config_set(CFG_BUNDLED, commit)
        return commit

    # --- trees and switching -------------------------------------------------------

    def tree_problems(self, commit: str) -> list[str]:
        """Why the tree of ``commit`` is not a pack of regular files, one line each.

        Checked before anything is checked out: symbolic links (mode 120000), submodules
        (160000) and anything else but a regular file are refused, as are files above
        MAX_FILE_BYTES, trees above MAX_TREE_BYTES in total or MAX_TREE_FILES files.
        Nothing of the files' content is ever shown.
        """
        proc = self.git(["ls-tree", "-r", "-l", "-z", "--full-tree", commit], text=False)
        out = proc.stdout if isinstance(proc.stdout, bytes) else b""
        problems: list[str] = []
        total = files = 0
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, raw_path = record.partition(b"\t")
            fields = meta.split()
            path = shown(raw_path.decode("utf-8", "replace"))
            if len(fields) != 4:
                problems.append(f"{path}: unreadable tree entry")
                continue
            mode, size_text = fields[0].decode(), fields[3].decode()
            files += 1
            if mode == "120000":
                problems.append(f"{path} is a symbolic link; a pack holds regular files only")
            elif mode == "160000":
                problems.append(f"{path} is a submodule; a pack holds regular files only")
            elif mode not in ("100644", "100755"):
                problems.append(f"{path} has mode {mode}; a pack holds regular files only")
            elif not size_text.isdigit():
                problems.append(f"{path}: unreadable tree entry")
            elif int(size_text) > MAX_FILE_BYTES:
                problems.append(
                    f"{path} is {int(size_text):,} bytes, above the "
                    f"{MAX_FILE_BYTES >> 20} MiB limit for a pack file"
                )
            else:
                total += int(size_text)
        if total > MAX_TREE_BYTES:
            problems.append(f"the pack holds {total:,} bytes, above {MAX_TREE_BYTES >> 20} MiB")
        if files > MAX_TREE_FILES:
            problems.append(f"the pack holds {files:,} files, above {MAX_TREE_FILES:,}")
        return problems

    def checkout(self, commit: str) -> Path:
        """A new linked worktree holding ``commit``; removed again if checkout fails.

        Refused (StoreError) unless the commit's tree is regular files only."""
        problems = self.tree_problems(commit)
        if problems:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            raise StoreError(f"commit {commit[:12]} refused: {problems[0]}{more}")
        self.trees.mkdir(parents=True, exist_ok=True)
        tree = self.trees / f"{commit[:12]}-{secrets.token_hex(3)}"
        try:
            self.git(["worktree", "add", "--quiet", "--detach", str(tree), commit])
        except StoreError:
            self.discard(tree)
            raise
        return tree

    def discard(self, tree: Path) -> None:
        """Remove a worktree (quietly; a failure leaves garbage for ``prune``)."""
        self.git(["worktree", "remove", "--force", "--force", str(tree)], check=False)
        if tree.exists():
            shutil.rmtree(tree, ignore_errors=True)
        self.git(["worktree", "prune"], check=False)

    def switch_to(self, tree: Path) -> None:
        """Point the symlink at ``tree`` in one atomic rename."""
        relative = os.path.relpath(tree, self.link.parent)
        temp = self.link.parent / f".{LINK_NAME}.{secrets.token_hex(4)}"
        os.symlink(relative, temp)
        try:
            os.replace(temp, self.link)
        except OSError:
            temp.unlink(missing_ok=True)
            raise

    def tree_for(self, commit: str) -> Path | None:
        """An existing clean worktree of ours checked out at ``commit``."""
        if not self.trees.is_dir():
            return None
        for tree in sorted(self.trees.iterdir()):
            if not tree.name.startswith(commit[:12]) or not (tree / ".git").exists():
                continue
            head = git(["rev-parse", "HEAD"], cwd=tree, check=False).stdout.strip()
            if head != commit:
                continue
            status = git(["status", "--porcelain", "--untracked-files=no"], cwd=tree, check=False)
            if status.returncode == 0 and not status.stdout.strip():
                return tree
        return None

    def prune(self, keep: Sequence[Path]) -> None:
        """Remove every tree except ``keep`` (the live one and the previous one)."""
        if not self.trees.is_dir():
            return
        kept = {p.resolve() for p in keep}
        for tree in self.trees.iterdir():
            if tree.resolve() not in kept:
                self.discard(tree)
        self.git(["worktree", "prune"], check=False)
        for stray in self.base.glob(f".{LINK_NAME}.*"):
            if stray.is_symlink():
                stray.unlink(missing_ok=True)

    def remove(self) -> None:
        """Remove the store (the link first, so no reader sees half of it): the bundled
        pack is in charge again. Call with the lock held."""
        if self.link.is_symlink():
            self.link.unlink()
        for name in (REPO_DIR, TREES_DIR):
            shutil.rmtree(self.state / name, ignore_errors=True)
        for stray in self.state.glob("index.*"):
            stray.unlink(missing_ok=True)
